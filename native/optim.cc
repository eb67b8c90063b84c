// Optimizer update rules (one native call per parameter group and step) and gradient clipping.
// The arithmetic follows torch.optim's single-tensor implementations so that runs match PyTorch.
#include <torch/version.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "common.h"

namespace bfpo {

static std::vector<double> DoubleListArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + " must be an array of numbers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<double> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) out[k] = arr.Get(k).As<Napi::Number>().DoubleValue();
  return out;
}

static void CheckSameLength(size_t a, size_t b, const char* what) {
  if (a != b) throw ArgError(std::string(what) + ": " + std::to_string(b) + " state tensors for " + std::to_string(a) +
                             " parameters");
}

// One Adam/AdamW update of a contiguous float32 CPU parameter in a single pass over p, grad, exp_avg and exp_avg_sq,
// with the arithmetic of torch.optim's single-tensor code (which makes about ten passes and two temporary tensors).
static bool FusedAdamApplies(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  for (const at::Tensor* t : {&p, &g, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous() || t->numel() != p.numel()) return false;
  }
  return true;
}

// The float32 constants of one update (bias corrections bc1, bc2 of this step).
struct AdamCoef {
  float keep, wd, w1, b2, w2, root2, eps, step;
  AdamCoef(double lr, double beta1, double beta2, double epsIn, double wdIn, double bc1, double bc2)
      : keep(static_cast<float>(1 - lr * wdIn)), wd(static_cast<float>(wdIn)), w1(static_cast<float>(1 - beta1)),
        b2(static_cast<float>(beta2)), w2(static_cast<float>(1 - beta2)), root2(static_cast<float>(std::sqrt(bc2))),
        eps(static_cast<float>(epsIn)), step(static_cast<float>(-lr / bc1)) {}
};

// One element's update: moments m and v in place, the new parameter returned. The weight-decay form is a template
// argument so that the loops have no branches.
template <bool kDecay, bool kL2>
static inline float AdamElement(float pi, float gi, float& m, float& v, const AdamCoef& c) {
  if (kDecay) pi *= c.keep;
  if (kL2) gi += c.wd * pi;
  const float mi = m + c.w1 * (gi - m);  // lerp towards the gradient
  const float vi = v * c.b2 + c.w2 * (gi * gi);
  m = mi;
  v = vi;
  return pi + c.step * (mi / (std::sqrt(vi) / c.root2 + c.eps));
}

// Calls fn(kDecay, kL2) as std::integral_constants: no decay, decoupled (AdamW) or L2 (Adam).
template <typename Fn>
static void WithDecayForm(double wd, bool decoupled, Fn&& fn) {
  if (wd == 0) fn(std::false_type{}, std::false_type{});
  else if (decoupled) fn(std::true_type{}, std::false_type{});
  else fn(std::false_type{}, std::true_type{});
}

static void FusedAdam(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, double lr, double beta1, double beta2,
                      double eps, double wd, bool decoupled, double bc1, double bc2) {
  const AdamCoef c(lr, beta1, beta2, eps, wd, bc1, bc2);
  float* __restrict pp = p.data_ptr<float>();
  const float* __restrict gp = g.data_ptr<float>();
  float* __restrict mp = m.data_ptr<float>();
  float* __restrict vp = v.data_ptr<float>();
  const int64_t n = p.numel();
  WithDecayForm(wd, decoupled, [&](auto decay, auto l2) {
    for (int64_t i = 0; i < n; i++) pp[i] = AdamElement<decltype(decay)::value, decltype(l2)::value>(pp[i], gp[i], mp[i], vp[i], c);
  });
}

// The same update op by op (torch.optim's single-tensor code), for any device, dtype and layout.
static void ComposedAdam(at::Tensor& p, at::Tensor grad, at::Tensor& m, at::Tensor& v, double lr, double beta1, double beta2,
                         double eps, double wd, bool decoupled, double bc1, double bc2) {
  if (wd != 0) {
    if (decoupled) p.mul_(1 - lr * wd);
    else grad = grad.add(p, wd);
  }
  m.lerp_(grad, 1 - beta1);
  v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
  p.addcdiv_(m, denom, -lr / bc1);
}

// Mixed precision: the update of a float32 master from its bfloat16 model parameter's gradient (times `scale`, the
// clipping coefficient), and the updated master rounded back into the model parameter, in one pass. The same
// arithmetic as moving the gradient to float32, scaling it, FusedAdam and copying the master back, element for element.
static float Bf16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

