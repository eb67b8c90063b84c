// Math ops in families (unary, binary, reductions, in-place), plus nn and sampling ops.
// Each family takes an op index into a name table that TypeScript reads once at load time.
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

#include <array>
#include <limits>
#include <vector>

#include "common.h"

namespace bfpo {

using UnaryFn = at::Tensor (*)(const at::Tensor&);
using BinaryFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&);

struct UnaryOp { const char* name; UnaryFn fn; };
struct BinaryOp { const char* name; BinaryFn fn; };

static const UnaryOp kUnary[] = {
    {"neg", [](const at::Tensor& a) { return at::neg(a); }},
    {"exp", [](const at::Tensor& a) { return at::exp(a); }},
    {"log", [](const at::Tensor& a) { return at::log(a); }},
    {"sqrt", [](const at::Tensor& a) { return at::sqrt(a); }},
    {"rsqrt", [](const at::Tensor& a) { return at::rsqrt(a); }},
    {"abs", [](const at::Tensor& a) { return at::abs(a); }},
    {"sigmoid", [](const at::Tensor& a) { return at::sigmoid(a); }},
    {"logSigmoid", [](const at::Tensor& a) { return at::log_sigmoid(a); }},
    {"silu", [](const at::Tensor& a) { return at::silu(a); }},
    {"gelu", [](const at::Tensor& a) { return at::gelu(a); }},
    {"geluTanh", [](const at::Tensor& a) { return at::gelu(a, "tanh"); }},
    {"tanh", [](const at::Tensor& a) { return at::tanh(a); }},
    {"relu", [](const at::Tensor& a) { return at::relu(a); }},
    {"sin", [](const at::Tensor& a) { return at::sin(a); }},
    {"cos", [](const at::Tensor& a) { return at::cos(a); }},
    {"square", [](const at::Tensor& a) { return at::square(a); }},
    {"reciprocal", [](const at::Tensor& a) { return at::reciprocal(a); }},
    {"sign", [](const at::Tensor& a) { return at::sign(a); }},
    {"floor", [](const at::Tensor& a) { return at::floor(a); }},
    {"ceil", [](const at::Tensor& a) { return at::ceil(a); }},
    {"round", [](const at::Tensor& a) { return at::round(a); }},
    {"log1p", [](const at::Tensor& a) { return at::log1p(a); }},
    {"expm1", [](const at::Tensor& a) { return at::expm1(a); }},
    {"isnan", [](const at::Tensor& a) { return at::isnan(a); }},
    {"isinf", [](const at::Tensor& a) { return at::isinf(a); }},
    {"isfinite", [](const at::Tensor& a) { return at::isfinite(a); }},
    {"logicalNot", [](const at::Tensor& a) { return at::logical_not(a); }},
    {"contiguous", [](const at::Tensor& a) { return a.contiguous(); }},
    {"clone", [](const at::Tensor& a) { return a.clone(); }},
    {"t", [](const at::Tensor& a) { return a.t(); }},
};

static const BinaryOp kBinary[] = {
    {"add", [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }},
    {"sub", [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }},
    {"mul", [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }},
    {"div", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b); }},
    {"pow", [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }},
    {"eq", [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }},
    {"ne", [](const at::Tensor& a, const at::Tensor& b) { return at::ne(a, b); }},
    {"lt", [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }},
    {"le", [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }},
    {"gt", [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }},
    {"ge", [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }},
    {"maximum", [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }},
    {"minimum", [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }},
    {"logicalAnd", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }},
    {"logicalOr", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }},
    {"remainder", [](const at::Tensor& a, const at::Tensor& b) { return at::remainder(a, b); }},
    {"floorDivide", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b, "floor"); }},
    {"matmul", [](const at::Tensor& a, const at::Tensor& b) { return at::matmul(a, b); }},
    {"bmm", [](const at::Tensor& a, const at::Tensor& b) { return at::bmm(a, b); }},
    {"mm", [](const at::Tensor& a, const at::Tensor& b) { return at::mm(a, b); }},
};

// Reductions over optional dims: (t, dims|null, keepdim).
using ReduceFn = at::Tensor (*)(const at::Tensor&, c10::optional<std::vector<int64_t>>, bool);
struct ReduceOp { const char* name; ReduceFn fn; };

