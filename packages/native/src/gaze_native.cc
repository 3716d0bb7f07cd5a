// @gaze/native: convolution and other heavy kernels on oneDNN (Debian libdnnl-dev, oneDNN 2.6), called by the
// engine's wasm kernels on views of the wasm heap (NHWC float32, HWIO filters), so no copies.
//
// Each function takes the tensors as Float32Arrays and the geometry as one Int32Array:
//   [B, H, W, Ci,  KH, KW, Co,  Ho, Wo,  strideH, strideW,  padTop, padLeft, padBottom, padRight,
//    dilationH, dilationW,  flags]        flags bit 0: ReLU after the bias (forward only)
// conv2dForward(geom, x, w, bias | null, out[, addend])   out = relu?(conv(x, w) + bias [+ addend])
// conv2dBackwardData(geom, dy, w, dx)              dx = d conv / d x applied to dy
// conv2dBackwardWeights(geom, x, dy, dw)           dw = d conv / d w applied to dy
// maxPoolBackward(geom, x, dy, dx)                 dx = gradient of max pooling (ties: oneDNN's pick)
//   with its own geometry Int32Array(14): [B, H, W, C, KH, KW, Ho, Wo, strideH, strideW,
//   padTop, padLeft, padBottom, padRight]
// batchNormTraining(shape, x, gamma, beta, epsilon, y, mean, variance)
//   training-mode batch norm over the channel (last) axis of NHWC x: the batch mean and biased
//   variance, and y = gamma * (x - mean) / sqrt(variance + epsilon) + beta; shape Int32Array(4)
// batchNormTrainingBackward(shape, x, dy, gamma, mean, variance, epsilon, dx, dgamma, dbeta)
// batchNormInference(shape, x, mean, variance, gamma | null, beta | null, epsilon, y)
//   y = gamma * (x - mean) / sqrt(variance + epsilon) + beta with the given statistics
// reduceSum, binary, relu, reluBackward, maxPoolForward: see their comments below.
// Primitives are built once per geometry and reused.
#include <node_api.h>

#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <omp.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine &cpu() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream &stream() {
  static dnnl::stream s(cpu());
  return s;
}

struct Geometry {
  int b, h, w, ci, kh, kw, co, ho, wo, sh, sw, pt, pl, pb, pr, dh, dw, flags;
  memory::desc src() const { return memory::desc({b, ci, h, w}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({b, co, ho, wo}, dt::f32, tag::nhwc); }
  memory::desc weightsHwio() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio); }
  memory::desc weightsAny() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::any); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilations() const { return {dh - 1, dw - 1}; }  // oneDNN counts extra gaps
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  std::string key(const char *op, bool bias) const {
    std::string k(op);
    for (int v : {b, h, w, ci, kh, kw, co, ho, wo, sh, sw, pt, pl, pb, pr, dh, dw, flags, bias ? 1 : 0}) k += "," + std::to_string(v);
    return k;
  }
};

// With `add`, the output's own shape is added after the bias (a residual connection), before the ReLU.
dnnl::convolution_forward::primitive_desc forwardPd(const Geometry &g, bool bias, bool relu, bool add) {
  auto biasMd = bias ? memory::desc({g.co}, dt::f32, tag::x) : memory::desc();
  dnnl::convolution_forward::desc d(prop_kind::forward_training, algorithm::convolution_direct, g.src(), g.weightsAny(), biasMd, g.dst(),
                                    g.strides(), g.dilations(), g.padL(), g.padR());
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  if (add) ops.append_binary(algorithm::binary_add, g.dst());
  if (relu) ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  return dnnl::convolution_forward::primitive_desc(d, attr, cpu());
}

struct Forward {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
};
struct BackwardData {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
};
struct BackwardWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};

std::map<std::string, std::unique_ptr<Forward>> forwards;
std::map<std::string, std::unique_ptr<BackwardData>> backwardData;
std::map<std::string, std::unique_ptr<BackwardWeights>> backwardWeights;

// --- N-API plumbing -------------------------------------------------------------------------

bool throwIf(napi_env env, bool bad, const char *message) {
  if (bad) napi_throw_error(env, "GAZE_NATIVE", message);
  return bad;
}

float *floatData(napi_env env, napi_value v, size_t *length) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return nullptr;
  napi_typedarray_type type;
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, length, &data, &buffer, &offset);
  return type == napi_float32_array ? static_cast<float *>(data) : nullptr;
}

bool readGeometry(napi_env env, napi_value v, Geometry *g) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset);
  if (type != napi_int32_array || length != 18) return false;
  const int *p = static_cast<const int *>(data);
  *g = Geometry{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17]};
  return true;
}

enum Extent { kInput, kFilter, kOutput };

size_t extentSize(const Geometry &g, Extent e) {
  if (e == kInput) return size_t(g.b) * g.h * g.w * g.ci;
  if (e == kFilter) return size_t(g.kh) * g.kw * g.ci * g.co;
  return size_t(g.b) * g.ho * g.wo * g.co;
}

// Reads (geometry, three Float32Arrays) and checks each array's length against its extent;
// throws a JS error naming `usage` and returns false when anything does not fit.
bool readConvCall(napi_env env, napi_callback_info info, const char *usage, const Extent extents[3], Geometry *g, float *arrays[3]) {
  size_t argc = 4;
  napi_value args[4];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  if (throwIf(env, argc != 4 || !readGeometry(env, args[0], g), usage)) return false;
  for (int i = 0; i < 3; i++) {
    size_t length = 0;
    arrays[i] = floatData(env, args[i + 1], &length);
    if (throwIf(env, !arrays[i] || length != extentSize(*g, extents[i]), usage)) return false;
  }
  return true;
}

