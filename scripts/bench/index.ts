// `npm run bench [-- --quick] [-- --json FILE]`: runs the benchmark suites, prints their tables,
// and writes every figure to a JSON file (default bench/results.json).
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { tf, writeFileAtomic } from '@gaze/engine';
import { formatDataBench, runDataBench } from './data.js';
import { formatEngineBench, runEngineBench } from './engine.js';
import { formatExplainerBench, runExplainerBench } from './explainers.js';
import { formatMetricBench, runMetricBench } from './metrics.js';
import { formatPeerBench, runPeerBench } from './peer.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string', default: 'bench/results.json' },
  },
});

const started = new Date();
const engine = await runEngineBench({ quick: values.quick!, log: (l) => console.log(l) });
console.log('\n' + formatEngineBench(engine) + '\n');
const data = await runDataBench({ quick: values.quick!, log: (l) => console.log(l) });
console.log('\n' + formatDataBench(data) + '\n');
const explainers = await runExplainerBench({ quick: values.quick!, log: (l) => console.log(l) });
console.log('\n' + formatExplainerBench(explainers) + '\n');
const metrics = await runMetricBench({ quick: values.quick!, log: (l) => console.log(l) });
console.log('\n' + formatMetricBench(metrics) + '\n');
const peer = await runPeerBench({ quick: values.quick!, log: (l) => console.log(l) });
console.log('\n' + formatPeerBench(peer) + '\n');

const results = {
  date: started.toISOString(),
  mode: values.quick ? 'quick' : 'full',
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1), node: process.version, platform: `${process.platform} ${process.arch}` },
  versions: { tfjs: tf.version.tfjs },
  suites: { engine, data, explainers, metrics, peer },
};
await writeFileAtomic(values.json!, JSON.stringify(results, null, 2) + '\n');
console.log(`figures written to ${values.json}`);
