// Handles, the guard, creation, bytes in/out, metadata, autograd switches, RNG, threads and devices.
#include <ATen/Parallel.h>
#include <ATen/ScalarOps.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <link.h>

#include <cstring>
#include <sstream>

#include "common.h"

namespace bfpo { std::pair<size_t, size_t> ReleaseIdleHostBlocks(); std::pair<size_t, size_t> HostAllocatorCounters(); }  // alloc.cc

namespace bfpo {

AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

// ---------------------------------------------------------------------------------------------- codes
static const at::ScalarType kDtypes[] = {
    at::kFloat, at::kHalf, at::kBFloat16, at::kDouble, at::kLong, at::kInt, at::kBool, at::kByte, at::kChar,
    at::kShort};
static const char* kDtypeNames[] = {"float32", "float16", "bfloat16", "float64", "int64",
                                    "int32",   "bool",    "uint8",    "int8",    "int16"};
constexpr int kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);

at::ScalarType DtypeFromCode(int code) {
  if (code < 0 || code >= kNumDtypes) throw ArgError("unknown dtype code " + std::to_string(code));
  return kDtypes[code];
}
int CodeFromDtype(at::ScalarType t) {
  for (int i = 0; i < kNumDtypes; i++)
    if (kDtypes[i] == t) return i;
  throw ArgError(std::string("unsupported dtype ") + c10::toString(t));
}
std::string DtypeName(at::ScalarType t) {
  for (int i = 0; i < kNumDtypes; i++)
    if (kDtypes[i] == t) return kDtypeNames[i];
  return c10::toString(t);
}
at::Device DeviceFromString(const std::string& s) { return at::Device(s); }

// A dtype argument: its name ('float32', as in src/tensor/dtype.ts), so error messages show it, or its code.
static at::ScalarType DtypeArg(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsString()) {
    std::string name = info[i].As<Napi::String>().Utf8Value();
    for (int k = 0; k < kNumDtypes; k++)
      if (name == kDtypeNames[k]) return kDtypes[k];
    throw ArgError("unknown dtype '" + name + "'");
  }
  return DtypeFromCode(static_cast<int>(IntArg(info, i)));
}

// ---------------------------------------------------------------------------------------------- wrapping
// Tells V8 how much host memory tensors hold, so that unreachable tensors' memory counts towards its collections.
// V8 starts a full marking each time the reported amount grows by 64 MiB over its level at the last collection,
// and a training step allocates and frees gigabytes: reported byte for byte, that was a full collection every
// few hundred milliseconds (190 in an 80 s run of a 120M model, a few percent of its CPU time, with nothing to
// collect). So the report is the high-water mark of the live bytes: a new peak (a growing leak among them) is
// reported and can start a collection; the same working set freed and allocated again is not. It comes down to the
// live bytes at a full `releaseFreeHostMemory()` (after an evaluation or a checkpoint, or when a user frees a model).
static void ReportExternal(Napi::Env env, AddonData* d, bool lower = false) {
  int64_t target = d->liveBytes > d->reportedBytes || lower ? d->liveBytes : d->reportedBytes;
  if (target == d->reportedBytes) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, target - d->reportedBytes);
  d->reportedBytes = target;
}

// Counts `h`'s host storage: the first handle on a storage reports its bytes to V8, later ones only add a reference.
static void CountStorage(Napi::Env env, AddonData* d, Handle* h) {
  const at::Tensor& t = h->t;
  if (!t.device().is_cpu() || !t.has_storage()) return;
  h->storage = t.storage().unsafeGetStorageImpl();
  StorageCount& c = d->storages[h->storage];
  if (c.handles++ > 0) return;
  c.bytes = static_cast<int64_t>(t.storage().nbytes());
  d->liveBytes += c.bytes;
  ReportExternal(env, d);
}

static void UncountStorage(Napi::Env env, AddonData* d, Handle* h) {
  if (!h->storage) return;
  auto it = d->storages.find(h->storage);
  h->storage = nullptr;
  if (it == d->storages.end() || --it->second.handles > 0) return;
  d->liveBytes -= it->second.bytes;
  ReportExternal(env, d);
  d->storages.erase(it);
}

