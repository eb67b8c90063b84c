// The host allocator for CPU tensors. Blocks from 128 KiB on come from one arena: a large range of address space
// reserved once, made usable from its start as the blocks need it, cut into blocks by best fit and merged with free
// neighbours when freed. Smaller blocks come from the C allocator as before.
//
// Why: a page is expensive the first time it is written (the kernel zeroes it, and on a virtual machine the host
// may have to back it too: about 2 s per GB on the 2-core development machine). Training with padding-free batches
// changes every activation's size from step to step. Separate mappings per block could only be reused by requests
// of about their size, so each step longer than the longest before mapped nearly all its activations afresh (a
// 120M model's epoch: 7.5 GB of fresh mappings for a 4 GB peak, a tenth of its time). In the arena a longer step's
// tensors take the freed blocks of the earlier ones, merged, and only the growth of the peak is new memory. (With
// glibc alone, these tensors fragment its heap once its adaptive mmap threshold has risen, and a long run's resident
// memory creeps up; a fixed low threshold maps and faults every large block afresh.)
//
// The arena's memory is marked for transparent huge pages where the kernel offers them (a 2 MiB fault instead of
// 512 small ones). Free blocks stay resident up to the most large bytes in use at once since the last release (at
// least 256 MiB), so a training step's activations, freed at its end, are there for the next step; beyond that the
// largest are given back, and all of them at every `releaseFreeHostMemory()` (evaluations, checkpoints; log records
// keep them). Requests the arena cannot hold (address space or memory exhausted) get mappings of their own.
// BFPO_HOST_ALLOCATOR=system keeps libtorch's own allocator; BFPO_HOST_HUGE_PAGES=0 leaves huge pages off.
#include "common.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