bool isNull(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    body();
  } catch (const dnnl::error &e) {
    napi_throw_error(env, "GAZE_NATIVE", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception &e) {
    napi_throw_error(env, "GAZE_NATIVE", e.what());
  }
  return nullptr;
}

// The HWIO weights as memory in the layout the primitive chose (reordered into a copy when it differs).
memory weightsFor(const memory::desc &chosen, const memory::desc &hwio, float *data) {
  memory user(hwio, cpu(), data);
  if (chosen == hwio) return user;
  memory packed(chosen, cpu());
  dnnl::reorder(user, packed).execute(stream(), user, packed);
  return packed;
}

napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  Geometry g;
  if (throwIf(env, (argc != 5 && argc != 6) || !readGeometry(env, args[0], &g), "conv2dForward(geometry Int32Array(18), x, w, bias|null, out[, addend])")) return nullptr;
  size_t nx, nw, nb = 0, no, na = 0;
  float *x = floatData(env, args[1], &nx), *w = floatData(env, args[2], &nw), *out = floatData(env, args[4], &no);
  bool hasBias = !isNull(env, args[3]);
  float *bias = hasBias ? floatData(env, args[3], &nb) : nullptr;
  bool hasAddend = argc == 6 && !isNull(env, args[5]);
  float *addend = hasAddend ? floatData(env, args[5], &na) : nullptr;
  if (throwIf(env, !x || !w || !out || (hasBias && !bias) || (hasAddend && !addend), "conv2dForward: x, w, out (and bias, addend) must be Float32Arrays")) return nullptr;
  if (throwIf(env, nx != size_t(g.b) * g.h * g.w * g.ci || nw != size_t(g.kh) * g.kw * g.ci * g.co || no != size_t(g.b) * g.ho * g.wo * g.co ||
                       (hasBias && nb != size_t(g.co)) || (hasAddend && na != no),
              "conv2dForward: array lengths do not match the geometry"))
    return nullptr;
  return guarded(env, [&] {
    bool relu = g.flags & 1;
    auto &entry = forwards[g.key(hasAddend ? "fwd+add" : "fwd", hasBias)];
    if (!entry) {
      auto pd = forwardPd(g, hasBias, relu, hasAddend);
      entry.reset(new Forward{pd, dnnl::convolution_forward(pd)});
    }
    memory weights = weightsFor(entry->pd.weights_desc(), g.weightsHwio(), w);
    std::unordered_map<int, memory> io{{DNNL_ARG_SRC, memory(g.src(), cpu(), x)}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, memory(g.dst(), cpu(), out)}};
    if (hasBias) io.insert({DNNL_ARG_BIAS, memory(memory::desc({g.co}, dt::f32, tag::x), cpu(), bias)});
    if (hasAddend) io.insert({DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, memory(g.dst(), cpu(), addend)});
    entry->prim.execute(stream(), io);
    stream().wait();
  });
}

napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  const Extent extents[3] = {kOutput, kFilter, kInput};
  Geometry g;
  float *arrays[3];
  if (!readConvCall(env, info, "conv2dBackwardData(geometry Int32Array(18), dy, w, dx): Float32Arrays of the geometry's sizes", extents, &g, arrays)) return nullptr;
  float *dy = arrays[0], *w = arrays[1], *dx = arrays[2];
  return guarded(env, [&] {
    auto &entry = backwardData[g.key("bwd-data", false)];
    if (!entry) {
      auto hint = forwardPd(g, false, false, false);
      dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, g.src(), g.weightsAny(), g.dst(), g.strides(), g.dilations(), g.padL(), g.padR());
      dnnl::convolution_backward_data::primitive_desc pd(d, cpu(), hint);
      entry.reset(new BackwardData{pd, dnnl::convolution_backward_data(pd)});
    }
    memory weights = weightsFor(entry->pd.weights_desc(), g.weightsHwio(), w);
    entry->prim.execute(stream(), {{DNNL_ARG_DIFF_DST, memory(g.dst(), cpu(), dy)}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, memory(g.src(), cpu(), dx)}});
    stream().wait();
  });
}

napi_value Conv2dBackwardWeights(napi_env env, napi_callback_info info) {
  const Extent extents[3] = {kInput, kOutput, kFilter};
  Geometry g;
  float *arrays[3];
  if (!readConvCall(env, info, "conv2dBackwardWeights(geometry Int32Array(18), x, dy, dw): Float32Arrays of the geometry's sizes", extents, &g, arrays)) return nullptr;
  float *x = arrays[0], *dy = arrays[1], *dw = arrays[2];
  return guarded(env, [&] {
    auto &entry = backwardWeights[g.key("bwd-weights", false)];
    if (!entry) {
      auto hint = forwardPd(g, false, false, false);
      dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, g.src(), g.weightsAny(), g.dst(), g.strides(), g.dilations(), g.padL(), g.padR());
      dnnl::convolution_backward_weights::primitive_desc pd(d, cpu(), hint);
      entry.reset(new BackwardWeights{pd, dnnl::convolution_backward_weights(pd)});
    }
    memory user(g.weightsHwio(), cpu(), dw);
    bool direct = entry->pd.diff_weights_desc() == g.weightsHwio();
    memory target = direct ? user : memory(entry->pd.diff_weights_desc(), cpu());
    entry->prim.execute(stream(), {{DNNL_ARG_SRC, memory(g.src(), cpu(), x)}, {DNNL_ARG_DIFF_DST, memory(g.dst(), cpu(), dy)}, {DNNL_ARG_DIFF_WEIGHTS, target}});
    if (!direct) dnnl::reorder(target, user).execute(stream(), target, user);
    stream().wait();
  });
}

