import { Rng, resize, tf } from '@gaze/engine';
import type { TameConfig } from './config.js';

/** One tapped layer: its name and feature shape [h, w, c]. */
export interface BranchInput {
  tap: string;
  shape: [number, number, number];
}

interface Conv1x1 {
  kernel: tf.Variable; // [1, 1, in, out]
  bias: tf.Variable; // [out]
}

/** A trainable variable holding `t` (which it frees). Unnamed: tfjs refuses two variables of one name, as two heads in one process would make. */
function variableOf(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

interface Branch {
  conv: Conv1x1;
  norm?: tf.layers.Layer;
}

/**
 * TAME's attention mechanism: per tapped layer a branch (by variant; `tame`: 1x1 conv -> batch
 * norm -> + the layer's features -> ReLU), each resized bilinearly (half-pixel centres, PyTorch's
 * align_corners=False) to side x side, concatenated, and a 1x1 fusion conv to one channel per
 * class. `apply` returns the pre-sigmoid maps [B, side, side, classes].
 *
 * Weights start as PyTorch's Conv2d defaults (uniform in +-1/sqrt(fan in), kernel and bias) from
 * the run seed; batch norm as PyTorch's BatchNorm2d (gamma 1, beta 0, momentum 0.1, eps 1e-5).
 */
export class TameAttention {
  readonly side: number;
  private readonly branches: Branch[];
  private readonly fusion: Conv1x1;

  constructor(
    readonly inputs: BranchInput[],
    readonly numClasses: number,
    readonly variant: TameConfig['variant'],
    side: number,
    seed: number,
  ) {
    this.side = side;
    const rng = new Rng(seed, 'head:tame');
    const conv = (cin: number, cout: number): Conv1x1 => {
      const bound = 1 / Math.sqrt(cin);
      const draw = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
      return {
        kernel: variableOf(tf.tensor4d(draw(cin * cout), [1, 1, cin, cout])),
        bias: variableOf(tf.tensor1d(draw(cout))),
      };
    };
    const branchOut = (c: number) => (variant === 'no-skip' ? numClasses : c);
    this.branches = inputs.map(({ shape: [h, w, c] }, i) => {
      const out = branchOut(c);
      const branch: Branch = { conv: conv(c, out) };
      if (variant !== 'no-skip-no-bn') {
        // Keras momentum is the kept fraction: PyTorch's 0.1 update is 0.9 here.
        const norm = tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 });
        norm.build([null, h, w, out]);
        branch.norm = norm;
      }
      return branch;
    });
    const fused = inputs.reduce((sum, { shape }) => sum + branchOut(shape[2]), 0);
    this.fusion = conv(fused, numClasses);
  }

  /** Trainable variables: conv kernels and biases, batch-norm gamma and beta. */
  get trainableWeights(): tf.Variable[] {
    return [...this.branches.flatMap((b) => [b.conv.kernel, b.conv.bias, ...((b.norm?.trainableWeights.map((w) => w.read()) ?? []) as tf.Variable[])]), this.fusion.kernel, this.fusion.bias];
  }

  /** Every variable with a stable name (what a checkpoint holds): the trainable ones and the batch-norm moving statistics. */
  namedWeights(): Record<string, tf.Variable> {
    const named: Record<string, tf.Variable> = {};
    this.branches.forEach((b, i) => {
      named[`branch${i}/kernel`] = b.conv.kernel;
      named[`branch${i}/bias`] = b.conv.bias;
      if (b.norm) {
        const [gamma, beta, mean, variance] = b.norm.weights.map((w) => w.read() as tf.Variable);
        Object.assign(named, { [`branch${i}/gamma`]: gamma, [`branch${i}/beta`]: beta, [`branch${i}/movingMean`]: mean, [`branch${i}/movingVariance`]: variance });
      }
    });
    named['fusion/kernel'] = this.fusion.kernel;
    named['fusion/bias'] = this.fusion.bias;
    return named;
  }

  /** Whether a variable is a bias (conv bias or batch-norm beta): twice the learning rate and no weight decay, as the reference. */
  isBias(v: tf.Variable): boolean {
    return v.rank === 1 && !this.branches.some((b) => b.norm && b.norm.trainableWeights[0].read() === v);
  }

  /** features: one [B,h,w,c] per input, in order -> pre-sigmoid maps [B, side, side, classes]. */
  apply(features: tf.Tensor4D[], training: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const outs = this.branches.map((b, i) => {
        const f = features[i];
        let z: tf.Tensor4D = tf.conv2d(f, b.conv.kernel as tf.Tensor4D, 1, 'valid').add(b.conv.bias);
        if (b.norm) z = b.norm.apply(z, { training }) as tf.Tensor4D;
        if (this.variant === 'tame' || this.variant === 'sigmoid-branch') z = tf.add(z, f);
        z = this.variant === 'sigmoid-branch' ? tf.sigmoid(z) : tf.relu(z);
        return resize(z, [this.side, this.side]);
      });
      // The fusion conv of the concatenated branches, as the sum of each branch's conv with its
      // slice of the fusion kernel: the same numbers without a concat (and its SplitV gradient).
      let offset = 0;
      const parts = outs.map((z) => {
        const c = z.shape[3];
        const kernel = this.fusion.kernel.slice([0, 0, offset, 0], [1, 1, c, this.numClasses]) as tf.Tensor4D;
        offset += c;
        return tf.conv2d(z, kernel, 1, 'valid');
      });
      return tf.add(parts.length === 1 ? parts[0] : tf.addN(parts), this.fusion.bias) as tf.Tensor4D;
    });
  }

  /** The target class's channel of maps [B,S,S,K] -> [B,S,S]. */
  static select(maps: tf.Tensor4D, target: tf.Tensor1D): tf.Tensor3D {
    return tf.tidy(() => {
      const onehot = tf.oneHot(tf.cast(target, 'int32'), maps.shape[3]).reshape([maps.shape[0], 1, 1, maps.shape[3]]);
      return tf.sum(tf.mul(maps, onehot), 3) as tf.Tensor3D;
    });
  }

  dispose(): void {
    for (const b of this.branches) {
      b.conv.kernel.dispose();
      b.conv.bias.dispose();
      // Layer.dispose() refuses a layer never used in a model: free its variables instead.
      for (const w of b.norm?.weights ?? []) w.dispose();
    }
    this.fusion.kernel.dispose();
    this.fusion.bias.dispose();
  }
}