// An External's pointer value: slot index in the high 32 bits, generation in bits 4..31, and a tag in the low 4
// bits that no real (aligned) pointer has.
constexpr uintptr_t kTag = 0xB;
constexpr uint32_t kGenMask = 0x0FFFFFFF;

static void* Pack(const Handle& h) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(h.index) << 32) | (static_cast<uintptr_t>(h.gen) << 4) | kTag);
}

void ReleaseHandle(Napi::Env env, Handle* h) {
  if (!h->t.defined()) return;
  AddonData* d = Data(env);
  d->liveHandles--;
  UncountStorage(env, d, h);
  h->t = at::Tensor();
  h->gen = (h->gen + 1) & kGenMask;
  d->freeSlots.push_back(h->index);
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  AddonData* d = Data(env);
  Handle* h;
  if (!d->freeSlots.empty()) {
    h = &d->slots[d->freeSlots.back()];
    d->freeSlots.pop_back();
  } else {
    if (d->slots.size() > 0xFFFFFFFFu) throw ArgError("too many live tensors");
    d->slots.emplace_back();
    h = &d->slots.back();
    h->index = static_cast<uint32_t>(d->slots.size() - 1);
  }
  h->t = std::move(t);
  d->liveHandles++;
  CountStorage(env, d, h);
  return Napi::External<void>::New(env, Pack(*h));
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) arr.Set(i, Wrap(env, ts[i]));
  return arr;
}

// ---------------------------------------------------------------------------------------------- arguments
static std::string Pos(size_t i) { return "argument " + std::to_string(i); }

// The handle behind a JS value: null when it is not a tensor, an empty handle when its tensor was disposed.
static Handle* HandleOf(const Napi::Value& v) {
  static Handle disposed;
  if (!v.IsExternal()) return nullptr;
  auto p = reinterpret_cast<uintptr_t>(v.As<Napi::External<void>>().Data());
  if ((p & 0xF) != kTag) return nullptr;
  AddonData* d = Data(v.Env());
  uint64_t index = p >> 32;
  if (index >= d->slots.size()) return nullptr;
  Handle& h = d->slots[index];
  return h.gen == ((p >> 4) & kGenMask) ? &h : &disposed;
}

bool IsTensor(const Napi::Value& v) { return HandleOf(v) != nullptr; }

static at::Tensor& TensorOf(const Napi::Value& v, const std::string& where) {
  Handle* h = HandleOf(v);
  if (!h) throw ArgError(where + " must be a tensor");
  if (!h->t.defined()) throw ArgError(where + " is a tensor that was already disposed");
  return h->t;
}

at::Tensor& TensorArg(const Napi::CallbackInfo& info, size_t i) { return TensorOf(info[i], Pos(i)); }

c10::optional<at::Tensor> OptionalTensorArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return c10::nullopt;
  return TensorArg(info, i);
}

static at::Scalar ScalarOf(const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) {
    double x = v.As<Napi::Number>().DoubleValue();
    // A JS integer behaves like a Python int (keeps integer tensors integral); anything else like a float.
    // -0 stays a float so that its sign survives (t * -0.0 is -0 for positive t).
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9007199254740992.0 && !(x == 0 && std::signbit(x)))
      return at::Scalar(static_cast<int64_t>(x));
    return at::Scalar(x);
  }
  if (v.IsBigInt()) {
    bool lossless;
    return at::Scalar(static_cast<int64_t>(v.As<Napi::BigInt>().Int64Value(&lossless)));
  }
  throw ArgError(where + " must be a number or boolean");
}

at::Scalar ScalarArg(const Napi::CallbackInfo& info, size_t i) { return ScalarOf(info[i], Pos(i)); }

c10::optional<at::Scalar> OptionalScalarArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return c10::nullopt;
  return ScalarArg(info, i);
}

