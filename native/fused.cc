// Fused CPU kernels, each with its own autograd function, for the elementwise work of a transformer block:
// RMSNorm, the rotary position embedding and SwiGLU (silu(gate) * up). Composed from aten ops these take many
// passes over the activations with float32 temporaries (RMSNorm: cast, pow, mean, add, rsqrt, mul, cast, mul;
// rotary: narrow, neg, cat, two muls and an add; SwiGLU: silu and mul), and as many more in backward. Here each is
// one pass per direction over rows or elements (at::parallel_for), reading and writing the tensors' own dtype and
// computing in float32.
//
// Rounding follows the composed ops, so results stay those of the aten path: RMSNorm rounds the normalised value
// to x's dtype before the weight (as HF's LlamaRMSNorm) and the product to the promoted dtype; rotary rounds each
// product and the sum to x's dtype, as the separate muls and add do. The float32 paths do exactly what aten does
// elementwise (only the RMSNorm sum of squares is added in another order). SwiGLU's sigmoid uses a polynomial exp
// (vecmath.h, about 1 ulp) in vectorised loops, so it can differ from aten's in the last bits of float32 (and,
// rarely, one bfloat16 ulp).
//
// The fused path takes float32 and bfloat16 CPU tensors; anything else (float16, float64, CUDA, a weight or table
// that needs a gradient where the fused op gives none) takes the composed aten path, which stays reachable with
// impl = 1 (0: auto, 2: fused or an error) for the tests.
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>
#include <vector>

#include "common.h"
#include "vecmath.h"

namespace bfpo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// ---- element types: float32 as float, bfloat16 as its raw 16 bits, both computed in float ----

// bfloat16 as its raw bits, loaded into and stored from float32 with vecmath.h's conversions (round to nearest
// even, as c10::BFloat16 and aten's vectorised conversions do; NaN stays a NaN).
inline float Bf16Load(uint16_t b) { return Load(&b, 0); }
inline uint16_t Bf16Store(float f) {
  uint16_t b;
  Store(&b, 0, f);
  return b;
}

// v rounded to T's precision and back to float (float32: unchanged; bfloat16: nearest even).
template <typename T>
BFPO_INLINE float RoundTo(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else {
    T b;
    Store(&b, 0, v);
    return Load(&b, 0);
  }
}

struct F32 {
  using T = float;
  static float Load(float v) { return v; }
  static float Store(float v) { return v; }
  static float Round(float v) { return v; }
};

struct BF16 {
  using T = uint16_t;
  static float Load(uint16_t v) { return Bf16Load(v); }
  static uint16_t Store(float v) { return Bf16Store(v); }
  static float Round(float v) { return RoundTo<uint16_t>(v); }
};

bool FusedDtype(at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16; }

// Calls fn with F32 or BF16 for t (one of FusedDtype).
template <typename Fn>
void Dispatch(at::ScalarType t, Fn&& fn) {
  if (t == at::kFloat) {
    fn(F32{});
  } else if (t == at::kBFloat16) {
    fn(BF16{});
  } else {
    throw ArgError("fused kernels take float32 or bfloat16, not " + DtypeName(t));
  }
}

template <typename E>
typename E::T* Ptr(const at::Tensor& t) {
  return reinterpret_cast<typename E::T*>(t.data_ptr());
}

// Rows (or elements) per task so that one task touches about 32k values.
int64_t Grain(int64_t width) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, width)); }

// ============================== RMSNorm ==============================

// One row: y = round_O(round_X(x * rstd) * w); returns rstd. Sixteen independent partial sums let the compiler
// vectorise the sum of squares without reassociating it (the same order on every CPU level).
template <typename XT, typename WT, typename OT>
BFPO_INLINE float RmsRow(const XT* xr, const WT* w, OT* yr, int64_t d, float eps) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
#pragma omp simd
    for (int j = 0; j < 16; j++) {
      const float v = Load(xr, i + j);
      acc[j] += v * v;
    }
  }
  float ss = 0;
  for (int j = 0; j < 16; j++) ss += acc[j];
  for (; i < d; i++) {
    const float v = Load(xr, i);
    ss += v * v;
  }
  const float rs = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
#pragma omp simd
  for (int64_t k = 0; k < d; k++) Store(yr, k, RoundTo<XT>(Load(xr, k) * rs) * Load(w, k));
  return rs;
}
BFPO_ROW_KERNEL float RmsNormRowForward(const float* x, const float* w, float* y, int64_t d, float eps) { return RmsRow(x, w, y, d, eps); }
BFPO_ROW_KERNEL float RmsNormRowForward(const float* x, const uint16_t* w, float* y, int64_t d, float eps) { return RmsRow(x, w, y, d, eps); }
BFPO_ROW_KERNEL float RmsNormRowForward(const uint16_t* x, const float* w, float* y, int64_t d, float eps) { return RmsRow(x, w, y, d, eps); }
BFPO_ROW_KERNEL float RmsNormRowForward(const uint16_t* x, const uint16_t* w, uint16_t* y, int64_t d, float eps) { return RmsRow(x, w, y, d, eps); }

