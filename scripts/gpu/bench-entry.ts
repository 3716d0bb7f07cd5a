// The GPU benchmark (scripts/gpu/bundle.sh bundles it into app/gaze-bench.mjs; scripts/gpu/bench.sh
// runs it on the GPU machine): the peer suite with Gaze on webgpu and PyTorch on CUDA, on the same
// networks, weights and inputs: vgg-small and resnet-small train steps and forwards, Grad-CAM,
// RISE, deletion+insertion and TAME at 64 px batch 32, and ResNet-50 at 224 px batch 16 (forward
// and Grad-CAM at layer4). Prints the table and writes every figure to --json (with the adapter).
//   node app/gaze-bench.mjs [--json FILE] [--quick] [--backend wasm]
// --backend wasm runs the same bundled code on the CPU against PyTorch on the CPU: how the bundle
// is checked on a machine without a GPU.
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, tf, writeFileAtomic } from '../../packages/engine/src/index.js';
import { formatPeerBench, runPeerBench } from '../bench/peer.js';
import { provideBundledWebgpu } from './webgpu-modules.js';

const { values } = parseArgs({
  options: { json: { type: 'string', default: 'results-gpu.json' }, quick: { type: 'boolean', default: false }, backend: { type: 'string', default: 'webgpu' } },
});
const backend = values.backend === 'wasm' ? 'wasm' : 'webgpu';
if (!(await provideBundledWebgpu()) && backend === 'webgpu') {
  console.error('the webgpu package (Dawn) did not load beside the bundle: nothing to benchmark on a GPU');
  process.exit(3);
}
const started = new Date();
const report = await initBackend(backend);
const adapter = report.attempts.find((a) => a.ok && a.backend === backend)?.detail ?? backend;
console.log(`Gaze on ${adapter}`);
const peer = await runPeerBench({
  quick: values.quick!,
  log: (line) => console.log(line),
  backend,
  peerDevice: backend === 'webgpu' ? 'cuda' : 'cpu',
  onnxModels: [{ model: 'resnet50', label: 'resnet-50', batch: 16, camLayer: 'layer4' }],
});
console.log('\n' + formatPeerBench(peer) + '\n');
const results = {
  date: started.toISOString(),
  mode: values.quick ? 'quick' : 'full',
  gpu: adapter,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1), node: process.version, platform: `${process.platform} ${process.arch}` },
  versions: { tfjs: tf.version.tfjs },
  suites: { peer },
};
await writeFileAtomic(values.json!, JSON.stringify(results, null, 2) + '\n');
console.log(`figures written to ${values.json}`);
