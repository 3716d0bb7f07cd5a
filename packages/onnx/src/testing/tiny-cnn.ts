import type { ModelSpec, TensorSpec } from './build-model.js';
import { noise } from './reference-ops.js';

/**
 * A small CNN in the form torch.onnx.export writes: node names carry the module scope, the ReLU
 * module `relu` is called twice (`/relu/Relu`, then `/relu_1/Relu`), and the classifier ends in a
 * softmax. input [N,3,8,8] -> conv 3x3 (4) -> relu -> conv 3x3 (4) -> relu -> 1x1 conv (4) -> relu
 * -> global average pool -> flatten -> linear (5) -> softmax.
 */
export function tinyCnn(options: { batch?: number | string; size?: number; external?: string; reshape?: boolean } = {}): ModelSpec {
  const { batch = 'N', size = 8 } = options;
  const w = (name: string, dims: number[], salt: number): TensorSpec => ({ name, dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => noise(i, salt) * 0.5) });
  const initializers = [
    w('features.0.weight', [4, 3, 3, 3], 1),
    w('features.0.bias', [4], 2),
    w('features.2.weight', [4, 4, 3, 3], 3),
    w('block.conv.weight', [4, 4, 1, 1], 4),
    w('fc.weight', [5, 4], 5),
    w('fc.bias', [5], 6),
  ];
  if (options.external) initializers[0] = { ...initializers[0], external: { location: options.external } };
  return {
    opset: 13,
    inputs: [{ name: 'input', shape: [batch, 3, size, size] }],
    outputs: [{ name: 'probs' }],
    nodes: [
      { name: '/features/features.0/Conv', op: 'Conv', inputs: ['input', 'features.0.weight', 'features.0.bias'], outputs: ['/features/features.0/Conv_output_0'], attrs: { pads: { ints: [1, 1, 1, 1] }, kernel_shape: { ints: [3, 3] } } },
      { name: '/features/features.1/Relu', op: 'Relu', inputs: ['/features/features.0/Conv_output_0'], outputs: ['/features/features.1/Relu_output_0'] },
      { name: '/features/features.2/Conv', op: 'Conv', inputs: ['/features/features.1/Relu_output_0', 'features.2.weight'], outputs: ['/features/features.2/Conv_output_0'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
      { name: '/relu/Relu', op: 'Relu', inputs: ['/features/features.2/Conv_output_0'], outputs: ['/relu/Relu_output_0'] },
      { name: '/block/conv/Conv', op: 'Conv', inputs: ['/relu/Relu_output_0', 'block.conv.weight'], outputs: ['/block/conv/Conv_output_0'] },
      { name: '/relu_1/Relu', op: 'Relu', inputs: ['/block/conv/Conv_output_0'], outputs: ['/relu_1/Relu_output_0'] },
      { name: '/avgpool/GlobalAveragePool', op: 'GlobalAveragePool', inputs: ['/relu_1/Relu_output_0'], outputs: ['/avgpool/GlobalAveragePool_output_0'] },
      ...(options.reshape
        ? [{ name: '/Reshape', op: 'Reshape', inputs: ['/avgpool/GlobalAveragePool_output_0', 'flat_shape'], outputs: ['/Flatten_output_0'] }]
        : [{ name: '/Flatten', op: 'Flatten', inputs: ['/avgpool/GlobalAveragePool_output_0'], outputs: ['/Flatten_output_0'] }]),
      { name: '/fc/Gemm', op: 'Gemm', inputs: ['/Flatten_output_0', 'fc.weight', 'fc.bias'], outputs: ['/fc/Gemm_output_0'], attrs: { transB: { i: 1 } } },
      { name: '/Softmax', op: 'Softmax', inputs: ['/fc/Gemm_output_0'], outputs: ['probs'], attrs: { axis: { i: 1 } } },
    ],
    initializers: options.reshape ? [...initializers, { name: 'flat_shape', dims: [2], data: [typeof batch === 'number' ? batch : 1, 4], type: 'int64' }] : initializers,
  };
}
