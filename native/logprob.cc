// tokenLogProbs(logits [n, V], targets [n]) -> [n]: log_softmax(logits)[i, targets[i]] in one fused op with its own
// backward. On the CPU, for float32 and bfloat16 logits, each row is read in its own dtype (no float32 copy of the
// matrix; a bfloat16 row is widened 1024 values at a time into a block on the stack): one pass for the max, one for
// the sum of exponentials (from cache), both accumulated in float32; only each row's max and log-sum [2, n] are kept
// for the backward, which writes grad[i, j] = g[i] * ((j == t_i) - exp(x[i, j] - lse_i)) once, in the logits' dtype.
// Other dtypes and devices compose libtorch's log_softmax and gather (float32 at least).
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "common.h"
#include "vecmath.h"

namespace bfpo {
namespace {

// The loops over float32 values. bfloat16 rows are widened into a float32 block on the stack first (a cheap,
// vectorised shift), so both dtypes run these same loops at the full vector width.
constexpr int64_t kBlock = 1024;

BFPO_INLINE void Widen(const uint16_t* x, int64_t n, float* out) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) out[j] = Load(x, j);
}
BFPO_INLINE void Narrow(const float* x, int64_t n, uint16_t* out) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) Store(out, j, x[j]);
}

BFPO_INLINE float SumExp(const float* x, int64_t n, float shift) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; j++) sum += Exp(x[j] - shift);
  return sum;
}

// out[j] = -g * exp((x[j] - m) - logSum)
BFPO_INLINE void NegGradOf(const float* x, int64_t n, float m, float logSum, float g, float* out) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) out[j] = -g * Exp((x[j] - m) - logSum);
}

// The row's maximum (0 when it is not finite) is the shift m; log(sum(exp(x - m))) is the log-sum. They are kept
// apart, as log_softmax keeps them: (x - m) - logSum loses nothing to a large m, where x - (m + logSum) would.
BFPO_INLINE float ShiftOf(float mx) { return std::isfinite(mx) ? mx : 0.0f; }  // a row of -inf: its lse is -inf

BFPO_INLINE void RowStats(const float* x, int64_t v, float* shiftOut, float* logSumOut) {
  const float mx = MaxOf(x, v, -INFINITY);
  const float shift = ShiftOf(mx);
  *shiftOut = mx == INFINITY ? INFINITY : shift;  // log_softmax of a row holding +inf is not finite either
  *logSumOut = std::log(SumExp(x, v, shift));
}
BFPO_INLINE void RowStats(const uint16_t* x, int64_t v, float* shiftOut, float* logSumOut) {
  alignas(64) float buf[kBlock];
  float mx = -INFINITY;
  for (int64_t c = 0; c < v; c += kBlock) {
    const int64_t n = std::min(kBlock, v - c);
    Widen(x + c, n, buf);
    mx = MaxOf(buf, n, mx);
  }
  const float shift = ShiftOf(mx);
  float sum = 0.0f;
  for (int64_t c = 0; c < v; c += kBlock) {
    const int64_t n = std::min(kBlock, v - c);
    Widen(x + c, n, buf);
    sum += SumExp(buf, n, shift);
  }
  *shiftOut = mx == INFINITY ? INFINITY : shift;
  *logSumOut = std::log(sum);
}

// out[i] = (x[i, t_i] - m_i) - logSum_i; m and logSum are kept for the backward.
template <typename T>
BFPO_INLINE void ForwardRows(const T* x, const int64_t* t, float* out, float* shift, float* logSum, int64_t begin, int64_t end, int64_t v) {
  for (int64_t i = begin; i < end; i++) {
    const T* row = x + i * v;
    RowStats(row, v, shift + i, logSum + i);
    out[i] = (Load(row, t[i]) - shift[i]) - logSum[i];
  }
}

