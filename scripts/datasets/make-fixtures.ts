// Writes the tiny test fixtures of the file-based loaders, deterministically:
//   npx tsx --conditions=@gaze/source scripts/datasets/make-fixtures.ts
// datasets/image-folder/fixture, datasets/cub200/fixture/CUB_200_2011, datasets/voc/fixture/VOC2007.
// Every object is painted pixel by pixel, so each box written below is the exact tight box of
// the painted pixels (before JPEG smears the edges a little).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Rng } from '@gaze/engine';
import sharp from 'sharp';

type RGB = [number, number, number];

interface Canvas {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Pixel-edge box {x0, y0, x1, y1} of painted pixels. */
interface Painted {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A vertical gradient from `top` to `bottom` with seeded noise of +-`noise`. */
function background(width: number, height: number, top: RGB, bottom: RGB, rng: Rng, noise = 12): Canvas {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0;
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) {
        const v = top[k] + (bottom[k] - top[k]) * t + (rng.next() * 2 - 1) * noise;
        data[(y * width + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width, height, data };
}

/** Paints every pixel whose centre satisfies `inside`; returns the tight box of what was painted. */
function paint(c: Canvas, colour: RGB, inside: (px: number, py: number) => boolean): Painted {
  const box = { x0: c.width, y0: c.height, x1: 0, y1: 0 };
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      if (!inside(x + 0.5, y + 0.5)) continue;
      c.data.set(colour, (y * c.width + x) * 3);
      box.x0 = Math.min(box.x0, x);
      box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x + 1);
      box.y1 = Math.max(box.y1, y + 1);
    }
  }
  if (box.x1 === 0) throw new Error('painted nothing');
  return box;
}

const rect = (x0: number, y0: number, x1: number, y1: number) => (px: number, py: number) => px > x0 && px < x1 && py > y0 && py < y1;
const ellipse = (cx: number, cy: number, rx: number, ry: number) => (px: number, py: number) => ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1;
const triangle = (x0: number, y0: number, x1: number, y1: number) => (px: number, py: number) =>
  py > y0 && py < y1 && Math.abs(px - (x0 + x1) / 2) < ((x1 - x0) / 2) * ((py - y0) / (y1 - y0));

