// Multi-process communication through libtorch's own distributed library (c10d): a TCPStore for the rendezvous and
// a ProcessGroupGloo for the collectives on CPU tensors. Only API shared by libtorch 1.13 and 2.x is used. Built
// when the c10d and Gloo headers are present (BFPO_WITH_GLOO); otherwise `distInfo` says why it is missing.
#include "common.h"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#ifdef BFPO_WITH_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>

#include <mutex>
#endif

namespace bfpo {

#ifdef BFPO_WITH_GLOO
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int size = 1;
};

std::unordered_map<int64_t, Group> g_groups;
int64_t g_next = 1;

Group& GroupArg(const Napi::CallbackInfo& info, size_t i) {
  int64_t id = IntArg(info, i);
  auto it = g_groups.find(id);
  if (it == g_groups.end()) throw ArgError("process group " + std::to_string(id) + " is not open (destroyed or never created)");
  return it->second;
}

std::vector<uint8_t> BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsBuffer()) throw ArgError("argument " + std::to_string(i) + " must be a Buffer");
  auto b = info[i].As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(b.Data(), b.Data() + b.Length());
}

// Waits for `work`; its failure (a peer that died, a timeout) surfaces as the exception of the guard.
template <typename W>
void Wait(W& work) {
  work->wait();
}

// Gradient all-reduce overlapped with the backward pass. The trainable parameters are grouped into buckets (in
// reverse order: the last layers' gradients are ready first); a post-hook on each parameter's gradient accumulator
// marks it ready once its gradient is final for this backward, and the bucket whose parameters are all ready is
// flattened and all-reduced asynchronously (Gloo runs it on its own threads while the backward goes on). `Finish`
// launches what never became ready (unused parameters count as zeros), waits, and copies the sums back into the
// gradients. A parameter whose accumulator runs twice while armed (several backward calls) invalidates the early
// launches: `Finish` then waits for them, discards them and reduces every bucket again from the final gradients.
struct Overlap {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int size = 1;
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // keep the accumulators, and so the hooks, alive
  std::vector<std::vector<size_t>> buckets;
  std::vector<size_t> bucketOf;
  std::vector<int64_t> pending;
  std::vector<bool> ready;
  std::vector<at::Tensor> bufs;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::vector<int64_t> order;  // buckets in launch order
  int64_t launchedEarly = 0;
  bool armed = false;
  bool invalid = false;
  std::string error;
  std::mutex mu;

  at::Tensor Flatten(size_t b) {
    std::vector<at::Tensor> flat;
    for (size_t k : buckets[b]) {
      const at::Tensor& p = params[k];
      const at::Tensor& g = p.grad();
      flat.push_back(g.defined() ? g.reshape({-1}) : at::zeros({p.numel()}, p.options()));
    }
    auto dtype = params[buckets[b][0]].scalar_type();
    // Gloo has no bfloat16 in libtorch 1.13: a bfloat16 bucket is summed as float32, as in distAllreduce.
    return at::cat(flat).to(at::kCPU).to(dtype == at::kBFloat16 ? at::kFloat : dtype).contiguous();
  }

  void Launch(size_t b) {
    bufs[b] = Flatten(b);
    std::vector<at::Tensor> buf{bufs[b]};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    works[b] = pg->allreduce(buf, o);
    order.push_back(static_cast<int64_t>(b));
  }

