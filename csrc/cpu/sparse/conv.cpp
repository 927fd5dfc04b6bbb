// The sparse engine's convolution (conv.h): F.conv2d with groups=1 and zero
// padding, for the operators of csrc/ops/cpu/sparse_conv_kernel.cpp.
//
// One image at a time, in one of two ways:
//
// * Direct (the usual case). The image is copied once into "phase grids": for
//   each input channel c and each row / column phase (a, b) the kernel taps use,
//   G[c, a, b][u, v] = padded input[c, u * sh + a, v * sw + b], a grid of
//   Hq = Ho + max_si rows by Wq = Wo + max_sj columns (zero outside the input).
//   Tap (i, j) reads output pixel (oh, ow) at G[c, a, b][oh + si, ow + sj] with
//   i * dh = si * sh + a (likewise j), so over the "extended" pixels q = oh * Wq
//   + ow every im2col row is the same grid shifted by a constant: row k starts at
//   buffer + off[k]. The engine reads those shifted rows directly (Operands::x_off),
//   one tile of q at a time, and the valid pixels (ow < Wo) are copied out. The
//   tile's working set is the few grid rows it touches in every channel (about
//   in * (tile + max_si * Wq) floats), not the im2col tile (in * kh * kw * tile),
//   and nothing of size im2col is written. Columns ow >= Wo are computed and
//   dropped: the direct way is taken while that waste stays small.
// * im2col (very wide dilations or tiny outputs, where the waste is not small):
//   the whole matrix [in * kh * kw, Ho * Wo] in the columns layout of spmm.
//
// The result [out, Ho * Wo] is the image's NCHW output, written in place.
#include "cpu/sparse/conv.h"

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>  // at::internal::GRAIN_SIZE

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "cpu/sparse/internal.h"

