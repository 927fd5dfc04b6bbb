// The kernel table of the selected instruction set (see internal.h, cpu/isa.h).
#include "cpu/sparse/internal.h"

namespace compressor::cpu::sparse {

IsaFns isa_fns() {
  const Isa isa = selected_isa();  // before any work: throws for a bad COMPRESSOR_SPARSE_ISA
#if COMPRESSOR_SPARSE_X86
  switch (isa) {
    case Isa::kAvx512:
      return {&tile_avx512, &rows_avx512, &max_col_avx512, 16};
    case Isa::kAvx2:
      return {&tile_avx2, &rows_avx2, &max_col_avx2, 8};
    case Isa::kPortable:
      break;
  }
#else
  (void)isa;
#endif
  return {&tile_portable, &rows_portable, &max_col_portable, 4};
}

}  // namespace compressor::cpu::sparse