function write(path: string, bytes: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

async function encode(c: Canvas, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const img = sharp(Buffer.from(c.data), { raw: { width: c.width, height: c.height, channels: 3 } });
  if (format === 'png') return img.png({ compressionLevel: 9 }).toBuffer();
  if (format === 'jpeg') return img.jpeg({ quality: 80 }).toBuffer();
  return img.webp({ quality: 80 }).toBuffer();
}

// ---------------------------------------------------------------------------------------------
// image-folder: root/<class>/<file>, 40x32 images, boxes.csv and attributes.csv.

async function imageFolder(root: string): Promise<void> {
  const rng = new Rng(1, 'fixture:image-folder');
  const W = 40;
  const H = 32;
  // [file, class, drawn shape], positions chosen by hand; formats and extension cases mixed on purpose.
  const files: [string, 'circle' | 'square' | 'triangle', number, number, 'png' | 'jpeg' | 'webp'][] = [
    ['circle/c1.png', 'circle', 12, 10, 'png'],
    ['circle/c2.png', 'circle', 24, 14, 'png'],
    ['circle/c3.PNG', 'circle', 18, 20, 'png'],
    ['circle/c4.jpg', 'circle', 28, 12, 'jpeg'],
    ['square/s1.jpg', 'square', 10, 4, 'jpeg'],
    ['square/s2.JPG', 'square', 20, 12, 'jpeg'],
    ['square/s3.jpeg', 'square', 4, 18, 'jpeg'],
    ['square/s4.webp', 'square', 26, 8, 'webp'],
    ['triangle/t1.webp', 'triangle', 8, 6, 'webp'],
    ['triangle/t2.png', 'triangle', 20, 10, 'png'],
    ['triangle/t3.jpg', 'triangle', 14, 16, 'jpeg'],
    ['triangle/t4.png', 'triangle', 24, 4, 'png'],
  ];
  const colours = { circle: [220, 40, 40], square: [40, 60, 220], triangle: [30, 170, 60] } satisfies Record<string, RGB>;
  const boxes: string[] = ['path,x0,y0,x1,y1'];
  const attributes: string[] = ['path,roundness,area'];
  for (const [path, cls, x, y, format] of files) {
    const c = background(W, H, [200, 200, 190], [150, 150, 140], rng);
    // A 10x8 square at (x, y), a circle of radius 5 centred at (x, y), a 10x10 triangle from (x, y).
    const inside = cls === 'square' ? rect(x, y, x + 10, y + 8) : cls === 'circle' ? ellipse(x, y, 5, 5) : triangle(x, y, x + 10, y + 10);
    const b = paint(c, colours[cls], inside);
    write(join(root, path), await encode(c, format));
    boxes.push(`${path},${b.x0},${b.y0},${b.x1},${b.y1}`);
    // c4.jpg has no row on purpose: its attributes are all 0.
    if (path !== 'circle/c4.jpg') attributes.push(`${path},${cls === 'circle' ? 1 : cls === 'square' ? 0 : 0.5},${(b.x1 - b.x0) * (b.y1 - b.y0)}`);
  }
  // A second box for t2.png, a distractor-free corner patch, to show several rows per path.
  boxes.push('triangle/t2.png,0,0,4,4');
  write(join(root, 'boxes.csv'), boxes.join('\n') + '\n');
  write(join(root, 'attributes.csv'), attributes.join('\n') + '\n');
  // Unreadable on purpose: garbage behind a .jpg name (its header scan fails) and a PNG cut
  // short (its header reads, its pixels do not).
  write(join(root, 'square/broken.jpg'), 'this is not a JPEG file\n');
  const whole = await encode(background(W, H, [10, 10, 10], [90, 90, 90], rng, 60), 'png');
  write(join(root, 'circle/truncated.png'), whole.subarray(0, Math.floor(whole.length / 2)));
  write(join(root, 'triangle/notes.txt'), 'not an image: ignored by the loader\n');
}

// ---------------------------------------------------------------------------------------------
// cub200: the CUB_200_2011 layout, 3 classes x 2-3 birds (an ellipse body and a round head).

async function cub200(root: string): Promise<void> {
  const rng = new Rng(2, 'fixture:cub200');
  const classes = ['001.Black_footed_Albatross', '002.Laysan_Albatross', '003.Sooty_Albatross'];
  const body: RGB[] = [
    [40, 35, 35],
    [235, 235, 225],
    [110, 80, 55],
  ];
  const attributeNames = [
    'has_bill_shape::hooked_seabird',
    'has_wing_color::black',
    'has_wing_color::white',
    'has_upperparts_color::brown',
    'has_size::large_(16_-_32_in)',
    'has_head_pattern::plain',
  ];
  // [class index, image W, H, body centre x, y, radii rx, ry, is_training, present attribute ids]
  const birds: [number, number, number, number, number, number, number, 0 | 1, number[]][] = [
    [0, 64, 48, 30, 26, 14, 8, 1, [1, 2, 5]],
    [0, 56, 48, 26, 30, 12, 7, 0, [1, 2, 5, 6]],
    [0, 48, 40, 22, 20, 10, 6, 1, [1, 2]],
    [1, 64, 48, 34, 22, 15, 9, 1, [1, 3, 5, 6]],
    [1, 56, 40, 24, 20, 11, 7, 1, [1, 3, 5]],
    [1, 64, 48, 28, 28, 13, 8, 0, [1, 2, 3, 5]],
    [2, 48, 40, 24, 22, 10, 7, 1, [1, 4, 5, 6]],
    [2, 64, 48, 32, 24, 16, 9, 0, [1, 4, 6]],
  ];
  const images: string[] = [];
  const labels: string[] = [];
  const split: string[] = [];
  const boxLines: string[] = [];
  const attributeLines: string[] = [];
  const perClass = [0, 0, 0];
  for (const [k, [cls, W, H, cx, cy, rx, ry, training, present]] of birds.entries()) {
    const id = k + 1;
    const c = background(W, H, [120, 170, 220], [40, 90, 150], rng);
    const b1 = paint(c, body[cls], ellipse(cx, cy, rx, ry));
    // The head sits on the body's upper right, inside the same tight box computation.
    const b2 = paint(c, body[cls], ellipse(cx + rx * 0.8, cy - ry * 0.6, 4, 4));
    const paintedBill = paint(c, [240, 200, 60], rect(cx + rx * 0.8 + 3.5, cy - ry * 0.6 - 1, cx + rx * 0.8 + 7, cy - ry * 0.6 + 1));
    const box = {
      x0: Math.min(b1.x0, b2.x0, paintedBill.x0),
      y0: Math.min(b1.y0, b2.y0, paintedBill.y0),
      x1: Math.max(b1.x1, b2.x1, paintedBill.x1),
      y1: Math.max(b1.y1, b2.y1, paintedBill.y1),
    };
    const species = classes[cls].replace(/^\d+\./, '').replace(/_(\w)/g, (_m, ch: string) => `_${ch.toUpperCase()}`);
    const path = `${classes[cls]}/${species}_000${++perClass[cls]}_${100 + id}.jpg`;
    write(join(root, 'images', path), await encode(c, 'jpeg'));
    images.push(`${id} ${path}`);
    labels.push(`${id} ${cls + 1}`);
    split.push(`${id} ${training}`);
    boxLines.push(`${id} ${box.x0.toFixed(1)} ${box.y0.toFixed(1)} ${(box.x1 - box.x0).toFixed(1)} ${(box.y1 - box.y0).toFixed(1)}`);
    for (let a = 1; a <= attributeNames.length; a++) {
      const isPresent = present.includes(a) ? 1 : 0;
      const certainty = 1 + ((id + a) % 4);
      const time = (2 + ((id * 7 + a * 3) % 50) / 10).toFixed(2);
      // The release has a few lines with extra or missing trailing fields; imitate both.
      if (id === 2 && a === 3) attributeLines.push(`${id} ${a} ${isPresent} ${certainty} 0 ${time}`);
      else if (id === 5 && a === 6) attributeLines.push(`${id} ${a} ${isPresent}`);
      else attributeLines.push(`${id} ${a} ${isPresent} ${certainty} ${time}`);
    }
  }
  const lines = (l: string[]) => l.join('\n') + '\n';
  write(join(root, 'images.txt'), lines(images));
  write(join(root, 'image_class_labels.txt'), lines(labels));
  write(join(root, 'train_test_split.txt'), lines(split));
  write(join(root, 'bounding_boxes.txt'), lines(boxLines));
  write(join(root, 'classes.txt'), lines(classes.map((c, i) => `${i + 1} ${c}`)));
  write(join(root, 'attributes.txt'), lines(attributeNames.map((n, i) => `${i + 1} ${n}`)));
  write(join(root, 'attributes', 'image_attribute_labels.txt'), lines(attributeLines));
}

// ---------------------------------------------------------------------------------------------
// voc: the VOC2007 layout, 5 JPEGs with their XML annotations and split lists.

interface VocObject {
  name: string;
  difficult: boolean;
  colour: RGB;
  /** Pixel-edge rectangle, or an ellipse inscribed in it. */
  shape: 'rect' | 'ellipse';
  at: [number, number, number, number];
}

function vocXml(id: string, width: number, height: number, objects: { name: string; difficult: boolean; box: Painted }[]): string {
  // VOC boxes are 1-based inclusive pixel indices: pixel columns x0..x1-1 are xmin=x0+1, xmax=x1.
  const objs = objects.map(
    (o) => `	<object>
		<name>${o.name}</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>${o.difficult ? 1 : 0}</difficult>
		<bndbox>
			<xmin>${o.box.x0 + 1}</xmin>
			<ymin>${o.box.y0 + 1}</ymin>
			<xmax>${o.box.x1}</xmax>
			<ymax>${o.box.y1}</ymax>
		</bndbox>
	</object>
`,
  );
  return `<annotation>
	<folder>VOC2007</folder>
	<filename>${id}.jpg</filename>
	<source>
		<database>Gaze test fixture</database>
	</source>
	<size>
		<width>${width}</width>
		<height>${height}</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>
${objs.join('')}</annotation>
`;
}

async function voc(root: string): Promise<void> {
  const rng = new Rng(3, 'fixture:voc');
  const scenes: { id: string; width: number; height: number; objects: VocObject[] }[] = [
    // Two classes: the large dog is the primary object.
    { id: '000001', width: 64, height: 48, objects: [
      { name: 'dog', difficult: false, colour: [150, 90, 40], shape: 'rect', at: [4, 10, 34, 40] },
      { name: 'person', difficult: false, colour: [230, 180, 150], shape: 'ellipse', at: [42, 6, 58, 44] },
    ] },
    // One object: fast-xml-parser gives a single <object> as an object, not an array.
    { id: '000002', width: 56, height: 48, objects: [{ name: 'car', difficult: false, colour: [200, 30, 30], shape: 'rect', at: [8, 20, 48, 38] }] },
    // The bird is larger but difficult, so the cat is primary.
    { id: '000003', width: 64, height: 48, objects: [
      { name: 'bird', difficult: true, colour: [240, 240, 60], shape: 'ellipse', at: [20, 4, 60, 36] },
      { name: 'cat', difficult: false, colour: [90, 90, 90], shape: 'rect', at: [2, 30, 18, 46] },
    ] },
    // Equal areas: the first in the file (sheep) is primary.
    { id: '000004', width: 48, height: 40, objects: [
      { name: 'sheep', difficult: false, colour: [245, 245, 245], shape: 'rect', at: [2, 4, 22, 20] },
      { name: 'cow', difficult: false, colour: [60, 40, 20], shape: 'rect', at: [26, 20, 46, 36] },
    ] },
    // Everything difficult: the largest (chair) is primary.
    { id: '000005', width: 64, height: 48, objects: [
      { name: 'bottle', difficult: true, colour: [30, 160, 60], shape: 'rect', at: [6, 8, 14, 30] },
      { name: 'chair', difficult: true, colour: [130, 60, 160], shape: 'rect', at: [24, 10, 56, 44] },
    ] },
  ];
  for (const s of scenes) {
    const c = background(s.width, s.height, [180, 190, 200], [110, 120, 110], rng);
    const painted = s.objects.map((o) => {
      const [x0, y0, x1, y1] = o.at;
      const inside = o.shape === 'rect' ? rect(x0, y0, x1, y1) : ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2);
      return { name: o.name, difficult: o.difficult, box: paint(c, o.colour, inside) };
    });
    write(join(root, 'JPEGImages', `${s.id}.jpg`), await encode(c, 'jpeg'));
    write(join(root, 'Annotations', `${s.id}.xml`), vocXml(s.id, s.width, s.height, painted));
  }
  write(join(root, 'ImageSets', 'Main', 'train.txt'), '000001\n000003\n000004\n');
  write(join(root, 'ImageSets', 'Main', 'val.txt'), '000002\n');
  write(join(root, 'ImageSets', 'Main', 'test.txt'), '000005\n');
}

const base = join(import.meta.dirname, '..', '..', 'datasets');
for (const [name, make] of [
  ['image-folder/fixture', imageFolder],
  ['cub200/fixture/CUB_200_2011', cub200],
  ['voc/fixture/VOC2007', voc],
] as const) {
  const dir = join(base, name);
  rmSync(dir, { recursive: true, force: true });
  await make(dir);
  console.log(`wrote ${dir}`);
}