// grad[i, j] = g[i] * ((j == t[i]) - exp((x[i, j] - m_i) - logSum_i)), written once.
BFPO_INLINE void RowGrad(const float* row, int64_t v, float m, float l, float g, float* out) { NegGradOf(row, v, m, l, g, out); }
BFPO_INLINE void RowGrad(const uint16_t* row, int64_t v, float m, float l, float g, uint16_t* out) {
  alignas(64) float in[kBlock];
  alignas(64) float grad[kBlock];
  for (int64_t c = 0; c < v; c += kBlock) {
    const int64_t n = std::min(kBlock, v - c);
    Widen(row + c, n, in);
    NegGradOf(in, n, m, l, g, grad);
    Narrow(grad, n, out + c);
  }
}
template <typename T>
BFPO_INLINE void BackwardRows(const T* x, const int64_t* t, const float* shift, const float* logSum, const float* g, T* gx, int64_t begin, int64_t end, int64_t v) {
  for (int64_t i = begin; i < end; i++) {
    const T* row = x + i * v;
    T* out = gx + i * v;
    RowGrad(row, v, shift[i], logSum[i], g[i], out);
    Store(out, t[i], g[i] - g[i] * Exp((Load(row, t[i]) - shift[i]) - logSum[i]));
  }
}

BFPO_ROW_KERNEL void ForwardF32(const float* x, const int64_t* t, float* out, float* m, float* ls, int64_t b, int64_t e, int64_t v) {
  ForwardRows(x, t, out, m, ls, b, e, v);
}
BFPO_ROW_KERNEL void ForwardBF16(const uint16_t* x, const int64_t* t, float* out, float* m, float* ls, int64_t b, int64_t e, int64_t v) {
  ForwardRows(x, t, out, m, ls, b, e, v);
}
BFPO_ROW_KERNEL void BackwardF32(const float* x, const int64_t* t, const float* m, const float* ls, const float* g, float* gx, int64_t b, int64_t e, int64_t v) {
  BackwardRows(x, t, m, ls, g, gx, b, e, v);
}
BFPO_ROW_KERNEL void BackwardBF16(const uint16_t* x, const int64_t* t, const float* m, const float* ls, const float* g, uint16_t* gx, int64_t b, int64_t e, int64_t v) {
  BackwardRows(x, t, m, ls, g, gx, b, e, v);
}

// Rows per task: about 64k elements, so a small vocabulary does not spawn a task per row.
int64_t Grain(int64_t v) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(v, 1)); }

void CheckArgs(const at::Tensor& logits, const at::Tensor& targets) {
  if (logits.dim() != 2) {
    throw ArgError("tokenLogProbs: logits must be [n, vocab], got " + std::to_string(logits.dim()) + " dims");
  }
  if (targets.dim() != 1 || targets.size(0) != logits.size(0)) {
    std::ostringstream m;
    m << "tokenLogProbs: targets must be [" << logits.size(0) << "] (one per logits row), got " << targets.sizes();
    throw ArgError(m.str());
  }
  if (targets.scalar_type() != at::kLong) throw ArgError("tokenLogProbs: targets must be int64, got " + DtypeName(targets.scalar_type()));
  if (!logits.is_floating_point()) throw ArgError("tokenLogProbs: logits must be floating point, got " + DtypeName(logits.scalar_type()));
  if (logits.device() != targets.device()) throw ArgError("tokenLogProbs: logits and targets must be on the same device");
  const int64_t v = logits.size(1);
  if (targets.numel() == 0) return;
  if (v == 0) throw ArgError("tokenLogProbs: logits have a vocabulary of 0");
  // One small [n] read (a device sync on CUDA): an index outside [0, vocab) is reported, never read.
  const auto mm = at::aminmax(targets);
  const int64_t lo = std::get<0>(mm).item<int64_t>();
  const int64_t hi = std::get<1>(mm).item<int64_t>();
  const int64_t bad = lo < 0 ? lo : hi;
  if (lo < 0 || hi >= v) {
    throw ArgError("tokenLogProbs: target " + std::to_string(bad) + " is out of range for a vocabulary of " +
                   std::to_string(v) + " (targets must lie in [0, " + std::to_string(v - 1) + "])");
  }
}