static std::vector<int64_t> AllDims(const at::Tensor& t) {
  std::vector<int64_t> d(t.dim());
  for (int64_t i = 0; i < t.dim(); i++) d[i] = i;
  return d;
}

// Dims wrapped to [0, dim) and sorted from last to first, so reducing them one at a time keeps later indices valid.
static std::vector<int64_t> DimsHighToLow(const at::Tensor& t, std::vector<int64_t> dims) {
  for (int64_t& x : dims) x = at::maybe_wrap_dim(x, t.dim());
  std::sort(dims.rbegin(), dims.rend());
  return dims;
}

static const ReduceOp kReduce[] = {
    {"sum", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return d ? at::sum(a, *d, k) : (k ? at::sum(a, AllDims(a), true) : at::sum(a)); }},
    {"mean", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return d ? at::mean(a, *d, k) : (k ? at::mean(a, AllDims(a), true) : at::mean(a)); }},
    {"amax", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return at::amax(a, d ? *d : AllDims(a), k); }},
    {"amin", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return at::amin(a, d ? *d : AllDims(a), k); }},
    {"logsumexp", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return at::logsumexp(a, d ? *d : AllDims(a), k); }},
    {"prod", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       if (!d) return k ? a.prod().reshape(std::vector<int64_t>(a.dim(), 1)) : at::prod(a);
       if (d->size() != 1) throw ArgError("prod reduces over one dim at a time");
       return at::prod(a, (*d)[0], k); }},
    {"var", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return at::var(a, at::OptionalIntArrayRef(d ? *d : AllDims(a)), /*unbiased=*/true, k); }},
    {"std", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       return at::std(a, at::OptionalIntArrayRef(d ? *d : AllDims(a)), /*unbiased=*/true, k); }},
    {"all", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       if (!d) return k ? at::all(a).reshape(std::vector<int64_t>(a.dim(), 1)) : at::all(a);
       at::Tensor r = a;
       for (int64_t x : DimsHighToLow(a, *d)) r = at::all(r, x, k);
       return r; }},
    {"any", [](const at::Tensor& a, c10::optional<std::vector<int64_t>> d, bool k) {
       if (!d) return k ? at::any(a).reshape(std::vector<int64_t>(a.dim(), 1)) : at::any(a);
       at::Tensor r = a;
       for (int64_t x : DimsHighToLow(a, *d)) r = at::any(r, x, k);
       return r; }},
};

// In-place ops with a tensor-or-scalar operand: (t, other) -> t.
using InplaceFn = void (*)(at::Tensor&, const at::Tensor&);
struct InplaceOp { const char* name; InplaceFn fn; };
static const InplaceOp kInplace[] = {
    {"add_", [](at::Tensor& a, const at::Tensor& b) { a.add_(b); }},
    {"sub_", [](at::Tensor& a, const at::Tensor& b) { a.sub_(b); }},
    {"mul_", [](at::Tensor& a, const at::Tensor& b) { a.mul_(b); }},
    {"div_", [](at::Tensor& a, const at::Tensor& b) { a.div_(b); }},
    {"copy_", [](at::Tensor& a, const at::Tensor& b) { a.copy_(b); }},
    {"fill_", [](at::Tensor& a, const at::Tensor& b) { a.fill_(b); }},
    {"pow_", [](at::Tensor& a, const at::Tensor& b) { a.pow_(b); }},
};

template <typename T, size_t N>
static Napi::Array Names(Napi::Env env, const T (&table)[N]) {
  auto arr = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; i++) arr.Set(static_cast<uint32_t>(i), Napi::String::New(env, table[i].name));
  return arr;
}

template <typename T, size_t N>
static const T& Lookup(const T (&table)[N], int64_t i) {
  if (i < 0 || static_cast<size_t>(i) >= N) throw ArgError("unknown op index " + std::to_string(i));
  return table[i];
}

// Family entry points report the concrete op name in errors, so they bypass Export's fixed name.
static void ExportFamily(Napi::Env env, Napi::Object exports, const char* name,
                         std::function<const char*(const Napi::CallbackInfo&)> opName, Body body) {
  exports.Set(name, Napi::Function::New(env, [opName, body](const Napi::CallbackInfo& info) -> Napi::Value {
    const char* op = "op";
    try {
      op = opName(info);
    } catch (...) {
    }
    return Guarded(info, op, body, 1);
  }, name));
}

