// Runs an experiment and reads its numbers: the quickstart classifier (one epoch here, so it
// takes seconds), explained with Grad-CAM and scored by deletion and insertion, with the maps
// saved as maps.npy. Usage: node examples/run-config.mjs [key=value ...]   (overrides, as --set)
import { runExperiment } from '@gaze/core';

const { runs } = await runExperiment('configs/quickstart.yaml', {
  sets: [
    'experiment.name=example-run',
    'train.epochs=1',
    'explainers=[{type: gradcam}]',
    'evaluation=[{type: deletion}, {type: insertion}]',
    'evaluationSet.images=32',
    'evaluationSet.saveMaps=npy',
    ...process.argv.slice(2),
  ],
});
for (const run of runs) {
  console.log(`${run.runDir}: ${run.status}`);
  for (const m of run.metrics) console.log(`  ${m.method} ${m.metric} = ${m.value.toFixed(4)}${m.ci_low === undefined ? '' : ` [${m.ci_low.toFixed(4)}, ${m.ci_high.toFixed(4)}]`}`);
  console.log(`  maps: ${run.runDir}/maps/gradcam/maps.npy; classifier: ${run.runDir}/checkpoints/classifier`);
}
