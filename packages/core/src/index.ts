/**
 * Gaze as a library: load a model, explain its predictions, score the explanations, run whole
 * experiments, from a plain Node script. Results are plain arrays; no tfjs setup is needed.
 */
export { loadModel, type BackboneSpec, type GazeModel, type LoadModelOptions, type ModelFormat, type PreprocessOptions } from './model.js';
export { explain, type ExplainOptions, type ExplainResult, type Target } from './explain.js';
export { evaluate, type BoxInput, type EvaluateOptions, type EvaluateResult, type ImageValue, type MapsInput, type SummaryValue } from './evaluate.js';
export { runExperiment, type ExperimentEvent, type ExperimentResult, type ExperimentRun, type MetricRow, type RunExperimentOptions } from './experiment.js';
export { saveMaps, type SaveMapsOptions, type SavedMaps } from './save-maps.js';
export type { ImageInput, ImageOptions } from './images.js';

/** The error every user-caused failure throws: `message`, `where` (the option or file), `hint` (what to do); `format()` gives all three. */
export { GazeError } from '@gaze/engine';
/** The names `explain({ method })` takes, sorted. */
export { explainerTypes } from '@gaze/explainers';
/** The names `evaluate({ metric })` takes, sorted. */
export { evaluatorTypes } from '@gaze/metrics';