  // Called by the accumulator of parameter k after it wrote this backward's gradient.
  void Ready(size_t k) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed || invalid) return;
    if (ready[k]) {
      invalid = true;
      return;
    }
    ready[k] = true;
    size_t b = bucketOf[k];
    if (--pending[b] == 0) {
      try {
        at::NoGradGuard noGrad;
        Launch(b);
        launchedEarly++;
      } catch (const std::exception& e) {
        if (error.empty()) error = e.what();
        invalid = true;
      }
    }
  }

  void Start() {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t b = 0; b < buckets.size(); b++) pending[b] = static_cast<int64_t>(buckets[b].size());
    std::fill(ready.begin(), ready.end(), false);
    for (auto& w : works) w.reset();
    for (auto& t : bufs) t = at::Tensor();
    order.clear();
    launchedEarly = 0;
    invalid = false;
    error.clear();
    armed = true;
  }

  // Returns {collectives, launched during the backward}.
  std::pair<int64_t, int64_t> Finish(bool average) {
    std::lock_guard<std::mutex> lock(mu);
    armed = false;
    at::NoGradGuard noGrad;
    if (invalid) {
      for (auto& w : works) if (w) w->wait();  // every rank launched the same buckets; their sums are discarded
      for (auto& w : works) w.reset();
      order.clear();
      launchedEarly = 0;
      if (!error.empty()) throw std::runtime_error(error);
    }
    for (size_t b = 0; b < buckets.size(); b++) if (!works[b]) Launch(b);
    int64_t collectives = 0;
    for (int64_t b : order) {
      works[b]->wait();
      collectives++;
      at::Tensor sum = bufs[b];
      if (average) sum.div_(size);
      int64_t off = 0;
      for (size_t k : buckets[b]) {
        at::Tensor& p = params[k];
        int64_t n = p.numel();
        at::Tensor piece = sum.narrow(0, off, n).view(p.sizes());
        if (p.grad().defined()) p.mutable_grad().copy_(piece);
        else p.mutable_grad() = piece.to(p.scalar_type()).to(p.device()).clone();
        off += n;
      }
      bufs[b] = at::Tensor();
      works[b].reset();
    }
    return {collectives, launchedEarly};
  }
};

struct ReadyHook : torch::autograd::FunctionPostHook {
  std::shared_ptr<Overlap> ov;
  size_t k;
  ReadyHook(std::shared_ptr<Overlap> o, size_t i) : ov(std::move(o)), k(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) override {
    ov->Ready(k);
    return outputs;
  }
};

std::unordered_map<int64_t, std::shared_ptr<Overlap>> g_overlaps;
int64_t g_nextOverlap = 1;

std::shared_ptr<Overlap> OverlapArg(const Napi::CallbackInfo& info, size_t i) {
  int64_t id = IntArg(info, i);
  auto it = g_overlaps.find(id);
  if (it == g_overlaps.end()) throw ArgError("gradient overlap " + std::to_string(id) + " is not open (released or never created)");
  return it->second;
}

}  // namespace
#endif

// Copies a flat buffer (the concatenation of ts[i..j) flattened) back into those tensors.
static void CopyFromFlat(std::vector<at::Tensor>& ts, size_t i, size_t j, const at::Tensor& flat) {
  int64_t off = 0;
  for (size_t k = i; k < j; k++) {
    int64_t n = ts[k].numel();
    ts[k].copy_(flat.narrow(0, off, n).view(ts[k].sizes()));
    off += n;
  }
}

void InitDist(Napi::Env env, Napi::Object exports) {
  // { available, reason } of this build.
  exports.Set("distInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    auto o = Napi::Object::New(info.Env());
#ifdef BFPO_WITH_GLOO
    o.Set("gloo", true);
    o.Set("reason", "");
#else
    o.Set("gloo", false);
    o.Set("reason", BFPO_DIST_MISSING);
#endif
    o.Set("nccl", false);
    return o;
  }));