static uint16_t FloatToBf16(float f) {  // round to nearest even, NaN kept quiet (as c10::BFloat16)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return 0x7FC0;
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

template <bool kDecay, bool kL2>
static void MixedAdamLoop(float* __restrict p, const uint16_t* __restrict g16, uint16_t* __restrict model, float* __restrict m,
                          float* __restrict v, int64_t n, float scale, bool scaled, const AdamCoef& c) {
  for (int64_t i = 0; i < n; i++) {
    float gi = Bf16ToFloat(g16[i]);
    if (scaled) gi *= scale;
    const float pi = AdamElement<kDecay, kL2>(p[i], gi, m[i], v[i], c);
    p[i] = pi;
    model[i] = FloatToBf16(pi);
  }
}

static bool MixedAdamApplies(const at::Tensor& master, const at::Tensor& model, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  if (!FusedAdamApplies(master, master, m, v)) return false;
  for (const at::Tensor* t : {&model, &g}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kBFloat16 || !t->is_contiguous() || t->numel() != master.numel()) return false;
  }
  return true;
}

// The total normType-norm of `grads` as a float32 0-d tensor (0 without gradients), as clip_grad_norm_: each
// gradient's norm (accumulated in float32 with `floatAccum`, else in the gradient's dtype and then cast), then the
// norm of those.
static at::Tensor TotalGradNorm(const std::vector<at::Tensor>& grads, double normType, bool floatAccum) {
  if (grads.empty()) return at::zeros({}, at::kFloat);
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  const bool inf = std::isinf(normType);
  for (const auto& g : grads) {
    const at::Tensor d = g.detach();
    norms.push_back(inf ? d.abs().max().to(at::kFloat)
                        : floatAccum ? at::linalg_vector_norm(d, normType, c10::nullopt, false, at::kFloat)
                                     : at::norm(d, normType).to(at::kFloat));
  }
  const at::Tensor stacked = at::stack(norms);
  return inf ? stacked.max() : at::norm(stacked, normType);
}