struct MaxPoolBackward {
  dnnl::pooling_forward::primitive_desc fpd;
  dnnl::pooling_forward forward;
  dnnl::pooling_backward backward;
};
std::map<std::string, std::unique_ptr<MaxPoolBackward>> maxPoolBackwards;

napi_value MaxPoolBackwardFn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  bool is = false;
  if (argc == 4) napi_is_typedarray(env, args[0], &is);
  napi_typedarray_type type = napi_int8_array;
  size_t glen = 0;
  void *gdata = nullptr;
  napi_value gbuf;
  size_t goff = 0;
  if (is) napi_get_typedarray_info(env, args[0], &type, &glen, &gdata, &gbuf, &goff);
  if (throwIf(env, !is || type != napi_int32_array || glen != 14, "maxPoolBackward(geometry Int32Array(14), x, dy, dx)")) return nullptr;
  const int *p = static_cast<const int *>(gdata);
  const int b = p[0], h = p[1], w = p[2], c = p[3], kh = p[4], kw = p[5], ho = p[6], wo = p[7];
  size_t nx, ndy, ndx;
  float *x = floatData(env, args[1], &nx), *dy = floatData(env, args[2], &ndy), *dx = floatData(env, args[3], &ndx);
  if (throwIf(env, !x || !dy || !dx, "maxPoolBackward: x, dy, dx must be Float32Arrays")) return nullptr;
  if (throwIf(env, nx != size_t(b) * h * w * c || ndx != nx || ndy != size_t(b) * ho * wo * c, "maxPoolBackward: array lengths do not match the geometry")) return nullptr;
  return guarded(env, [&] {
    std::string key("maxpool-bwd");
    for (int i = 0; i < 14; i++) key += "," + std::to_string(p[i]);
    memory::desc src({b, c, h, w}, dt::f32, tag::nhwc), dst({b, c, ho, wo}, dt::f32, tag::nhwc);
    auto &entry = maxPoolBackwards[key];
    if (!entry) {
      memory::dims strides{p[8], p[9]}, kernel{kh, kw}, padL{p[10], p[11]}, padR{p[12], p[13]};
      dnnl::pooling_forward::desc fd(prop_kind::forward_training, algorithm::pooling_max, src, dst, strides, kernel, padL, padR);
      dnnl::pooling_forward::primitive_desc fpd(fd, cpu());
      dnnl::pooling_backward::desc bd(algorithm::pooling_max, src, dst, strides, kernel, padL, padR);
      dnnl::pooling_backward::primitive_desc bpd(bd, cpu(), fpd);
      entry.reset(new MaxPoolBackward{fpd, dnnl::pooling_forward(fpd), dnnl::pooling_backward(bpd)});
    }
    // The forward pass again, for the workspace that says where each window's maximum is.
    memory workspace(entry->fpd.workspace_desc(), cpu());
    memory pooled(dst, cpu());
    entry->forward.execute(stream(), {{DNNL_ARG_SRC, memory(src, cpu(), x)}, {DNNL_ARG_DST, pooled}, {DNNL_ARG_WORKSPACE, workspace}});
    entry->backward.execute(stream(), {{DNNL_ARG_DIFF_DST, memory(dst, cpu(), dy)}, {DNNL_ARG_DIFF_SRC, memory(src, cpu(), dx)}, {DNNL_ARG_WORKSPACE, workspace}});
    stream().wait();
  });
}

struct BatchNorm {
  dnnl::batch_normalization_forward::primitive_desc fpd;
  dnnl::batch_normalization_forward forward;
  std::unique_ptr<dnnl::batch_normalization_backward> backward;
};
std::map<std::string, std::unique_ptr<BatchNorm>> batchNorms;

bool readShape4(napi_env env, napi_value v, int out[4]) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset);
  if (type != napi_int32_array || length != 4) return false;
  for (int i = 0; i < 4; i++) out[i] = static_cast<const int *>(data)[i];
  return true;
}

BatchNorm &batchNormFor(const int s[4], float epsilon) {
  std::string key = "bn," + std::to_string(s[0]) + "," + std::to_string(s[1]) + "," + std::to_string(s[2]) + "," + std::to_string(s[3]) + "," + std::to_string(epsilon);
  auto &entry = batchNorms[key];
  if (!entry) {
    memory::desc data({s[0], s[3], s[1], s[2]}, dt::f32, tag::nhwc);
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::desc fd(prop_kind::forward_training, data, epsilon, flags);
    dnnl::batch_normalization_forward::primitive_desc fpd(fd, cpu());
    entry.reset(new BatchNorm{fpd, dnnl::batch_normalization_forward(fpd), nullptr});
  }
  return *entry;
}