// y = round_O(round_X(x * rstd) * w), rstd = 1 / sqrt(mean(x^2) + eps) per row, in float32.
template <typename X, typename W, typename O>
void RmsNormForwardKernel(const typename X::T* x, const typename W::T* w, typename O::T* y, float* rstd,
                          int64_t rows, int64_t d, float eps) {
  at::parallel_for(0, rows, Grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      using XT = typename X::T;
      using WT = typename W::T;
      using OT = typename O::T;
      // DispatchRms makes O bfloat16 only when x and w both are; the other instantiations never run.
      if constexpr (std::is_same_v<OT, uint16_t> != (std::is_same_v<XT, uint16_t> && std::is_same_v<WT, uint16_t>)) {
        rstd[r] = RmsRow(x + r * d, w, y + r * d, d, eps);
      } else {
        rstd[r] = RmsNormRowForward(x + r * d, w, y + r * d, d, eps);
      }
    }
  });
}

// grad_x = rstd * (dn - xhat * mean(dn * xhat)) with xhat = x * rstd and dn = round_O(g * w) (the product's
// gradient as the composed mul gives it); grad_w = sum over rows of round_O(g * round_X(xhat)), accumulated in float32
// per chunk of rows and the chunks added in order (the result does not depend on the thread schedule).
template <typename X, typename W, typename O>
void RmsNormBackwardKernel(const typename O::T* g, const typename X::T* x, const typename W::T* w, const float* rstd,
                           typename X::T* gx, typename W::T* gw, int64_t rows, int64_t d) {
  const int64_t chunks = gw ? std::max<int64_t>(1, std::min<int64_t>(rows, at::get_num_threads())) : 1;
  std::vector<float> partial(gw ? static_cast<size_t>(chunks * d) : 0, 0.0f);
  const int64_t per = (rows + chunks - 1) / chunks;
  auto body = [&](int64_t c, int64_t begin, int64_t end) {
    float* pw = gw ? partial.data() + c * d : nullptr;
    for (int64_t r = begin; r < end; r++) {
      const typename X::T* xr = x + r * d;
      const typename O::T* gr = g + r * d;
      const float rs = rstd[r];
      if (gx) {
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= d; i += 16) {
          for (int j = 0; j < 16; j++) {
            const float dn = O::Round(O::Load(gr[i + j]) * W::Load(w[i + j]));
            acc[j] += dn * (X::Load(xr[i + j]) * rs);
          }
        }
        float dot = 0;
        for (int j = 0; j < 16; j++) dot += acc[j];
        for (; i < d; i++) dot += O::Round(O::Load(gr[i]) * W::Load(w[i])) * (X::Load(xr[i]) * rs);
        const float mean = dot / static_cast<float>(d);
        typename X::T* gxr = gx + r * d;
        for (int64_t k = 0; k < d; k++) {
          const float dn = O::Round(O::Load(gr[k]) * W::Load(w[k]));
          const float xhat = X::Load(xr[k]) * rs;
          gxr[k] = X::Store((dn - xhat * mean) * rs);
        }
      }
      if (pw) {
        for (int64_t k = 0; k < d; k++) pw[k] += O::Round(O::Load(gr[k]) * X::Round(X::Load(xr[k]) * rs));
      }
    }
  };
  if (gw) {
    at::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; c++) body(c, std::min(rows, c * per), std::min(rows, (c + 1) * per));
    });
    for (int64_t k = 0; k < d; k++) {
      float s = 0;
      for (int64_t c = 0; c < chunks; c++) s += partial[c * d + k];
      gw[k] = W::Store(s);
    }
  } else {
    at::parallel_for(0, rows, Grain(d), [&](int64_t begin, int64_t end) { body(0, begin, end); });
  }
}

template <typename Fn>
void DispatchRms(at::ScalarType xt, at::ScalarType wt, Fn&& fn) {
  Dispatch(xt, [&](auto xe) {
    Dispatch(wt, [&](auto we) {
      using X = decltype(xe);
      using W = decltype(we);
      if (xt == at::kBFloat16 && wt == at::kBFloat16) {
        fn(X{}, W{}, BF16{});
      } else {
        fn(X{}, W{}, F32{});
      }
    });
  });
}

