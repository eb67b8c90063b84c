// Graceful stop for synchronous training loops: SIGINT/SIGTERM handlers that only count signals (JavaScript
// polls the count between steps, since Node's own signal events cannot run inside a synchronous loop); a second
// signal ends the process at once. No libtorch here.
#include <napi.h>
#include <atomic>
#include <csignal>
#include <cstring>
#include <unistd.h>

namespace bfpo {
namespace {

std::atomic<int> g_count{0};
std::atomic<int> g_last{0};
struct sigaction g_prev_int, g_prev_term;
bool g_installed = false;

void OnSignal(int sig) {
  int before = g_count.fetch_add(1);
  g_last.store(sig);
  if (before >= 1) {
    static const char msg[] = "\nbfpo: second signal, exiting now (checkpoints already written are intact)\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + sig);
  }
  static const char msg[] = "\nbfpo: stopping after the current step and writing a checkpoint (send the signal again to exit at once)\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

void InitSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("installStopSignals", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (!g_installed) {
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_handler = OnSignal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction(SIGINT, &sa, &g_prev_int);
      sigaction(SIGTERM, &sa, &g_prev_term);
      g_installed = true;
    }
    g_count.store(0);
    g_last.store(0);
    return info.Env().Undefined();
  }));
  exports.Set("uninstallStopSignals", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (g_installed) {
      sigaction(SIGINT, &g_prev_int, nullptr);
      sigaction(SIGTERM, &g_prev_term, nullptr);
      g_installed = false;
    }
    return info.Env().Undefined();
  }));
  // [count, last signal number]
  exports.Set("stopSignals", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(uint32_t(0), Napi::Number::New(info.Env(), g_count.load()));
    out.Set(uint32_t(1), Napi::Number::New(info.Env(), g_last.load()));
    return out;
  }));
}

}  // namespace bfpo
