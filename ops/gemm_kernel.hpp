#pragma once
// The blocked GEMM of ops/gemm.hpp, written once over an xsimd architecture
// and instantiated by ops/gemm_<isa>.cpp, each compiled for its own ISA.
// Everything here has internal linkage (an unnamed namespace), so no two
// ISA translation units share a symbol the linker could mix up.
//
// Blocking (the Goto / BLIS scheme, vectors running along the rows of C):
//   for each column block of C (nc <= kNc columns)
//     for each depth slab (kc <= kKc)
//       pack op(B)[slab, block] into panels of NR columns  -> stays in L2
//       for each row block (mc <= kMc rows)
//         pack op(A)[block, slab] into panels of MR rows   -> one panel in L1
//         for each A panel, for each B panel:
//           micro-kernel: an MR x NR tile of C in registers, kc FMAs steps
// The packs absorb the transposes, zero-pad B panels to full vectors, and
// keep short A panels short (the kernel is instantiated for 1..MR rows).
// An A block that is mostly zeros is not packed: it is listed and
// multiplied by its nonzeros (zero skipping, ops/gemm_sparse.hpp).

#include <array>
#include <cstdint>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "ops/gemm.hpp"
#include "ops/gemm_sparse.hpp"
#include "ops/gemm_tile.hpp"

namespace ebm::gemm::detail {
namespace {

// mr: rows of the register tile. The tile holds mr x 2 vectors of C plus
// the two B vectors of the current k: 12 x 2 + 2 of the 32 AVX-512
// registers, 6 x 2 + 2 + 1 of the 16 AVX2 / SSE ones.
template <class Arch>
constexpr int mr_of() {
  return xsimd::batch<float, Arch>::size == 16 ? 12 : 6;
}

// Splits n into the fewest blocks of at most `max` (a multiple of `align`)
// and returns the common block size, a multiple of `align`.
inline int64_t block_size(int64_t n, int64_t max, int64_t align) {
  const int64_t blocks = (n + max - 1) / max;
  const int64_t size = (n + blocks - 1) / blocks;
  return (size + align - 1) / align * align;
}

// The micro-kernel: C[0:R, 0:cols] = alpha A B + beta C for an A panel of
// kc x R and a packed B panel (kc x NV vectors, aligned). A's element
// (k, r) is at a[k as + r] (k-major: a packed panel, or A stored
// transposed and read in place), or with RowMajorA at a[r as + k] (A's
// rows read in place: for narrow B, where a packed A would serve one or
// two B panels, this saves the copy). Either way each C element sums the
// same products in the same order, so the form changes no bits.
// Per k: NV vector loads of B, R broadcasts of A, R x NV FMAs; with
// Prefetch, also a prefetch of the same vectors of the next B panel at pf
// (B panels read from a cache of packed operands come from far away).
template <class Arch, int R, int NV, bool RowMajorA, bool Prefetch>
void micro_kernel(int64_t kc, const float* a, int64_t as, const float* b, float* c, int64_t ldc, int64_t cols,
                  float alpha, float beta, const float* pf) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size;
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = V(0.0f);
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = V::load_aligned(b + (p * NV + v) * L);
    if constexpr (Prefetch)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) __builtin_prefetch(pf + (p * NV + v) * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V ar(RowMajorA ? a[r * as + p] : a[p * as + r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = Fma<Arch>::apply(ar, bv[v], acc[r][v]);
    }
  }
  store_tile<Arch, R, NV>(acc, c, ldc, cols, alpha, beta);
}

using KernelFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t, float, float,
                          const float*);

// kernels[R - 1][NV - 1]: the micro-kernel for R rows and NV vectors.
template <class Arch, bool RowMajorA, bool Prefetch, size_t... R>
constexpr auto kernel_table(std::index_sequence<R...>) {
  return std::array<std::array<KernelFn, 2>, sizeof...(R)>{{{&micro_kernel<Arch, int(R) + 1, 1, RowMajorA, Prefetch>,
                                                             &micro_kernel<Arch, int(R) + 1, 2, RowMajorA, Prefetch>}...}};
}

// An ISA TU may specialise this, before it instantiates the GEMM, with an
// in-register transpose of a 16 (k) x rows (<= 16) block:
// dst[k w + r] = src[r ld + k] for k < 16, r < rows.
template <class Arch>
struct Transpose16 {
  static constexpr bool available = false;
  static void block(const float*, int64_t, int64_t, float*, int64_t) {}
};

