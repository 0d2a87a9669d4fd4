#pragma once
// Zero skipping for the blocked GEMM of ops/gemm_kernel.hpp: an A block
// that is mostly zeros is listed, row by row, and multiplied by its
// nonzeros only. Internal linkage, as everything the ISA translation units
// instantiate.

#include <algorithm>
#include <array>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "ops/gemm.hpp"
#include "ops/gemm_tile.hpp"

namespace ebm::gemm::detail {
namespace {

// Zero skipping. An A block with few nonzeros (sampled binary states, the
// blank pixels of MNIST) is multiplied as a list of its nonzeros per row:
// each C element then sums, in the same ascending k, only the terms whose
// A factor is not zero. A skipped term fma(0, b, acc) would leave acc
// unchanged for every finite b, so C keeps the dense kernel's bits. (The
// exceptions: an infinite or NaN b, which the dense product turns into NaN
// and this one leaves out, and the sign of a zero sum that underflowed.)
//
// An ISA TU may specialise this, before it instantiates the GEMM, with
// vector compares and a compress of 16 floats.
template <class Arch>
struct Sparse16 {
  static constexpr bool available = false;
  static uint32_t nonzero(const float*) { return 0; }  // bit i: x[i] != 0 (NaN included)
  static uint32_t ones(const float*) { return 0; }     // bit i: x[i] == 1
  // Appends the nonzeros of x[0:16) to k (their indices plus k0) and v;
  // may write up to 16 of each. Returns how many.
  static int64_t compress(const float*, int32_t, int32_t*, float*) { return 0; }
};

// The nonzeros of an A block, row by row in ascending k: row r's depths
// (within the slab) at k[off[r] .. off[r + 1]), its values at v[...]. When
// every nonzero is 1 (binary states), v is not filled: the sums are plain
// adds, fma(1, b, acc) having the bits of acc + b.
struct SparseBlock {
  int32_t* k;
  float* v;
  bool binary;
  std::array<int32_t, kMc + 1> off;
};

// Lists the nonzeros of op(A)[i0:i0+mc, p0:p0+kc] into sb (k and v hold
// kBinaryDensity mc kc + 16 each). Returns false, with sb partly written,
// when there are too many (kSparseDensity, kBinaryDensity): the block is
// multiplied dense.
template <class Arch>
bool list_nonzeros(const Problem& pr, int64_t i0, int64_t mc, int64_t p0, int64_t kc, SparseBlock& sb) {
  const auto most = [&](double density) { return static_cast<int64_t>(density * double(mc * kc)); };
  const int64_t max_nnz = most(kBinaryDensity);
  // After `done` of `all` rows (or depths), the count may be at most twice
  // its share of max_nnz: a dense block is given up on almost at once.
  const auto early_limit = [&](int64_t done, int64_t all) { return max_nnz * min(all, 2 * done) / all; };
  using S = Sparse16<Arch>;
  int32_t* off = sb.off.data();
  off[0] = 0;
  bool other = false;  // a nonzero other than 1 seen
  if (!pr.ta) {        // rows are contiguous: count (and stop early), then list
    for (int64_t r = 0; r < mc; ++r) {
      const float* row = pr.a + (i0 + r) * pr.lda + p0;
      int64_t n = 0, k = 0;
      if constexpr (S::available)
        for (; k + 16 <= kc; k += 16) {
          const uint32_t nz = S::nonzero(row + k);
          n += __builtin_popcount(nz);
          other |= (nz & ~S::ones(row + k)) != 0;
        }
      for (; k < kc; ++k) {
        n += row[k] != 0.0f;
        other |= row[k] != 0.0f && row[k] != 1.0f;
      }
      off[r + 1] = static_cast<int32_t>(off[r] + n);
      if (off[r + 1] > early_limit(r + 1, mc)) return false;
    }
    if (other && off[mc] > most(kSparseDensity)) return false;
    sb.binary = !other;
    for (int64_t r = 0; r < mc; ++r) {
      const float* row = pr.a + (i0 + r) * pr.lda + p0;
      int64_t n = off[r], k = 0;
      if constexpr (S::available)
        for (; k + 16 <= kc; k += 16) n += S::compress(row + k, static_cast<int32_t>(k), sb.k + n, sb.v + n);
      for (; k < kc; ++k)
        if (row[k] != 0.0f) sb.k[n] = static_cast<int32_t>(k), sb.v[n++] = row[k];
    }
    return true;
  }
  // Stored transposed, each k is a run of rows: count per row, then place.
  for (int64_t r = 0; r <= mc; ++r) off[r] = 0;
  int64_t total = 0;
  for (int64_t k = 0; k < kc; ++k) {
    const float* col = pr.a + (p0 + k) * pr.lda + i0;
    int32_t odd = 0, n = 0;  // (no branches: the loop vectorizes)
    for (int64_t r = 0; r < mc; ++r) {
      off[r + 1] += col[r] != 0.0f;
      n += col[r] != 0.0f;
      odd |= (col[r] != 0.0f) & (col[r] != 1.0f);
    }
    other |= odd != 0;
    total += n;
    if (total > early_limit(k + 1, kc)) return false;
  }
  for (int64_t r = 0; r < mc; ++r) off[r + 1] += off[r];
  if (off[mc] > (other ? most(kSparseDensity) : max_nnz)) return false;
  sb.binary = !other;
  std::array<int32_t, kMc> at;
  for (int64_t r = 0; r < mc; ++r) at[r] = off[r];
  for (int64_t k = 0; k < kc; ++k) {
    const float* col = pr.a + (p0 + k) * pr.lda + i0;
    int64_t r0 = 0;
    if constexpr (S::available)
      for (; r0 + 16 <= mc; r0 += 16)
        for (uint32_t m = S::nonzero(col + r0); m != 0; m &= m - 1) {
          const int64_t r = r0 + __builtin_ctz(m);
          sb.k[at[r]] = static_cast<int32_t>(k), sb.v[at[r]++] = col[r];
        }
    for (int64_t r = r0; r < mc; ++r)
      if (col[r] != 0.0f) sb.k[at[r]] = static_cast<int32_t>(k), sb.v[at[r]++] = col[r];
  }
  return true;
}

// R rows of C (rows[0 .. R), their lists no shorter in that order) over
// one B panel of NV vectors (kc x NV L, aligned): the rows advance through
// their lists in lockstep while all have entries left, then the longer ones
// alone, so R x NV sums run at once out of a panel that stays in L1. Each
// row's sum, then store_tile as the dense kernel stores (inlined: a call
// per row and panel spilled the sums and cost 5% of a CD-1 step's GEMMs).
template <class Arch, int R, int NV, bool Binary>
[[gnu::flatten]] void sparse_rows(const SparseBlock& sb, const int32_t* rows, const float* b, float* c, int64_t ldc, int64_t cols,
                 float alpha, float beta) {
  using V = xsimd::batch<float, Arch>;
  constexpr int64_t L = V::size;
  V acc[R][1][NV];
  const int32_t* k[R];
  const float* v[R];
  int64_t len[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const int32_t at = sb.off[rows[r]];
    k[r] = sb.k + at, v[r] = sb.v + at;
    len[r] = sb.off[rows[r] + 1] - at;
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) acc[r][0][j] = V(0.0f);
  }
  auto step = [&](int r, int64_t t) {
    const float* bk = b + int64_t{k[r][t]} * (NV * L);
    if constexpr (Binary) {
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[r][0][j] += V::load_aligned(bk + j * L);
    } else {
      const V a(v[r][t]);
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[r][0][j] = Fma<Arch>::apply(a, V::load_aligned(bk + j * L), acc[r][0][j]);
    }
  };
  // Phase s: rows s .. R - 1 from the end of row s - 1's list to row s's.
  int64_t t = 0;
#pragma GCC unroll 4
  for (int s = 0; s < R; ++s) {
    for (; t < len[s]; ++t)
#pragma GCC unroll 4
      for (int r = s; r < R; ++r) step(r, t);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) store_tile<Arch, 1, NV>(acc[r], c + rows[r] * ldc, 0, cols, alpha, beta);
}

// block_product for an A block given as list_nonzeros's lists: B panel by
// B panel, rows four at a time in order of list length.
template <class Arch, bool Binary>
void sparse_block_product(const SparseBlock& sb, const float* pb, int64_t mc, int64_t nc, int64_t kc, float alpha,
                          float beta, float* c, int64_t ldc) {
  constexpr int64_t L = xsimd::batch<float, Arch>::size;
  using RowsFn = void (*)(const SparseBlock&, const int32_t*, const float*, float*, int64_t, int64_t, float, float);
  static constexpr RowsFn kernels[2][4] = {
      {&sparse_rows<Arch, 1, 1, Binary>, &sparse_rows<Arch, 2, 1, Binary>, &sparse_rows<Arch, 3, 1, Binary>,
       &sparse_rows<Arch, 4, 1, Binary>},
      {&sparse_rows<Arch, 1, 2, Binary>, &sparse_rows<Arch, 2, 2, Binary>, &sparse_rows<Arch, 3, 2, Binary>,
       &sparse_rows<Arch, 4, 2, Binary>}};
  const int32_t* off = sb.off.data();
  // The rows by list length (a counting sort: a length is at most kc, and
  // which rows share a group of four changes no bit of any row).
  std::array<int32_t, kMc> order;
  std::array<int32_t, 4 * kKc + 2> start;  // kc <= 4 kKc (Blocking)
  std::fill_n(start.begin(), kc + 2, 0);
  for (int64_t r = 0; r < mc; ++r) ++start[static_cast<size_t>(off[r + 1] - off[r] + 1)];
  for (int64_t l = 1; l <= kc + 1; ++l) start[static_cast<size_t>(l)] += start[static_cast<size_t>(l - 1)];
  for (int64_t r = 0; r < mc; ++r) order[static_cast<size_t>(start[static_cast<size_t>(off[r + 1] - off[r])]++)] = static_cast<int32_t>(r);
  const float* b = pb;
  for (int64_t j = 0; j < nc; j += 2 * L) {
    const int64_t cols = min(2 * L, nc - j), nv = cols <= L ? 1 : 2;
    for (int64_t r = 0; r < mc; r += 4) {
      kernels[nv - 1][min(4, mc - r) - 1](sb, order.data() + r, b, c + j, ldc, cols, alpha, beta);
      step_write_ahead();
    }
    b += nv * L * kc;
  }
}

}  // namespace
}  // namespace ebm::gemm::detail
