// ebm::gemm AVX-512 kernels (this TU is compiled with -march=x86-64-v4).

#include <immintrin.h>

#include "ops/gemm_kernel.hpp"

namespace ebm::gemm::detail {
namespace {

// The packs' transposing copy, 16 x 16 in registers (xsimd 8 has no
// cross-lane two-source shuffle): rows r interleaved in pairs, then in
// fours within each 128-bit lane, then the lanes gathered, so that
// out[k] holds element k of every row.
template <>
struct Transpose16<xsimd::avx512f> {
  static constexpr bool available = true;
  static void block(const float* src, int64_t ld, int64_t rows, float* dst, int64_t w) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 8; ++i) {  // t[2i], t[2i+1]: rows 2i, 2i+1 at k = 4L..4L+1 and 4L+2..4L+3
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {  // r[4i + c], lane L: rows 4i..4i+3 at k = 4L + c
      r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    const __mmask16 mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int c = 0; c < 4; ++c) {  // out[4L + c] = lane L of r[c], r[4 + c], r[8 + c], r[12 + c]
      const __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
      const __m512 w0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44),
                   w1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
      const __m512 out[4] = {_mm512_shuffle_f32x4(v0, w0, 0x88), _mm512_shuffle_f32x4(v0, w0, 0xDD),
                             _mm512_shuffle_f32x4(v1, w1, 0x88), _mm512_shuffle_f32x4(v1, w1, 0xDD)};
      for (int l = 0; l < 4; ++l) _mm512_mask_storeu_ps(dst + (4 * l + c) * w, mask, out[l]);
    }
  }
};

template <>
struct Fma<xsimd::avx512f> {
  using V = xsimd::batch<float, xsimd::avx512f>;
  static V apply(const V& x, const V& y, const V& z) { return _mm512_fmadd_ps(x, y, z); }
};

template <>
struct Sparse16<xsimd::avx512f> {
  static constexpr bool available = true;
  static uint32_t nonzero(const float* x) {
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(x), _mm512_setzero_ps(), _CMP_NEQ_UQ);
  }
  static uint32_t ones(const float* x) {
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(x), _mm512_set1_ps(1.0f), _CMP_EQ_OQ);
  }
  static int64_t compress(const float* x, int32_t k0, int32_t* k, float* v) {
    const __m512 xs = _mm512_loadu_ps(x);
    const __mmask16 m = _mm512_cmp_ps_mask(xs, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const __m512i ks = _mm512_add_epi32(_mm512_set1_epi32(k0),
                                        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512(k, _mm512_maskz_compress_epi32(m, ks));
    _mm512_storeu_ps(v, _mm512_maskz_compress_ps(m, xs));
    return __builtin_popcount(m);
  }
};

}  // namespace

void sgemm_avx512(const Problem& p, Workspace w) { blocked_sgemm<xsimd::avx512f>(p, w); }
int64_t pack_b_avx512(const Problem& p, float* dst) { return pack_b_all<xsimd::avx512f>(p, dst); }

}  // namespace ebm::gemm::detail
