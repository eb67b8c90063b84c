// Shared plumbing of the addon: the tensor handle, argument readers, and the one guard that turns every C++
// exception into a JS TorchError naming the op and its inputs. Policy lives in TypeScript, not here.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::GradMode, at::NoGradGuard (not pulled in by ATen.h in libtorch 2.x)
#include <napi.h>

#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bfpo {

// One JS-visible tensor: a slot of AddonData::slots. JS holds an External whose pointer value encodes the slot
// index and generation (no memory behind it and no native finalizer, so a disposed tensor costs nothing until
// the GC runs). Dispose resets `t`, bumps the generation and recycles the slot, so a stale External is detected
// as disposed. The GC safety net is a FinalizationRegistry in TypeScript (src/tensor/tensor.ts).
struct Handle {
  at::Tensor t;
  const void* storage = nullptr;  // the host storage this handle counts in AddonData::storages, if any
  uint32_t index = 0;
  uint32_t gen = 0;
};

// Host bytes are counted per storage, not per handle: views, detach() and to() of the same dtype share memory.
struct StorageCount {
  int64_t handles = 0;
  int64_t bytes = 0;
};

// Error raised for bad arguments detected in C++ (reported like any libtorch error).
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- per-environment state ----
struct AddonData {
  Napi::FunctionReference errorClass;
  int64_t liveHandles = 0;
  int64_t liveBytes = 0;
  int64_t reportedBytes = 0;  // what V8 was told of liveBytes (ReportExternal in core.cc)
  std::unordered_map<const void*, StorageCount> storages;
  std::deque<Handle> slots;  // a deque keeps slot addresses stable as it grows
  std::vector<uint32_t> freeSlots;
};
AddonData* Data(Napi::Env env);

// ---- dtype / device codes shared with src/tensor/dtype.ts ----
at::ScalarType DtypeFromCode(int code);
int CodeFromDtype(at::ScalarType t);
at::Device DeviceFromString(const std::string& s);

// ---- wrapping ----
Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);
void ReleaseHandle(Napi::Env env, Handle* h);

// ---- argument readers (throw ArgError with the position on a mismatch) ----
bool IsTensor(const Napi::Value& v);
at::Tensor& TensorArg(const Napi::CallbackInfo& info, size_t i);
at::Tensor TensorOrScalarArg(const Napi::CallbackInfo& info, size_t i, const at::Tensor* like);
std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> OptionalTensorListArg(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::Tensor> OptionalTensorArg(const Napi::CallbackInfo& info, size_t i);
at::Scalar ScalarArg(const Napi::CallbackInfo& info, size_t i);
c10::optional<at::Scalar> OptionalScalarArg(const Napi::CallbackInfo& info, size_t i);
int64_t IntArg(const Napi::CallbackInfo& info, size_t i);
c10::optional<int64_t> OptionalIntArg(const Napi::CallbackInfo& info, size_t i);
double DoubleArg(const Napi::CallbackInfo& info, size_t i);
bool BoolArg(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i);
c10::optional<std::vector<int64_t>> OptionalIntListArg(const Napi::CallbackInfo& info, size_t i);
std::string StringArg(const Napi::CallbackInfo& info, size_t i);

// Describes the call's inputs for an error message: "float32[2,3], int64[4], 1.5".
std::string DescribeInputs(const Napi::CallbackInfo& info, size_t skip = 0);
std::string DtypeName(at::ScalarType t);

// The guard: every exported function runs its body through it.
using Body = std::function<Napi::Value(const Napi::CallbackInfo&)>;
Napi::Value Guarded(const Napi::CallbackInfo& info, const char* op, const Body& body, size_t skip = 0);

// Registers `name` on `exports`, wrapped in the guard.
void Export(Napi::Env env, Napi::Object exports, const char* name, Body body);

// Whether this libtorch has at::scaled_dot_product_attention (ops.cc).
bool HasSdpa();

// Attention's scale, mask and float32 softmax in one pass over raw scores q k^T [b, nkv, rep, s, t] (fused.cc):
// whether it takes these scores (CPU, float32 or bfloat16, contiguous) and mask ([1 or b, 1, s, t] bool, or none);
// the probabilities in the scores' dtype; and the raw scores' gradient for the probabilities' gradient `gp`.
bool AttentionSoftmaxApplies(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked);
at::Tensor AttentionSoftmax(const at::Tensor& raw, const c10::optional<at::Tensor>& blocked, double scale);
at::Tensor AttentionSoftmaxBackward(const at::Tensor& raw, const at::Tensor& gp, const c10::optional<at::Tensor>& blocked, double scale);

// Registration functions of each translation unit.
void InitCore(Napi::Env env, Napi::Object exports);
void InitOps(Napi::Env env, Napi::Object exports);
void InitShape(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);

}  // namespace bfpo