bool Fused(const at::Tensor& logits) {
  return logits.device().is_cpu() && (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16);
}

// Forward kernel: returns {out [n] float32, stats [2, n] float32 (each row's shift m and log(sum(exp(x - m))))}.
// `x` is contiguous, the targets checked.
std::pair<at::Tensor, at::Tensor> ForwardKernel(const at::Tensor& x, const at::Tensor& targets) {
  const int64_t n = x.size(0), v = x.size(1);
  auto opts = x.options().dtype(at::kFloat);
  at::Tensor out = at::empty({n}, opts), stats = at::empty({2, n}, opts);
  at::Tensor t = targets.contiguous();
  const int64_t* tp = t.data_ptr<int64_t>();
  float* op = out.data_ptr<float>();
  float* mp = stats.data_ptr<float>();
  float* lp = mp + n;
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  const void* xp = x.data_ptr();
  at::parallel_for(0, n, Grain(v), [&](int64_t b, int64_t e) {
    if (bf16) ForwardBF16(static_cast<const uint16_t*>(xp), tp, op, mp, lp, b, e, v);
    else ForwardF32(static_cast<const float*>(xp), tp, op, mp, lp, b, e, v);
  });
  return {out, stats};
}

at::Tensor BackwardKernel(const at::Tensor& x, const at::Tensor& targets, const at::Tensor& stats, const at::Tensor& grad) {
  RECORD_FUNCTION("bfpo::token_log_probs_backward", std::vector<c10::IValue>({x, grad}));
  const int64_t n = x.size(0), v = x.size(1);
  at::Tensor gx = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor g = grad.to(at::kFloat).contiguous();
  at::Tensor t = targets.contiguous();
  const int64_t* tp = t.data_ptr<int64_t>();
  const float* gp = g.data_ptr<float>();
  const float* mp = stats.data_ptr<float>();
  const float* lp = mp + n;
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  const void* xp = x.data_ptr();
  void* gxp = gx.data_ptr();
  at::parallel_for(0, n, Grain(v), [&](int64_t b, int64_t e) {
    if (bf16) BackwardBF16(static_cast<const uint16_t*>(xp), tp, mp, lp, gp, static_cast<uint16_t*>(gxp), b, e, v);
    else BackwardF32(static_cast<const float*>(xp), tp, mp, lp, gp, static_cast<float*>(gxp), b, e, v);
  });
  return gx;
}

// The autograd node: saves the logits (no copy: the tensor the caller already holds), the targets and the row
// statistics [2, n].
// Its backward is not itself differentiable (no double backward).
struct TokenLogProbsFn : public torch::autograd::Function<TokenLogProbsFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets) {
    at::Tensor x = logits.contiguous();
    auto r = ForwardKernel(x, targets);
    ctx->save_for_backward({x, targets, r.second});
    return r.first;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    return {BackwardKernel(saved[0], saved[1], saved[2], grads[0]), at::Tensor()};
  }
};

}  // namespace

// The op: fused on CPU float32/bfloat16, libtorch's log_softmax + gather elsewhere (float32 at least, float64 kept).
at::Tensor TokenLogProbs(const at::Tensor& logits, const at::Tensor& targets) {
  RECORD_FUNCTION("bfpo::token_log_probs", std::vector<c10::IValue>({logits, targets}));  // named in profiles
  CheckArgs(logits, targets);
  if (!Fused(logits)) {
    const at::Tensor x = logits.scalar_type() == at::kDouble ? logits : logits.to(at::kFloat);
    return at::log_softmax(x, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
  }
  if (at::GradMode::is_enabled() && logits.requires_grad()) return TokenLogProbsFn::apply(logits, targets);
  return ForwardKernel(logits.contiguous(), targets).first;
}

void InitLogprob(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "tokenLogProbs", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TokenLogProbs(TensorArg(info, 0), TensorArg(info, 1)));
  });
}

}  // namespace bfpo