// dst[k w + r] = src[r ld + k] for r < rows, k < kc: the transposing copy
// of both packs, in k blocks of 16 so the rows read and the lines written
// stay in L1.
template <class Arch>
void transpose_copy(const float* src, int64_t ld, int64_t rows, int64_t kc, float* dst, int64_t w) {
  constexpr int64_t kb = 16;
  int64_t k0 = 0;
  if constexpr (Transpose16<Arch>::available)
    for (; k0 + kb <= kc; k0 += kb)
      for (int64_t r = 0; r < rows; r += 16)
        Transpose16<Arch>::block(src + r * ld + k0, ld, min(16, rows - r), dst + k0 * w + r, w);
  for (; k0 < kc; k0 += kb) {
    const int64_t kn = min(kb, kc - k0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < kn; ++k) dst[(k0 + k) * w + r] = src[r * ld + k0 + k];
  }
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into panels of MR rows: panel q holds
// rows q MR .. q MR + R - 1 as dst[k R + r] (R = MR except in the last).
template <class Arch>
void pack_a(const Problem& pr, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  constexpr int64_t MR = mr_of<Arch>();
  for (int64_t q = 0; q < mc; q += MR) {
    const int64_t rows = min(MR, mc - q);
    if (pr.ta) {  // op(A)(i, k) = a[k lda + i]: each k is a contiguous run of rows
      const float* src = pr.a + (p0 * pr.lda) + i0 + q;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < rows; ++r) dst[k * rows + r] = src[k * pr.lda + r];
    } else {  // op(A)(i, k) = a[i lda + k]: interleave the rows
      transpose_copy<Arch>(pr.a + (i0 + q) * pr.lda + p0, pr.lda, rows, kc, dst, rows);
    }
    dst += rows * kc;
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into panels of NR = 2 vectors (the last
// panel one vector when that covers it): dst[k w + j], zero-padded to w.
template <class Arch>
void pack_b(const Problem& pr, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size;
  for (int64_t q = 0; q < nc; q += 2 * L) {
    const int64_t cols = min(2 * L, nc - q), w = cols <= L ? L : 2 * L;
    if (!pr.tb) {  // op(B)(k, j) = b[k ldb + j]: rows are contiguous
      const float* src = pr.b + p0 * pr.ldb + j0 + q;
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * pr.ldb;
        float* d = dst + k * w;
        if (cols == w) {
          for (int64_t v = 0; v < w; v += L) V::load_unaligned(s + v).store_aligned(d + v);
        } else {
          for (int64_t j = 0; j < cols; ++j) d[j] = s[j];
          for (int64_t j = cols; j < w; ++j) d[j] = 0.0f;
        }
      }
    } else {  // op(B)(k, j) = b[j ldb + k]: interleave the columns
      transpose_copy<Arch>(pr.b + (j0 + q) * pr.ldb + p0, pr.ldb, cols, kc, dst, w);
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = cols; j < w; ++j) dst[k * w + j] = 0.0f;
    }
    dst += w * kc;
  }
}

// Where a macro-kernel finds its block of A.
enum class AForm {
  packed,     // panels of MR rows, k-major (pack_a)
  k_major,    // in place, stored transposed: row k of the block at a + k lda
  row_major,  // in place, not transposed: row i of the block at a + i lda
};

// The macro-kernel over one mc x kc block of A and a packed kc x nc block
// of B. A B block from far away (far_b: a cache of packed operands, not the
// pack just written) is fetched a panel ahead during the first row panel.
template <class Arch>
void block_product(AForm form, const float* pa, int64_t lda, const float* pb, bool far_b, int64_t mc, int64_t nc,
                   int64_t kc, float alpha, float beta, float* c, int64_t ldc) {
  constexpr int64_t MR = mr_of<Arch>(), L = xsimd::batch<float, Arch>::size;
  using Rows = std::make_index_sequence<MR>;
  static constexpr auto k_major_kernels = kernel_table<Arch, false, false>(Rows{});
  static constexpr auto fetching_kernels = kernel_table<Arch, false, true>(Rows{});
  static constexpr auto row_kernels = kernel_table<Arch, true, false>(Rows{});
  for (int64_t i = 0; i < mc; i += MR) {
    const int64_t rows = min(MR, mc - i);
    const float* ai = form == AForm::packed ? pa + i * kc : form == AForm::k_major ? pa + i : pa + i * lda;
    const int64_t as = form == AForm::packed ? rows : lda;
    const float* b = pb;
    for (int64_t j = 0; j < nc; j += 2 * L) {
      const int64_t cols = min(2 * L, nc - j), nv = cols <= L ? 1 : 2;
      const float* next = b + nv * L * kc;  // the next B panel
      const auto& table = form == AForm::row_major                ? row_kernels
                          : far_b && i == 0 && j + 2 * L < nc ? fetching_kernels
                                                              : k_major_kernels;
      table[rows - 1][nv - 1](kc, ai, as, b, c + i * ldc + j, ldc, cols, alpha, beta, next);
      step_write_ahead();
      b = next;
    }
  }
}

// The blocking of one product, shared by the product and by pack_b_all.
template <class Arch>
struct Blocking {
  static constexpr int64_t MR = mr_of<Arch>(), L = xsimd::batch<float, Arch>::size;
  int64_t kc_max, nc_max, mc_max;

  explicit Blocking(const Problem& p) {
    // A C one vector wide has one B panel and nothing to keep in L1 across
    // panels: deeper slabs (fewer passes over C), as many A rows as fit.
    const int64_t kc_limit = p.n <= L ? 4 * kKc : kKc;
    kc_max = block_size(p.k, kc_limit, 1);
    nc_max = block_size(p.n, kNc, 2 * L);
    mc_max = block_size(p.m, min(kMc, (kPackA / kc_max - MR) / MR * MR), MR);
  }
  // Floats of a packed kc x nc block of B: panels of 2L columns, the last
  // one L wide when that covers it.
  static int64_t b_block(int64_t kc, int64_t nc) {
    const int64_t full = nc / (2 * L), rest = nc - full * 2 * L;
    return kc * (full * 2 * L + (rest == 0 ? 0 : rest <= L ? L : 2 * L));
  }
};

// Packs all of op(B) as the product below walks it (column blocks, then
// depth slabs, each block as pack_b lays it out) into dst, and returns the
// floats written; with dst null, only the count.
template <class Arch>
int64_t pack_b_all(const Problem& p, float* dst) {
  const Blocking<Arch> bl(p);
  int64_t at = 0;
  for (int64_t j0 = 0; j0 < p.n; j0 += bl.nc_max) {
    const int64_t nc = min(bl.nc_max, p.n - j0);
    for (int64_t p0 = 0; p0 < p.k; p0 += bl.kc_max) {
      const int64_t kc = min(bl.kc_max, p.k - p0);
      if (dst) pack_b<Arch>(p, p0, kc, j0, nc, dst + at);
      at += Blocking<Arch>::b_block(kc, nc);
    }
  }
  return at;
}

// One row of C (m = 1) from an untransposed B read in place, such as a
// bias gradient (g' v, a row of ones times a batch): packing B would copy
// it for this one row to read once. Each element sums the same products in
// the same order, slab by slab, and is stored by the same store_tile, as in
// the micro-kernel (same bits); dense: a zero of A is multiplied too.
template <class Arch>
void row_product(const Problem& p, int64_t kc_max) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size, kPanels = 4;  // 2L-column panels per pass over B's rows
  for (int64_t j0 = 0; j0 < p.n; j0 += kPanels * 2 * L) {
    const int64_t cols = min(kPanels * 2 * L, p.n - j0), full = cols / L, rest = cols - full * L;
    for (int64_t p0 = 0; p0 < p.k; p0 += kc_max) {
      const int64_t kc = min(kc_max, p.k - p0);
      V acc[kPanels][1][2];
      for (auto& panel : acc) panel[0][0] = panel[0][1] = V(0.0f);
      alignas(64) float tail[L] = {};
      for (int64_t q = p0; q < p0 + kc; ++q) {
        const V aq(p.ta ? p.a[q * p.lda] : p.a[q]);
        const float* b = p.b + q * p.ldb + j0;
        for (int64_t v = 0; v < full; ++v) {
          V& x = acc[v / 2][0][v % 2];
          x = Fma<Arch>::apply(aq, V::load_unaligned(b + v * L), x);
        }
        if (rest) {
          for (int64_t j = 0; j < rest; ++j) tail[j] = b[full * L + j];
          V& x = acc[full / 2][0][full % 2];
          x = Fma<Arch>::apply(aq, V::load_aligned(tail), x);
        }
      }
      const float beta = p0 == 0 ? p.beta : 1.0f;  // later slabs accumulate
      step_write_ahead();
      for (int64_t j = 0, q = 0; j < cols; j += 2 * L, ++q) {  // a last panel of at most L columns is one vector wide
        const int64_t w = min(2 * L, cols - j);
        if (w > L) {
          store_tile<Arch, 1, 2>(acc[q], p.c + j0 + j, p.ldc, w, p.alpha, beta);
        } else {
          const V one[1][1] = {{acc[q][0][0]}};
          store_tile<Arch, 1, 1>(one, p.c + j0 + j, p.ldc, w, p.alpha, beta);
        }
      }
    }
  }
}