#ifdef BFPO_WITH_GLOO
  // distInit(host, port, rank, size, timeoutMs, isServer, prefix, device: 'iface:NAME' | 'host:NAME' | '', storeTimeoutMs) -> id
  // timeoutMs bounds each collective; storeTimeoutMs the connection to the store and each wait for a key.
  Export(env, exports, "distInit", [](const Napi::CallbackInfo& info) -> Napi::Value {
    std::string host = StringArg(info, 0);
    int64_t port = IntArg(info, 1);
    int rank = static_cast<int>(IntArg(info, 2));
    int size = static_cast<int>(IntArg(info, 3));
    int64_t timeoutMs = IntArg(info, 4);
    bool isServer = BoolArg(info, 5);
    std::string prefix = StringArg(info, 6);
    std::string device = StringArg(info, 7);
    int64_t storeTimeoutMs = info.Length() > 8 ? IntArg(info, 8) : timeoutMs;
    if (port < 1 || port > 65535) throw ArgError("port must be in 1..65535, not " + std::to_string(port));
    if (size < 1 || rank < 0 || rank >= size) throw ArgError("rank " + std::to_string(rank) + " is outside world size " + std::to_string(size));
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = isServer;
    so.numWorkers = static_cast<std::size_t>(size);
    so.waitWorkers = false;
    so.timeout = std::chrono::milliseconds(storeTimeoutMs);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // libtorch 2.4+ defaults to the libuv store backend, which builds without libuv (Debian's) refuse; the classic
    // backend exists in every version.
    so.useLibUV = false;
#endif
    auto tcp = c10::make_intrusive<c10d::TCPStore>(host, so);
    c10::intrusive_ptr<c10d::Store> store = tcp;
    if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeoutMs));
    if (device.rfind("iface:", 0) == 0) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(device.substr(6)));
    } else if (device.rfind("host:", 0) == 0) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(device.substr(5)));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
    int64_t id = g_next++;
    g_groups[id] = Group{store, pg, rank, size};
    return Napi::Number::New(info.Env(), static_cast<double>(id));
  });
  Export(env, exports, "distDestroy", [](const Napi::CallbackInfo& info) -> Napi::Value {
    g_groups.erase(IntArg(info, 0));
    return info.Env().Undefined();
  });
  // Sum (or average) of `tensors` over all ranks, in place; tensors of one dtype are flattened into buckets of at
  // most `bucketBytes` (one collective per bucket), then copied back.
  Export(env, exports, "distAllreduce", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    at::NoGradGuard noGrad;  // parameters are written in place
    std::vector<at::Tensor> ts = TensorListArg(info, 1);
    bool average = BoolArg(info, 2);
    int64_t bucketBytes = IntArg(info, 3);
    size_t i = 0;
    int64_t collectives = 0;
    while (i < ts.size()) {
      // One bucket: consecutive tensors of the same dtype up to bucketBytes (at least one tensor).
      size_t j = i;
      int64_t bytes = 0;
      while (j < ts.size() && ts[j].scalar_type() == ts[i].scalar_type() &&
             (j == i || bytes + ts[j].numel() * static_cast<int64_t>(ts[j].element_size()) <= bucketBytes)) {
        bytes += ts[j].numel() * static_cast<int64_t>(ts[j].element_size());
        j++;
      }
      std::vector<at::Tensor> flat;
      flat.reserve(j - i);
      for (size_t k = i; k < j; k++) flat.push_back(ts[k].reshape({-1}));
      // Gloo reduces host memory: tensors on an accelerator are staged through one host buffer. Gloo has no
      // bfloat16 in libtorch 1.13: a bfloat16 bucket is summed as float32 and rounded back once (one bucket of
      // float32 at a time, not a float32 copy of every gradient).
      bool widen = ts[i].scalar_type() == at::kBFloat16;
      bool inPlace = j - i == 1 && ts[i].is_contiguous() && ts[i].device().is_cpu() && !widen;
      std::vector<at::Tensor> buf{inPlace ? flat[0] : at::cat(flat).to(at::kCPU).to(widen ? at::kFloat : ts[i].scalar_type())};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      auto work = g.pg->allreduce(buf, o);
      Wait(work);
      collectives++;
      if (average) {
        if (at::isIntegralType(buf[0].scalar_type(), /*includeBool=*/true)) buf[0].div_(g.size, "trunc");
        else buf[0].div_(g.size);
      }
      // A single contiguous host tensor was reduced in place through its flat view; a bucket is copied back.
      if (!inPlace) CopyFromFlat(ts, i, j, buf[0]);
      i = j;
    }
    return Napi::Number::New(info.Env(), static_cast<double>(collectives));
  });
  // distOverlapCreate(id, params, bucketBytes) -> overlap id: hooks on the parameters' gradient accumulators (see Overlap).
  Export(env, exports, "distOverlapCreate", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    std::vector<at::Tensor> ps = TensorListArg(info, 1);
    int64_t bucketBytes = IntArg(info, 2);
    auto ov = std::make_shared<Overlap>();
    ov->pg = g.pg;
    ov->size = g.size;
    ov->params = ps;
    ov->bucketOf.assign(ps.size(), 0);
    ov->ready.assign(ps.size(), false);
    for (size_t k = 0; k < ps.size(); k++) {
      if (!ps[k].requires_grad() || !ps[k].is_leaf()) throw ArgError("parameter " + std::to_string(k) + " is not a leaf that requires grad");
    }
    // Buckets in reverse parameter order, one dtype each, up to bucketBytes (at least one parameter).
    size_t k = ps.size();
    while (k > 0) {
      std::vector<size_t> b;
      int64_t bytes = 0;
      auto dtype = ps[k - 1].scalar_type();
      while (k > 0 && ps[k - 1].scalar_type() == dtype &&
             (b.empty() || bytes + ps[k - 1].numel() * static_cast<int64_t>(ps[k - 1].element_size()) <= bucketBytes)) {
        bytes += ps[k - 1].numel() * static_cast<int64_t>(ps[k - 1].element_size());
        b.push_back(k - 1);
        k--;
      }
      for (size_t i : b) ov->bucketOf[i] = ov->buckets.size();
      ov->buckets.push_back(std::move(b));
    }
    ov->pending.assign(ov->buckets.size(), 0);
    ov->bufs.assign(ov->buckets.size(), at::Tensor());
    ov->works.assign(ov->buckets.size(), c10::intrusive_ptr<c10d::Work>());
    for (size_t i = 0; i < ps.size(); i++) {
      auto acc = torch::autograd::impl::grad_accumulator(ps[i]);
      acc->add_post_hook(std::make_unique<ReadyHook>(ov, i));
      ov->accumulators.push_back(std::move(acc));
    }
    int64_t id = g_nextOverlap++;
    g_overlaps[id] = ov;
    return Napi::Number::New(info.Env(), static_cast<double>(id));
  });
  // Arms the hooks for the next backward pass.
  Export(env, exports, "distOverlapStart", [](const Napi::CallbackInfo& info) -> Napi::Value {
    OverlapArg(info, 0)->Start();
    return info.Env().Undefined();
  });
  // distOverlapFinish(id, average) -> [collectives, launched during the backward]
  Export(env, exports, "distOverlapFinish", [](const Napi::CallbackInfo& info) -> Napi::Value {
    auto r = OverlapArg(info, 0)->Finish(BoolArg(info, 1));
    auto a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(r.first)));
    a.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(r.second)));
    return a;
  });
  // Disarms and forgets the overlap (the hooks stay on the accumulators, inert).
  Export(env, exports, "distOverlapRelease", [](const Napi::CallbackInfo& info) -> Napi::Value {
    int64_t id = IntArg(info, 0);
    auto it = g_overlaps.find(id);
    if (it != g_overlaps.end()) {
      {
        std::lock_guard<std::mutex> lock(it->second->mu);
        it->second->armed = false;
        for (auto& w : it->second->works) {
          try {
            if (w) w->wait();
          } catch (const std::exception&) {
            // a peer that died: nothing is left to copy back
          }
        }
        it->second->works.clear();
        it->second->works.assign(it->second->buckets.size(), c10::intrusive_ptr<c10d::Work>());
        it->second->accumulators.clear();
      }
      g_overlaps.erase(it);
    }
    return info.Env().Undefined();
  });
  // `tensors` of rank `root` copied into every rank's tensors (flattened into one buffer per dtype run).
  Export(env, exports, "distBroadcast", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    at::NoGradGuard noGrad;  // parameters are written in place
    std::vector<at::Tensor> ts = TensorListArg(info, 1);
    int64_t root = IntArg(info, 2);
    if (root < 0 || root >= g.size) throw ArgError("root rank " + std::to_string(root) + " is outside world size " + std::to_string(g.size));
    size_t i = 0;
    while (i < ts.size()) {
      size_t j = i;
      while (j < ts.size() && ts[j].scalar_type() == ts[i].scalar_type()) j++;
      std::vector<at::Tensor> flat;
      for (size_t k = i; k < j; k++) flat.push_back(ts[k].reshape({-1}));
      std::vector<at::Tensor> buf{at::cat(flat).to(at::kCPU)};
      // Gloo has no bfloat16 in libtorch 1.13: a broadcast copies bits, so bfloat16 travels as bytes.
      std::vector<at::Tensor> wire{buf[0].scalar_type() == at::kBFloat16 ? buf[0].view(at::kByte) : buf[0]};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      auto work = g.pg->broadcast(wire, o);
      Wait(work);
      if (g.rank != root) CopyFromFlat(ts, i, j, buf[0]);
      i = j;
    }
    return info.Env().Undefined();
  });
  // distReduceScatter(id, tensors, counts, average) -> this rank's piece of the sum (or mean) over the ranks of the
  // concatenation of `tensors` flattened, where rank r's piece is the next counts[r] elements (so sum(counts) is the
  // total). libtorch 1.13's ProcessGroupGloo::reduce_scatter throws ("does not support reduce_scatter"), so it is
  // built from c10d's alltoall_base with per-rank split sizes: each rank sends rank r the elements of r's piece and
  // adds the W pieces it receives, in rank order (the bytes on the wire of a ring reduce-scatter). Gloo's all-to-all
  // has no bfloat16: bfloat16 travels and is summed as float32, and the piece is rounded back once.
  Export(env, exports, "distReduceScatter", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> ts = TensorListArg(info, 1);
    if (!info[2].IsArray()) throw ArgError("counts must be an array of " + std::to_string(g.size) + " element counts");
    auto arr = info[2].As<Napi::Array>();
    if (static_cast<int>(arr.Length()) != g.size) {
      throw ArgError("counts has " + std::to_string(arr.Length()) + " entries; the group has " + std::to_string(g.size) + " ranks");
    }
    std::vector<int64_t> counts;
    int64_t total = 0;
    for (uint32_t r = 0; r < arr.Length(); r++) {
      Napi::Value v = arr[r];
      if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0) throw ArgError("counts[" + std::to_string(r) + "] must be a count >= 0");
      counts.push_back(v.As<Napi::Number>().Int64Value());
      total += counts.back();
    }
    bool average = BoolArg(info, 3);
    if (ts.empty()) throw ArgError("reduce-scatter needs at least one tensor");
    int64_t numel = 0;
    std::vector<at::Tensor> flat;
    for (auto& t : ts) {
      if (t.scalar_type() != ts[0].scalar_type()) throw ArgError("reduce-scatter needs tensors of one dtype");
      numel += t.numel();
      flat.push_back(t.reshape({-1}));
    }
    if (numel != total) {
      throw ArgError("the tensors hold " + std::to_string(numel) + " elements but counts sum to " + std::to_string(total));
    }
    auto dtype = ts[0].scalar_type();
    auto wire = dtype == at::kBFloat16 ? at::kFloat : dtype;
    at::Tensor input = at::cat(flat).to(at::kCPU).to(wire).contiguous();
    int64_t mine = counts[g.rank];
    at::Tensor output = at::empty({mine * g.size}, input.options());
    std::vector<int64_t> outCounts(g.size, mine);
    auto work = g.pg->alltoall_base(output, input, outCounts, counts, c10d::AllToAllOptions());
    Wait(work);
    at::Tensor piece = output.narrow(0, 0, mine).clone();
    for (int r = 1; r < g.size; r++) piece.add_(output.narrow(0, r * mine, mine));
    if (average) {
      if (at::isIntegralType(piece.scalar_type(), /*includeBool=*/true)) piece.div_(g.size, "trunc");
      else piece.div_(g.size);
    }
    return Wrap(info.Env(), piece.to(dtype).to(ts[0].device()));
  });
  // Every rank's `input` (same shape on all ranks), stacked: [size, ...input.shape].
  Export(env, exports, "distAllgather", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    at::NoGradGuard noGrad;
    at::Tensor original = TensorArg(info, 1);
    at::Tensor input = original.to(at::kCPU).contiguous();
    if (input.scalar_type() == at::kBFloat16) input = input.reshape({-1}).view(at::kByte);  // bits only, as for broadcast
    std::vector<at::Tensor> inputs{input};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < g.size; r++) outputs[0].push_back(at::empty_like(input));
    auto work = g.pg->allgather(outputs, inputs, c10d::AllgatherOptions());
    Wait(work);
    at::Tensor out = at::stack(outputs[0], 0);
    if (original.scalar_type() == at::kBFloat16) {
      std::vector<int64_t> shape{g.size};
      for (auto d : original.sizes()) shape.push_back(d);
      out = out.view(at::kBFloat16).reshape(shape);
    }
    return Wrap(info.Env(), out.to(original.device()));
  });
  Export(env, exports, "distBarrier", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    auto work = g.pg->barrier(c10d::BarrierOptions());
    Wait(work);
    return info.Env().Undefined();
  });
  // The rendezvous store: set / get (waits up to the store's timeout) / add / check.
  Export(env, exports, "distStoreSet", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    g.store->set(StringArg(info, 1), BytesArg(info, 2));
    return info.Env().Undefined();
  });
  Export(env, exports, "distStoreGet", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    std::vector<uint8_t> v = g.store->get(StringArg(info, 1));
    return Napi::Buffer<uint8_t>::Copy(info.Env(), v.data(), v.size());
  });
  Export(env, exports, "distStoreAdd", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    return Napi::Number::New(info.Env(), static_cast<double>(g.store->add(StringArg(info, 1), IntArg(info, 2))));
  });
  Export(env, exports, "distStoreCheck", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Group& g = GroupArg(info, 0);
    return Napi::Boolean::New(info.Env(), g.store->check({StringArg(info, 1)}));
  });
#endif
}

}  // namespace bfpo
