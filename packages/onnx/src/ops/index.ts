import { CONV_OPS } from './conv.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { LINEAR_OPS } from './linear.js';
import { NORMALIZATION_OPS } from './normalization.js';
import type { OpImpl } from './op.js';
import { SHAPE_OPS } from './shape.js';

/** Every ONNX operator (default domain) the importer runs, by op type; one file per family. */
export const OPS: Readonly<Record<string, OpImpl>> = { ...CONV_OPS, ...LINEAR_OPS, ...NORMALIZATION_OPS, ...ELEMENTWISE_OPS, ...SHAPE_OPS };

export function supportedOps(): string[] {
  return Object.keys(OPS).sort();
}

export { Attributes, type FusedActivation, type OpContext, type OpImpl } from './op.js';
