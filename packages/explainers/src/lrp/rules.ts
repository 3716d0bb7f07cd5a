import { tf } from '@gaze/engine';

/**
 * The LRP propagation rules, written once for every linear layer (conv, dense, pooling, add,
 * batch norm) through the "gradient trick" (Montavon et al. 2019, "Layer-Wise Relevance
 * Propagation: An Overview"): with z = layer'(a) computed with modified weights, s = R / z and
 * c = W'^T s (the vector-Jacobian product of the modified layer), R_in = a * c.
 *
 * A layer is a `LinearMap`: its linear part applied with all weights (`all`), with only the
 * positive ones (`pos`, w+ = max(0, w)) or only the negative ones (`neg`, w- = min(0, w)), plus
 * its bias. Pooling and Add have only positive weights, so their `neg` part is null.
 */

export type Part = 'all' | 'pos' | 'neg';

export interface LinearMap {
  /** The layer's linear part (no bias, no activation) over `inputs`, with the weights `part` selects; null when that part is identically 0. */
  apply(inputs: tf.Tensor[], part: Part): tf.Tensor | null;
  /** W'^T s for each input (the vector-Jacobian product); by default through tf.grads of the linear map. */
  transpose?(s: tf.Tensor, part: Part, inputs: tf.Tensor[]): tf.Tensor[] | null;
  /** Added to z by the epsilon rule only (z+, alpha-beta and z^B ignore the bias, as the CLRP reference does). */
  bias: tf.Tensor | null;
}

export type HiddenRule = 'epsilon' | 'zplus' | 'alpha-beta';
export type FirstLayerRule = 'zb' | 'same';

export interface RuleParams {
  rule: HiddenRule;
  /** The stabilizer added to every denominator (with z's sign for the epsilon rule). */
  epsilon: number;
  /** alpha-beta's alpha; beta = alpha - 1. */
  alpha: number;
}

/** W'^T s for each input of the map. */
function vjp(map: LinearMap, part: Part, inputs: tf.Tensor[], s: tf.Tensor): tf.Tensor[] | null {
  if (map.transpose) return map.transpose(s, part, inputs);
  if (map.apply(inputs, part) === null) return null;
  const f = (...xs: tf.Tensor[]) => tf.sum(tf.mul(map.apply(xs, part)!, s)) as tf.Scalar;
  return tf.grads(f)(inputs);
}

function addOrNull(a: tf.Tensor | null, b: tf.Tensor | null): tf.Tensor | null {
  if (a === null) return b;
  if (b === null) return a;
  return tf.add(a, b);
}

/** z + eps * sign(z), with sign(0) = +1 (as zennit's `stabilize`). */
export function stabilize(z: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.add(z, tf.where(tf.greaterEqual(z, 0), tf.fill(z.shape, epsilon), tf.fill(z.shape, -epsilon)));
}

/**
 * epsilon rule (Bach et al. 2015): R_i = sum_j a_i w_ij / (z_j + eps sign(z_j)) R_j with
 * z_j = sum_i a_i w_ij + b_j. Conserves relevance up to what the bias and eps absorb.
 */
export function epsilonRule(map: LinearMap, inputs: tf.Tensor[], relevance: tf.Tensor, epsilon: number): tf.Tensor[] {
  let z = map.apply(inputs, 'all')!;
  if (map.bias) z = tf.add(z, map.bias);
  const s = tf.div(relevance, stabilize(z, epsilon));
  const c = vjp(map, 'all', inputs, s)!;
  return inputs.map((a, k) => tf.mul(a, c[k]));
}

/**
 * alpha-beta rule (Bach et al. 2015), alpha - beta = 1, with the positive and negative
 * contributions z+_ij = (a_i w_ij)^+ = a+_i w+_ij + a-_i w-_ij and z-_ij = a+_i w-_ij + a-_i w+_ij:
 * R_i = sum_j (alpha z+_ij / (z+_j + eps) - beta z-_ij / (z-_j - eps)) R_j. beta = 0 is the z+
 * rule; for non-negative inputs (after a ReLU) it is exactly the CLRP reference's
 * R_i = a_i sum_j w+_ij R_j / (sum_i' a_i' w+_i'j + eps). The bias is ignored.
 * `nonNegative` says the inputs are known to be >= 0 (post-ReLU), so the a- terms are skipped.
 */