struct RmsNormFn : public torch::autograd::Function<RmsNormFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& xIn, const at::Tensor& wIn, double eps) {
    RECORD_FUNCTION("bfpo::rms_norm", c10::ArrayRef<const c10::IValue>{});
    const at::Tensor x = xIn.contiguous();
    const at::Tensor w = wIn.contiguous();
    const int64_t d = x.size(-1);
    const int64_t rows = d == 0 ? 0 : x.numel() / d;
    const at::ScalarType ot = at::promote_types(x.scalar_type(), w.scalar_type());
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(ot));
    at::Tensor rstd = at::empty({rows}, x.options().dtype(at::kFloat));
    DispatchRms(x.scalar_type(), w.scalar_type(), [&](auto xe, auto we, auto oe) {
      using X = decltype(xe);
      using W = decltype(we);
      using O = decltype(oe);
      RmsNormForwardKernel<X, W, O>(Ptr<X>(x), Ptr<W>(w), Ptr<O>(y), rstd.data_ptr<float>(), rows, d,
                                    static_cast<float>(eps));
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    RECORD_FUNCTION("bfpo::rms_norm_backward", c10::ArrayRef<const c10::IValue>{});
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& rstd = saved[2];
    const at::ScalarType ot = at::promote_types(x.scalar_type(), w.scalar_type());
    const at::Tensor g = grads[0].to(ot).contiguous();
    const bool needX = ctx->needs_input_grad(0), needW = ctx->needs_input_grad(1);
    at::Tensor gx = needX ? at::empty_like(x) : at::Tensor();
    at::Tensor gw = needW ? at::empty_like(w) : at::Tensor();
    if (needX || needW) {
      const int64_t d = x.size(-1);
      const int64_t rows = d == 0 ? 0 : x.numel() / d;
      DispatchRms(x.scalar_type(), w.scalar_type(), [&](auto xe, auto we, auto oe) {
        using X = decltype(xe);
        using W = decltype(we);
        using O = decltype(oe);
        RmsNormBackwardKernel<X, W, O>(Ptr<O>(g), Ptr<X>(x), Ptr<W>(w), rstd.data_ptr<float>(),
                                       needX ? Ptr<X>(gx) : nullptr, needW ? Ptr<W>(gw) : nullptr, rows, d);
      });
    }
    return {gx, gw, at::Tensor()};
  }
};

// HF's LlamaRMSNorm from aten ops: x * rsqrt(mean(x^2, -1) + eps) in float32, cast back to x's dtype, times w.
at::Tensor RmsNormComposed(const at::Tensor& x, const at::Tensor& w, double eps) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return w * y.to(x.scalar_type());
}

// Why the fused RMSNorm cannot take these inputs, or nullptr when it can.
const char* RmsNormUnfusable(const at::Tensor& x, const at::Tensor& w) {
  if (!x.device().is_cpu() || !w.device().is_cpu()) return "the tensors are not on the CPU";
  if (!FusedDtype(x.scalar_type()) || !FusedDtype(w.scalar_type())) return "the dtypes are not float32 or bfloat16";
  if (x.dim() < 1 || w.dim() != 1 || w.size(0) != x.size(-1)) return "the weight is not [x.size(-1)]";
  return nullptr;
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps, int64_t impl) {
  if (impl == 1) return RmsNormComposed(x, w, eps);
  const char* why = RmsNormUnfusable(x, w);
  if (impl == 2 && why) throw ArgError(std::string("the fused rmsNorm cannot run: ") + why);
  if (impl != 0 && impl != 2) throw ArgError("unknown rmsNorm implementation code " + std::to_string(impl));
  return why ? RmsNormComposed(x, w, eps) : RmsNormFn::apply(x, w, eps);
}

// ============================== rotary ==============================

// Offsets of each row (all dims but the last) of a tensor with the given sizes and strides.
struct RowIndexer {
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> strides;  // per operand
  int64_t Offset(int64_t row, size_t op) const {
    int64_t off = 0;
    for (int64_t k = static_cast<int64_t>(sizes.size()) - 1; k >= 0; k--) {
      const int64_t i = row % sizes[k];
      row /= sizes[k];
      off += i * strides[op][k];
    }
    return off;
  }
};

RowIndexer MakeIndexer(const std::vector<at::Tensor>& ops) {
  RowIndexer ix;
  const at::Tensor& t0 = ops[0];
  for (int64_t k = 0; k + 1 < t0.dim(); k++) ix.sizes.push_back(t0.size(k));
  for (const at::Tensor& t : ops) {
    std::vector<int64_t> s;
    for (int64_t k = 0; k + 1 < t.dim(); k++) s.push_back(t.stride(k));
    ix.strides.push_back(s);
  }
  return ix;
}

