/** The median seconds per call of fn over `repeats` calls after `warmup` (fn must wait for its result): garbage collection and thread scheduling make single calls vary by 1.5x. */
export async function timed(fn: () => Promise<void> | void, repeats: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