static const char* NameAt(const Napi::CallbackInfo& info, const char* const* names, size_t n) {
  if (!info[0].IsNumber()) return "op";
  int64_t i = info[0].As<Napi::Number>().Int64Value();
  return (i >= 0 && static_cast<size_t>(i) < n) ? names[i] : "op";
}

template <typename T, size_t N>
static std::vector<const char*> NameList(const T (&table)[N]) {
  std::vector<const char*> v;
  for (size_t i = 0; i < N; i++) v.push_back(table[i].name);
  return v;
}

// The most negative finite value of a floating dtype: masked attention scores get it rather than -inf, so a
// query that sees no key (a padding position) yields a uniform row instead of NaN, as in HF's eager attention.
static at::Scalar LowestOf(at::ScalarType t) {
  at::Scalar lowest;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t, "lowest", [&] { lowest = std::numeric_limits<scalar_t>::lowest(); });
  return lowest;
}

// Whether this libtorch has at::scaled_dot_product_attention (PyTorch 2.0 and newer): fused flash /
// memory-efficient kernels on CUDA, a fused kernel on CPU from 2.1.
#if TORCH_VERSION_MAJOR >= 2
#define BFPO_HAS_SDPA 1
#else
#define BFPO_HAS_SDPA 0
#endif
bool HasSdpa() { return BFPO_HAS_SDPA; }

// The raw scores q k^T as [b, nkv, rep, s, t], before scale and mask.
static at::Tensor RawScores(const at::Tensor& q, const at::Tensor& k, int64_t rep) {
  const int64_t b = q.size(0), s = q.size(2), hd = q.size(3), nkv = k.size(1), t = k.size(2);
  return at::matmul(q.reshape({b, nkv, rep * s, hd}), k.transpose(2, 3)).view({b, nkv, rep, s, t});
}

// The scores of AttentionMath composed from aten ops: the raw scores scaled and masked, before the softmax.
static at::Tensor AttentionScores(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked, double scale) {
  at::Tensor scores = raw.mul(scale);
  return blocked ? scores.masked_fill(blocked->unsqueeze(1), LowestOf(scores.scalar_type())) : scores;
}

// Attention as plain products: grouping the queries as [b, nkv, rep * s, hd] serves each key/value head to its rep
// query heads without copying keys and values. Masked scores get the dtype's lowest value; softmax runs in float32
// as in HF's eager attention. On the CPU, scale, mask and softmax run as one pass (fused.cc) where it takes the
// scores; elsewhere aten ops compose them.
static at::Tensor AttentionMath(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const c10::optional<at::Tensor>& blocked, double scale, int64_t rep) {
  const int64_t b = q.size(0), nh = q.size(1), s = q.size(2), hd = q.size(3), nkv = k.size(1), t = k.size(2);
  const at::Tensor raw = RawScores(q, k, rep);
  if (AttentionSoftmaxApplies(raw, blocked)) return at::matmul(AttentionSoftmax(raw, blocked, scale).view({b, nkv, rep * s, t}), v).view({b, nh, s, hd});
  at::Tensor scores = AttentionScores(raw, blocked, scale);
  at::Tensor probs = scores.scalar_type() == at::kFloat || scores.scalar_type() == at::kDouble
                         ? at::softmax(scores, -1)
                         : at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
  return at::matmul(probs.view({b, nkv, rep * s, t}), v).view({b, nh, s, hd});
}

// Attention in parts: queries [q0, q0 + qn) of the sequence against the keys of some ranges only, laid end to end
// (a padding-free pair's rejected answer against its prompt and itself). `layout` lists, per part, q0, qn, the
// number of key ranges, then each range's start and length.
struct AttentionPart {
  int64_t q0, qn;
  std::vector<std::pair<int64_t, int64_t>> keys;
  int64_t keyCount() const {
    int64_t n = 0;
    for (const auto& r : keys) n += r.second;
    return n;
  }
};