// out = x * cos + rotate_half(x) * sin with rotate_half([x1, x2]) = [-x2, x1]; with transpose, the backward:
// gx = g * cos + rotate_half^T(g * sin), rotate_half^T([a1, a2]) = [a2, -a1], i.e. gx1 = g1 c1 + g2 s2 and
// gx2 = g2 c2 - g1 s1. Each product and the sum are rounded to E's dtype as the composed ops do. x (and g), cos and
// sin are strided over the leading dims (cos and sin expanded to x's shape), contiguous in the last; out is
// contiguous.
template <typename T>
BFPO_INLINE void RotaryRow(const T* xr, const T* cr, const T* sr, T* orow, int64_t half, bool backward) {
  if (backward) {
#pragma omp simd
    for (int64_t i = 0; i < half; i++) {
      const float a = Load(xr, i), b = Load(xr, i + half);
      Store(orow, i, RoundTo<T>(a * Load(cr, i)) + RoundTo<T>(b * Load(sr, i + half)));
      Store(orow, i + half, RoundTo<T>(b * Load(cr, i + half)) - RoundTo<T>(a * Load(sr, i)));
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < half; i++) {
      const float a = Load(xr, i), b = Load(xr, i + half);
      Store(orow, i, RoundTo<T>(a * Load(cr, i)) - RoundTo<T>(b * Load(sr, i)));
      Store(orow, i + half, RoundTo<T>(b * Load(cr, i + half)) + RoundTo<T>(a * Load(sr, i + half)));
    }
  }
}
BFPO_ROW_KERNEL void RotaryRowF32(const float* x, const float* c, const float* s, float* o, int64_t half, bool backward) {
  RotaryRow(x, c, s, o, half, backward);
}
BFPO_ROW_KERNEL void RotaryRowBF16(const uint16_t* x, const uint16_t* c, const uint16_t* s, uint16_t* o, int64_t half, bool backward) {
  RotaryRow(x, c, s, o, half, backward);
}

template <typename E, bool Backward>
void RotaryKernel(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& out) {
  const int64_t hd = x.size(-1), half = hd / 2;
  const int64_t rows = hd == 0 ? 0 : x.numel() / hd;
  const RowIndexer ix = MakeIndexer({x, cos, sin});
  const typename E::T* xp = Ptr<E>(x);
  const typename E::T* cp = Ptr<E>(cos);
  const typename E::T* sp = Ptr<E>(sin);
  typename E::T* op = Ptr<E>(out);
  at::parallel_for(0, rows, Grain(hd), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const typename E::T* xr = xp + ix.Offset(r, 0);
      const typename E::T* cr = cp + ix.Offset(r, 1);
      const typename E::T* sr = sp + ix.Offset(r, 2);
      typename E::T* orow = op + r * hd;
      if constexpr (std::is_same_v<E, F32>) RotaryRowF32(xr, cr, sr, orow, half, Backward);
      else RotaryRowBF16(xr, cr, sr, orow, half, Backward);
    }
  });
}

at::Tensor LastDimDense(const at::Tensor& t) { return t.size(-1) <= 1 || t.stride(-1) == 1 ? t : t.contiguous(); }

template <bool Backward>
at::Tensor RotaryRun(const at::Tensor& xIn, const at::Tensor& cosIn, const at::Tensor& sinIn) {
  const at::Tensor x = LastDimDense(xIn);
  const at::Tensor cos = LastDimDense(cosIn.expand(x.sizes()));
  const at::Tensor sin = LastDimDense(sinIn.expand(x.sizes()));
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  Dispatch(x.scalar_type(), [&](auto e) { RotaryKernel<decltype(e), Backward>(x, cos, sin, out); });
  return out;
}

struct RotaryFn : public torch::autograd::Function<RotaryFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    RECORD_FUNCTION("bfpo::rotary", c10::ArrayRef<const c10::IValue>{});
    ctx->save_for_backward({cos, sin});
    return RotaryRun<false>(x, cos, sin);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    RECORD_FUNCTION("bfpo::rotary_backward", c10::ArrayRef<const c10::IValue>{});
    auto saved = ctx->get_saved_variables();
    if (!ctx->needs_input_grad(0)) return {at::Tensor(), at::Tensor(), at::Tensor()};
    return {RotaryRun<true>(grads[0].to(saved[0].scalar_type()), saved[0], saved[1]), at::Tensor(), at::Tensor()};
  }
};

