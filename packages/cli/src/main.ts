// Entry point used by bin/gaze.js.
export { main } from './cli.js';
