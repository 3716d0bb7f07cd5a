// A data worker (see item-workers.ts): rebuilds the dataset, then answers item requests.
import { parentPort, workerData } from 'node:worker_threads';
import { GazeError } from '@gaze/engine';
import { createDataset } from '../index.js';
import { UnreadableItemError } from '../split.js';
import type { Dataset } from '../types.js';
import type { ItemReply, ItemRequest, ItemWorkerData } from './item-workers.js';

const data = workerData as ItemWorkerData;
const port = parentPort!;

function describe(error: unknown): { message: string; where?: string; hint?: string } {
  if (error instanceof GazeError) return { message: error.message, where: error.where, hint: error.hint };
  return { message: error instanceof Error ? error.message : String(error) };
}

let dataset: Dataset;
try {
  dataset = await createDataset({ ...data.config, workers: 0 }, { seed: data.seed, baseDir: data.baseDir, where: data.where });
  port.postMessage({ ready: true } satisfies ItemReply);
} catch (error) {
  port.postMessage({ failed: describe(error) } satisfies ItemReply);
  process.exit(1);
}

port.on('message', async (request: ItemRequest | { close: true }) => {
  if ('close' in request) {
    port.close(); // nothing else keeps this thread alive: it exits once its current item is sent
    return;
  }
  try {
    const item = await dataset.split(request.split).item(request.index, { augment: request.augment, seed: request.seed });
    // Hand the arrays over without a copy where they own their buffer.
    const transfer = [item.image, item.mask, item.attributes]
      .filter((a): a is Float32Array | Uint8Array => a !== undefined && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
      .map((a) => a.buffer as ArrayBuffer);
    port.postMessage({ id: request.id, item } satisfies ItemReply, transfer);
  } catch (error) {
    const reply: ItemReply =
      error instanceof UnreadableItemError ? { id: request.id, unreadable: { id: error.id, reason: error.reason } } : { id: request.id, error: describe(error) };
    port.postMessage(reply);
  }
});