static std::vector<AttentionPart> ParseParts(const std::vector<int64_t>& layout, int64_t s, int64_t t) {
  std::vector<AttentionPart> parts;
  size_t i = 0;
  int64_t next = 0;
  auto take = [&]() -> int64_t {
    if (i >= layout.size()) throw ArgError("attention parts: the layout ends inside a part");
    return layout[i++];
  };
  while (i < layout.size()) {
    AttentionPart p;
    p.q0 = take();
    p.qn = take();
    if (p.q0 != next || p.qn <= 0 || p.q0 + p.qn > s) throw ArgError("attention parts: the parts' queries must tile the sequence in order");
    next = p.q0 + p.qn;
    const int64_t ranges = take();
    if (ranges <= 0) throw ArgError("attention parts: every part needs a key range");
    for (int64_t r = 0; r < ranges; r++) {
      const int64_t a = take(), n = take();
      if (a < 0 || n <= 0 || a + n > t) throw ArgError("attention parts: a key range lies outside the keys");
      p.keys.emplace_back(a, n);
    }
    parts.push_back(std::move(p));
  }
  if (next != s) throw ArgError("attention parts: the parts' queries must tile the sequence in order");
  return parts;
}

// The part's keys (or values): one range as a view, several laid end to end.
static at::Tensor PartKeys(const at::Tensor& x, const AttentionPart& p) {
  if (p.keys.size() == 1) return x.narrow(2, p.keys[0].first, p.keys[0].second);
  std::vector<at::Tensor> xs;
  for (const auto& r : p.keys) xs.push_back(x.narrow(2, r.first, r.second));
  return at::cat(xs, 2);
}

// One part with every query against every key: plain AttentionMath.
static bool IsWhole(const std::vector<AttentionPart>& parts, int64_t t) {
  return parts.size() == 1 && parts[0].keys.size() == 1 && parts[0].keys[0].first == 0 && parts[0].keys[0].second == t;
}

static c10::optional<at::Tensor> MaskOf(const std::vector<at::Tensor>& masks, size_t i) {
  return masks[i].defined() ? c10::optional<at::Tensor>(masks[i]) : c10::nullopt;
}

static at::Tensor AttentionPartsForward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::vector<AttentionPart>& parts,
                                        const std::vector<at::Tensor>& masks, double scale, int64_t rep) {
  if (IsWhole(parts, k.size(2))) {
    return AttentionMath(q, k, v, MaskOf(masks, 0), scale, rep);
  }
  at::Tensor out = at::empty({q.size(0), q.size(1), q.size(2), q.size(3)}, q.options());
  for (size_t i = 0; i < parts.size(); i++) {
    const AttentionPart& p = parts[i];
    out.narrow(2, p.q0, p.qn).copy_(AttentionMath(q.narrow(2, p.q0, p.qn), PartKeys(k, p), PartKeys(v, p), MaskOf(masks, i), scale, rep));
  }
  return out;
}

// Gradients of AttentionMath(q, k, v) for the output gradient `go`, the scores and probabilities computed again:
// the same products, float32 softmax backward and casts as autograd through AttentionMath. {gq, gk, gv}.
static std::array<at::Tensor, 3> AttentionMathBackward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                       const c10::optional<at::Tensor>& blocked, const at::Tensor& goIn, double scale, int64_t rep) {
  const int64_t b = q.size(0), nh = q.size(1), s = q.size(2), hd = q.size(3), nkv = k.size(1), t = k.size(2);
  const at::ScalarType dt = q.scalar_type();
  const bool wide = dt == at::kFloat || dt == at::kDouble;
  const at::Tensor go = goIn.reshape({b, nkv, rep * s, hd});
  const at::Tensor raw = RawScores(q, k, rep);
  if (AttentionSoftmaxApplies(raw, blocked)) {
    const at::Tensor used = AttentionSoftmax(raw, blocked, scale).view({b, nkv, rep * s, t});
    at::Tensor gv = at::matmul(used.transpose(2, 3), go);
    const at::Tensor gp = at::matmul(go, v.transpose(2, 3)).view({b, nkv, rep, s, t});
    const at::Tensor gs = AttentionSoftmaxBackward(raw, gp, blocked, scale).view({b, nkv, rep * s, t});
    at::Tensor gq = at::matmul(gs, k).view({b, nh, s, hd});
    at::Tensor gk = at::matmul(gs.transpose(2, 3), q.reshape({b, nkv, rep * s, hd}));
    return {gq, gk, gv};
  }
  const at::Tensor scores = AttentionScores(raw, blocked, scale);
  const at::Tensor p = wide ? at::softmax(scores, -1) : at::softmax(scores, -1, at::kFloat);  // [b, nkv, rep, s, t]
  const at::Tensor used = (wide ? p : p.to(dt)).view({b, nkv, rep * s, t});                   // what met v
  at::Tensor gv = at::matmul(used.transpose(2, 3), go);  // [b, nkv, t, hd]
  at::Tensor gp = at::matmul(go, v.transpose(2, 3)).view({b, nkv, rep, s, t});
  if (!wide) gp = gp.to(p.scalar_type());
  at::Tensor gs = at::_softmax_backward_data(gp, p, -1, p.scalar_type());
  if (!wide) gs = gs.to(dt);
  if (blocked) gs = gs.masked_fill(blocked->unsqueeze(1), 0);
  gs = gs.mul(scale).view({b, nkv, rep * s, t});
  at::Tensor gq = at::matmul(gs, k).view({b, nh, s, hd});
  at::Tensor gk = at::matmul(gs.transpose(2, 3), q.reshape({b, nkv, rep * s, hd}));  // [b, nkv, t, hd]
  return {gq, gk, gv};
}