namespace compressor::cpu::sparse {
namespace {

// Floor and ceiling of a / b for b > 0 and any sign of a.
int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t div_ceil(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Rows ih0 + u * sh (u in [0, rows)) of input channel c, sampled at columns
// off_w + v * sw (v in [0, width)), zero where they fall into the padding: the copy
// behind both an im2col row and a phase grid of the direct kernel. dst holds rows x width.
void copy_padded_rows(const ConvGeometry& g, const float* img, int64_t c, int64_t ih0,
                      int64_t off_w, int64_t rows, int64_t width, float* dst) {
  const int64_t lo = std::clamp<int64_t>(div_ceil(-off_w, g.sw), 0, width);
  const int64_t hi = std::clamp<int64_t>(div_floor(g.W - 1 - off_w, g.sw) + 1, lo, width);
  for (int64_t u = 0; u < rows; ++u, dst += width) {
    const int64_t ih = ih0 + u * g.sh;
    if (ih < 0 || ih >= g.H) {
      std::memset(dst, 0, width * sizeof(float));
      continue;
    }
    const float* src = img + (c * g.H + ih) * g.W + off_w;
    std::memset(dst, 0, lo * sizeof(float));
    if (g.sw == 1) {
      std::memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
    } else {
      for (int64_t v = lo; v < hi; ++v) dst[v] = src[v * g.sw];
    }
    std::memset(dst + hi, 0, (width - hi) * sizeof(float));
  }
}

// Rows [k0, k1) of the im2col matrix of one image (rows of length Ho * Wo).
void im2col_rows(const ConvGeometry& g, const float* img, float* col, int64_t k0, int64_t k1) {
  const int64_t P = g.Ho * g.Wo;
  for (int64_t k = k0; k < k1; ++k) {
    int64_t c, i, j;
    if (g.hwc) {
      c = k % g.I;
      j = (k / g.I) % g.kw;
      i = k / (g.I * g.kw);
    } else {
      j = k % g.kw;
      i = (k / g.kw) % g.kh;
      c = k / (g.kw * g.kh);
    }
    // ih = oh * sh + (i * dh - ph), iw = ow * sw + (j * dw - pw)
    copy_padded_rows(g, img, c, i * g.dh - g.ph, j * g.dw - g.pw, g.Ho, g.Wo, col + k * P);
  }
}

// ---- direct convolution ----------------------------------------------------------------

struct DirectPlan {
  std::vector<int64_t> pa, pb;       // row / column phases in use
  std::vector<int64_t> tap_a, tap_si;  // per kernel row i: phase index, grid row shift
  std::vector<int64_t> tap_b, tap_sj;  // per kernel column j: phase index, grid column shift
  int64_t Hq = 0, Wq = 0, grid = 0;  // grid rows, columns, floats
  int64_t Q = 0;                     // extended pixels Ho * Wq
  int nv = 1;                        // vectors per full tile
  int64_t tile = 0, tiles = 0;
  int64_t data = 0;                  // floats of the grids
  int64_t zero_rows = 0;             // start of the zeros read as rows K..K'
  int64_t floats = 0;                // the whole buffer
  std::vector<int32_t> off;          // start of each x row (K' entries)
  std::vector<int64_t> kbound;       // column chunks [kbound[c], kbound[c + 1]) of W
};

// Taps t * d (t < n) split as shift * s + phase; the phases in use, in order.
void split_taps(int64_t n, int64_t d, int64_t s, std::vector<int64_t>& phases,
                std::vector<int64_t>& tap_phase, std::vector<int64_t>& tap_shift) {
  tap_phase.resize(n);
  tap_shift.resize(n);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = t * d % s;
    auto it = std::find(phases.begin(), phases.end(), p);
    if (it == phases.end()) it = phases.insert(phases.end(), p);
    tap_phase[t] = it - phases.begin();
    tap_shift[t] = t * d / s;
  }
}

// The direct plan, or nullopt when the extended pixels would cost more than half
// again the real ones (in vectors) or the buffer outgrows 32-bit offsets.
std::optional<DirectPlan> plan_direct(const ConvGeometry& g, const Packed& w) {
  if (env_int("COMPRESSOR_SPARSE_CONV_IM2COL", 0) != 0) return std::nullopt;
  const int64_t L = spmm_lanes();
  DirectPlan d;
  const int64_t reach_w = (g.kw - 1) * g.dw / g.sw;  // largest column shift sj
  d.Hq = g.Ho + (g.kh - 1) * g.dh / g.sh;
  d.Wq = g.Wo + reach_w;
  const int64_t P = g.Ho * g.Wo;
  // Bounded first so that the products below cannot overflow (Ho, Wo, kh, kw < 2^32).
  if (d.Wq > (int64_t{1} << 31) || d.Hq > (int64_t{1} << 31)) return std::nullopt;
  auto vectors = [&](int64_t n) { return (n + L - 1) / L; };
  if (vectors(g.Ho * d.Wq) * 2 > vectors(P) * 3) return std::nullopt;
  // Rows start at arbitrary floats, so most vector loads of x cross a cache line.
  // Aligning every row (Wq rounded up to whole vectors, one copy of the grids per
  // column shift) triples the working set and is no faster on ResNet-18's layers.
  d.Q = g.Ho * d.Wq;
  split_taps(g.kh, g.dh, g.sh, d.pa, d.tap_a, d.tap_si);
  split_taps(g.kw, g.dw, g.sw, d.pb, d.tap_b, d.tap_sj);
  d.grid = d.Hq * d.Wq;

  const int max_nv = spmm_max_nv(w);
  int nv = env_int("COMPRESSOR_SPARSE_CONV_NV", 0);
  if (nv != 1 && nv != 2 && nv != 4 && nv != 8) nv = 8;
  nv = std::min(nv, max_nv);
  while (nv > 1 && nv / 2 >= vectors(d.Q)) nv /= 2;  // no tile wider than the image needs
  d.nv = nv;
  d.tile = int64_t{nv} * L;
  d.tiles = (d.Q + d.tile - 1) / d.tile;

  // Layout: the grids (`data` floats); zeros that the last grid's extended pixels
  // read past its end (at most reach_w + tile floats); the zeros read as rows
  // K..K' over [0, tiles * tile).
  const int64_t nA = static_cast<int64_t>(d.pa.size()), nB = static_cast<int64_t>(d.pb.size());
  const double data = static_cast<double>(g.I) * static_cast<double>(nA * nB) *
                      static_cast<double>(d.grid);
  const double total = data + static_cast<double>(reach_w + d.tile + (d.tiles + 1) * d.tile);
  if (total >= static_cast<double>(int64_t{1} << 31)) return std::nullopt;
  d.data = g.I * nA * nB * d.grid;
  d.zero_rows = d.data + reach_w + d.tile;
  d.floats = d.zero_rows + d.tiles * d.tile;

  const int64_t K = w.K, Kp = w.padded_k();
  d.off.resize(Kp);
  for (int64_t k = 0; k < K; ++k) {
    int64_t c, i, j;
    if (g.hwc) {
      c = k % g.I;
      j = (k / g.I) % g.kw;
      i = k / (g.I * g.kw);
    } else {
      j = k % g.kw;
      i = (k / g.kw) % g.kh;
      c = k / (g.kw * g.kh);
    }
    const int64_t grid_index = (c * nA + d.tap_a[i]) * nB + d.tap_b[j];
    d.off[k] = static_cast<int32_t>(grid_index * d.grid + d.tap_si[i] * d.Wq + d.tap_sj[j]);
  }
  for (int64_t k = K; k < Kp; ++k) d.off[k] = static_cast<int32_t>(d.zero_rows);

  // Column chunks of whole input channels (rows ordered (in, kh, kw)) whose grid
  // windows fit in L1 together: all rows of W pass over one chunk's x before the
  // next (partial sums in y). Rows ordered (kh, kw, in) touch every channel in
  // any short column range: one chunk.
  const int64_t per_channel =
      nA * nB * (d.tile + d.tap_si.back() * d.Wq + reach_w) * int64_t{sizeof(float)};
  const int64_t budget = int64_t{env_int("COMPRESSOR_SPARSE_CONV_L1KB", 20)} * 1024;
  int64_t chunks = g.hwc || budget <= 0 ? 1 : std::max<int64_t>(1, per_channel * g.I / budget);
  chunks = std::min(chunks, g.I);
  const int64_t per_chunk = (g.I + chunks - 1) / chunks;
  chunks = (g.I + per_chunk - 1) / per_chunk;
  for (int64_t c = 0; c <= chunks; ++c) d.kbound.push_back(std::min(K, c * per_chunk * g.kh * g.kw));
  return d;
}

// Grids [g0, g1) of one image (grid index (c * nA + a) * nB + b).
void fill_grids(const ConvGeometry& g, const DirectPlan& d, const float* img, float* buf,
                int64_t g0, int64_t g1) {
  const int64_t nA = static_cast<int64_t>(d.pa.size()), nB = static_cast<int64_t>(d.pb.size());
  for (int64_t gi = g0; gi < g1; ++gi) {
    const int64_t b = gi % nB, a = gi / nB % nA, c = gi / (nA * nB);
    // ih = u * sh + (pa - ph), iw = v * sw + (pb - pw)
    copy_padded_rows(g, img, c, d.pa[a] - g.ph, d.pb[b] - g.pw, d.Hq, d.Wq, buf + gi * d.grid);
  }
}

// Copies the valid pixels of extended pixels [q0, q0 + width) of rows [m0, m1)
// from ys (rows strided by ld) to the image's output y [M, Ho * Wo].
void store_valid(const ConvGeometry& g, const DirectPlan& d, const float* ys, int64_t ld,
                 int64_t q0, int64_t width, int64_t m0, int64_t m1, float* y) {
  const int64_t P = g.Ho * g.Wo;
  for (int64_t q = q0; q < q0 + width;) {
    const int64_t oh = q / d.Wq, ow = q % d.Wq;
    if (ow >= g.Wo) {
      q = (oh + 1) * d.Wq;
      continue;
    }
    const int64_t len = std::min(g.Wo - ow, q0 + width - q);
    for (int64_t m = m0; m < m1; ++m) {
      std::memcpy(y + m * P + oh * g.Wo + ow, ys + m * ld + (q - q0), len * sizeof(float));
    }
    q += len;
  }
}

void direct_conv(const ConvGeometry& g, const DirectPlan& d, const Packed& w, const float* xin,
                 int64_t B, const float* bias, bool relu, float* yout) {
  const int64_t M = w.M, P = g.Ho * g.Wo, L = spmm_lanes();
  const int64_t R = w.nm24 ? 1 : w.R;
  const int64_t threads = at::get_num_threads();
  const bool parallel = threads > 1 && w.nnz() * std::max<int64_t>(1, w.R * w.C) * d.Q >= kParallelMacs;
  // Whole tiles per thread when there are enough, else a few row chunks per tile.
  const int64_t parts =
      parallel && d.tiles < 4 * threads ? (4 * threads + d.tiles - 1) / d.tiles : 1;
  const std::vector<int64_t> bounds = spmm_row_chunks(w, parts);
  const int64_t nparts = static_cast<int64_t>(bounds.size()) - 1;
  const int64_t items = d.tiles * nparts;
  const int64_t ngrids = d.data / std::max<int64_t>(1, d.grid);

  // Per row unit, where each column chunk's blocks start (BSR; columns are
  // increasing within a block row): seg[u * (chunks + 1) + c].
  const int64_t chunks = static_cast<int64_t>(d.kbound.size()) - 1;
  std::vector<int64_t> seg;
  if (!w.nm24 && chunks > 1) {
    const int64_t units = (M + w.R - 1) / w.R;
    seg.resize(units * (chunks + 1));
    for (int64_t u = 0; u < units; ++u) {
      const uint16_t* first = w.col + w.row_ptr[u];
      const uint16_t* last = w.col + w.row_ptr[u + 1];
      const uint16_t* at = first;  // monotone even if a row's columns were not sorted
      int64_t* s = seg.data() + u * (chunks + 1);
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t bc = (d.kbound[c] + w.C - 1) / w.C;  // first block column of chunk c
        if (c > 0) {
          at = std::lower_bound(at, last, bc, [](uint16_t col, int64_t v) { return col < v; });
        }
        s[c] = at - w.col;
      }
      s[chunks] = w.row_ptr[u + 1];
    }
  }