// C = alpha op(A) op(B) + beta C. B is packed block by block into the
// workspace, or read from p.packed_b (pack_b_all's layout) when given.
template <class Arch>
void blocked_sgemm(const Problem& p, Workspace w) {
  constexpr int64_t L = xsimd::batch<float, Arch>::size;
  const Blocking<Arch> bl(p);
  if (p.m == 1 && !p.tb && !p.packed_b) return row_product<Arch>(p, bl.kc_max);
  // With few B panels to reuse a packed A over, reading A in place beats
  // copying it: stored transposed it is already k-major, worth it for up to
  // four vectors of columns; stored as rows, the kernel broadcasts from MR
  // rows at once, which L1 keeps across the B panels: faster than packing
  // for column blocks of up to 512 (1.02-1.12x on one thread with AVX-512,
  // 1.02-1.22x with AVX2, the training steps' shapes and others; a block of
  // 672 columns read 0.97 with AVX-512: docs/performance.md, thirty-first
  // session). Same bits either way.
  const AForm a_form = p.ta ? (p.n <= 4 * L ? AForm::k_major : AForm::packed)
                            : (bl.nc_max <= 512 ? AForm::row_major : AForm::packed);
  const float* prepacked = p.packed_b;
  const bool far_b = prepacked != nullptr;
  // Zero skipping's lists go where A would be packed: depths and values,
  // each with room for the most nonzeros a block may have before it counts
  // as dense.
  SparseBlock sparse{reinterpret_cast<int32_t*>(w.a), w.a + kPackA / 2, false, {}};
  for (int64_t j0 = 0; j0 < p.n; j0 += bl.nc_max) {
    const int64_t nc = min(bl.nc_max, p.n - j0);
    for (int64_t p0 = 0; p0 < p.k; p0 += bl.kc_max) {
      const int64_t kc = min(bl.kc_max, p.k - p0);
      const float beta = p0 == 0 ? p.beta : 1.0f;  // later slabs accumulate
      const float* pb = w.b;
      if (prepacked) {
        pb = prepacked;
        prepacked += Blocking<Arch>::b_block(kc, nc);
      } else {
        pack_b<Arch>(p, p0, kc, j0, nc, w.b);
      }
      for (int64_t i0 = 0; i0 < p.m; i0 += bl.mc_max) {
        const int64_t mc = min(bl.mc_max, p.m - i0);
        if (p.skip_zeros) {
          if (list_nonzeros<Arch>(p, i0, mc, p0, kc, sparse)) {
            float* c = p.c + i0 * p.ldc + j0;
            if (sparse.binary) sparse_block_product<Arch, true>(sparse, pb, mc, nc, kc, p.alpha, beta, c, p.ldc);
            else sparse_block_product<Arch, false>(sparse, pb, mc, nc, kc, p.alpha, beta, c, p.ldc);
            continue;
          }
        }
        const float* a = w.a;
        if (a_form == AForm::k_major) a = p.a + p0 * p.lda + i0;
        else if (a_form == AForm::row_major) a = p.a + i0 * p.lda + p0;
        else pack_a<Arch>(p, i0, mc, p0, kc, w.a);
        block_product<Arch>(a_form, a, p.lda, pb, far_b, mc, nc, kc, p.alpha, beta, p.c + i0 * p.ldc + j0, p.ldc);
      }
    }
  }
}

}  // namespace
}  // namespace ebm::gemm::detail
