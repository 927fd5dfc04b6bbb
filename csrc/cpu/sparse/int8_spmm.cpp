// The columns layout of the int8 engine (spmm8): tile width, the copies of x
// tiles (transposed: floats, or uint8 in groups of 4 inputs for the VNNI
// kernels), the work split and the transposed results. The kernels are in
// int8_tile.cpp. Also the int8 kernel table of the selected ISA.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/sparse/int8_internal.h"

namespace compressor::cpu::sparse {

Isa8Fns isa8_fns() {
  const Isa isa = selected_isa();  // before any work: throws for a bad COMPRESSOR_SPARSE_ISA
#if COMPRESSOR_SPARSE_X86
  if (selected_vnni()) return {&rows8_avx512, &rows8_vnni_csr, &tile8_avx512, &tile8_vnni, 16};
  switch (isa) {
    case Isa::kAvx512:
      return {&rows8_avx512, nullptr, &tile8_avx512, nullptr, 16};
    case Isa::kAvx2:
      return {&rows8_avx2, nullptr, &tile8_avx2, nullptr, 8};
    case Isa::kPortable:
      break;
  }
#else
  (void)isa;
#endif
  return {&rows8_portable, nullptr, &tile8_portable, nullptr, 4};
}

namespace {

// The VNNI kernels take every format with quantized x.
bool takes_vnni(const Packed8& p, const Act8& a, const Isa8Fns& f) {
  return f.vnni_tile != nullptr && a.quantized();
}

// Vectors per column tile: as wide as the accumulators allow (4x1 blocks keep four
// rows, the exact q8 sums an integer copy) while the K' x tile stays within 512 KB.
int choose_nv(const Packed8& p, int64_t N, int lanes, bool vnni) {
  const int64_t vectors = (N + lanes - 1) / lanes;
  const int max_nv = p.w.R == 4 ? (vnni ? 4 : 2) : (vnni ? 8 : 4);
  const int64_t bytes = vnni ? 1 : 4, budget = int64_t{512} << 10;
  int nv = 1;
  while (2 * nv <= max_nv && 2 * nv <= vectors && p.w.padded_k() * lanes * 2 * nv * bytes <= budget) {
    nv *= 2;
  }
  return nv;
}

// Columns [n0, n0 + width) of x as a float tile [K', ld]: x, or xq - zp; zeros elsewhere.
void copy_float_tile(const Act8& a, int64_t n0, int64_t width, int64_t K, int64_t Kp, int64_t ld,
                     float* dst) {
  std::memset(dst, 0, Kp * ld * sizeof(float));
  constexpr int64_t kBlock = 256;  // inputs per pass over the columns (stays in L1)
  for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
    const int64_t k1 = std::min(K, k0 + kBlock);
    for (int64_t j = 0; j < width; ++j) {
      const int64_t n = n0 + j;
      float* d = dst + j;
      if (a.type == XType::kFloat) {
        const float* x = static_cast<const float*>(a.x) + n * a.ldx;
        for (int64_t k = k0; k < k1; ++k) d[k * ld] = x[k];
      } else if (a.type == XType::kUint8) {
        const uint8_t* x = static_cast<const uint8_t*>(a.x) + n * a.ldx;
        const int32_t zp = a.zp_of(n);
        for (int64_t k = k0; k < k1; ++k) d[k * ld] = static_cast<float>(int32_t{x[k]} - zp);
      } else {
        const int8_t* x = static_cast<const int8_t*>(a.x) + n * a.ldx;
        const int32_t zp = a.zp_of(n);
        for (int64_t k = k0; k < k1; ++k) d[k * ld] = static_cast<float>(int32_t{x[k]} - zp);
      }
    }
  }
}

// Columns [n0, n0 + width) of quantized x as uint8 [K'/4, ld, 4] (int8 shifted by 128).
void copy_vnni_tile(const Act8& a, int64_t n0, int64_t width, int64_t K, int64_t Kp, int64_t ld,
                    uint8_t* dst) {
  std::memset(dst, 0, Kp * ld);
  const uint8_t flip = a.type == XType::kInt8 ? 0x80 : 0;
  for (int64_t j = 0; j < width; ++j) {
    const uint8_t* x = static_cast<const uint8_t*>(a.x) + (n0 + j) * a.ldx;
    uint8_t* d = dst + j * 4;
    for (int64_t k = 0; k < K; ++k) d[(k >> 2) * ld * 4 + (k & 3)] = x[k] ^ flip;
  }
}

// Sum of the stored values of each row (the VNNI kernels' zero-point term).
std::vector<int32_t> row_sums(const Packed8& p) {
  const Packed& w = p.w;
  const int64_t R = w.nm24 ? 1 : w.R, RC = w.nm24 ? 2 * w.G : w.R * w.C;
  std::vector<int32_t> sums(row_units(w) * R);
  at::parallel_for(0, row_units(w), 256, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t first = w.nm24 ? u : w.row_ptr[u], last = w.nm24 ? u + 1 : w.row_ptr[u + 1];
      if (R == 1) {  // one contiguous run of values (vectorises)
        int32_t s = 0;
        for (int64_t i = first * RC; i < last * RC; ++i) s += p.q[i];
        sums[u] = s;
        continue;
      }
      for (int64_t r = 0; r < R; ++r) {
        int32_t s = 0;
        for (int64_t blk = first; blk < last; ++blk) s += p.q[blk * RC + r];
        sums[u * R + r] = s;
      }
    }
  });
  return sums;
}

}  // namespace

