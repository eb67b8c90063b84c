// The libtorch operator profiler, for `npm run bench -- profile`: between profileStart(file) and profileStop() every
// aten operator call (forward and backward) is recorded with its wall time; profileStop writes them to `file` as a
// Chrome trace (JSON events with name, start and duration in microseconds).
#include "common.h"
#include <torch/csrc/autograd/profiler_legacy.h>
#include <memory>

namespace bfpo {
namespace {
std::unique_ptr<torch::autograd::profiler::RecordProfile> g_profile;
}  // namespace

void InitProfile(Napi::Env env, Napi::Object exports) {
  // profileStart(file): starts recording; an error if a recording is already running.
  Export(env, exports, "profileStart", [](const Napi::CallbackInfo& info) {
    if (g_profile) throw ArgError("a profile is already being recorded; call profileStop first");
    g_profile = std::make_unique<torch::autograd::profiler::RecordProfile>(StringArg(info, 0));
    return info.Env().Undefined();
  });
  // profileStop(): stops recording and writes the trace file (nothing when no recording runs).
  Export(env, exports, "profileStop", [](const Napi::CallbackInfo& info) {
    g_profile.reset();
    return info.Env().Undefined();
  });
}

}  // namespace bfpo
