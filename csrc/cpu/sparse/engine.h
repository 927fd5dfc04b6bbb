// The sparse inference engine (CPU): packed sparse weight times dense
// activations, with no dispatcher or tensor types in its interface.
//
// Callers: the operators in csrc/ops/cpu/sparse_*_kernel.cpp (argument checks,
// output tensors). Sources: spmm.cpp (columns layout), spmv.cpp (rows layout),
// conv.cpp (convolutions), generic.h (the ISA-neutral vector kernels),
// scratch.cpp and split.cpp (memory and work split shared by all of them).
//
// Packed weight formats of a weight W[M, K] (M outputs, K inputs):
//
// * Block CSR ("bsr"), block shape R x C in {1x1, 4x1, 1x4}; 1x1 is plain CSR.
//     values  float32 [nblocks, R, C]   block b holds W[R*br + r, C*col[b] + c]
//     col_idx int16   [nblocks]         block column, read as uint16 (K/C <= 65536)
//     row_ptr int64   [ceil(M/R) + 1]   blocks of block row br: row_ptr[br] .. row_ptr[br+1]
//   Within a block row, block columns are strictly increasing. Rows past M (the
//   last block row when M % R != 0) and columns past K hold zeros.
//
// * 2:4 ("nm24"): every group of 4 consecutive inputs of a row keeps at most 2.
//     values  float32 [M, G, 2]         G = ceil(K/4)
//     indices uint8   [M, G]            bits 0-1: position of values[m, g, 0] in the
//                                       group, bits 2-3: position of values[m, g, 1]
//   Positions always address a column < K; unused slots hold the value 0.
//
// Every entry point runs the kernels of compressor::cpu::selected_isa()
// (csrc/cpu/isa.h) and throws its error for a bad COMPRESSOR_SPARSE_ISA before
// any work starts.
#pragma once

#include <cstdint>
#include <vector>

namespace compressor::cpu::sparse {

// A packed weight whose tensors were validated by the caller.
struct Packed {
  bool nm24 = false;
  int R = 1, C = 1;                  // block shape (bsr)
  int64_t M = 0, K = 0;              // logical weight shape
  const float* values = nullptr;
  const uint16_t* col = nullptr;     // bsr
  const int64_t* row_ptr = nullptr;  // bsr
  const uint8_t* pos = nullptr;      // nm24
  int64_t G = 0;                     // nm24: groups per row
  int64_t kb = 0;                    // bsr: block columns, ceil(K / C)
  int64_t nnz() const { return nm24 ? M * G * 2 : row_ptr[(M + R - 1) / R]; }
  // Rows of x a kernel may read: K rounded up to whole 1x4 blocks / 2:4 groups.
  int64_t padded_k() const {
    const int64_t c = nm24 ? 4 : C;
    return (K + c - 1) / c * c;
  }
};

// The dense operand and result of one product, with an optional epilogue.
struct Operands {
  const float* x = nullptr;
  int64_t ldx = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  int64_t N = 0;                // columns (spmm) or rows (spmv)
  const float* bias = nullptr;  // [M] or null
  bool relu = false;
  bool x_rows = false;          // spmm: x is [N, K] (rows strided by ldx), transposed per tile
  bool y_rows = false;          // spmm: y is [N, M] (rows strided by ldy)
  // spmm_tile only: x row k starts at x + x_off[k] (rows K..K' too) instead of
  // x + k * ldx; the direct convolution's rows are shifted views of one buffer.
  const int32_t* x_off = nullptr;
  // spmm_tile only, one column chunk of W at a time: BSR block row u uses blocks
  // [seg[u * seg_stride], seg[u * seg_stride + 1]) instead of row_ptr[u] ..
  // row_ptr[u + 1]; 2:4 rows use groups [g_begin, g_end) (g_end < 0: all); with
  // y_in the products are added to y's current values (partial sums).
  const int64_t* seg = nullptr;
  int64_t seg_stride = 1;
  int64_t g_begin = 0, g_end = -1;
  bool y_in = false;
};

// Scratch memory of the calling thread that survives calls: allocating and
// freeing a megabyte per call costs fresh pages (faults, zeroing) every time,
// up to about half of a product's time. release_scratch() frees a buffer that
// grew above kScratchKeep floats, once its user is done with it.
enum class Scratch { kXTile, kYTile, kShared, kIm2col, kCount };
float* scratch(Scratch which, int64_t floats);
void release_scratch(Scratch which);
constexpr int64_t kScratchKeep = int64_t{16} << 20;  // 64 MB of floats per buffer

// Both return true when a stored block column was out of range (>= kb); it was
// clamped, so every read stays in bounds, and the caller reports the error. The
// row pointers must have been checked (monotone, within the stored blocks).
//
// Columns layout ("x^T"): y[M, N] = W x[K', N] (+bias per row, relu), x rows
// strided by ldx, y rows by ldy, N contiguous. K' = K rounded up to a multiple
// of 4 for 1x4 blocks and 2:4, else K; rows K..K' of x must be zeros. With
// x_rows / y_rows, x is [N, K] / y is [N, M] instead (transposed tile by tile;
// x then needs no padding). Parallel over (column tile, balanced row chunk).
bool spmm(const Packed& w, const Operands& o);

// Rows layout, for a few rows of x: y[n, :] = W x[n, :] for n < N; x rows of
// length K' (zero-padded as above) strided by ldx, y rows by ldy. Walks W in
// cache-sized row chunks, each for all rows of x, gathering x. Parallel over
// balanced row chunks.
bool spmv(const Packed& w, const Operands& o);

// Building blocks for callers that tile the columns themselves (the direct
// convolution, conv.cpp).
//
// spmm_tile computes y[m, 0 : nv * spmm_lanes()] (bias, relu) for the rows m of
// row units [r0, r1) (block rows for BSR, rows for 2:4), with x rows addressed
// as Operands describes (x_off or ldx) and y rows strided by ldy; every x row
// must be readable for the whole tile width, nv in {1, 2, 4, 8} and at most
// spmm_max_nv(w). It does not check the stored columns: call spmm_columns_bad
// first (true: a column >= kb; nothing may be computed then).
int spmm_lanes();
int spmm_max_nv(const Packed& w);
bool spmm_columns_bad(const Packed& w);
// Boundaries of `parts` (at most the row-unit count) row-unit chunks of about equal work.
std::vector<int64_t> spmm_row_chunks(const Packed& w, int64_t parts);
void spmm_tile(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1);

}  // namespace compressor::cpu::sparse