bool spmm8(const Packed8& p, const Act8& a) {
  const Packed& w = p.w;
  if (w.M == 0 || a.N == 0) return false;
  const Isa8Fns fns = isa8_fns();
  if (spmm_columns_bad(w)) return true;
  const bool vnni = takes_vnni(p, a, fns);
  const int L = fns.lanes;
  const int nv = choose_nv(p, a.N, L, vnni);
  const int64_t tile = int64_t{nv} * L, tiles = (a.N + tile - 1) / tile;
  const int64_t macs = w.nnz() * w.R * w.C * a.N;
  const int64_t parts = chunk_count(w, macs, tiles);
  const std::vector<int64_t> bounds = balanced_chunks(w, parts);
  const std::vector<int32_t> wsum = vnni ? row_sums(p) : std::vector<int32_t>();
  const int64_t Kp = w.padded_k(), R = w.nm24 ? 1 : w.R;
  // Width of tile t: all but the last are full; the last is rounded up to a power of
  // two vectors.
  auto tile_nv = [&](int64_t t) {
    const int64_t width = std::min(tile, a.N - t * tile);
    int tnv = 1;
    while (int64_t{tnv} * L < width) tnv *= 2;
    return tnv;
  };
  const int64_t items = tiles * parts;
  at::parallel_for(0, items, macs < kParallelMacs ? items : 1, [&](int64_t begin, int64_t end) {
    std::vector<float> sx;
    std::vector<int32_t> zp;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / parts, part = item % parts;
      const int64_t r0 = bounds[part], r1 = bounds[part + 1];
      if (r0 == r1) continue;
      const int64_t n0 = t * tile, width = std::min(tile, a.N - n0);
      const int tnv = tile_nv(t);
      const int64_t ld = int64_t{tnv} * L;
      Tile8 tt;
      tt.ld = ld;
      if (vnni) {
        auto* xs = reinterpret_cast<uint8_t*>(scratch(Scratch::kXTile, (Kp * ld + 3) / 4));
        copy_vnni_tile(a, n0, width, w.K, Kp, ld, xs);
        tt.x = xs;
      } else {
        float* xs = scratch(Scratch::kXTile, Kp * ld);
        copy_float_tile(a, n0, width, w.K, Kp, ld, xs);
        tt.x = xs;
      }
      if (a.quantized()) {
        sx.assign(ld, 0.0f);
        zp.assign(ld, 0);
        const int32_t shift = a.type == XType::kInt8 ? 128 : 0;
        for (int64_t j = 0; j < width; ++j) {
          sx[j] = a.scale_of(n0 + j);
          zp[j] = a.zp_of(n0 + j) + shift;
        }
        tt.sx = sx.data();
        tt.zp = zp.data();
        tt.wsum = wsum.data();
      }
      float* ys = scratch(Scratch::kYTile, w.M * ld);
      tt.y = ys;
      (vnni ? fns.vnni_tile : fns.tile)(p, a, tt, tnv, r0, r1);
      const int64_t m0 = r0 * R, m1 = std::min(r1 * R, w.M);
      for (int64_t j = 0; j < width; ++j) {
        float* y = a.y + (n0 + j) * a.ldy;
        for (int64_t m = m0; m < m1; ++m) y[m] = ys[m * ld + j];
      }
    }
    release_scratch(Scratch::kXTile);
    release_scratch(Scratch::kYTile);
  });
  return false;
}

}  // namespace compressor::cpu::sparse
