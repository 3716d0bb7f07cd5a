// Explains a model's predictions on image files and saves each map as a PNG over its image, with
// maps.npy and index.csv beside them.
// Usage: node examples/explain-images.mjs <model> <image folder or files...> [--out DIR] [--method M]
//   <model>: a .onnx file, a tfjs model.json folder, or a Gaze classifier (a run's checkpoints/classifier)
import { explain, loadModel, saveMaps } from '@gaze/core';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'explained' }, method: { type: 'string', default: 'gradcam' } } });
const [modelPath, ...inputs] = positionals;
if (!modelPath || inputs.length === 0) {
  console.error('usage: node examples/explain-images.mjs <model> <image folder or files...> [--out DIR] [--method M]');
  process.exit(2);
}
const images = inputs.length === 1 ? inputs[0] : inputs;
const model = await loadModel(modelPath);
const maps = await explain(model, images, { method: values.method });
const { files } = await saveMaps(maps, values.out, { format: 'both', images, model });
maps.ids.forEach((id, i) => console.log(`${id}: class ${maps.targets[i]}`));
console.log(`wrote ${files.length} files to ${values.out}/`);
model.dispose();
