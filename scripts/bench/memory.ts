import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Peak resident memory of one workload. Linux keeps a process's high-water mark (VmHWM) and
 * resets it to the current RSS when "5" is written to /proc/self/clear_refs, so a workload's peak
 * is VmHWM read after it, once the mark was reset before it. The PyTorch peer measures its side
 * the same way (peer/torch_peer.py `peak_rss`). Elsewhere, or where the reset is refused, the
 * figure is the process's peak so far, and `rssPeakIsPerWorkload()` says so.
 */

let resettable: boolean | undefined;

/** Starts a workload's peak: resets the high-water mark to the current RSS (Linux). */
export function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    resettable = true;
  } catch {
    resettable = false;
  }
}

/** Whether the peaks measured are per workload (the reset worked) or the process's so far. */
export function rssPeakIsPerWorkload(): boolean {
  return resettable === true;
}

/** The process's resident high-water mark in bytes since the last `resetPeakRss`. */
export function peakRssBytes(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (kib) return Number(kib[1]) * 1024;
  } catch {
    // not Linux: fall through to the process's lifetime peak
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Runs fn and returns its result with the peak RSS it reached, in bytes. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  resetPeakRss();
  const value = await fn();
  return { value, peakRss: peakRssBytes() };
}

export const MIB = 1024 * 1024;
