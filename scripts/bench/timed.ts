/**
 * How long to keep calling a short workload. A fixed handful of calls measures a cold call at
 * small sizes (first-use kernel set-up, thread wake-up, garbage collection), so both sides of the
 * peer benchmark warm up and measure for at least these many seconds as well as the call counts.
 * PyTorch's side (peer/torch_peer.py) reads the same two figures from the task file.
 */
export interface TimingBudget {
  warmupSeconds: number;
  measureSeconds: number;
}

export const QUICK_BUDGET: TimingBudget = { warmupSeconds: 0.2, measureSeconds: 0.4 };
export const FULL_BUDGET: TimingBudget = { warmupSeconds: 0.5, measureSeconds: 1.5 };
/** Most calls measured, however short they are. */
const MAX_CALLS = 500;

let budget: TimingBudget = { warmupSeconds: 0, measureSeconds: 0 };

/** Sets the budget every later `timed` call uses (the default: none, only the call counts). */
export function setTimingBudget(next: TimingBudget): void {
  budget = next;
}

/** The budget in force (what a peer process is handed to time the same way). */
export function timingBudget(): TimingBudget {
  return { ...budget };
}

/**
 * The median seconds per call of fn (which must wait for its result) over at least `repeats`
 * calls and `measureSeconds`, after at least `warmup` calls and (when warmup > 0) `warmupSeconds`: garbage
 * collection and thread scheduling make single calls vary by 1.5x.
 */
export async function timed(fn: () => Promise<void> | void, repeats: number, warmup = 1): Promise<number> {
  const warmStart = performance.now();
  for (let i = 0; i < warmup || (warmup > 0 && (performance.now() - warmStart) / 1000 < budget.warmupSeconds); i++) await fn();
  const times: number[] = [];
  let spent = 0;
  while (times.length < repeats || (spent < budget.measureSeconds && times.length < MAX_CALLS)) {
    const t0 = performance.now();
    await fn();
    const seconds = (performance.now() - t0) / 1000;
    times.push(seconds);
    spent += seconds;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