  float* buf = scratch(Scratch::kIm2col, d.floats);
  std::memset(buf + d.data, 0, (d.floats - d.data) * sizeof(float));  // the zero tail
  for (int64_t img_index = 0; img_index < B; ++img_index) {
    const float* img = xin + img_index * g.I * g.H * g.W;
    float* y = yout + img_index * M * P;
    const int64_t grain = parallel ? std::max<int64_t>(1, at::internal::GRAIN_SIZE / d.grid) : ngrids;
    at::parallel_for(0, ngrids, grain, [&](int64_t g0, int64_t g1) { fill_grids(g, d, img, buf, g0, g1); });

    at::parallel_for(0, items, parallel ? 1 : items, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t t = item / nparts, p = item % nparts;
        const int64_t r0 = bounds[p], r1 = bounds[p + 1];
        if (r0 == r1) continue;
        const int64_t q0 = t * d.tile, width = std::min(d.tile, d.Q - q0);
        int tnv = 1;  // the last tile: a power-of-two number of vectors
        while (tnv < d.nv && tnv * L < width) tnv *= 2;
        const int64_t ld = tnv * L;
        Operands o;
        o.x = buf + q0;
        o.x_off = d.off.data();
        o.bias = bias;
        o.relu = relu;
        o.N = width;
        const bool in_place = d.Wq == g.Wo && width == ld;
        float* ys = in_place ? nullptr : scratch(Scratch::kYTile, M * ld);
        o.y = in_place ? y + q0 : ys;
        o.ldy = in_place ? P : ld;
        for (int64_t c = 0; c < chunks; ++c) {
          if (chunks > 1) {
            if (w.nm24) {
              o.g_begin = (d.kbound[c] + 3) / 4;
              o.g_end = (d.kbound[c + 1] + 3) / 4;
            } else {
              o.seg = seg.data() + c;
              o.seg_stride = chunks + 1;
            }
            o.y_in = c > 0;
            o.bias = c + 1 == chunks ? bias : nullptr;
            o.relu = c + 1 == chunks && relu;
          }
          spmm_tile(w, o, tnv, r0, r1);
        }
        if (!in_place) store_valid(g, d, ys, ld, q0, width, r0 * R, std::min(r1 * R, M), y);
      }
      release_scratch(Scratch::kYTile);
    });
  }
  release_scratch(Scratch::kIm2col);
}

}  // namespace

