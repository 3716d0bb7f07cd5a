import type { RunnerEvent } from '@gaze/runner';
import cliProgress from 'cli-progress';

/** Where progress goes: a bar redrawn in place on a terminal, plain periodic lines otherwise (CI logs). */
export interface ProgressOptions {
  write: (text: string) => void;
  /** The stream to draw the bar on when it is a TTY; omit for plain lines. */
  tty?: NodeJS.WriteStream;
  /** Seconds between plain progress lines inside an epoch. */
  plainEverySeconds?: number;
  now?: () => number;
}

function fmt(n: number, digits = 4): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Turns runner events into a progress display; returns the event handler and a `stop` for cleanup. */
export function progressReporter(options: ProgressOptions): { onEvent: (e: RunnerEvent) => void; stop: () => void } {
  const now = options.now ?? (() => Date.now());
  const every = (options.plainEverySeconds ?? 15) * 1000;
  let bar: cliProgress.SingleBar | undefined;
  let epochs = 0;
  let epochStart = 0;
  let lastPlain = 0;
  let runLabel = '';

  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };

  const onEvent = (e: RunnerEvent) => {
    switch (e.type) {
      case 'plan':
        options.write(`${e.runs} run${e.runs === 1 ? '' : 's'} into ${e.experimentDir}${e.toResume ? `, resuming ${e.toResume}` : ''}${e.toSkip ? `, ${e.toSkip} already finished` : ''}\n`);
        break;
      case 'run-start': {
        runLabel = e.total > 1 ? `[${e.index + 1}/${e.total}] ` : '';
        const params = Object.entries(e.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
        options.write(`${runLabel}run ${e.runId}${params ? ` (${params})` : ''}${e.resumed ? ' (resuming)' : ''}\n`);
        break;
      }
      case 'log':
        stopBar();
        options.write(`  ${e.line}\n`);
        break;
      case 'train': {
        const t = e.event;
        if (t.type === 'start') {
          epochs = t.epochs;
          if (t.firstEpoch > t.epochs) options.write(`  training finished earlier (${t.epochs} of ${t.epochs} epochs): continuing after it\n`);
          else if (t.firstEpoch > 1) options.write(`  resuming at epoch ${t.firstEpoch} of ${t.epochs}\n`);
        } else if (t.type === 'resume') {
          if (t.warning) options.write(`  warning: ${t.warning}\n`);
          options.write(`  resumed from ${t.checkpoint} (epoch ${t.fromEpoch} done)\n`);
        } else if (t.type === 'step') {
          if (t.step === 1) {
            epochStart = now();
            lastPlain = epochStart;
            if (options.tty) {
              bar = new cliProgress.SingleBar(
                {
                  stream: options.tty,
                  format: `  ${runLabel}epoch {epoch}/${epochs} [{bar}] {value}/{total} loss {loss} acc {acc} ETA {eta_formatted}`,
                  barsize: 24,
                  hideCursor: true,
                  clearOnComplete: true,
                  etaBuffer: 20,
                },
                cliProgress.Presets.shades_classic,
              );
              bar.start(t.steps, 0, { epoch: t.epoch, loss: '-', acc: '-' });
            }
          }
          if (bar) bar.update(t.step, { epoch: t.epoch, loss: fmt(t.loss), acc: fmt(t.accuracy, 3) });
          else if (now() - lastPlain >= every && t.step < t.steps) {
            lastPlain = now();
            const elapsed = (now() - epochStart) / 1000;
            options.write(`  epoch ${t.epoch}/${epochs} step ${t.step}/${t.steps} loss ${fmt(t.loss)} acc ${fmt(t.accuracy, 3)} ETA ${duration((elapsed / t.step) * (t.steps - t.step))}\n`);
          }
        } else if (t.type === 'epoch') {
          stopBar();
          const r = t.record;
          const left = (epochs - r.epoch) * r.seconds;
          options.write(
            `  epoch ${r.epoch}/${epochs}  train loss ${fmt(r.train_loss)} acc ${fmt(r.train_accuracy, 3)}  val loss ${fmt(r.val_loss)} acc ${fmt(r.val_accuracy, 3)}  lr ${r.lr.toExponential(2)}  ${r.seconds.toFixed(1)}s${t.best ? '  best' : ''}${r.epoch < epochs ? `  ETA ${duration(left)}` : ''}\n`,
          );
        }
        break;
      }
      case 'run-end': {
        stopBar();
        if (e.status !== 'finished') {
          options.write(`  ${e.status}\n`);
          break;
        }
        // The classifier's rows in full; the explainers' (often hundreds) as a count: they are in the report.
        const own = e.metrics.filter((m) => m.method === 'classifier');
        const rows = own.map((m) => `${m.method}.${m.metric}=${fmt(m.value)}`).join('  ');
        const methods = new Set(e.metrics.filter((m) => m.method !== 'classifier').map((m) => m.method));
        const more = methods.size > 0 ? `${rows ? '  ' : ''}+ ${e.metrics.length - own.length} rows for ${methods.size} method${methods.size === 1 ? '' : 's'}` : '';
        options.write(`  ${e.status}: ${rows + more || 'no metrics'}\n  report: ${e.runDir}/report.html\n`);
        break;
      }
      case 'evaluate': {
        // A line when a method finishes, and at most one per interval while it runs.
        if (e.batch === e.batches || now() - lastPlain >= every) {
          lastPlain = now();
          options.write(`  evaluating ${e.method}: batch ${e.batch}/${e.batches} (${e.images} images)\n`);
        }
        break;
      }
      case 'summary':
        options.write(`combined table: ${e.dir}/summary.md (and .csv, .html)\n`);
        break;
    }
  };
  return { onEvent, stop: stopBar };
}
