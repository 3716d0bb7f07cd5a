// Starts the data worker from TypeScript source (the package's '@gaze/source' mode): tsx's hooks,
// registered in the main thread, do not reach worker threads, so this one registers its own.
import { register } from 'tsx/esm/api';

register();
await import('./item-worker.ts');