napi_value BatchNormTraining(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value args[8];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int s[4];
  double epsilon = 0;
  if (throwIf(env, argc != 8 || !readShape4(env, args[0], s) || napi_get_value_double(env, args[4], &epsilon) != napi_ok,
              "batchNormTraining(shape Int32Array(4), x, gamma, beta, epsilon, y, mean, variance)"))
    return nullptr;
  size_t nx, ng, nb, ny, nm, nv;
  float *x = floatData(env, args[1], &nx), *gamma = floatData(env, args[2], &ng), *beta = floatData(env, args[3], &nb);
  float *y = floatData(env, args[5], &ny), *mean = floatData(env, args[6], &nm), *variance = floatData(env, args[7], &nv);
  size_t n = size_t(s[0]) * s[1] * s[2] * s[3], c = size_t(s[3]);
  if (throwIf(env, !x || !gamma || !beta || !y || !mean || !variance || nx != n || ny != n || ng != c || nb != c || nm != c || nv != c,
              "batchNormTraining: arrays must be Float32Arrays of the shape's sizes"))
    return nullptr;
  return guarded(env, [&] {
    BatchNorm &bn = batchNormFor(s, float(epsilon));
    memory::desc data({s[0], s[3], s[1], s[2]}, dt::f32, tag::nhwc), channel({s[3]}, dt::f32, tag::x);
    bn.forward.execute(stream(), {{DNNL_ARG_SRC, memory(data, cpu(), x)}, {DNNL_ARG_DST, memory(data, cpu(), y)},
                                  {DNNL_ARG_SCALE, memory(channel, cpu(), gamma)}, {DNNL_ARG_SHIFT, memory(channel, cpu(), beta)},
                                  {DNNL_ARG_MEAN, memory(bn.fpd.mean_desc(), cpu(), mean)}, {DNNL_ARG_VARIANCE, memory(bn.fpd.variance_desc(), cpu(), variance)}});
    stream().wait();
  });
}

napi_value BatchNormTrainingBackward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value args[10];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int s[4];
  double epsilon = 0;
  if (throwIf(env, argc != 10 || !readShape4(env, args[0], s) || napi_get_value_double(env, args[6], &epsilon) != napi_ok,
              "batchNormTrainingBackward(shape Int32Array(4), x, dy, gamma, mean, variance, epsilon, dx, dgamma, dbeta)"))
    return nullptr;
  size_t nx, ndy, ng, nm, nv, ndx, ndg, ndb;
  float *x = floatData(env, args[1], &nx), *dy = floatData(env, args[2], &ndy), *gamma = floatData(env, args[3], &ng);
  float *mean = floatData(env, args[4], &nm), *variance = floatData(env, args[5], &nv);
  float *dx = floatData(env, args[7], &ndx), *dgamma = floatData(env, args[8], &ndg), *dbeta = floatData(env, args[9], &ndb);
  size_t n = size_t(s[0]) * s[1] * s[2] * s[3], c = size_t(s[3]);
  if (throwIf(env, !x || !dy || !gamma || !mean || !variance || !dx || !dgamma || !dbeta || nx != n || ndy != n || ndx != n || ng != c || nm != c ||
                       nv != c || ndg != c || ndb != c,
              "batchNormTrainingBackward: arrays must be Float32Arrays of the shape's sizes"))
    return nullptr;
  return guarded(env, [&] {
    BatchNorm &bn = batchNormFor(s, float(epsilon));
    memory::desc data({s[0], s[3], s[1], s[2]}, dt::f32, tag::nhwc), channel({s[3]}, dt::f32, tag::x);
    if (!bn.backward) {
      auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
      dnnl::batch_normalization_backward::desc bd(prop_kind::backward, data, data, float(epsilon), flags);
      dnnl::batch_normalization_backward::primitive_desc bpd(bd, cpu(), bn.fpd);
      bn.backward.reset(new dnnl::batch_normalization_backward(bpd));
    }
    // The shift does not enter the gradient, but oneDNN 2.6's backward with use_shift still takes it.
    memory shift(channel, cpu());
    bn.backward->execute(stream(), {{DNNL_ARG_SRC, memory(data, cpu(), x)}, {DNNL_ARG_DIFF_DST, memory(data, cpu(), dy)},
                                    {DNNL_ARG_SCALE, memory(channel, cpu(), gamma)}, {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_MEAN, memory(bn.fpd.mean_desc(), cpu(), mean)},
                                    {DNNL_ARG_VARIANCE, memory(bn.fpd.variance_desc(), cpu(), variance)}, {DNNL_ARG_DIFF_SRC, memory(data, cpu(), dx)},
                                    {DNNL_ARG_DIFF_SCALE, memory(channel, cpu(), dgamma)}, {DNNL_ARG_DIFF_SHIFT, memory(channel, cpu(), dbeta)}});
    stream().wait();
  });
}

std::map<std::string, std::unique_ptr<dnnl::batch_normalization_forward>> batchNormInferences;

