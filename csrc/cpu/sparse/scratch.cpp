// Per-thread scratch buffers of the sparse engine (see engine.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cpu/sparse/engine.h"

namespace compressor::cpu::sparse {
namespace {

// Scratch buffers come in whole 2 MB pages, marked for transparent huge pages
// where the kernel allows it: a tile of x then sits in physically contiguous
// memory and spreads evenly over the L2 sets (with 4 KB pages, random page
// colours overload some sets; measured as up to 2x run-to-run variation).
constexpr size_t kHugePage = size_t{2} << 20;

struct ScratchBuffer {
  float* data = nullptr;
  size_t bytes = 0;
  ~ScratchBuffer() { std::free(data); }
  void release() {
    std::free(data);
    data = nullptr;
    bytes = 0;
  }
  float* get(size_t need) {
    if (need <= bytes) return data;
    release();
    const size_t rounded = (need + kHugePage - 1) / kHugePage * kHugePage;
    data = static_cast<float*>(std::aligned_alloc(kHugePage, rounded));
    if (data == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(data, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    bytes = rounded;
    return data;
  }
};

thread_local ScratchBuffer t_scratch[static_cast<int>(Scratch::kCount)];

}  // namespace

float* scratch(Scratch which, int64_t floats) {
  return t_scratch[static_cast<int>(which)].get(static_cast<size_t>(floats) * sizeof(float));
}

void release_scratch(Scratch which) {
  ScratchBuffer& buf = t_scratch[static_cast<int>(which)];
  if (buf.bytes > static_cast<size_t>(kScratchKeep) * sizeof(float)) buf.release();
}

}  // namespace compressor::cpu::sparse