static std::vector<at::Tensor> GradsOf(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

// The arguments adamStep and fusedAdamwStep share: (params, expAvg, expAvgSq, steps[], lr, beta1, beta2, eps,
// weightDecay), the lists checked for equal length (`name` starts their error messages).
struct AdamArgs {
  std::vector<at::Tensor> params, m, v;
  std::vector<double> steps;
  double lr, beta1, beta2, eps, wd;
};

static AdamArgs ReadAdamArgs(const Napi::CallbackInfo& info, const std::string& name) {
  AdamArgs a{TensorListArg(info, 0), TensorListArg(info, 1), TensorListArg(info, 2), DoubleListArg(info, 3),
             DoubleArg(info, 4), DoubleArg(info, 5), DoubleArg(info, 6), DoubleArg(info, 7), DoubleArg(info, 8)};
  CheckSameLength(a.params.size(), a.m.size(), (name + " exp_avg").c_str());
  CheckSameLength(a.params.size(), a.v.size(), (name + " exp_avg_sq").c_str());
  CheckSameLength(a.params.size(), a.steps.size(), (name + " steps").c_str());
  return a;
}

void InitOptim(Napi::Env env, Napi::Object exports) {
  // adamStep(params, expAvg, expAvgSq, steps[], lr, beta1, beta2, eps, weightDecay, decoupled)
  // `steps` holds each parameter's step count after this update (PyTorch counts steps per parameter).
  Export(env, exports, "adamStep", [](const Napi::CallbackInfo& info) {
    at::NoGradGuard noGrad;
    AdamArgs a = ReadAdamArgs(info, "adam");
    auto& params = a.params;
    auto& m = a.m;
    auto& v = a.v;
    auto& steps = a.steps;
    double lr = a.lr, beta1 = a.beta1, beta2 = a.beta2, eps = a.eps, wd = a.wd;
    bool decoupled = BoolArg(info, 9);
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor& p = params[i];
      at::Tensor grad = p.grad();
      if (!grad.defined()) continue;
      double bc1 = 1 - std::pow(beta1, steps[i]);
      double bc2 = 1 - std::pow(beta2, steps[i]);
      if (FusedAdamApplies(p, grad, m[i], v[i])) {
        FusedAdam(p, grad, m[i], v[i], lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
        continue;
      }
      ComposedAdam(p, grad, m[i], v[i], lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
    }
    return info.Env().Undefined();
  });

  // fusedAdamwStep(params, expAvg, expAvgSq, steps[], lr, beta1, beta2, eps, weightDecay): libtorch's multi-tensor
  // fused AdamW kernel (torch.optim.AdamW(fused=True)), one launch for every parameter of a device and dtype. CUDA
  // tensors from PyTorch 2.0, CPU tensors from 2.4; the caller checks fusedAdamwSupport() first.
  Export(env, exports, "fusedAdamwStep", [](const Napi::CallbackInfo& info) -> Napi::Value {
    at::NoGradGuard noGrad;
    AdamArgs a = ReadAdamArgs(info, "adamw");
    auto& params = a.params;
    auto& m = a.m;
    auto& v = a.v;
    auto& steps = a.steps;
    double lr = a.lr, beta1 = a.beta1, beta2 = a.beta2, eps = a.eps, wd = a.wd;
#if TORCH_VERSION_MAJOR >= 2
    std::vector<at::Tensor> ps, gs, ms, vs, ss;
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor g = params[i].grad();
      if (!g.defined()) continue;
      ps.push_back(params[i]);
      gs.push_back(g);
      ms.push_back(m[i]);
      vs.push_back(v[i]);
      // The kernel reads each parameter's step count (already incremented, as torch.optim does before the call).
      ss.push_back(at::full({}, steps[i], at::TensorOptions().dtype(at::kFloat).device(params[i].device())));
    }
    if (ps.empty()) return info.Env().Undefined();
    std::vector<at::Tensor> none;
    at::_fused_adamw_(ps, gs, ms, vs, none, ss, lr, beta1, beta2, wd, eps, /*amsgrad=*/false, /*maximize=*/false);
    return info.Env().Undefined();
#else
    throw ArgError(std::string("fused AdamW needs libtorch 2.0 or newer; this addon was built against libtorch ") + TORCH_VERSION);
#endif
  });

  // mixedAdamStep(masters, models, expAvg, expAvgSq, steps[], lr, beta1, beta2, eps, weightDecay, decoupled, scale):
  // Adam/AdamW on float32 masters from the gradients of their bfloat16 model parameters (`models[i].grad`, times
  // `scale`), the updated masters rounded into the model parameters; one pass per parameter where all are contiguous
  // CPU tensors, else the same steps one by one. The model gradients are left for the caller to drop.
  Export(env, exports, "mixedAdamStep", [](const Napi::CallbackInfo& info) {
    at::NoGradGuard noGrad;
    auto masters = TensorListArg(info, 0);
    auto models = TensorListArg(info, 1);
    auto m = TensorListArg(info, 2);
    auto v = TensorListArg(info, 3);
    auto steps = DoubleListArg(info, 4);
    const double lr = DoubleArg(info, 5), beta1 = DoubleArg(info, 6), beta2 = DoubleArg(info, 7), eps = DoubleArg(info, 8);
    const double wd = DoubleArg(info, 9);
    const bool decoupled = BoolArg(info, 10);
    const double scale = DoubleArg(info, 11);
    CheckSameLength(masters.size(), models.size(), "mixed adam models");
    CheckSameLength(masters.size(), m.size(), "mixed adam exp_avg");
    CheckSameLength(masters.size(), v.size(), "mixed adam exp_avg_sq");
    CheckSameLength(masters.size(), steps.size(), "mixed adam steps");
    const float scalef = static_cast<float>(scale);
    for (size_t i = 0; i < masters.size(); i++) {
      at::Tensor& p = masters[i];
      at::Tensor& model = models[i];
      const at::Tensor g = model.grad();
      if (!g.defined()) continue;
      const double bc1 = 1 - std::pow(beta1, steps[i]);
      const double bc2 = 1 - std::pow(beta2, steps[i]);
      if (MixedAdamApplies(p, model, g, m[i], v[i])) {
        const AdamCoef c(lr, beta1, beta2, eps, wd, bc1, bc2);
        const int64_t n = p.numel();
        float* pp = p.data_ptr<float>();
        const uint16_t* gp = reinterpret_cast<const uint16_t*>(g.data_ptr());
        uint16_t* mp = reinterpret_cast<uint16_t*>(model.data_ptr());
        float* ap = m[i].data_ptr<float>();
        float* vp = v[i].data_ptr<float>();
        WithDecayForm(wd, decoupled, [&](auto decay, auto l2) {
          at::parallel_for(0, n, 16384, [&](int64_t b, int64_t e) {
            MixedAdamLoop<decltype(decay)::value, decltype(l2)::value>(pp + b, gp + b, mp + b, ap + b, vp + b, e - b, scalef, scale != 1, c);
          });
        });
        continue;
      }
      at::Tensor grad = g.to(at::kFloat);
      if (scale != 1) grad.mul_(scalef);
      ComposedAdam(p, grad, m[i], v[i], lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
      model.copy_(p);
    }
    return info.Env().Undefined();
  });

  // gradNorm(params, normType) -> the total norm of the parameters' gradients as a float32 0-d tensor (each
  // gradient's norm accumulated in float32), without changing them: clip_grad_norm_'s norm.
  Export(env, exports, "gradNorm", [](const Napi::CallbackInfo& info) -> Napi::Value {
    at::NoGradGuard noGrad;
    return Wrap(info.Env(), TotalGradNorm(GradsOf(TensorListArg(info, 0)), DoubleArg(info, 1), true));
  });

  // sgdStep(params, buffers|nulls, fresh[], lr, momentum, dampening, weightDecay, nesterov)
  Export(env, exports, "sgdStep", [](const Napi::CallbackInfo& info) {
    at::NoGradGuard noGrad;
    auto params = TensorListArg(info, 0);
    auto bufs = OptionalTensorListArg(info, 1);
    auto fresh = DoubleListArg(info, 2);
    double lr = DoubleArg(info, 3), momentum = DoubleArg(info, 4), dampening = DoubleArg(info, 5);
    double wd = DoubleArg(info, 6);
    bool nesterov = BoolArg(info, 7);
    CheckSameLength(params.size(), bufs.size(), "sgd momentum buffers");
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor& p = params[i];
      at::Tensor d = p.grad();
      if (!d.defined()) continue;
      if (wd != 0) d = d.add(p, wd);
      if (momentum != 0) {
        at::Tensor& buf = bufs[i];
        if (!buf.defined()) throw ArgError("sgd momentum buffer missing for parameter " + std::to_string(i));
        if (fresh[i] != 0) buf.copy_(d);
        else buf.mul_(momentum).add_(d, 1 - dampening);
        d = nesterov ? d.add(buf, momentum) : buf;
      }
      p.add_(d, -lr);
    }
    return info.Env().Undefined();
  });

  // rmspropStep(params, squareAvg, gradAvg|nulls, momentumBuf|nulls, lr, alpha, eps, weightDecay, momentum, centered)
  Export(env, exports, "rmspropStep", [](const Napi::CallbackInfo& info) {
    at::NoGradGuard noGrad;
    auto params = TensorListArg(info, 0);
    auto sq = TensorListArg(info, 1);
    auto gavg = OptionalTensorListArg(info, 2);
    auto mbuf = OptionalTensorListArg(info, 3);
    double lr = DoubleArg(info, 4), alpha = DoubleArg(info, 5), eps = DoubleArg(info, 6), wd = DoubleArg(info, 7);
    double momentum = DoubleArg(info, 8);
    bool centered = BoolArg(info, 9);
    CheckSameLength(params.size(), sq.size(), "rmsprop square_avg");
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor& p = params[i];
      at::Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (wd != 0) grad = grad.add(p, wd);
      sq[i].mul_(alpha).addcmul_(grad, grad, 1 - alpha);
      at::Tensor avg;
      if (centered) {
        gavg[i].lerp_(grad, 1 - alpha);
        avg = sq[i].addcmul(gavg[i], gavg[i], -1).sqrt_();
      } else {
        avg = sq[i].sqrt();
      }
      avg.add_(eps);
      if (momentum > 0) {
        mbuf[i].mul_(momentum).addcdiv_(grad, avg);
        p.add_(mbuf[i], -lr);
      } else {
        p.addcdiv_(grad, avg, -lr);
      }
    }
    return info.Env().Undefined();
  });

  // clipGradNorm(params, maxNorm, normType, asTensor?) -> total norm before clipping (as
  // torch.nn.utils.clip_grad_norm_): a number, or with asTensor a float32 0-d tensor on the gradients' device, which
  // leaves the device's queue running (no wait for the norm).
  Export(env, exports, "clipGradNorm", [](const Napi::CallbackInfo& info) -> Napi::Value {
    at::NoGradGuard noGrad;
    auto params = TensorListArg(info, 0);
    double maxNorm = DoubleArg(info, 1);
    double normType = DoubleArg(info, 2);
    const std::vector<at::Tensor> grads = GradsOf(params);
    const bool asTensor = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    if (grads.empty()) return asTensor ? Wrap(info.Env(), at::zeros({}, at::kFloat)) : Napi::Number::New(info.Env(), 0.0);
    const at::Tensor total = TotalGradNorm(grads, normType, false);
    at::Tensor coef = at::clamp(maxNorm / (total + 1e-6), c10::nullopt, 1.0);
    for (auto& g : grads) g.mul_(coef.to(g.device()).to(g.scalar_type()));
    if (asTensor) return Wrap(info.Env(), total);
    return Napi::Number::New(info.Env(), total.item<double>());
  });
}

}  // namespace bfpo