at::Tensor TensorOrScalarArg(const Napi::CallbackInfo& info, size_t i, const at::Tensor* like) {
  if (IsTensor(info[i])) return TensorArg(info, i);
  at::Scalar s = ScalarArg(info, i);
  // A wrapped number takes part in type promotion like a Python scalar does.
  at::Tensor t = c10::scalar_to_tensor(s, like ? like->device() : at::Device(at::kCPU));
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

std::vector<at::Tensor> TensorListArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(Pos(i) + " must be an array of tensors");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++)
    out.push_back(TensorOf(arr.Get(k), Pos(i) + "[" + std::to_string(k) + "]"));
  return out;
}

std::vector<at::Tensor> OptionalTensorListArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(Pos(i) + " must be an array of tensors or nulls");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNull() && !v.IsUndefined()) out[k] = TensorOf(v, Pos(i) + "[" + std::to_string(k) + "]");
  }
  return out;
}

int64_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (!info[i].IsNumber()) throw ArgError(Pos(i) + " must be an integer");
  double x = info[i].As<Napi::Number>().DoubleValue();
  if (x != std::floor(x)) throw ArgError(Pos(i) + " must be an integer");
  return static_cast<int64_t>(x);
}

c10::optional<int64_t> OptionalIntArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return c10::nullopt;
  return IntArg(info, i);
}

double DoubleArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw ArgError(Pos(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsBoolean()) throw ArgError(Pos(i) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> IntListArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArray()) throw ArgError(Pos(i) + " must be an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw ArgError(Pos(i) + "[" + std::to_string(k) + "] must be an integer");
    out[k] = static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
  }
  return out;
}

c10::optional<std::vector<int64_t>> OptionalIntListArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return c10::nullopt;
  return IntListArg(info, i);
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw ArgError(Pos(i) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

static void DescribeValue(std::ostringstream& os, const Napi::Value& v, int depth) {
  if (Handle* h = HandleOf(v)) {
    if (!h->t.defined()) {
      os << "<disposed tensor>";
      return;
    }
    os << DtypeName(h->t.scalar_type()) << "[";
    for (int64_t d = 0; d < h->t.dim(); d++) os << (d ? "," : "") << h->t.size(d);
    os << "]";
    if (!h->t.device().is_cpu()) os << "@" << h->t.device().str();
  } else if (v.IsBuffer()) {
    os << "Buffer(" << v.As<Napi::Buffer<uint8_t>>().Length() << " bytes)";
  } else if (v.IsTypedArray()) {
    os << "TypedArray(" << v.As<Napi::TypedArray>().ByteLength() << " bytes)";
  } else if (v.IsArrayBuffer()) {
    os << "ArrayBuffer(" << v.As<Napi::ArrayBuffer>().ByteLength() << " bytes)";
  } else if (v.IsNumber()) {
    os << v.As<Napi::Number>().DoubleValue();
  } else if (v.IsBoolean()) {
    os << (v.As<Napi::Boolean>().Value() ? "true" : "false");
  } else if (v.IsString()) {
    os << "'" << v.As<Napi::String>().Utf8Value() << "'";
  } else if (v.IsArray() && depth < 1) {
    auto arr = v.As<Napi::Array>();
    os << "(";
    for (uint32_t k = 0; k < arr.Length() && k < 8; k++) {
      if (k) os << ", ";
      DescribeValue(os, arr.Get(k), depth + 1);
    }
    if (arr.Length() > 8) os << ", ...";
    os << ")";
  } else if (v.IsNull() || v.IsUndefined()) {
    os << "none";
  } else {
    os << "?";
  }
}

std::string DescribeInputs(const Napi::CallbackInfo& info, size_t skip) {
  std::ostringstream os;
  for (size_t i = skip; i < info.Length(); i++) {
    if (i > skip) os << ", ";
    DescribeValue(os, info[i], 0);
  }
  return os.str();
}

// ---------------------------------------------------------------------------------------------- guard
static void ThrowTorchError(const Napi::CallbackInfo& info, const char* op, const std::string& msg, size_t skip) {
  Napi::Env env = info.Env();
  std::string inputs = DescribeInputs(info, skip);
  std::string full = std::string(op) + "(" + inputs + "): " + msg;
  AddonData* d = Data(env);
  Napi::Object err;
  if (d && !d->errorClass.IsEmpty()) {
    err = d->errorClass.New({Napi::String::New(env, full)});
  } else {
    err = Napi::Error::New(env, full).Value();
  }
  err.Set("op", Napi::String::New(env, op));
  err.Set("inputs", Napi::String::New(env, inputs));
  err.Set("detail", Napi::String::New(env, msg));
  Napi::Error(env, err).ThrowAsJavaScriptException();
}

Napi::Value Guarded(const Napi::CallbackInfo& info, const char* op, const Body& body, size_t skip) {
  try {
    return body(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    auto nl = msg.find("\nException raised from");
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    // Some messages append long tables (the dispatcher's list of backends); the first paragraph says what failed.
    auto para = msg.find("\n\n");
    if (para != std::string::npos) msg = msg.substr(0, para);
    ThrowTorchError(info, op, msg, skip);
  } catch (const std::exception& e) {
    ThrowTorchError(info, op, e.what(), skip);
  } catch (...) {
    ThrowTorchError(info, op, "unknown C++ exception", skip);
  }
  return info.Env().Undefined();
}

void Export(Napi::Env env, Napi::Object exports, const char* name, Body body) {
  std::string op(name);
  exports.Set(name, Napi::Function::New(
                        env,
                        [op, body](const Napi::CallbackInfo& info) -> Napi::Value {
                          return Guarded(info, op.c_str(), body);
                        },
                        name));
}

// ---------------------------------------------------------------------------------------------- creation
static at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t deviceIdx) {
  at::TensorOptions o;
  o = o.dtype(DtypeArg(info, dtypeIdx));
  o = o.device(DeviceFromString(StringArg(info, deviceIdx)));
  return o;
}

// The default generator of the device named by argument i (a string), or of the CPU when it is absent.
static at::Generator GeneratorOf(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsString()) {
    at::Device d = DeviceFromString(StringArg(info, i));
    if (!d.is_cpu()) return at::globalContext().defaultGenerator(d);
  }
  return at::detail::getDefaultCPUGenerator();
}

