import { tf } from '../tf.js';

export interface LeakCheck {
  runs: number;
  before: number;
  after: number;
  /** Tensors gained per run on average; 0 when the function is leak-free. */
  perRun: number;
}

/**
 * Runs `fn` `runs` times (after `warmup` runs that may allocate caches) and throws when
 * `tf.memory().numTensors` grows. Whatever `fn` returns (a tensor, an array or record of tensors)
 * is disposed after each run, so `assertNoTensorLeak(() => explainer.explain(x, t))` checks the
 * explainer alone.
 */
export async function assertNoTensorLeak(
  fn: () => unknown,
  options: { runs?: number; warmup?: number; label?: string } = {},
): Promise<LeakCheck> {
  const { runs = 5, warmup = 1, label = 'function' } = options;
  if (runs < 1) throw new Error('assertNoTensorLeak needs runs >= 1');
  const once = async () => {
    const out = await fn();
    tf.dispose(out as tf.TensorContainer);
  };
  for (let i = 0; i < warmup; i++) await once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < runs; i++) await once();
  const after = tf.memory().numTensors;
  const check = { runs, before, after, perRun: (after - before) / runs };
  if (after > before) {
    throw new Error(
      `${label} leaks tensors: tf.memory().numTensors went from ${before} to ${after} over ${runs} runs ` +
        `(+${check.perRun.toFixed(2)} per run); wrap its tensor math in tf.tidy or dispose what crosses an await`,
    );
  }
  return check;
}
