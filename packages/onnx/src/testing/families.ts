/** One torchvision family as the parity tests check it: the model testing/torchvision-reference.py builds and the module paths Grad-CAM is compared at. */
export interface TorchvisionFamily {
  model: string;
  layers: string[];
  opset?: number;
}

/**
 * Small members of every torchvision classification family torch.onnx.export handles (the same
 * classes and ops, fewer channels or blocks where the full model is slow), what CI checks.
 */
export const SMALL_FAMILIES: Record<string, TorchvisionFamily> = {
  resnet: { model: 'resnet18', layers: ['layer4', 'layer2'] },
  'resnext / wide-resnet': { model: 'resnext-small', layers: ['layer4'] },
  vgg: { model: 'vgg-small', layers: ['features'] },
  'vgg (batch norm)': { model: 'vgg-small-bn', layers: ['features.13'] },
  'mobilenet v2': { model: 'mobilenet_v2', layers: ['features.18'] },
  'mobilenet v3': { model: 'mobilenet_v3_small', layers: ['features.12'] },
  densenet: { model: 'densenet121', layers: ['features.denseblock4'] },
  efficientnet: { model: 'efficientnet_b0', layers: ['features.8'] },
  regnet: { model: 'regnet_y_400mf', layers: ['trunk_output'] },
  squeezenet: { model: 'squeezenet1_1', layers: ['features.12'] },
  shufflenet: { model: 'shufflenet_v2_x0_5', layers: ['conv5'] },
  'convnext (opset 13)': { model: 'convnext-small', layers: ['features.3'] },
  'convnext (opset 17)': { model: 'convnext-small', layers: ['features.3'], opset: 17 },
  'vit (opset 17)': { model: 'vit-small', layers: ['encoder.layers.encoder_layer_1.ln_1'], opset: 17 },
};

/** The ImageNet architectures themselves (GAZE_ONNX_FAMILIES=full; about 4.5 minutes on two cores). */
export const FULL_FAMILIES: Record<string, TorchvisionFamily> = {
  resnet: { model: 'resnet50', layers: ['layer4', 'layer3'] },
  resnext: { model: 'resnext50_32x4d', layers: ['layer4'] },
  'wide-resnet': { model: 'wide_resnet50_2', layers: ['layer4'] },
  vgg: { model: 'vgg16', layers: ['features.29', 'features'] },
  'vgg (batch norm)': { model: 'vgg16_bn', layers: ['features.42'] },
  'mobilenet v2': { model: 'mobilenet_v2', layers: ['features.18'] },
  'mobilenet v3': { model: 'mobilenet_v3_large', layers: ['features.16'] },
  densenet: { model: 'densenet121', layers: ['features.denseblock4'] },
  efficientnet: { model: 'efficientnet_b0', layers: ['features.8'] },
  regnet: { model: 'regnet_y_400mf', layers: ['trunk_output'] },
  squeezenet: { model: 'squeezenet1_0', layers: ['features.12'] },
  shufflenet: { model: 'shufflenet_v2_x1_0', layers: ['conv5'] },
  convnext: { model: 'convnext_tiny', layers: ['features.7'], opset: 17 },
  vit: { model: 'vit_b_16', layers: ['encoder.layers.encoder_layer_11.ln_1'], opset: 17 },
};

/** The families a test run checks: FULL_FAMILIES when GAZE_ONNX_FAMILIES=full, else SMALL_FAMILIES. */
export function torchvisionFamilies(): Record<string, TorchvisionFamily> {
  return process.env.GAZE_ONNX_FAMILIES === 'full' ? FULL_FAMILIES : SMALL_FAMILIES;
}
