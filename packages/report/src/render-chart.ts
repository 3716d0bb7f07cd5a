import { writeFileAtomic } from '@gaze/engine';
import sharp from 'sharp';
import { parse, resetSVGDefIds, View } from 'vega';
import { compile, type Config, type TopLevelSpec } from 'vega-lite';

/** The font every chart uses: DejaVu ships with Debian, so text renders the same in the SVG and the PNG. */
export const CHART_FONT = 'DejaVu Sans';

/** PNG resolution: the SVG is rasterised at 144 dpi, i.e. twice its pixel size (sharp's default is 72). */
export const PNG_DENSITY = 144;

/** Shared look for every Gaze chart: the font, a white background, no outer frame. */
export const CHART_CONFIG: Config = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 240 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 400 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14 },
};

export interface RenderedChart {
  /** The SVG text (standalone: with the xmlns attributes). */
  svg: string;
  /** `<outBase>.vl.json`, `<outBase>.svg`, `<outBase>.png`, in that order. */
  files: string[];
}

/**
 * Renders a vega-lite spec headless (vega's `renderer: 'none'`, no DOM, no canvas) and writes
 * `<outBase>.vl.json` (the spec, with `CHART_CONFIG` merged under its own config),
 * `<outBase>.svg` and `<outBase>.png` (the SVG rasterised with sharp at `PNG_DENSITY`), each
 * atomically. Data must be inline (`data.values`); nothing is loaded. The same spec gives the same
 * bytes: vega's clip/gradient id counters are reset before each render.
 */
export async function renderChart(spec: TopLevelSpec, outBase: string): Promise<RenderedChart> {
  const full = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const svg = await chartSvg(full);
  const png = await svgToPng(svg);
  const files = [`${outBase}.vl.json`, `${outBase}.svg`, `${outBase}.png`];
  await writeFileAtomic(files[0], `${JSON.stringify(full, null, 2)}\n`);
  await writeFileAtomic(files[1], svg);
  await writeFileAtomic(files[2], png);
  return { svg, files };
}

/** vega-lite -> vega -> SVG text, without writing anything. */
export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vgSpec } = compile(spec);
  const view = new View(parse(vgSpec), { renderer: 'none' });
  try {
    resetSVGDefIds();
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG (librsvg through sharp; fonts through fontconfig) to PNG bytes. */
export async function svgToPng(svg: string, density = PNG_DENSITY): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).png({ compressionLevel: 9 }).toBuffer();
}
