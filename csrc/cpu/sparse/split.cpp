// The work split of the sparse engine: row units cut into chunks of about equal
// work, one task each (see internal.h).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/sparse/internal.h"

namespace compressor::cpu::sparse {
namespace {

// Fixed cost of a row unit (loop set-up, epilogue, store) in stored-weight units.
constexpr int64_t kRowCost = 4;

// Work before a row unit: stored weights plus the per-row cost; monotone in the unit.
int64_t work_before(const Packed& w, int64_t u) {
  const int64_t stored = w.nm24 ? u * w.G * 2 : w.row_ptr[u] * w.R * w.C;
  return stored + kRowCost * u;
}

}  // namespace

// Boundaries of `parts` row chunks of about equal work (balanced by stored weights).
std::vector<int64_t> balanced_chunks(const Packed& w, int64_t parts) {
  const int64_t units = row_units(w);
  const int64_t total = work_before(w, units);
  std::vector<int64_t> bounds(parts + 1, units);
  bounds[0] = 0;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = total / parts * p + total % parts * p / parts;
    int64_t lo = bounds[p - 1], hi = units;  // first unit u with work_before(u) >= target
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (work_before(w, mid) < target) lo = mid + 1; else hi = mid;
    }
    bounds[p] = lo;
  }
  return bounds;
}

int64_t chunk_count(const Packed& w, int64_t macs, int64_t other_items) {
  const int64_t threads = at::get_num_threads();
  if (threads <= 1 || macs < kParallelMacs) return 1;
  // A few chunks per thread when the other dimension does not split the work.
  const int64_t want = other_items >= threads ? 1 : threads * 4;
  return std::max<int64_t>(1, std::min(want, row_units(w)));
}

}  // namespace compressor::cpu::sparse