// The CUDA runtime's cudaMemGetInfo, found in the libcudart that libtorch_cuda loaded (no CUDA headers needed, so
// the addon builds against any libtorch); null when no CUDA runtime is loaded.
using MemGetInfoFn = int (*)(size_t*, size_t*);
using DeviceFn = int (*)(int);
using GetDeviceFn = int (*)(int*);
struct CudaRuntime {
  MemGetInfoFn memGetInfo = nullptr;
  DeviceFn setDevice = nullptr;
  GetDeviceFn getDevice = nullptr;
};
static int FindCudart(struct dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_name && std::strstr(info->dlpi_name, "libcudart")) {
    *static_cast<std::string*>(out) = info->dlpi_name;
    return 1;
  }
  return 0;
}
static const CudaRuntime& Cudart() {
  static CudaRuntime rt = [] {
    CudaRuntime r;
    void* self = RTLD_DEFAULT;
    std::string path;
    dl_iterate_phdr(FindCudart, &path);
    if (!path.empty()) {
      if (void* h = dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD)) self = h;
    }
    r.memGetInfo = reinterpret_cast<MemGetInfoFn>(dlsym(self, "cudaMemGetInfo"));
    r.setDevice = reinterpret_cast<DeviceFn>(dlsym(self, "cudaSetDevice"));
    r.getDevice = reinterpret_cast<GetDeviceFn>(dlsym(self, "cudaGetDevice"));
    return r;
  }();
  return rt;
}

// Bytes of one element of `t`'s dtype.
static size_t ElementSize(at::ScalarType t) { return c10::elementSize(t); }

