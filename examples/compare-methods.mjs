// Scores two explanation methods on the same images with deletion and insertion (the area under
// the class-probability curve as pixels are removed / added, most important first).
// Usage: node examples/compare-methods.mjs <model> <image folder or files...>
import { evaluate, explain, loadModel } from '@gaze/core';

const [modelPath, ...inputs] = process.argv.slice(2);
if (!modelPath || inputs.length === 0) {
  console.error('usage: node examples/compare-methods.mjs <model> <image folder or files...>');
  process.exit(2);
}
const images = inputs.length === 1 ? inputs[0] : inputs;
const model = await loadModel(modelPath);
console.log('method     deletion (lower is better)  insertion (higher is better)');
for (const method of ['gradcam', 'gradient']) {
  const maps = await explain(model, images, { method });
  const score = async (metric) => (await evaluate(model, images, maps, { metric })).summary[0];
  const [deletion, insertion] = [await score('deletion'), await score('insertion')];
  console.log(`${method.padEnd(10)} ${deletion.value.toFixed(4).padEnd(27)} ${insertion.value.toFixed(4)}   (${deletion.n} images)`);
}
model.dispose();