napi_value BatchNormInference(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value args[8];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int s[4];
  double epsilon = 0;
  if (throwIf(env, argc != 8 || !readShape4(env, args[0], s) || napi_get_value_double(env, args[6], &epsilon) != napi_ok,
              "batchNormInference(shape Int32Array(4), x, mean, variance, gamma|null, beta|null, epsilon, y)"))
    return nullptr;
  size_t nx, nm, nv, ng = 0, nb = 0, ny;
  bool hasGamma = !isNull(env, args[4]), hasBeta = !isNull(env, args[5]);
  float *x = floatData(env, args[1], &nx), *mean = floatData(env, args[2], &nm), *variance = floatData(env, args[3], &nv), *y = floatData(env, args[7], &ny);
  float *gamma = hasGamma ? floatData(env, args[4], &ng) : nullptr, *beta = hasBeta ? floatData(env, args[5], &nb) : nullptr;
  size_t n = size_t(s[0]) * s[1] * s[2] * s[3], c = size_t(s[3]);
  if (throwIf(env, !x || !mean || !variance || !y || (hasGamma && (!gamma || ng != c)) || (hasBeta && (!beta || nb != c)) || nx != n || ny != n || nm != c || nv != c,
              "batchNormInference: arrays must be Float32Arrays of the shape's sizes"))
    return nullptr;
  return guarded(env, [&] {
    memory::desc data({s[0], s[3], s[1], s[2]}, dt::f32, tag::nhwc), channel({s[3]}, dt::f32, tag::x);
    std::string key = "bn-inf," + std::to_string(s[0]) + "," + std::to_string(s[1]) + "," + std::to_string(s[2]) + "," + std::to_string(s[3]) + "," +
                      std::to_string(epsilon) + (hasGamma ? ",g" : "") + (hasBeta ? ",b" : "");
    auto &prim = batchNormInferences[key];
    if (!prim) {
      auto flags = dnnl::normalization_flags::use_global_stats;
      if (hasGamma) flags = flags | dnnl::normalization_flags::use_scale;
      if (hasBeta) flags = flags | dnnl::normalization_flags::use_shift;
      dnnl::batch_normalization_forward::desc d(prop_kind::forward_inference, data, float(epsilon), flags);
      prim.reset(new dnnl::batch_normalization_forward(dnnl::batch_normalization_forward::primitive_desc(d, cpu())));
    }
    std::unordered_map<int, memory> io{{DNNL_ARG_SRC, memory(data, cpu(), x)}, {DNNL_ARG_DST, memory(data, cpu(), y)},
                                       {DNNL_ARG_MEAN, memory(channel, cpu(), mean)}, {DNNL_ARG_VARIANCE, memory(channel, cpu(), variance)}};
    if (hasGamma) io.insert({DNNL_ARG_SCALE, memory(channel, cpu(), gamma)});
    if (hasBeta) io.insert({DNNL_ARG_SHIFT, memory(channel, cpu(), beta)});
    prim->execute(stream(), io);
    stream().wait();
  });
}


// --- Elementwise, reductions and pooling forward ---------------------------------------------
// The small kernels around the convolutions: single-threaded on wasm, and together a third of a
// training step once the convolutions ran on oneDNN.

// Dense row-major float32 memory of the given dims (any rank oneDNN takes).
memory::desc plain(const memory::dims &dims) {
  memory::dims strides(dims.size());
  memory::dim stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
  return memory::desc(dims, dt::f32, strides);
}

size_t volume(const memory::dims &dims) {
  size_t n = 1;
  for (auto d : dims) n *= size_t(d);
  return n;
}

bool readDims(napi_env env, napi_value v, memory::dims *out) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset);
  if (type != napi_int32_array || length < 1 || length > DNNL_MAX_NDIMS) return false;
  out->assign(static_cast<const int *>(data), static_cast<const int *>(data) + length);
  for (auto d : *out)
    if (d < 1) return false;
  return true;
}

std::string dimsKey(const char *op, const memory::dims &a, const memory::dims &b = {}) {
  std::string k(op);
  for (auto d : a) k += "," + std::to_string(d);
  k += ";";
  for (auto d : b) k += "," + std::to_string(d);
  return k;
}


// A fixed-length Int32Array (values may be 0) as dims.
bool readDims0(napi_env env, napi_value v, size_t length, memory::dims *out) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  size_t n = 0;
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  napi_get_typedarray_info(env, v, &type, &n, &data, &buffer, &offset);
  if (type != napi_int32_array || n != length) return false;
  out->assign(static_cast<const int *>(data), static_cast<const int *>(data) + n);
  return true;
}

std::map<std::string, std::unique_ptr<dnnl::primitive>> elementwise;

// reduceSum(outer, reduced, inner, x, out): x seen as [outer, reduced, inner], out[o, i] = sum over
// r of x[o, r, i]: one contiguous block of reduced axes. As a matrix product with a vector of ones
// (oneDNN's reduction primitive ran its reference loop for these layouts, 5x slower than wasm).
std::map<memory::dim, std::vector<float>> onesBySize;

napi_value ReduceSum(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int64_t dims[3] = {0, 0, 0};
  bool ok = argc == 5;
  for (int i = 0; ok && i < 3; i++) ok = napi_get_value_int64(env, args[i], &dims[i]) == napi_ok && dims[i] >= 1;
  if (throwIf(env, !ok, "reduceSum(outer, reduced, inner: positive integers, x, out)")) return nullptr;
  const memory::dim a = dims[0], r = dims[1], b = dims[2];
  size_t nx, no;
  float *x = floatData(env, args[3], &nx), *out = floatData(env, args[4], &no);
  if (throwIf(env, !x || !out || nx != size_t(a * r * b) || no != size_t(a * b), "reduceSum: x and out must be Float32Arrays of outer*reduced*inner and outer*inner")) return nullptr;
  return guarded(env, [&] {
    auto &ones = onesBySize[r];
    if (ones.empty()) ones.assign(size_t(r), 1.f);
    // inner 1: [a, r] x ones[r, 1]; otherwise ones[1, 1, r] (broadcast over the batch) x [a, r, b].
    bool rows = b == 1;
    memory::desc src = rows ? plain({a, r}) : plain({1, 1, r});
    memory::desc weights = rows ? plain({r, 1}) : plain({a, r, b});
    memory::desc dst = rows ? plain({a, 1}) : plain({a, 1, b});
    auto &prim = elementwise[dimsKey("sum", {a, r, b})];
    if (!prim) prim.reset(new dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), cpu())));
    prim->execute(stream(), {{DNNL_ARG_SRC, memory(src, cpu(), rows ? x : ones.data())},
                             {DNNL_ARG_WEIGHTS, memory(weights, cpu(), rows ? ones.data() : x)},
                             {DNNL_ARG_DST, memory(dst, cpu(), out)}});
    stream().wait();
  });
}