void InitCore(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "setErrorClass", [](const Napi::CallbackInfo& info) {
    Data(info.Env())->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  });
  Export(env, exports, "dispose", [](const Napi::CallbackInfo& info) {
    Handle* h = HandleOf(info[0]);
    if (!h) throw ArgError("argument 0 must be a tensor");
    ReleaseHandle(info.Env(), h);
    return info.Env().Undefined();
  });
  // setData(t, src): t takes src's storage, dtype, device and shape but keeps its identity (autograd leaf,
  // requires_grad), like `param.data = src` in PyTorch. Used to move module parameters in place.
  Export(env, exports, "setData", [](const Napi::CallbackInfo& info) {
    Handle* h = HandleOf(info[0]);
    if (!h || !h->t.defined()) throw ArgError("argument 0 must be a tensor that is not disposed");
    at::Tensor src = TensorArg(info, 1);
    AddonData* d = Data(info.Env());
    UncountStorage(info.Env(), d, h);
    h->t.set_data(src);
    CountStorage(info.Env(), d, h);
    return info.Env().Undefined();
  });
  Export(env, exports, "isDisposed", [](const Napi::CallbackInfo& info) {
    Handle* h = HandleOf(info[0]);
    return Napi::Boolean::New(info.Env(), !h || !h->t.defined());
  });
  Export(env, exports, "stats", [](const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    AddonData* d = Data(info.Env());
    o.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(d->liveHandles)));
    o.Set("hostBytes", Napi::Number::New(info.Env(), static_cast<double>(d->liveBytes)));
    auto [mapped, reused] = HostAllocatorCounters();
    o.Set("hostMappedBytes", Napi::Number::New(info.Env(), static_cast<double>(mapped)));
    o.Set("hostReusedBlocks", Napi::Number::New(info.Env(), static_cast<double>(reused)));
    return o;
  });
  // Gives the C allocator's free memory back to the system (glibc: malloc_trim, which also releases the free pages
  // inside the heap, not only at its top). Returns false where the C library offers no such call.
  // Also returns the host allocator's idle large blocks (alloc.cc).
  // With argument 0 true, the host allocator's idle blocks are kept (they are bounded by the peak in use).
  Export(env, exports, "releaseFreeHostMemory", [](const Napi::CallbackInfo& info) {
    if (!(info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value())) {
      ReleaseIdleHostBlocks();
      ReportExternal(info.Env(), Data(info.Env()), /*lower=*/true);
    }
#if defined(__GLIBC__)
    malloc_trim(0);
    return Napi::Boolean::New(info.Env(), true);
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
  });
  Export(env, exports, "buildInfo", [](const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    o.Set("torchVersion", Napi::String::New(info.Env(), TORCH_VERSION));
    o.Set("config", Napi::String::New(info.Env(), at::show_config()));
    o.Set("parallel", Napi::String::New(info.Env(), at::get_parallel_info()));
    return o;
  });

  // ---- creation: (shape, dtype, device, ...) ----
  Export(env, exports, "empty", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::empty(IntListArg(info, 0), Options(info, 1, 2)));
  });
  Export(env, exports, "zeros", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::zeros(IntListArg(info, 0), Options(info, 1, 2)));
  });
  Export(env, exports, "ones", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::ones(IntListArg(info, 0), Options(info, 1, 2)));
  });
  Export(env, exports, "full", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::full(IntListArg(info, 0), ScalarArg(info, 3), Options(info, 1, 2)));
  });
  Export(env, exports, "randn", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::randn(IntListArg(info, 0), Options(info, 1, 2)));
  });
  Export(env, exports, "rand", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::rand(IntListArg(info, 0), Options(info, 1, 2)));
  });
  Export(env, exports, "randint", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::randint(IntArg(info, 3), IntArg(info, 4), IntListArg(info, 0), Options(info, 1, 2)));
  });
  // arange(start, end, step, dtype, device)
  Export(env, exports, "arange", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::arange(ScalarArg(info, 0), ScalarArg(info, 1), ScalarArg(info, 2), Options(info, 3, 4)));
  });
  // like-creation: (t, kind) kind 0 zeros, 1 ones, 2 empty, 3 randn, 4 rand
  Export(env, exports, "like", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    switch (IntArg(info, 1)) {
      case 0: return Wrap(info.Env(), at::zeros_like(t));
      case 1: return Wrap(info.Env(), at::ones_like(t));
      case 2: return Wrap(info.Env(), at::empty_like(t));
      case 3: return Wrap(info.Env(), at::randn_like(t));
      case 4: return Wrap(info.Env(), at::rand_like(t));
    }
    throw ArgError("unknown like-kind");
  });

  // fromBytes(buffer|typedarray, byteOffset, byteLength, shape, dtype, device): one copy into libtorch-owned memory.
  Export(env, exports, "fromBytes", [](const Napi::CallbackInfo& info) {
    const uint8_t* base = nullptr;
    size_t total = 0;
    if (info[0].IsArrayBuffer()) {
      auto ab = info[0].As<Napi::ArrayBuffer>();
      base = static_cast<const uint8_t*>(ab.Data());
      total = ab.ByteLength();
    } else if (info[0].IsTypedArray()) {
      auto ta = info[0].As<Napi::TypedArray>();
      base = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      total = ta.ByteLength();
    } else {
      throw ArgError("argument 0 must be a Buffer, TypedArray or ArrayBuffer");
    }
    int64_t offset = IntArg(info, 1), length = IntArg(info, 2);
    std::vector<int64_t> shape = IntListArg(info, 3);
    at::ScalarType dt = DtypeArg(info, 4);
    int64_t numel = 1;
    for (int64_t s : shape) {
      if (s < 0) throw ArgError("shape has a negative size");
      numel *= s;
    }
    if (offset < 0 || length < 0 || static_cast<size_t>(offset + length) > total)
      throw ArgError("byte range [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                     ") lies outside the buffer of " + std::to_string(total) + " bytes");
    if (static_cast<size_t>(numel) * ElementSize(dt) != static_cast<size_t>(length))
      throw ArgError("shape holds " + std::to_string(numel) + " elements of " + DtypeName(dt) + " = " +
                     std::to_string(numel * ElementSize(dt)) + " bytes, but the byte range has " +
                     std::to_string(length));
    // Argument 6 (optional): the dtype to convert to while copying, with no intermediate tensor of the stored dtype.
    at::ScalarType as = info.Length() > 6 && !info[6].IsUndefined() ? DtypeArg(info, 6) : dt;
    at::Tensor t;
    if (as != dt && numel > 0) {
      t = at::from_blob(const_cast<uint8_t*>(base + offset), shape, at::TensorOptions().dtype(dt)).to(as, /*non_blocking=*/false, /*copy=*/true);
    } else {
      t = at::empty(shape, at::TensorOptions().dtype(as));
      if (length) std::memcpy(t.data_ptr(), base + offset, static_cast<size_t>(length));
    }
    at::Device dev = DeviceFromString(StringArg(info, 5));
    if (!dev.is_cpu()) t = t.to(dev);
    return Wrap(info.Env(), t);
  });

  // toBytes(t): a Buffer with the raw little-endian bytes of the tensor (contiguous, on CPU).
  Export(env, exports, "toBytes", [](const Napi::CallbackInfo& info) {
    const at::Tensor& src = TensorArg(info, 0);
    at::Tensor t = src.detach();
    if (!t.device().is_cpu()) t = t.cpu();
    t = t.contiguous();
    // The Buffer must not share memory with the tensor, which later in-place ops may change: copy once when
    // neither the device move nor contiguous() already did.
    if (t.is_alias_of(src)) t = t.clone();
    size_t n = t.nbytes();
    // The buffer keeps a reference to the tensor, so no second copy is made.
    auto* keep = new at::Tensor(t);
    if (n == 0) {
      delete keep;
      return Napi::Buffer<uint8_t>::New(info.Env(), 0).As<Napi::Value>();
    }
    return Napi::Buffer<uint8_t>::New(info.Env(), static_cast<uint8_t*>(t.data_ptr()), n,
                                      [](Napi::Env, uint8_t*, at::Tensor* k) { delete k; }, keep)
        .As<Napi::Value>();
  });

  // ---- metadata ----
  Export(env, exports, "shape", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    auto arr = Napi::Array::New(info.Env(), t.dim());
    for (int64_t d = 0; d < t.dim(); d++) arr.Set(static_cast<uint32_t>(d), Napi::Number::New(info.Env(), t.size(d)));
    return arr;
  });
  Export(env, exports, "dtype", [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), CodeFromDtype(TensorArg(info, 0).scalar_type()));
  });
  Export(env, exports, "device", [](const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), TensorArg(info, 0).device().str());
  });
  Export(env, exports, "numel", [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(TensorArg(info, 0).numel()));
  });
  Export(env, exports, "item", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    if (t.numel() != 1) throw ArgError("item() needs a tensor with one element, got " + std::to_string(t.numel()));
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool()).As<Napi::Value>();
    if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong())).As<Napi::Value>();
    return Napi::Number::New(info.Env(), s.toDouble()).As<Napi::Value>();
  });
  Export(env, exports, "toDtype", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).to(DtypeArg(info, 1)));
  });
  Export(env, exports, "toDevice", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).to(DeviceFromString(StringArg(info, 1))));
  });
  Export(env, exports, "isContiguous", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), TensorArg(info, 0).is_contiguous());
  });

  // ---- autograd ----
  Export(env, exports, "requiresGrad", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), TensorArg(info, 0).requires_grad());
  });
  Export(env, exports, "setRequiresGrad", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).set_requires_grad(BoolArg(info, 1));
    return info.Env().Undefined();
  });
  Export(env, exports, "isLeaf", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), TensorArg(info, 0).is_leaf());
  });
  Export(env, exports, "grad", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).grad());
  });
  Export(env, exports, "setGrad", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    auto g = OptionalTensorArg(info, 1);
    t.mutable_grad() = g ? *g : at::Tensor();
    return info.Env().Undefined();
  });
  // backward(t, gradient|null, retainGraph)
  Export(env, exports, "backward", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    auto g = OptionalTensorArg(info, 1);
    bool retain = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    t.backward(g ? *g : at::Tensor(), retain);
    return info.Env().Undefined();
  });
  Export(env, exports, "detach", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).detach());
  });
  Export(env, exports, "setGradEnabled", [](const Napi::CallbackInfo& info) {
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(BoolArg(info, 0));
    return Napi::Boolean::New(info.Env(), prev);
  });
  Export(env, exports, "isGradEnabled", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
  });
  // Inference mode is a thread-local RAII guard; JS callbacks are synchronous, so enter/exit pair up in order.
  Export(env, exports, "enterInferenceMode", [](const Napi::CallbackInfo& info) {
    auto* guard = new c10::InferenceMode(true);
    return Napi::External<c10::InferenceMode>::New(info.Env(), guard).As<Napi::Value>();
  });
  Export(env, exports, "exitInferenceMode", [](const Napi::CallbackInfo& info) {
    delete info[0].As<Napi::External<c10::InferenceMode>>().Data();
    return info.Env().Undefined();
  });
  Export(env, exports, "isInferenceMode", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), c10::InferenceMode::is_enabled());
  });

  // ---- RNG, threads, devices ----
  Export(env, exports, "manualSeed", [](const Napi::CallbackInfo& info) {
    uint64_t seed = static_cast<uint64_t>(IntArg(info, 0));
    at::manual_seed(seed);
    return info.Env().Undefined();
  });
  // getRngState(device?) / setRngState(state, device?): the default generator of the CPU, or of a CUDA device.
  Export(env, exports, "getRngState", [](const Napi::CallbackInfo& info) {
    auto gen = GeneratorOf(info, 0);
    std::lock_guard<std::mutex> lock(gen.mutex());
    return Wrap(info.Env(), gen.get_state());
  });
  Export(env, exports, "setRngState", [](const Napi::CallbackInfo& info) {
    auto gen = GeneratorOf(info, 1);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(TensorArg(info, 0));
    return info.Env().Undefined();
  });
  Export(env, exports, "setNumThreads", [](const Napi::CallbackInfo& info) {
    at::set_num_threads(static_cast<int>(IntArg(info, 0)));
    return info.Env().Undefined();
  });
  Export(env, exports, "getNumThreads", [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), at::get_num_threads());
  });
  Export(env, exports, "cudaIsAvailable", [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
  });
  Export(env, exports, "cudaDeviceCount", [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
  });
  // Whether the addon was linked against libtorch's CUDA libraries (a CPU-only libtorch has none).
  Export(env, exports, "cudaCompiled", [](const Napi::CallbackInfo& info) {
#ifdef BFPO_WITH_CUDA
    return Napi::Boolean::New(info.Env(), true);
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
  });
  // The fast paths this libtorch has: scaled_dot_product_attention (2.0), fused AdamW (CUDA 2.0, CPU 2.4).
  Export(env, exports, "fastPaths", [](const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    o.Set("sdpa", Napi::Boolean::New(info.Env(), HasSdpa()));
    o.Set("fusedAdamwCuda", Napi::Boolean::New(info.Env(), TORCH_VERSION_MAJOR >= 2));
    o.Set("fusedAdamwCpu", Napi::Boolean::New(info.Env(), TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)));
    return o;
  });
  // cudaMemoryInfo(index) -> {free, total} bytes of a CUDA device as the driver sees them (every process, and
  // libtorch's cached blocks count as used), or null without a CUDA runtime.
  Export(env, exports, "cudaMemoryInfo", [](const Napi::CallbackInfo& info) -> Napi::Value {
    const CudaRuntime& rt = Cudart();
    if (!rt.memGetInfo || !rt.setDevice || !rt.getDevice || !torch::cuda::is_available()) return info.Env().Null();
    int index = static_cast<int>(IntArg(info, 0)), previous = 0;
    size_t freeBytes = 0, totalBytes = 0;
    if (rt.getDevice(&previous) != 0 || rt.setDevice(index) != 0) throw ArgError("cannot select CUDA device " + std::to_string(index));
    int rc = rt.memGetInfo(&freeBytes, &totalBytes);
    rt.setDevice(previous);
    if (rc != 0) throw ArgError("cudaMemGetInfo failed with CUDA error " + std::to_string(rc));
    auto o = Napi::Object::New(info.Env());
    o.Set("free", Napi::Number::New(info.Env(), static_cast<double>(freeBytes)));
    o.Set("total", Napi::Number::New(info.Env(), static_cast<double>(totalBytes)));
    return o;
  });
  Export(env, exports, "cudaManualSeedAll", [](const Napi::CallbackInfo& info) {
    torch::cuda::manual_seed_all(static_cast<uint64_t>(IntArg(info, 0)));
    return info.Env().Undefined();
  });
  Export(env, exports, "cudaSynchronize", [](const Napi::CallbackInfo& info) {
    torch::cuda::synchronize();
    return info.Env().Undefined();
  });
}

}  // namespace bfpo