// AttentionMath (in parts) for training: only q, k, v and the masks are kept for the backward pass, which computes
// the scores and probabilities again. Eager autograd keeps the probabilities of every layer (in float32 and again
// in the inputs' dtype: 6 bytes per head, query and key in bfloat16), which for long rows is most of a step's
// activation memory; recomputing them costs one [s, t] product per layer. The parts' gradients are written straight
// into whole-sequence gradients (no per-part slice of the sequence in the autograd graph, each of which would
// cost a zero-filled copy of the whole q, k or v in the backward pass).
struct AttentionPartsFn : public torch::autograd::Function<AttentionPartsFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const std::vector<int64_t>& layout, const std::vector<at::Tensor>& masks, double scale, int64_t rep) {
    RECORD_FUNCTION("bfpo::attention", c10::ArrayRef<const c10::IValue>{});
    const std::vector<AttentionPart> parts = ParseParts(layout, q.size(2), k.size(2));
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["rep"] = rep;
    ctx->saved_data["layout"] = c10::IValue(layout);
    c10::List<at::Tensor> kept;
    for (const auto& m : masks) kept.push_back(m);
    ctx->saved_data["masks"] = c10::IValue(kept);
    ctx->save_for_backward({q, k, v});
    return AttentionPartsForward(q, k, v, parts, masks, scale, rep);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("bfpo::attention_backward", c10::ArrayRef<const c10::IValue>{});
    auto saved = ctx->get_saved_variables();
    const at::Tensor& q = saved[0];
    const at::Tensor& k = saved[1];
    const at::Tensor& v = saved[2];
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t rep = ctx->saved_data["rep"].toInt();
    const std::vector<AttentionPart> parts = ParseParts(ctx->saved_data["layout"].toIntVector(), q.size(2), k.size(2));
    const std::vector<at::Tensor> masks = ctx->saved_data["masks"].toTensorVector();
    const at::Tensor& go = grads[0];
    if (IsWhole(parts, k.size(2))) {
      auto g = AttentionMathBackward(q, k, v, MaskOf(masks, 0), go, scale, rep);
      return {g[0], g[1], g[2], at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    at::Tensor gq = at::empty({q.size(0), q.size(1), q.size(2), q.size(3)}, q.options());
    at::Tensor gk = at::zeros({k.size(0), k.size(1), k.size(2), k.size(3)}, k.options());
    at::Tensor gv = at::zeros({v.size(0), v.size(1), v.size(2), v.size(3)}, v.options());
    for (size_t i = 0; i < parts.size(); i++) {
      const AttentionPart& p = parts[i];
      auto g = AttentionMathBackward(q.narrow(2, p.q0, p.qn), PartKeys(k, p), PartKeys(v, p), MaskOf(masks, i), go.narrow(2, p.q0, p.qn), scale, rep);
      gq.narrow(2, p.q0, p.qn).copy_(g[0]);
      int64_t off = 0;
      for (const auto& r : p.keys) {
        gk.narrow(2, r.first, r.second).add_(g[1].narrow(2, off, r.second));
        gv.narrow(2, r.first, r.second).add_(g[2].narrow(2, off, r.second));
        off += r.second;
      }
    }
    return {gq, gk, gv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// libtorch's scaled_dot_product_attention (flash / memory-efficient kernels on CUDA). Rows that may attend to
// nothing are opened up (their output is ignored) so that no NaN reaches the real positions.
static at::Tensor AttentionSdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const c10::optional<at::Tensor>& blocked, double scale, int64_t rep) {
#if BFPO_HAS_SDPA
  const int64_t b = q.size(0), nh = q.size(1), hd = q.size(3), nkv = k.size(1), t = k.size(2);
  at::Tensor kk = rep == 1 ? k : k.unsqueeze(2).expand({b, nkv, rep, t, hd}).reshape({b, nh, t, hd});
  at::Tensor vv = rep == 1 ? v : v.unsqueeze(2).expand({b, nkv, rep, t, hd}).reshape({b, nh, t, hd});
  c10::optional<at::Tensor> allowed;
  if (blocked) {
    at::Tensor ok = blocked->logical_not();
    allowed = at::logical_or(ok, blocked->all(-1, true));
  }
#if TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR == 0
  // 2.0 has no scale argument and always scales by 1/sqrt(hd): fold the requested scale into the queries.
  return at::scaled_dot_product_attention(q.mul(scale * std::sqrt(static_cast<double>(hd))), kk, vv, allowed, 0.0, false);
#else
  return at::scaled_dot_product_attention(q, kk, vv, allowed, 0.0, false, scale);
#endif
#else
  throw ArgError(std::string("attention 'sdpa' needs libtorch 2.0 or newer; this addon was built against libtorch ") +
                 TORCH_VERSION + " (use 'eager', or rebuild against a PyTorch 2.x package: see docs/gpu.md)");
#endif
}

// The query heads served by each key/value head (nh / nkv), or an error when nh is not a multiple of nkv.
static int64_t QueryHeadsPerKey(const at::Tensor& q, const at::Tensor& k) {
  const int64_t nh = q.size(1), nkv = k.size(1);
  if (nkv <= 0 || nh % nkv != 0) throw ArgError("the query heads must be a multiple of the key/value heads");
  return nh / nkv;
}

// Scaled dot-product attention with grouped key/value heads. q [b, nh, s, hd], k and v [b, nkv, t, hd],
// blocked bool [b or 1, 1, s, t] (true = may not attend) or undefined. impl: 0 auto (sdpa when this libtorch has
// it), 1 eager (plain products), 2 sdpa. Returns [b, nh, s, hd].
static at::Tensor Attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const c10::optional<at::Tensor>& blocked, double scale, int64_t impl) {
  const int64_t rep = QueryHeadsPerKey(q, k);
  if (impl == 1 || (impl == 0 && !BFPO_HAS_SDPA)) {
    const bool training = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
    if (!training) return AttentionMath(q, k, v, blocked, scale, rep);
    return AttentionPartsFn::apply(q, k, v, std::vector<int64_t>{0, q.size(2), 1, 0, k.size(2)},
                                   std::vector<at::Tensor>{blocked ? *blocked : at::Tensor()}, scale, rep);
  }
  if (impl == 0 || impl == 2) return AttentionSdpa(q, k, v, blocked, scale, rep);
  throw ArgError("unknown attention implementation code " + std::to_string(impl));
}

void InitOps(Napi::Env env, Napi::Object exports) {
  auto names = Napi::Object::New(env);
  names.Set("unary", Names(env, kUnary));
  names.Set("binary", Names(env, kBinary));
  names.Set("reduce", Names(env, kReduce));
  names.Set("inplace", Names(env, kInplace));
  exports.Set("opNames", names);

  static const auto unaryNames = NameList(kUnary);
  static const auto binaryNames = NameList(kBinary);
  static const auto reduceNames = NameList(kReduce);
  static const auto inplaceNames = NameList(kInplace);

  // The op index is argument 0; error messages name the op and describe the remaining arguments.
  ExportFamily(env, exports, "unary",
               [](const Napi::CallbackInfo& i) { return NameAt(i, unaryNames.data(), unaryNames.size()); },
               [](const Napi::CallbackInfo& info) {
                 return Wrap(info.Env(), Lookup(kUnary, IntArg(info, 0)).fn(TensorArg(info, 1)));
               });
  ExportFamily(env, exports, "binary",
               [](const Napi::CallbackInfo& i) { return NameAt(i, binaryNames.data(), binaryNames.size()); },
               [](const Napi::CallbackInfo& info) {
                 const BinaryOp& op = Lookup(kBinary, IntArg(info, 0));
                 const at::Tensor* like = IsTensor(info[1]) ? &TensorArg(info, 1)
                                          : IsTensor(info[2]) ? &TensorArg(info, 2) : nullptr;
                 if (!like) throw ArgError("at least one operand must be a tensor");
                 at::Tensor a = TensorOrScalarArg(info, 1, like);
                 at::Tensor b = TensorOrScalarArg(info, 2, like);
                 return Wrap(info.Env(), op.fn(a, b));
               });
  ExportFamily(env, exports, "reduce",
               [](const Napi::CallbackInfo& i) { return NameAt(i, reduceNames.data(), reduceNames.size()); },
               [](const Napi::CallbackInfo& info) {
                 const ReduceOp& op = Lookup(kReduce, IntArg(info, 0));
                 return Wrap(info.Env(), op.fn(TensorArg(info, 1), OptionalIntListArg(info, 2), BoolArg(info, 3)));
               });
  ExportFamily(env, exports, "inplace",
               [](const Napi::CallbackInfo& i) { return NameAt(i, inplaceNames.data(), inplaceNames.size()); },
               [](const Napi::CallbackInfo& info) {
                 const InplaceOp& op = Lookup(kInplace, IntArg(info, 0));
                 at::Tensor& a = TensorArg(info, 1);
                 op.fn(a, TensorOrScalarArg(info, 2, &a));
                 return info.Env().Undefined();
               });

  // ---- misc math ----
  Export(env, exports, "zero_", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).zero_();
    return info.Env().Undefined();
  });
  // add_(t, other, alpha): t += alpha * other
  Export(env, exports, "addScaled_", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).add_(TensorArg(info, 1), ScalarArg(info, 2));
    return info.Env().Undefined();
  });
  Export(env, exports, "clamp", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::clamp(TensorArg(info, 0), OptionalScalarArg(info, 1), OptionalScalarArg(info, 2)));
  });
  Export(env, exports, "clamp_", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).clamp_(OptionalScalarArg(info, 1), OptionalScalarArg(info, 2));
    return info.Env().Undefined();
  });
  Export(env, exports, "argmax", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::argmax(TensorArg(info, 0), OptionalIntArg(info, 1), BoolArg(info, 2)));
  });
  Export(env, exports, "argmin", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::argmin(TensorArg(info, 0), OptionalIntArg(info, 1), BoolArg(info, 2)));
  });
  // maxDim / minDim(t, dim, keepdim) -> [values, indices]
  Export(env, exports, "maxDim", [](const Napi::CallbackInfo& info) {
    auto r = at::max(TensorArg(info, 0), IntArg(info, 1), BoolArg(info, 2));
    return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
  });
  Export(env, exports, "minDim", [](const Napi::CallbackInfo& info) {
    auto r = at::min(TensorArg(info, 0), IntArg(info, 1), BoolArg(info, 2));
    return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
  });
  Export(env, exports, "cumsum", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::cumsum(TensorArg(info, 0), IntArg(info, 1)));
  });
  Export(env, exports, "norm", [](const Napi::CallbackInfo& info) {
    auto dims = OptionalIntListArg(info, 2);
    if (dims) return Wrap(info.Env(), at::norm(TensorArg(info, 0), ScalarArg(info, 1), *dims, BoolArg(info, 3)));
    return Wrap(info.Env(), at::norm(TensorArg(info, 0), ScalarArg(info, 1)));
  });
  Export(env, exports, "allclose", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), at::allclose(TensorArg(info, 0), TensorArg(info, 1), DoubleArg(info, 2),
                                                       DoubleArg(info, 3)));
  });
  Export(env, exports, "equal", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), at::equal(TensorArg(info, 0), TensorArg(info, 1)));
  });

  // ---- nn ----
  Export(env, exports, "softmax", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::softmax(TensorArg(info, 0), IntArg(info, 1)));
  });
  Export(env, exports, "logSoftmax", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::log_softmax(TensorArg(info, 0), IntArg(info, 1)));
  });
  // linear(x, weight, bias|null): x @ weight^T + bias
  Export(env, exports, "linear", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::linear(TensorArg(info, 0), TensorArg(info, 1), OptionalTensorArg(info, 2)));
  });
  // embedding(weight, ids)
  Export(env, exports, "embedding", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::embedding(TensorArg(info, 0), TensorArg(info, 1)));
  });
  Export(env, exports, "dropout", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::dropout(TensorArg(info, 0), DoubleArg(info, 1), BoolArg(info, 2)));
  });
  // crossEntropy(logits [N, C], target [N], ignoreIndex, reduction 0 none 1 mean 2 sum, labelSmoothing)
  Export(env, exports, "crossEntropy", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::cross_entropy_loss(TensorArg(info, 0), TensorArg(info, 1), {}, IntArg(info, 3),
                                                   IntArg(info, 2), DoubleArg(info, 4)));
  });
  // rmsNorm, rotary and swiglu: fused.cc.
  // attention(q, k, v, blocked|null, scale, impl): grouped-query scaled dot-product attention (see Attention above).
  // attentionParts(q, k, v, layout, masks, scale): eager attention of the queries in parts, each against some key
  // ranges (see AttentionPart); masks[i] bool [b or 1, 1, qn, keys of part i] or null. Returns [b, nh, s, hd].
  Export(env, exports, "attentionParts", [](const Napi::CallbackInfo& info) {
    const at::Tensor& q = TensorArg(info, 0);
    const at::Tensor& k = TensorArg(info, 1);
    const at::Tensor& v = TensorArg(info, 2);
    if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) throw ArgError("q, k and v must be 4-D [batch, heads, seq, head_dim]");
    const int64_t rep = QueryHeadsPerKey(q, k);
    const std::vector<int64_t> layout = IntListArg(info, 3);
    const std::vector<at::Tensor> masks = OptionalTensorListArg(info, 4);
    const std::vector<AttentionPart> parts = ParseParts(layout, q.size(2), k.size(2));
    if (masks.size() != parts.size()) throw ArgError("attention parts: one mask (or null) per part");
    for (size_t i = 0; i < parts.size(); i++) {
      const at::Tensor& m = masks[i];
      if (m.defined() && (m.dim() != 4 || m.size(2) != parts[i].qn || m.size(3) != parts[i].keyCount())) {
        throw ArgError("attention parts: mask " + std::to_string(i) + " must be [b or 1, 1, " + std::to_string(parts[i].qn) + ", " +
                       std::to_string(parts[i].keyCount()) + "]");
      }
    }
    const double scale = DoubleArg(info, 5);
    const bool training = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
    return Wrap(info.Env(), training ? AttentionPartsFn::apply(q, k, v, layout, masks, scale, rep)
                                     : AttentionPartsForward(q, k, v, parts, masks, scale, rep));
  });
  Export(env, exports, "attention", [](const Napi::CallbackInfo& info) {
    const at::Tensor& q = TensorArg(info, 0);
    const at::Tensor& k = TensorArg(info, 1);
    if (q.dim() != 4 || k.dim() != 4 || TensorArg(info, 2).dim() != 4) throw ArgError("q, k and v must be 4-D [batch, heads, seq, head_dim]");
    return Wrap(info.Env(), Attention(q, k, TensorArg(info, 2), OptionalTensorArg(info, 3), DoubleArg(info, 4),
                                          info.Length() > 5 ? IntArg(info, 5) : 0));
  });

  // ---- sampling and ordering ----
  // topk(t, k, dim, largest, sorted) -> [values, indices]
  Export(env, exports, "topk", [](const Napi::CallbackInfo& info) {
    auto r = at::topk(TensorArg(info, 0), IntArg(info, 1), IntArg(info, 2), BoolArg(info, 3), BoolArg(info, 4));
    return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
  });
  // sort(t, dim, descending) -> [values, indices]; stable so ties keep their order.
  Export(env, exports, "sort", [](const Napi::CallbackInfo& info) {
    auto r = at::sort(TensorArg(info, 0), /*stable=*/true, IntArg(info, 1), BoolArg(info, 2));
    return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
  });
  Export(env, exports, "multinomial", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::multinomial(TensorArg(info, 0), IntArg(info, 1), BoolArg(info, 2)));
  });
}

}  // namespace bfpo