namespace bfpo {
namespace {

constexpr size_t kLarge = 128 * 1024;
constexpr size_t kGrain = 4096;                 // block sizes and offsets are multiples of a page
constexpr size_t kGrow = size_t(2) << 20;        // the usable part grows by whole huge pages
constexpr size_t kMinCachedCap = 256u << 20;

size_t RoundUp(size_t n, size_t m) { return (n + m - 1) / m * m; }

bool HugePages() {
  static const bool on = [] {
    const char* v = std::getenv("BFPO_HOST_HUGE_PAGES");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

// Marks [p, p + n) for transparent huge pages (a hint: nothing changes where the kernel has them off).
void AdviseHugePages(void* p, size_t n) {
#ifdef MADV_HUGEPAGE
  if (HugePages()) madvise(p, n, MADV_HUGEPAGE);
#endif
}

// A block of the arena. `resident`: for a free block, how many of its bytes have pages (written before and not
// given back since); the rest costs fresh page faults when written. Counted as if the resident bytes came first,
// which they do where a block grew at the arena's end (the one place a block gets pages that were never written).
struct Block {
  size_t size;
  bool free;
  size_t resident;
};

struct Arena {
  std::mutex mu;
  char* base = nullptr;  // reserved range [base, base + reserved); usable (readable and writable) up to `top`
  size_t reserved = 0;
  size_t top = 0;
  std::map<size_t, Block> blocks;                 // offset -> block; they tile [0, top)
  std::set<std::pair<size_t, size_t>> freeBySize;  // (size, offset) of the free blocks
  std::unordered_map<void*, size_t> own;          // blocks outside the arena (mappings of their own) -> size
  size_t liveBytes = 0;
  size_t idleBytes = 0;    // free bytes whose pages are resident
  size_t peakLive = 0;     // the most large bytes in use at once since the last full release
  size_t mappedBytes = 0;  // bytes handed out that had no resident pages (memoryStats: hostMappedBytes)
  size_t reusedBlocks = 0;  // requests served from freed memory (memoryStats: hostReusedBlocks)

  Arena() {
    // Twice the physical memory, at least 4 GiB, at most 1 TiB of address space (nothing is committed by this);
    // smaller where the process's address space is limited.
    long pages = sysconf(_SC_PHYS_PAGES);
    size_t want = pages > 0 ? size_t(pages) * size_t(sysconf(_SC_PAGESIZE)) * 2 : size_t(64) << 30;
    want = std::min(std::max(want, size_t(4) << 30), size_t(1) << 40);
    for (size_t r = want; r >= (size_t(1) << 30); r /= 2) {
      void* p = mmap(nullptr, r + kGrow, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) continue;
      // Align the start to a huge page, and give the rest back.
      uintptr_t a = reinterpret_cast<uintptr_t>(p), aligned = RoundUp(a, kGrow);
      if (aligned > a) munmap(p, aligned - a);
      if (aligned + r < a + r + kGrow) munmap(reinterpret_cast<void*>(aligned + r), a + r + kGrow - (aligned + r));
      base = reinterpret_cast<char*>(aligned);
      reserved = r;
      AdviseHugePages(base, reserved);
      break;
    }
  }

  void SetFree(size_t off, Block& b) {
    b.free = true;
    freeBySize.emplace(b.size, off);
    idleBytes += b.resident;
  }
  void Unfree(size_t off, Block& b) {
    freeBySize.erase({b.size, off});
    idleBytes -= b.resident;
  }

  // Makes [top, top + n) usable; false when the reservation or the memory is exhausted.
  bool Grow(size_t n) {
    if (!base || n > reserved - top) return false;
    if (mprotect(base + top, n, PROT_READ | PROT_WRITE) != 0) return false;
    auto last = blocks.empty() ? blocks.end() : std::prev(blocks.end());
    if (last != blocks.end() && last->second.free) {
      Unfree(last->first, last->second);
      last->second.size += n;
      SetFree(last->first, last->second);
    } else {
      Block& b = blocks[top] = Block{n, false, 0};
      SetFree(top, b);
    }
    top += n;
    return true;
  }

  // Takes `size` bytes from the front of the free block at `off`; the rest stays free. Returns the address.
  void* Take(size_t off, size_t size) {
    Block& b = blocks[off];
    Unfree(off, b);
    size_t resident = b.resident;
    if (resident < size) mappedBytes += size - resident;
    if (resident > 0) reusedBlocks++;
    if (b.size > size) {
      Block& rest = blocks[off + size] = Block{b.size - size, false, resident > size ? resident - size : 0};
      SetFree(off + size, rest);
      b.size = size;
    }
    b.free = false;
    b.resident = size;
    return base + off;
  }

  // The offset of a free block of at least `size` bytes: the smallest one (the lowest of equal ones), else the
  // free block at the end grown (or a new one there).
  bool Find(size_t size, size_t* off) {
    auto it = freeBySize.lower_bound({size, 0});
    if (it != freeBySize.end()) {
      *off = it->second;
      return true;
    }
    size_t tail = 0;
    if (!blocks.empty()) {
      auto last = std::prev(blocks.end());
      if (last->second.free) tail = last->second.size;
    }
    if (!Grow(RoundUp(size - tail, kGrow))) return false;
    auto last = std::prev(blocks.end());
    *off = last->first;
    return last->second.free && last->second.size >= size;
  }

  void Release(size_t off, Block& b) {
    if (b.resident == 0) return;
    madvise(base + off, b.size, MADV_DONTNEED);
    idleBytes -= b.resident;
    b.resident = 0;
  }

  // Gives every free block's pages back, and the free end of the arena's usable part.
  void ReleaseAllLocked() {
    for (auto& [off, b] : blocks)
      if (b.free) Release(off, b);
    if (!blocks.empty()) {
      auto last = std::prev(blocks.end());
      if (last->second.free) {
        size_t off = last->first;
        // Back to reserved, uncommitted address space (MAP_FIXED replaces the range in one step).
        void* p = mmap(base + off, top - off, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        if (p != MAP_FAILED) {
          AdviseHugePages(base + off, top - off);
          freeBySize.erase({last->second.size, off});
          blocks.erase(last);
          top = off;
        }
      }
    }
    peakLive = liveBytes;
  }

  // Gives back the largest resident free blocks until at most `keep` free bytes stay resident.
  void TrimLocked(size_t keep) {
    for (auto it = freeBySize.rbegin(); it != freeBySize.rend() && idleBytes > keep; ++it) {
      Block& b = blocks[it->second];
      Release(it->second, b);
    }
  }

  void FreeLocked(void* p) {
    size_t off = static_cast<char*>(p) - base;
    auto it = blocks.find(off);
    TORCH_CHECK(it != blocks.end() && !it->second.free, "bfpo host allocator: freeing an unknown block");
    liveBytes -= it->second.size;
    // Merge with free neighbours (their resident bytes add up).
    auto next = std::next(it);
    if (next != blocks.end() && next->second.free) {
      Unfree(next->first, next->second);
      it->second.size += next->second.size;
      it->second.resident += next->second.resident;
      blocks.erase(next);
    }
    if (it != blocks.begin()) {
      auto prev = std::prev(it);
      if (prev->second.free) {
        Unfree(prev->first, prev->second);
        prev->second.size += it->second.size;
        prev->second.resident += it->second.resident;
        blocks.erase(it);
        it = prev;
      }
    }
    SetFree(it->first, it->second);
  }
};

Arena& TheArena() {
  static Arena* arena = new Arena();  // never destroyed: tensors may be freed during exit
  return *arena;
}

void Free(void* p) {
  if (!p) return;
  Arena& a = TheArena();
  std::lock_guard<std::mutex> lock(a.mu);
  char* c = static_cast<char*>(p);
  if (a.base && c >= a.base && c < a.base + a.top) {
    a.FreeLocked(p);
    size_t cap = a.peakLive > kMinCachedCap ? a.peakLive : kMinCachedCap;
    if (a.idleBytes > cap) a.TrimLocked(cap);
    return;
  }
  auto it = a.own.find(p);
  if (it == a.own.end()) {
    std::free(p);
    return;
  }
  munmap(p, it->second);
  a.liveBytes -= it->second;
  a.own.erase(it);
}

at::DataPtr Allocate(size_t n) {
  if (n == 0) return at::DataPtr(nullptr, nullptr, &Free, at::Device(at::DeviceType::CPU));
  // No machine has 2^60 bytes; refusing here also keeps the rounding below from overflowing.
  TORCH_CHECK(n <= (size_t(1) << 60), "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes");
  if (n < kLarge) {
    void* p = nullptr;
    TORCH_CHECK(posix_memalign(&p, 64, n) == 0 && p, "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes");
    return at::DataPtr(p, p, &Free, at::Device(at::DeviceType::CPU));
  }
  size_t size = RoundUp(n, kGrain);
  Arena& a = TheArena();
  std::lock_guard<std::mutex> lock(a.mu);
  void* p = nullptr;
  size_t off = 0;
  if (a.Find(size, &off)) {
    p = a.Take(off, size);
  } else {
    // Outside the arena: a mapping of its own, once the arena's resident free blocks are given back.
    a.TrimLocked(0);
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TORCH_CHECK(p != MAP_FAILED, "bfpo host allocator: can't allocate memory: you tried to allocate ", n, " bytes (",
                std::strerror(errno), ")");
    a.own.emplace(p, size);
    a.mappedBytes += size;
  }
  a.liveBytes += size;
  if (a.liveBytes > a.peakLive) a.peakLive = a.liveBytes;
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

// Gives the free large blocks' memory back to the system; {resident free bytes released, large bytes in use}.
std::pair<size_t, size_t> ReleaseIdleHostBlocks() {
  Arena& a = TheArena();
  std::lock_guard<std::mutex> lock(a.mu);
  size_t released = a.idleBytes;
  a.ReleaseAllLocked();
  return {released, a.liveBytes};
}

// {bytes handed out without resident pages since the start, requests served from freed memory} (memoryStats).
std::pair<size_t, size_t> HostAllocatorCounters() {
  Arena& a = TheArena();
  std::lock_guard<std::mutex> lock(a.mu);
  return {a.mappedBytes, a.reusedBlocks};
}

}  // namespace bfpo