// binary(op, aDims, bDims, a, b, out): out = a (op) b, op 0 add, 1 multiply, 2 subtract,
// 3 divide, 4 maximum, 5 minimum; b broadcasts over a (each of its dims equals a's or is 1).
// Returns false, computing nothing, where oneDNN has only its reference loop for the shapes.
std::set<std::string> referenceOnly;

napi_value Binary(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  const char *usage = "binary(op 0-5, aDims Int32Array, bDims Int32Array (each dim equal to a's or 1), a, b, out)";
  int32_t op = -1;
  memory::dims ad, bd;
  if (throwIf(env, argc != 6 || napi_get_value_int32(env, args[0], &op) != napi_ok || op < 0 || op > 5 || !readDims(env, args[1], &ad) ||
                       !readDims(env, args[2], &bd) || ad.size() != bd.size(),
              usage))
    return nullptr;
  for (size_t i = 0; i < ad.size(); i++)
    if (throwIf(env, bd[i] != ad[i] && bd[i] != 1, usage)) return nullptr;
  size_t na, nb, no;
  float *a = floatData(env, args[3], &na), *b = floatData(env, args[4], &nb), *out = floatData(env, args[5], &no);
  if (throwIf(env, !a || !b || !out || na != volume(ad) || nb != volume(bd) || no != na, "binary: a, b and out must be Float32Arrays of the dims' sizes")) return nullptr;
  static const algorithm algs[6] = {algorithm::binary_add, algorithm::binary_mul, algorithm::binary_sub,
                                    algorithm::binary_div, algorithm::binary_max, algorithm::binary_min};
  bool ran = false;
  guarded(env, [&] {
    std::string key = dimsKey(("binary" + std::to_string(op)).c_str(), ad, bd);
    if (referenceOnly.count(key)) return;
    auto &prim = elementwise[key];
    if (!prim) {
      dnnl::binary::primitive_desc pd(dnnl::binary::desc(algs[op], plain(ad), plain(bd), plain(ad)), cpu());
      // Some broadcasts only have oneDNN's reference loop, slower than wasm's SIMD: decline those.
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) {
        elementwise.erase(key);
        referenceOnly.insert(key);
        return;
      }
      prim.reset(new dnnl::binary(pd));
    }
    prim->execute(stream(), {{DNNL_ARG_SRC_0, memory(plain(ad), cpu(), a)}, {DNNL_ARG_SRC_1, memory(plain(bd), cpu(), b)}, {DNNL_ARG_DST, memory(plain(ad), cpu(), out)}});
    stream().wait();
    ran = true;
  });
  napi_value result;
  napi_get_boolean(env, ran, &result);
  return result;
}

// relu(x, out): out = max(x, 0). reluBackward(x, dy, dx): dx = x > 0 ? dy : 0.
napi_value Relu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  size_t nx = 0, no = 0;
  float *x = argc == 2 ? floatData(env, args[0], &nx) : nullptr, *out = argc == 2 ? floatData(env, args[1], &no) : nullptr;
  if (throwIf(env, !x || !out || nx != no || nx == 0, "relu(x, out): Float32Arrays of one length")) return nullptr;
  return guarded(env, [&] {
    memory::desc md = plain({memory::dim(nx)});
    auto &prim = elementwise[dimsKey("relu", {memory::dim(nx)})];
    if (!prim) {
      dnnl::eltwise_forward::desc d(prop_kind::forward_inference, algorithm::eltwise_relu, md, 0.f, 0.f);
      prim.reset(new dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu())));
    }
    prim->execute(stream(), {{DNNL_ARG_SRC, memory(md, cpu(), x)}, {DNNL_ARG_DST, memory(md, cpu(), out)}});
    stream().wait();
  });
}

napi_value ReluBackward(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  size_t nx = 0, ndy = 0, ndx = 0;
  float *x = argc == 3 ? floatData(env, args[0], &nx) : nullptr, *dy = argc == 3 ? floatData(env, args[1], &ndy) : nullptr,
        *dx = argc == 3 ? floatData(env, args[2], &ndx) : nullptr;
  if (throwIf(env, !x || !dy || !dx || nx != ndy || nx != ndx || nx == 0, "reluBackward(x, dy, dx): Float32Arrays of one length")) return nullptr;
  return guarded(env, [&] {
    memory::desc md = plain({memory::dim(nx)});
    auto &prim = elementwise[dimsKey("relu-bwd", {memory::dim(nx)})];
    if (!prim) {
      dnnl::eltwise_forward::desc fd(prop_kind::forward_training, algorithm::eltwise_relu, md, 0.f, 0.f);
      dnnl::eltwise_forward::primitive_desc fpd(fd, cpu());
      dnnl::eltwise_backward::desc bd(algorithm::eltwise_relu, md, md, 0.f, 0.f);
      prim.reset(new dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(bd, cpu(), fpd)));
    }
    prim->execute(stream(), {{DNNL_ARG_SRC, memory(md, cpu(), x)}, {DNNL_ARG_DIFF_DST, memory(md, cpu(), dy)}, {DNNL_ARG_DIFF_SRC, memory(md, cpu(), dx)}});
    stream().wait();
  });
}