at::Tensor RotaryComposed(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

const char* RotaryUnfusable(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (!x.device().is_cpu() || !cos.device().is_cpu() || !sin.device().is_cpu()) return "the tensors are not on the CPU";
  if (!FusedDtype(x.scalar_type()) || cos.scalar_type() != x.scalar_type() || sin.scalar_type() != x.scalar_type()) {
    return "x, cos and sin are not all float32 or all bfloat16";
  }
  if (x.dim() < 1 || x.size(-1) % 2 != 0) return "the last dim of x is not even";
  if (at::GradMode::is_enabled() && (cos.requires_grad() || sin.requires_grad())) return "cos or sin needs a gradient";
  if (cos.dim() > x.dim() || sin.dim() > x.dim() || at::infer_size(x.sizes(), cos.sizes()) != x.sizes() ||
      at::infer_size(x.sizes(), sin.sizes()) != x.sizes()) {
    return "cos and sin do not broadcast to x's shape";
  }
  return nullptr;
}

at::Tensor Rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t impl) {
  if (impl == 1) return RotaryComposed(x, cos, sin);
  if (impl != 0 && impl != 2) throw ArgError("unknown rotary implementation code " + std::to_string(impl));
  const char* why = RotaryUnfusable(x, cos, sin);
  if (impl == 2 && why) throw ArgError(std::string("the fused rotary cannot run: ") + why);
  return why ? RotaryComposed(x, cos, sin) : RotaryFn::apply(x, cos, sin);
}

// ============================== attention softmax ==============================

// The middle of eager attention between its two products, on raw scores q k^T [b, nkv, rep, s, t]: scale, mask
// and a float32 softmax, as HF's eager attention composes them (mul, masked_fill with the dtype's lowest value,
// softmax in float32, cast back), in one pass per row instead of four over the scores with float32 temporaries.
// Rounding follows the composed ops: the scaled score is rounded to the scores' dtype before the softmax, the
// probabilities once at the end. The exponential is vecmath.h's (about 1 ulp) and the sums run in another order
// than aten's, so a probability can differ from the composed one in float32's last bits (and, rarely, by one
// bfloat16 ulp).

// The dtype's lowest finite value, as masked_fill writes it.
template <typename T>
BFPO_INLINE float LowestOf() {
  if constexpr (std::is_same_v<T, float>) {
    return -3.40282347e38f;
  } else {
    const uint16_t b = 0xFF7F;  // bfloat16's lowest: -3.3895314e38
    return Load(&b, 0);
  }
}

// p = softmax(round_T(raw * scale) with blocked keys at the lowest value), in float32.
template <typename T>
BFPO_INLINE void SoftmaxRow(const T* raw, const bool* blocked, int64_t t, float scale, float* p) {
  const float lowest = LowestOf<T>();
  if (blocked) {
    const uint8_t* mask = reinterpret_cast<const uint8_t*>(blocked);  // bool as bytes: 0 or 1
#pragma omp simd
    for (int64_t j = 0; j < t; j++) {
      const float v = RoundTo<T>(Load(raw, j) * scale);
      p[j] = mask[j] != 0 ? lowest : v;
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < t; j++) p[j] = RoundTo<T>(Load(raw, j) * scale);
  }
  const float m = MaxOf(p, t, -INFINITY);
#pragma omp simd
  for (int64_t j = 0; j < t; j++) p[j] = Exp(p[j] - m);
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < t; j++) sum += p[j];
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t j = 0; j < t; j++) p[j] = p[j] * inv;
}

// Where a row's mask lies: rows run over [b, nkv * rep, s]; the mask is [1 or b, s, t].
struct SoftmaxRows {
  int64_t t, s, perBatch;  // perBatch = nkv * rep * s rows
  bool maskPerBatch;
  const bool* MaskRow(const bool* mask, int64_t r) const {
    if (!mask) return nullptr;
    const int64_t bi = maskPerBatch ? r / perBatch : 0;
    return mask + (bi * s + r % s) * t;
  }
};

template <typename T>
BFPO_INLINE void SoftmaxForwardRows(const T* raw, const bool* mask, T* out, float scale, const SoftmaxRows& g, int64_t begin, int64_t end, float* p) {
  for (int64_t r = begin; r < end; r++) {
    SoftmaxRow(raw + r * g.t, g.MaskRow(mask, r), g.t, scale, p);
    T* o = out + r * g.t;
#pragma omp simd
    for (int64_t j = 0; j < g.t; j++) Store(o, j, p[j]);
  }
}