bool conv2d(const ConvGeometry& g, const Packed& w, const float* xin, int64_t B, const float* bias,
            bool relu, float* yout) {
  isa_fns();  // throws for a bad COMPRESSOR_SPARSE_ISA before any work
  const int64_t M = w.M, P = g.Ho * g.Wo, K = w.K, Kp = w.padded_k();
  if (const std::optional<DirectPlan> d = plan_direct(g, w)) {
    // Checked before the offsets table is indexed by a stored column.
    if (spmm_columns_bad(w)) return true;
    direct_conv(g, *d, w, xin, B, bias, relu, yout);
    return false;
  }

  const bool direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 &&
                      Kp == K;
  float* col = nullptr;  // the im2col matrix [Kp, P], reused across calls (see scratch())
  if (!direct) {
    col = scratch(Scratch::kIm2col, Kp * P);
    std::memset(col + K * P, 0, (Kp - K) * P * sizeof(float));
  }
  bool bad = false;
  for (int64_t b = 0; b < B; ++b) {
    const float* img = xin + b * g.I * g.H * g.W;
    Operands o;
    o.N = P;
    o.bias = bias;
    o.relu = relu;
    o.y = yout + b * M * P;
    o.ldy = P;
    if (direct) {
      o.x = img;
      o.ldx = P;
    } else {
      const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, P));
      at::parallel_for(0, K, grain, [&](int64_t k0, int64_t k1) { im2col_rows(g, img, col, k0, k1); });
      o.x = col;
      o.ldx = P;
    }
    bad |= spmm(w, o);
  }
  release_scratch(Scratch::kIm2col);
  return bad;
}

}  // namespace compressor::cpu::sparse