// maxPoolForward(geometry Int32Array(14), x, out): max pooling, geometry as maxPoolBackward's.
napi_value MaxPoolForwardFn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  memory::dims g;
  if (throwIf(env, argc != 3 || !readDims0(env, args[0], 14, &g), "maxPoolForward(geometry Int32Array(14), x, out)")) return nullptr;
  const memory::dim b = g[0], h = g[1], w = g[2], c = g[3], ho = g[6], wo = g[7];
  size_t nx, no;
  float *x = floatData(env, args[1], &nx), *out = floatData(env, args[2], &no);
  if (throwIf(env, !x || !out || nx != size_t(b * h * w * c) || no != size_t(b * ho * wo * c), "maxPoolForward: x and out must be Float32Arrays of the geometry's sizes")) return nullptr;
  return guarded(env, [&] {
    memory::desc src({b, c, h, w}, dt::f32, tag::nhwc), dst({b, c, ho, wo}, dt::f32, tag::nhwc);
    auto &prim = elementwise[dimsKey("maxpool-fwd", g)];
    if (!prim) {
      dnnl::pooling_forward::desc d(prop_kind::forward_inference, algorithm::pooling_max, src, dst, {g[8], g[9]}, {g[4], g[5]}, {g[10], g[11]}, {g[12], g[13]});
      prim.reset(new dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(d, cpu())));
    }
    prim->execute(stream(), {{DNNL_ARG_SRC, memory(src, cpu(), x)}, {DNNL_ARG_DST, memory(dst, cpu(), out)}});
    stream().wait();
  });
}

// matmul(batchA, batchB, m, k, n, transposeA, transposeB, a, b, out): out[i] = op(a[i]) x op(b[i])
// over batches (a batch of 1 broadcasts), where op transposes when asked: a is [batchA, m, k]
// ([batchA, k, m] stored when transposed), b [batchB, k, n] ([batchB, n, k]), out [max batch, m, n].
napi_value MatMul(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value args[10];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int64_t d[5] = {0, 0, 0, 0, 0};
  bool ta = false, tb = false, ok = argc == 10;
  for (int i = 0; ok && i < 5; i++) ok = napi_get_value_int64(env, args[i], &d[i]) == napi_ok && d[i] >= 1;
  ok = ok && napi_get_value_bool(env, args[5], &ta) == napi_ok && napi_get_value_bool(env, args[6], &tb) == napi_ok;
  const memory::dim ba = d[0], bb = d[1], m = d[2], k = d[3], n = d[4], batch = std::max(ba, bb);
  ok = ok && (ba == bb || ba == 1 || bb == 1);
  if (throwIf(env, !ok, "matmul(batchA, batchB, m, k, n, transposeA, transposeB, a, b, out)")) return nullptr;
  size_t na, nb, no;
  float *a = floatData(env, args[7], &na), *b = floatData(env, args[8], &nb), *out = floatData(env, args[9], &no);
  if (throwIf(env, !a || !b || !out || na != size_t(ba * m * k) || nb != size_t(bb * k * n) || no != size_t(batch * m * n),
              "matmul: a, b and out must be Float32Arrays of batchA*m*k, batchB*k*n and batch*m*n"))
    return nullptr;
  return guarded(env, [&] {
    memory::desc ad({ba, m, k}, dt::f32, ta ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1});
    memory::desc bd({bb, k, n}, dt::f32, tb ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1});
    memory::desc od = plain({batch, m, n});
    auto &prim = elementwise[dimsKey(ta ? (tb ? "mm-tt" : "mm-tn") : (tb ? "mm-nt" : "mm-nn"), {ba, bb, m, k, n})];
    if (!prim) prim.reset(new dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, od), cpu())));
    prim->execute(stream(), {{DNNL_ARG_SRC, memory(ad, cpu(), a)}, {DNNL_ARG_WEIGHTS, memory(bd, cpu(), b)}, {DNNL_ARG_DST, memory(od, cpu(), out)}});
    stream().wait();
  });
}

// resizeBilinear(dims Int32Array(6) [B, H, W, C, outH, outW], x, out) and
// resizeBilinearBackward(dims, dy, dx): bilinear resampling of NHWC x with half-pixel centres
// (PyTorch's align_corners=False, tfjs's halfPixelCenters), and its gradient. Plain loops over
// the contiguous channels, threaded with OpenMP: oneDNN 2.6's JIT resampling crashed on NHWC
// data here, and its `simple` kernel was slower than wasm.

// Source taps of output coordinate o along an axis of `in` samples resized to `out`.
struct Tap {
  int lo, hi;
  float frac;
};
std::vector<Tap> taps(int in, int out) {
  std::vector<Tap> t(out);
  const float scale = float(in) / float(out);
  for (int o = 0; o < out; o++) {
    const float src = (o + 0.5f) * scale - 0.5f;
    const int f = int(std::floor(src));
    t[o] = {std::max(f, 0), std::min(f + 1, in - 1), src - float(f)};
  }
  return t;
}