// The gradient of the raw scores: scale * round_T(p * (gp - sum(gp * p))), 0 at blocked keys (each product rounded
// to T as the composed softmax backward, cast, masked_fill and mul are).
template <typename T>
BFPO_INLINE void SoftmaxBackwardRows(const T* raw, const T* gp, const bool* mask, T* out, float scale, const SoftmaxRows& g, int64_t begin, int64_t end, float* p) {
  for (int64_t r = begin; r < end; r++) {
    const bool* blocked = g.MaskRow(mask, r);
    SoftmaxRow(raw + r * g.t, blocked, g.t, scale, p);
    const T* gr = gp + r * g.t;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < g.t; j++) dot += Load(gr, j) * p[j];
    T* o = out + r * g.t;
    if (blocked) {
      const uint8_t* mask = reinterpret_cast<const uint8_t*>(blocked);
#pragma omp simd
      for (int64_t j = 0; j < g.t; j++) {
        const float gs = mask[j] != 0 ? 0.0f : RoundTo<T>(p[j] * (Load(gr, j) - dot));
        Store(o, j, gs * scale);
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < g.t; j++) Store(o, j, RoundTo<T>(p[j] * (Load(gr, j) - dot)) * scale);
    }
  }
}

BFPO_ROW_KERNEL void SoftmaxForwardF32(const float* raw, const bool* mask, float* out, float scale, const SoftmaxRows& g, int64_t b, int64_t e, float* p) {
  SoftmaxForwardRows(raw, mask, out, scale, g, b, e, p);
}
BFPO_ROW_KERNEL void SoftmaxForwardBF16(const uint16_t* raw, const bool* mask, uint16_t* out, float scale, const SoftmaxRows& g, int64_t b, int64_t e, float* p) {
  SoftmaxForwardRows(raw, mask, out, scale, g, b, e, p);
}
BFPO_ROW_KERNEL void SoftmaxBackwardF32(const float* raw, const float* gp, const bool* mask, float* out, float scale, const SoftmaxRows& g, int64_t b, int64_t e, float* p) {
  SoftmaxBackwardRows(raw, gp, mask, out, scale, g, b, e, p);
}
BFPO_ROW_KERNEL void SoftmaxBackwardBF16(const uint16_t* raw, const uint16_t* gp, const bool* mask, uint16_t* out, float scale, const SoftmaxRows& g, int64_t b, int64_t e, float* p) {
  SoftmaxBackwardRows(raw, gp, mask, out, scale, g, b, e, p);
}

// Whether the mask (or none) is one the kernels read: bool [1 or b, 1, s, t] on the CPU.
bool SoftmaxMaskFits(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked) {
  if (!blocked) return true;
  const at::Tensor& m = *blocked;
  return m.dim() == 4 && m.scalar_type() == at::kBool && m.device().is_cpu() && m.size(1) == 1 && m.size(2) == raw.size(3) &&
         m.size(3) == raw.size(4) && (m.size(0) == 1 || m.size(0) == raw.size(0));
}

// The mask as a contiguous bool [1 or b, s, t] tensor, or undefined without one.
at::Tensor SoftmaxMask(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked) {
  return blocked ? blocked->contiguous().view({blocked->size(0), raw.size(3), raw.size(4)}) : at::Tensor();
}

SoftmaxRows RowsOf(const at::Tensor& raw, const at::Tensor& mask) {
  return SoftmaxRows{raw.size(4), raw.size(3), raw.size(1) * raw.size(2) * raw.size(3), mask.defined() && mask.size(0) > 1};
}

}  // namespace

bool AttentionSoftmaxApplies(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked) {
  return raw.device().is_cpu() && FusedDtype(raw.scalar_type()) && raw.dim() == 5 && raw.is_contiguous() && raw.size(4) > 0 &&
         SoftmaxMaskFits(raw, blocked);
}

namespace {

// Checks the scores and mask, then runs `rows(begin, end, mask, layout, out, p)` over the score rows in parallel, each
// task with a float32 row buffer `p`; returns `out` (the scores' shape and dtype).
template <typename Rows>
at::Tensor OverSoftmaxRows(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked, bool ok, const char* what, Rows&& rows) {
  TORCH_CHECK(ok && AttentionSoftmaxApplies(raw, blocked), what, ": unsupported scores, gradient or mask");
  const at::Tensor mask = SoftmaxMask(raw, blocked);
  at::Tensor out = at::empty_like(raw);
  const SoftmaxRows g = RowsOf(raw, mask);
  const bool* m = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  at::parallel_for(0, raw.numel() / g.t, Grain(g.t), [&](int64_t begin, int64_t end) {
    std::vector<float> p(g.t);
    rows(begin, end, m, g, out, p.data());
  });
  return out;
}

}  // namespace

at::Tensor AttentionSoftmax(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked, double scale) {
  RECORD_FUNCTION("bfpo::attention_softmax", c10::ArrayRef<const c10::IValue>{});
  const float sc = static_cast<float>(scale);
  return OverSoftmaxRows(raw, blocked, true, "attention softmax", [&](int64_t b, int64_t e, const bool* m, const SoftmaxRows& g, at::Tensor& out, float* p) {
    if (raw.scalar_type() == at::kFloat) {
      SoftmaxForwardF32(raw.data_ptr<float>(), m, out.data_ptr<float>(), sc, g, b, e, p);
    } else {
      SoftmaxForwardBF16(Ptr<BF16>(raw), m, Ptr<BF16>(out), sc, g, b, e, p);
    }
  });
}

