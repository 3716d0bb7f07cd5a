export {
  ATTENTION_TAP,
  attentionResnet,
  attentionSupernet,
  blockCount,
  copyWeightsByName,
  type AttentionResnetSpec,
  type AttentionUnit,
  type SharingScope,
} from './attention-resnet.js';
export { attentionParameterCount, lastStageMaps, networkShape } from './network.js';
export { inferenceMilliseconds } from './measure.js';
