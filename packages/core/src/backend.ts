import { initBackend, tf, type BackendRequest } from '@gaze/engine';

let started: Promise<unknown> | undefined;
let startedWith: BackendRequest | 'default' | undefined;

/**
 * Starts a tfjs backend the first time the library needs one, so a script needs no setup call:
 * `request` when given (switching to it if another was started), else the one a script already
 * set up (`initBackend`, `tf.setBackend`), else `GAZE_BACKEND` or `auto`.
 */
export async function ensureBackend(request?: BackendRequest): Promise<void> {
  if (request !== undefined && startedWith !== request) {
    startedWith = request;
    started = initBackend(request, { source: 'argument' });
  } else if (started === undefined) {
    if (tf.engine().backendName) return;
    startedWith = 'default';
    started = initBackend();
  }
  try {
    await started;
  } catch (error) {
    started = undefined;
    startedWith = undefined;
    throw error;
  }
}