at::Tensor AttentionSoftmaxBackward(const at::Tensor& raw, const at::Tensor& gpIn, const c10::optional<at::Tensor>& blocked, double scale) {
  RECORD_FUNCTION("bfpo::attention_softmax_backward", c10::ArrayRef<const c10::IValue>{});
  const at::Tensor gp = gpIn.contiguous();
  const float sc = static_cast<float>(scale);
  const bool ok = gp.sizes() == raw.sizes() && gp.scalar_type() == raw.scalar_type();
  return OverSoftmaxRows(raw, blocked, ok, "attention softmax backward", [&](int64_t b, int64_t e, const bool* m, const SoftmaxRows& g, at::Tensor& out, float* p) {
    if (raw.scalar_type() == at::kFloat) {
      SoftmaxBackwardF32(raw.data_ptr<float>(), gp.data_ptr<float>(), m, out.data_ptr<float>(), sc, g, b, e, p);
    } else {
      SoftmaxBackwardBF16(Ptr<BF16>(raw), Ptr<BF16>(gp), m, Ptr<BF16>(out), sc, g, b, e, p);
    }
  });
}

namespace {

// ============================== SwiGLU ==============================

// The element loops, over float32 or bfloat16 (raw bits) spans, one clone per CPU level (vecmath.h): vectorised
// sigmoid with the polynomial exp instead of the C library's scalar expf.
// out = round(round(silu(g)) * u).
template <typename T>
BFPO_INLINE void SwigluForwardSpan(const T* g, const T* u, T* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float gv = Load(g, i);
    Store(out, i, RoundTo<T>(gv * Sigmoid(gv)) * Load(u, i));
  }
}

// grad_u = round(go * round(silu(g))); grad_g = round(round(go * u) * sig * (1 + g (1 - sig))), as mul's and
// silu's backward give them.
template <typename T>
BFPO_INLINE void SwigluBackwardSpan(const T* go, const T* g, const T* u, T* gg, T* gu, int64_t n) {
  if (gu && gg) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float gv = Load(g, i), ov = Load(go, i), sig = Sigmoid(gv);
      Store(gu, i, ov * RoundTo<T>(gv * sig));
      Store(gg, i, RoundTo<T>(ov * Load(u, i)) * (sig * (1.0f + gv * (1.0f - sig))));
    }
  } else if (gu) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float gv = Load(g, i);
      Store(gu, i, Load(go, i) * RoundTo<T>(gv * Sigmoid(gv)));
    }
  } else if (gg) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float gv = Load(g, i), sig = Sigmoid(gv);
      Store(gg, i, RoundTo<T>(Load(go, i) * Load(u, i)) * (sig * (1.0f + gv * (1.0f - sig))));
    }
  }
}

BFPO_ROW_KERNEL void SwigluForwardF32(const float* g, const float* u, float* out, int64_t n) { SwigluForwardSpan(g, u, out, n); }
BFPO_ROW_KERNEL void SwigluForwardBF16(const uint16_t* g, const uint16_t* u, uint16_t* out, int64_t n) { SwigluForwardSpan(g, u, out, n); }
BFPO_ROW_KERNEL void SwigluBackwardF32(const float* go, const float* g, const float* u, float* gg, float* gu, int64_t n) {
  SwigluBackwardSpan(go, g, u, gg, gu, n);
}
BFPO_ROW_KERNEL void SwigluBackwardBF16(const uint16_t* go, const uint16_t* g, const uint16_t* u, uint16_t* gg, uint16_t* gu, int64_t n) {
  SwigluBackwardSpan(go, g, u, gg, gu, n);
}

template <typename E>
void SwigluForwardKernel(const typename E::T* g, const typename E::T* u, typename E::T* out, int64_t n) {
  at::parallel_for(0, n, 8192, [&](int64_t b, int64_t e) {
    if constexpr (std::is_same_v<E, F32>) SwigluForwardF32(g + b, u + b, out + b, e - b);
    else SwigluForwardBF16(g + b, u + b, out + b, e - b);
  });
}