export function alphaBetaRule(map: LinearMap, inputs: tf.Tensor[], relevance: tf.Tensor, alpha: number, beta: number, epsilon: number, nonNegative: boolean): tf.Tensor[] {
  const aPos = nonNegative ? inputs : inputs.map((a) => tf.relu(a));
  const aNeg = nonNegative ? null : inputs.map((a) => tf.minimum(a, 0));
  // One side: the contributions a+ w^{p} + a- w^{q}, and what they give back to each input.
  const side = (p: Part, q: Part, weight: number, stab: number): tf.Tensor[] | null => {
    const z = addOrNull(map.apply(aPos, p), aNeg ? map.apply(aNeg, q) : null);
    if (z === null) return null;
    const s = tf.div(tf.mul(relevance, weight), tf.add(z, stab));
    const cp = vjp(map, p, inputs, s);
    const cq = aNeg ? vjp(map, q, inputs, s) : null;
    return inputs.map((_, k) => addOrNull(cp ? tf.mul(aPos[k], cp[k]) : null, cq ? tf.mul(aNeg![k], cq[k]) : null) ?? tf.zerosLike(inputs[k]));
  };
  const positive = side('pos', 'neg', alpha, epsilon);
  const negative = beta === 0 ? null : side('neg', 'pos', beta, -epsilon);
  return inputs.map((a, k) => {
    const rp = positive ? positive[k] : tf.zerosLike(a);
    return negative ? tf.sub(rp, negative[k]) : rp;
  });
}

/**
 * z^B (box) rule (Montavon et al. 2017, deep Taylor) for the first layer, whose inputs lie in
 * [low, high] (the normalized values of pixel 0 and 1; tensors broadcasting to the input's shape):
 * R_i = sum_j (x_i w_ij - l_i w+_ij - h_i w-_ij) / sum_i' (x_i' w_i'j - l_i' w+_i'j - h_i' w-_i'j) R_j.
 * Every term is >= 0 for x in [l, h]. The bias is ignored (as `clrp_lib.py FirstConv_backward_hook`).
 */
export function zBoxRule(map: LinearMap, input: tf.Tensor, relevance: tf.Tensor, low: tf.Tensor, high: tf.Tensor, epsilon: number): tf.Tensor {
  const l = tf.mul(tf.onesLike(input), low);
  const h = tf.mul(tf.onesLike(input), high);
  let z = map.apply([input], 'all')!;
  const zl = map.apply([l], 'pos');
  const zh = map.apply([h], 'neg');
  if (zl) z = tf.sub(z, zl);
  if (zh) z = tf.sub(z, zh);
  const s = tf.div(relevance, tf.add(z, epsilon));
  let r = tf.mul(input, vjp(map, 'all', [input], s)![0]);
  const cl = zl ? vjp(map, 'pos', [l], s) : null;
  const ch = zh ? vjp(map, 'neg', [h], s) : null;
  if (cl) r = tf.sub(r, tf.mul(l, cl[0]));
  if (ch) r = tf.sub(r, tf.mul(h, ch[0]));
  return r;
}

/** The hidden-layer rule `params.rule` applied to one linear layer. */
export function hiddenRule(map: LinearMap, inputs: tf.Tensor[], relevance: tf.Tensor, params: RuleParams, nonNegative: boolean): tf.Tensor[] {
  switch (params.rule) {
    case 'epsilon':
      return epsilonRule(map, inputs, relevance, params.epsilon);
    case 'zplus':
      return alphaBetaRule(map, inputs, relevance, 1, 0, params.epsilon, nonNegative);
    case 'alpha-beta':
      return alphaBetaRule(map, inputs, relevance, params.alpha, params.alpha - 1, params.epsilon, nonNegative);
  }
}

/** The map with its weights (and bias) negated: what CLRP2 does to the last dense layer. */
export function negated(map: LinearMap): LinearMap {
  const flip: Record<Part, Part> = { all: 'all', pos: 'neg', neg: 'pos' };
  return {
    apply: (inputs, part) => {
      const out = map.apply(inputs, flip[part]);
      return out === null ? null : tf.neg(out);
    },
    transpose: (s, part, inputs) => {
      const c = vjp(map, flip[part], inputs, s);
      return c === null ? null : c.map((t) => tf.neg(t));
    },
    bias: map.bias ? tf.neg(map.bias) : null,
  };
}