namespace bfpo { void InitSignals(Napi::Env env, Napi::Object exports); }  // signals.cc
namespace bfpo { void InitDist(Napi::Env env, Napi::Object exports); }  // dist.cc
namespace bfpo { void InitProfile(Napi::Env env, Napi::Object exports); }  // profile.cc
namespace bfpo { void InitBpe(Napi::Env env, Napi::Object exports); }  // bpe.cc
namespace bfpo { void InitLogprob(Napi::Env env, Napi::Object exports); }  // logprob.cc
namespace bfpo { void InitFused(Napi::Env env, Napi::Object exports); }  // fused.cc
namespace bfpo { bool InstallHostAllocator(); }  // alloc.cc

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new bfpo::AddonData());
  static const bool hostAllocator = bfpo::InstallHostAllocator();  // once per process, before any tensor is made
  exports.Set("hostAllocator", Napi::String::New(env, hostAllocator ? "bfpo" : "system"));
  bfpo::InitCore(env, exports);
  bfpo::InitOps(env, exports);
  bfpo::InitShape(env, exports);
  bfpo::InitOptim(env, exports);
  bfpo::InitSignals(env, exports);
  bfpo::InitDist(env, exports);
  bfpo::InitProfile(env, exports);
  bfpo::InitBpe(env, exports);
  bfpo::InitLogprob(env, exports);
  bfpo::InitFused(env, exports);
  return exports;
}

NODE_API_MODULE(bfpo, InitAll)
