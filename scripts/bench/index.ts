// `npm run bench [-- --quick] [-- --suite NAME ...] [-- --json FILE]`: runs the benchmark suites (all,
// or the ones named), prints their tables, and writes every figure to a JSON file (default
// bench/results.json).
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { tf, writeFileAtomic } from '@gaze/engine';
import { formatAttentionBench, runAttentionBench } from './attention.js';
import { formatDataBench, runDataBench } from './data.js';
import { formatEngineBench, runEngineBench } from './engine.js';
import { formatExplainerBench, runExplainerBench } from './explainers.js';
import { formatLeakBench, runLeakBench } from './leak.js';
import { formatMetricBench, runMetricBench } from './metrics.js';
import { formatPeerBench, runPeerBench } from './peer.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string', default: 'bench/results.json' },
    suite: { type: 'string', multiple: true },
  },
});

const SUITES = ['engine', 'data', 'explainers', 'metrics', 'attention', 'peer', 'leak'] as const;
const chosen = values.suite ?? [...SUITES];
for (const name of chosen) {
  if (!(SUITES as readonly string[]).includes(name)) {
    console.error(`unknown suite '${name}': use one of ${SUITES.join(', ')}`);
    process.exit(2);
  }
}
const wanted = (name: (typeof SUITES)[number]) => chosen.includes(name);
const log = (line: string) => console.log(line);
const quick = values.quick!;

const started = new Date();
const engine = wanted('engine') ? await runEngineBench({ quick, log }) : undefined;
if (engine) console.log('\n' + formatEngineBench(engine) + '\n');
const data = wanted('data') ? await runDataBench({ quick, log }) : undefined;
if (data) console.log('\n' + formatDataBench(data) + '\n');
const explainers = wanted('explainers') ? await runExplainerBench({ quick, log }) : undefined;
if (explainers) console.log('\n' + formatExplainerBench(explainers) + '\n');
const metrics = wanted('metrics') ? await runMetricBench({ quick, log }) : undefined;
if (metrics) console.log('\n' + formatMetricBench(metrics) + '\n');
const attention = wanted('attention') ? await runAttentionBench({ quick, log }) : undefined;
if (attention) console.log('\n' + formatAttentionBench(attention) + '\n');
const peer = wanted('peer') ? await runPeerBench({ quick, log }) : undefined;
if (peer) console.log('\n' + formatPeerBench(peer) + '\n');
const leak = wanted('leak') ? await runLeakBench({ quick, log }) : undefined;
if (leak) console.log('\n' + formatLeakBench(leak) + '\n');

const results = {
  date: started.toISOString(),
  mode: values.quick ? 'quick' : 'full',
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1), node: process.version, platform: `${process.platform} ${process.arch}` },
  versions: { tfjs: tf.version.tfjs },
  suites: { engine, data, explainers, metrics, attention, peer, leak },
};
await writeFileAtomic(values.json!, JSON.stringify(results, null, 2) + '\n');
console.log(`figures written to ${values.json}`);
// A leak is a failure, not a figure: CI's quick run catches one.
if (leak && !leak.holds) {
  console.error(`leak check failed: ${leak.results.filter((r) => !r.holds).map((r) => r.workload).join(', ')} grew (table above)`);
  process.exitCode = 1;
}
