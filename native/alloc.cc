// The host allocator for CPU tensors. Blocks from 128 KiB on are mappings of their own, rounded up to a size class
// (four classes per power of two) and kept for reuse when their tensor is freed; smaller blocks come from the C
// allocator as before. Why: with glibc, tensors whose sizes change from step to step (padding-free batches,
// evaluation batches) come from its heap once its adaptive mmap threshold has risen, and fragment it, so a long
// run's resident memory creeps up; a fixed low threshold avoids that but maps and faults every large block afresh
// (several times slower on small models). Reused mappings cost neither. A request takes the smallest idle block of
// its class or a larger one up to twice its size: padding-free batches change every activation's size from step
// to step, and exact classes alone left most of them unmatched (on a 120M model, 7.8 GB of fresh mappings over four
// steps with a 3.8 GB peak, and page faults were a third of the run's CPU time). Fresh blocks from 2 MiB on are
// marked for transparent huge pages where the kernel offers them (a 2 MiB fault instead of 512 small ones).
// Free blocks are kept up to the most large bytes in use at once since the last release (at least 256 MiB), so a
// training step's activations, freed at its end, are there for the next step; beyond that the largest are returned
// to the system, and all of them at every `releaseFreeHostMemory()` (log records, evaluations, checkpoints).
// BFPO_HOST_ALLOCATOR=system keeps libtorch's own allocator; BFPO_HOST_HUGE_PAGES=0 leaves huge pages off.
#include "common.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <sys/mman.h>

#include <cerrno>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace bfpo {
namespace {

constexpr size_t kLarge = 128 * 1024;
constexpr size_t kPage = 4096;
constexpr size_t kMinCachedCap = 256u << 20;

size_t SizeClass(size_t n) {
  size_t p = 1;
  while ((p << 1) <= n) p <<= 1;  // the largest power of two <= n
  size_t step = p / 4 < kPage ? kPage : p / 4;
  return (n + step - 1) / step * step;
}

struct Pool {
  std::mutex mu;
  std::unordered_map<void*, size_t> live;     // a large block in use -> its class
  std::map<size_t, std::vector<void*>> idle;  // class -> free large blocks
  size_t liveBytes = 0;
  size_t idleBytes = 0;
  size_t peakLive = 0;  // the most large bytes in use at once since the last full release
  size_t mappedBytes = 0;  // bytes of fresh mappings since the start (memoryStats: hostMappedBytes)
  size_t reusedBlocks = 0;  // requests served from an idle block (memoryStats: hostReusedBlocks)

  void ReleaseIdleLocked() {
    for (auto& [size, blocks] : idle) {
      for (void* p : blocks) munmap(p, size);
    }
    idle.clear();
    idleBytes = 0;
    peakLive = liveBytes;
  }

  // Returns idle blocks to the system, largest first, until at most `keep` bytes stay idle.
  void TrimIdleLocked(size_t keep) {
    for (auto it = idle.rbegin(); it != idle.rend() && idleBytes > keep; ++it) {
      auto& blocks = it->second;
      while (!blocks.empty() && idleBytes > keep) {
        munmap(blocks.back(), it->first);
        blocks.pop_back();
        idleBytes -= it->first;
      }
    }
  }
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: tensors may be freed during exit
  return *pool;
}

void Free(void* p) {
  if (!p) return;
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.live.find(p);
  if (it == pool.live.end()) {
    std::free(p);
    return;
  }
  size_t size = it->second;
  pool.live.erase(it);
  pool.liveBytes -= size;
  pool.idle[size].push_back(p);
  pool.idleBytes += size;
  size_t cap = pool.peakLive > kMinCachedCap ? pool.peakLive : kMinCachedCap;
  if (pool.idleBytes > cap) pool.TrimIdleLocked(cap);
}

bool HugePages() {
  static const bool on = [] {
    const char* v = std::getenv("BFPO_HOST_HUGE_PAGES");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

// A fresh mapping of `size` bytes (MAP_FAILED on failure); from 2 MiB on, marked for transparent huge pages (a hint:
// nothing changes where the kernel has them off).
void* MapBlock(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef MADV_HUGEPAGE
  if (p != MAP_FAILED && size >= (size_t(2) << 20) && HugePages()) madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

at::DataPtr Allocate(size_t n) {
  if (n == 0) return at::DataPtr(nullptr, nullptr, &Free, at::Device(at::DeviceType::CPU));
  // No machine has 2^60 bytes; refusing here also keeps the size-class arithmetic below from overflowing.
  TORCH_CHECK(n <= (size_t(1) << 60), "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes");
  if (n < kLarge) {
    void* p = nullptr;
    TORCH_CHECK(posix_memalign(&p, 64, n) == 0 && p, "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes");
    return at::DataPtr(p, p, &Free, at::Device(at::DeviceType::CPU));
  }
  size_t size = SizeClass(n);
  Pool& pool = ThePool();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    // The smallest idle block of this class or a larger one up to twice the size: its pages are resident already.
    for (auto it = pool.idle.lower_bound(size); it != pool.idle.end() && it->first <= 2 * size; ++it) {
      if (it->second.empty()) continue;
      size = it->first;
      p = it->second.back();
      it->second.pop_back();
      pool.idleBytes -= size;
      pool.reusedBlocks++;
      break;
    }
  }
  const bool fresh = !p;
  if (fresh) {
    p = MapBlock(size);
    if (p == MAP_FAILED) {
      // Out of address space or memory: give back what is idle and try once more.
      {
        std::lock_guard<std::mutex> lock(pool.mu);
        pool.ReleaseIdleLocked();
      }
      p = MapBlock(size);
      TORCH_CHECK(p != MAP_FAILED, "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes (",
                  std::strerror(errno), ")");
    }
  }
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (fresh) pool.mappedBytes += size;
    pool.live.emplace(p, size);
    pool.liveBytes += size;
    if (pool.liveBytes > pool.peakLive) pool.peakLive = pool.liveBytes;
  }
  return at::DataPtr(p, p, &Free, at::Device(at::DeviceType::CPU));
}

struct HostAllocator final : at::Allocator {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  at::DataPtr allocate(size_t n) override { return Allocate(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#else
  at::DataPtr allocate(size_t n) const override { return Allocate(n); }
#endif
  at::DeleterFnPtr raw_deleter() const override { return &Free; }
};

}  // namespace

// Installs the allocator unless BFPO_HOST_ALLOCATOR=system. Returns whether it is installed.
bool InstallHostAllocator() {
  const char* choice = std::getenv("BFPO_HOST_ALLOCATOR");
  if (choice && std::strcmp(choice, "system") == 0) return false;
  static HostAllocator* allocator = new HostAllocator();
  c10::SetCPUAllocator(allocator, /*priority=*/100);
  return true;
}

// Returns the idle large blocks to the system; {idle bytes released, large bytes in use}.
std::pair<size_t, size_t> ReleaseIdleHostBlocks() {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  size_t released = pool.idleBytes;
  pool.ReleaseIdleLocked();
  return {released, pool.liveBytes};
}

// {bytes of fresh mappings since the start, requests served from idle blocks} (memoryStats).
std::pair<size_t, size_t> HostAllocatorCounters() {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  return {pool.mappedBytes, pool.reusedBlocks};
}

}  // namespace bfpo