template <typename E>
void SwigluBackwardKernel(const typename E::T* go, const typename E::T* g, const typename E::T* u,
                          typename E::T* gg, typename E::T* gu, int64_t n) {
  at::parallel_for(0, n, 8192, [&](int64_t b, int64_t e) {
    typename E::T* ggb = gg ? gg + b : nullptr;
    typename E::T* gub = gu ? gu + b : nullptr;
    if constexpr (std::is_same_v<E, F32>) SwigluBackwardF32(go + b, g + b, u + b, ggb, gub, e - b);
    else SwigluBackwardBF16(go + b, g + b, u + b, ggb, gub, e - b);
  });
}

struct SwigluFn : public torch::autograd::Function<SwigluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gIn, const at::Tensor& uIn) {
    RECORD_FUNCTION("bfpo::swiglu", c10::ArrayRef<const c10::IValue>{});
    const at::Tensor g = gIn.contiguous();
    const at::Tensor u = uIn.contiguous();
    at::Tensor out = at::empty(g.sizes(), g.options().memory_format(at::MemoryFormat::Contiguous));
    Dispatch(g.scalar_type(), [&](auto e) {
      using E = decltype(e);
      SwigluForwardKernel<E>(Ptr<E>(g), Ptr<E>(u), Ptr<E>(out), g.numel());
    });
    ctx->save_for_backward({g, u});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    RECORD_FUNCTION("bfpo::swiglu_backward", c10::ArrayRef<const c10::IValue>{});
    auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& u = saved[1];
    const bool needG = ctx->needs_input_grad(0), needU = ctx->needs_input_grad(1);
    at::Tensor gg = needG ? at::empty_like(g) : at::Tensor();
    at::Tensor gu = needU ? at::empty_like(u) : at::Tensor();
    if (needG || needU) {
      const at::Tensor go = grads[0].to(g.scalar_type()).contiguous();
      Dispatch(g.scalar_type(), [&](auto e) {
        using E = decltype(e);
        SwigluBackwardKernel<E>(Ptr<E>(go), Ptr<E>(g), Ptr<E>(u), needG ? Ptr<E>(gg) : nullptr,
                                needU ? Ptr<E>(gu) : nullptr, g.numel());
      });
    }
    return {gg, gu};
  }
};

at::Tensor SwigluComposed(const at::Tensor& g, const at::Tensor& u) { return at::silu(g) * u; }

const char* SwigluUnfusable(const at::Tensor& g, const at::Tensor& u) {
  if (!g.device().is_cpu() || !u.device().is_cpu()) return "the tensors are not on the CPU";
  if (!FusedDtype(g.scalar_type()) || u.scalar_type() != g.scalar_type()) return "gate and up are not both float32 or both bfloat16";
  if (g.sizes() != u.sizes()) return "gate and up differ in shape";
  return nullptr;
}

at::Tensor Swiglu(const at::Tensor& g, const at::Tensor& u, int64_t impl) {
  if (impl == 1) return SwigluComposed(g, u);
  if (impl != 0 && impl != 2) throw ArgError("unknown swiglu implementation code " + std::to_string(impl));
  const char* why = SwigluUnfusable(g, u);
  if (impl == 2 && why) throw ArgError(std::string("the fused swiglu cannot run: ") + why);
  return why ? SwigluComposed(g, u) : SwigluFn::apply(g, u);
}

int64_t ImplArg(const Napi::CallbackInfo& info, size_t i) { return OptionalIntArg(info, i).value_or(0); }

}  // namespace

void InitFused(Napi::Env env, Napi::Object exports) {
  // rmsNorm(x, weight, eps, impl?): x * rsqrt(mean(x^2, -1) + eps) in float32, rounded to x's dtype, times weight
  // (HF Llama's RMSNorm). impl: 0 auto (fused on the CPU for float32/bfloat16), 1 composed aten ops, 2 fused.
  Export(env, exports, "rmsNorm", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), RmsNorm(TensorArg(info, 0), TensorArg(info, 1), DoubleArg(info, 2), ImplArg(info, 3)));
  });
  // rotary(x, cos, sin, impl?): x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1] over the last dim.
  Export(env, exports, "rotary", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), Rotary(TensorArg(info, 0), TensorArg(info, 1), TensorArg(info, 2), ImplArg(info, 3)));
  });
  // swiglu(gate, up, impl?): silu(gate) * up.
  Export(env, exports, "swiglu", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), Swiglu(TensorArg(info, 0), TensorArg(info, 1), ImplArg(info, 2)));
  });
  // kernelThreads() -> how many threads share a parallel loop of bfpo's own kernels (at::parallel_for as compiled
  // here): libtorch's thread count when the addon is built with OpenMP, 1 when the loops run serially.
  Export(env, exports, "kernelThreads", [](const Napi::CallbackInfo& info) {
    std::mutex mu;
    std::set<std::thread::id> ids;
    at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    return Napi::Number::New(info.Env(), static_cast<double>(ids.size()));
  });
}

}  // namespace bfpo