napi_value ResizeBilinear(napi_env env, napi_callback_info info, bool backward) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  memory::dims d;
  const char *usage = backward ? "resizeBilinearBackward(dims Int32Array(6) [B, H, W, C, outH, outW], dy, dx)" : "resizeBilinear(dims Int32Array(6) [B, H, W, C, outH, outW], x, out)";
  if (throwIf(env, argc != 3 || !readDims(env, args[0], &d) || d.size() != 6, usage)) return nullptr;
  size_t na, nb;
  float *a = floatData(env, args[1], &na), *b = floatData(env, args[2], &nb);
  const int B = int(d[0]), H = int(d[1]), W = int(d[2]), C = int(d[3]), OH = int(d[4]), OW = int(d[5]);
  const size_t in = size_t(B) * H * W * C, out = size_t(B) * OH * OW * C;
  if (throwIf(env, !a || !b || na != (backward ? out : in) || nb != (backward ? in : out), usage)) return nullptr;
  const std::vector<Tap> ty = taps(H, OH), tx = taps(W, OW);
  if (!backward) {
    const float *x = a;
    float *y = b;
#pragma omp parallel for
    for (int row = 0; row < B * OH; row++) {
      const int n = row / OH, oy = row % OH;
      const Tap &v = ty[oy];
      const float *top = x + (size_t(n) * H + v.lo) * W * C, *bottom = x + (size_t(n) * H + v.hi) * W * C;
      float *dst = y + (size_t(row) * OW) * C;
      for (int ox = 0; ox < OW; ox++) {
        const Tap &u = tx[ox];
        const float w00 = (1 - v.frac) * (1 - u.frac), w01 = (1 - v.frac) * u.frac, w10 = v.frac * (1 - u.frac), w11 = v.frac * u.frac;
        const float *p00 = top + size_t(u.lo) * C, *p01 = top + size_t(u.hi) * C, *p10 = bottom + size_t(u.lo) * C, *p11 = bottom + size_t(u.hi) * C;
        float *o = dst + size_t(ox) * C;
        for (int c = 0; c < C; c++) o[c] = w00 * p00[c] + w01 * p01[c] + w10 * p10[c] + w11 * p11[c];
      }
    }
  } else {
    const float *dy = a;
    float *dx = b;
    std::fill(dx, dx + in, 0.f);
    // One image per thread: the scatter-adds of different images never meet.
#pragma omp parallel for
    for (int n = 0; n < B; n++) {
      for (int oy = 0; oy < OH; oy++) {
        const Tap &v = ty[oy];
        float *top = dx + (size_t(n) * H + v.lo) * W * C, *bottom = dx + (size_t(n) * H + v.hi) * W * C;
        const float *src = dy + (size_t(n) * OH + oy) * OW * C;
        for (int ox = 0; ox < OW; ox++) {
          const Tap &u = tx[ox];
          const float w00 = (1 - v.frac) * (1 - u.frac), w01 = (1 - v.frac) * u.frac, w10 = v.frac * (1 - u.frac), w11 = v.frac * u.frac;
          float *p00 = top + size_t(u.lo) * C, *p01 = top + size_t(u.hi) * C, *p10 = bottom + size_t(u.lo) * C, *p11 = bottom + size_t(u.hi) * C;
          const float *g = src + size_t(ox) * C;
          for (int c = 0; c < C; c++) {
            p00[c] += w00 * g[c];
            p01[c] += w01 * g[c];
            p10[c] += w10 * g[c];
            p11[c] += w11 * g[c];
          }
        }
      }
    }
  }
  return nullptr;
}

napi_value ResizeBilinearForward(napi_env env, napi_callback_info info) { return ResizeBilinear(env, info, false); }
napi_value ResizeBilinearBackwardFn(napi_env env, napi_callback_info info) { return ResizeBilinear(env, info, true); }

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t *v = dnnl_version();
  std::string s = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}


// adamUpdate(g, m, v, p, out, constants Float32Array(9)): tfjs's Adam over one variable, op for op
// in float32 (no fused multiply-add: the build does not enable FMA, so the results equal tfjs's):
// m = m b1 + g (1 - b1), v = v b2 + g^2 (1 - b2), out = (m / c1) / (sqrt(v / c2) + eps) * negLr + p,
// constants [b1, 1 - b1, b2, 1 - b2, c1, c2, eps, negLr, unused]. m and v are updated in place.
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  size_t n[6] = {0, 0, 0, 0, 0, 0};
  float *a[6] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  for (size_t i = 0; i < 6 && i < argc; i++) a[i] = floatData(env, args[i], &n[i]);
  bool bad = argc != 6 || n[5] < 8;
  for (size_t i = 0; i < 5; i++) bad = bad || !a[i] || n[i] != n[0];
  if (throwIf(env, bad || !a[5], "adamUpdate(g, m, v, p, out, constants): Float32Arrays of one length and 8+ constants")) return nullptr;
  const float *g = a[0], *p = a[3], *k = a[5];
  float *m = a[1], *v = a[2], *out = a[4];
  const float b1 = k[0], ob1 = k[1], b2 = k[2], ob2 = k[3], c1 = k[4], c2 = k[5], eps = k[6], negLr = k[7];
  const size_t count = n[0];
#pragma omp parallel for if (count > (1 << 16))
  for (size_t i = 0; i < count; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    m[i] = mi;
    v[i] = vi;
    const float step = (mi / c1) / (std::sqrt(vi / c2) + eps);
    out[i] = step * negLr + p[i];
  }
  return nullptr;
}

// setThreads(n): the OpenMP pool size oneDNN and the loops here use (OMP_NUM_THREADS sets the
// starting value); threads(): the current size.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  int32_t n = 0;
  if (throwIf(env, argc != 1 || napi_get_value_int32(env, arg, &n) != napi_ok || n < 1, "setThreads(n): a whole number >= 1")) return nullptr;
  omp_set_num_threads(n);
  return nullptr;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, omp_get_max_threads(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2dForward", nullptr, Conv2dForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardData", nullptr, Conv2dBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardWeights", nullptr, Conv2dBackwardWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolBackward", nullptr, MaxPoolBackwardFn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTraining", nullptr, BatchNormTraining, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTrainingBackward", nullptr, BatchNormTrainingBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormInference", nullptr, BatchNormInference, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeBilinear", nullptr, ResizeBilinearForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeBilinearBackward", nullptr, ResizeBilinearBackwardFn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluBackward", nullptr, ReluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolForward", nullptr, MaxPoolForwardFn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"onednnVersion", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
