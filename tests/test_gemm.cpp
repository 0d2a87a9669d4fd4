// ebm::gemm::sgemm on every ISA this CPU runs: against a double-precision
// loop on random shapes (edges, primes, K = 1, block boundaries crossed, all
// transposes, alpha/beta, padded leading dimensions, NaN in C with beta = 0),
// and a tiled run on two threads bitwise equal to one call.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "ops/error.hpp"
#include "ops/gemm.hpp"

using namespace ebm;

namespace {

std::vector<gemm::Isa> supported_isas() {
  std::vector<gemm::Isa> out;
  for (gemm::Isa isa : {gemm::Isa::generic, gemm::Isa::avx2, gemm::Isa::avx512})
    if (gemm::isa_supported(isa)) out.push_back(isa);
  return out;
}

// One product with its stored operands: op(A) m x k, op(B) k x n, C m x n,
// each leading dimension `pad` beyond its minimum.
struct Case {
  int64_t m, n, k;
  bool ta, tb;
  float alpha, beta;
  int64_t pad;
  std::vector<float> a, b, c0;
  int64_t lda() const { return (ta ? m : k) + pad; }
  int64_t ldb() const { return (tb ? k : n) + pad; }
  int64_t ldc() const { return n + pad; }
  float op_a(int64_t i, int64_t p) const { return ta ? a[p * lda() + i] : a[i * lda() + p]; }
  float op_b(int64_t p, int64_t j) const { return tb ? b[j * ldb() + p] : b[p * ldb() + j]; }
};

Case make_case(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta, int64_t pad, uint32_t seed) {
  Case t{m, n, k, ta, tb, alpha, beta, pad, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto fill = [&](std::vector<float>& v, int64_t rows, int64_t ld) {
    v.resize(static_cast<size_t>(rows * ld));
    for (float& x : v) x = u(rng);
  };
  fill(t.a, ta ? k : m, t.lda());
  fill(t.b, tb ? n : k, t.ldb());
  fill(t.c0, m, t.ldc());
  if (beta == 0.0f)  // C must not be read: NaN garbage would show
    for (float& x : t.c0) x = std::numeric_limits<float>::quiet_NaN();
  return t;
}

// Runs sgemm on `isa` and checks every element against the double loop:
// |c - ref| <= 1e-5 (|alpha| sum_p |a||b| + |beta c0|); padding untouched.
void check(const Case& t, gemm::Isa isa) {
  std::vector<float> c = t.c0;
  gemm::sgemm(isa, t.ta, t.tb, t.m, t.n, t.k, t.alpha, t.a.data(), t.lda(), t.b.data(), t.ldb(), t.beta, c.data(),
              t.ldc());
  int64_t bad = 0;
  for (int64_t i = 0; i < t.m; ++i)
    for (int64_t j = 0; j < t.ldc(); ++j) {
      const size_t at = static_cast<size_t>(i * t.ldc() + j);
      if (j >= t.n) {  // the padding of C keeps its bits
        bad += !(std::isnan(t.c0[at]) ? std::isnan(c[at]) : c[at] == t.c0[at]);
        continue;
      }
      double ref = 0.0, scale = 0.0;
      for (int64_t p = 0; p < t.k; ++p) {
        ref += double(t.op_a(i, p)) * t.op_b(p, j);
        scale += std::abs(double(t.op_a(i, p)) * t.op_b(p, j));
      }
      ref *= t.alpha;
      scale *= std::abs(t.alpha);
      if (t.beta != 0.0f) {
        ref += double(t.beta) * t.c0[at];
        scale += std::abs(double(t.beta) * t.c0[at]);
      }
      bad += !(std::abs(c[at] - ref) <= 1e-5 * scale + 1e-30);
    }
  INFO("isa=", gemm::isa_name(isa), " m=", t.m, " n=", t.n, " k=", t.k, " ta=", t.ta, " tb=", t.tb,
       " alpha=", t.alpha, " beta=", t.beta, " pad=", t.pad);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("gemm/isa: names round-trip, unknown names are errors") {
  for (gemm::Isa isa : supported_isas()) CHECK(gemm::isa_from_name(gemm::isa_name(isa)) == isa);
  CHECK(gemm::isa_supported(gemm::active_isa()));
  CHECK_THROWS_AS(gemm::isa_from_name("sse9"), Error);
  CHECK_THROWS_WITH(gemm::isa_from_name("AVX2"), doctest::Contains("generic, avx2, avx512"));
}

TEST_CASE("gemm/skip_zeros: EBM_GEMM_SKIP_ZEROS takes 0 or 1, other values are errors") {
  CHECK(gemm::skip_zeros_from_name("1"));
  CHECK(gemm::skip_zeros_from_name(""));
  CHECK_FALSE(gemm::skip_zeros_from_name("0"));
  CHECK_THROWS_WITH(gemm::skip_zeros_from_name("off"), doctest::Contains("EBM_GEMM_SKIP_ZEROS=off"));
  CHECK_THROWS_AS(gemm::skip_zeros_from_name("yes"), Error);
  gemm::set_skip_zeros(false);
  CHECK_FALSE(gemm::skip_zeros());
  gemm::set_skip_zeros(true);
  CHECK(gemm::skip_zeros());
}

TEST_CASE("gemm/write_ahead: EBM_GEMM_WRITE_AHEAD takes 0 or 1, and a WriteAhead claims every line its rectangle touches, paced over its steps") {
  CHECK(gemm::write_ahead_from_name("1"));
  CHECK_FALSE(gemm::write_ahead_from_name("0"));
  CHECK_THROWS_WITH(gemm::write_ahead_from_name("on"), doctest::Contains("EBM_GEMM_WRITE_AHEAD=on"));
  alignas(64) static char buf[4096];
  for (int64_t offset : {0, 10, 60}) {  // rows starting anywhere in a line
    CAPTURE(offset);
    std::vector<const char*> expected;  // each row's lines, from the one holding its first byte to its last's
    for (int64_t r = 0; r < 3; ++r) {
      const char* first = buf + offset + r * 1000;
      for (const char* l = buf + (first - buf) / 64 * 64; l <= first + 199; l += 64) expected.push_back(l);
    }
    gemm::WriteAhead walk(buf + offset, 3, 200, 1000, 1);
    CHECK(walk.lines() == static_cast<int64_t>(expected.size()));
    std::vector<const char*> got;
    while (const char* l = walk.next()) got.push_back(l);
    CHECK(got == expected);
    CHECK(walk.done());
    gemm::WriteAhead paced(buf + offset, 3, 200, 1000, 5);
    const int64_t per_step = (paced.lines() + 4) / 5;
    for (int s = 1; s <= 5; ++s) {
      paced.step();
      CHECK(paced.claimed() == std::min<int64_t>(s * per_step, paced.lines()));
    }
    CHECK(paced.done());
    paced.step();  // nothing left: a product with more calls than estimated
    CHECK(paced.claimed() == paced.lines());
  }
  gemm::WriteAhead empty(buf, 0, 200, 1000, 5);
  CHECK((empty.done() && empty.next() == nullptr));
  gemm::WriteAhead one(buf, 2, 64, 64, 0);  // no steps expected: everything at the first
  one.step();
  CHECK((one.done() && one.claimed() == 2));
  // A product run inside a scope steps it; leaving adds its lines to the count.
  const int64_t before = gemm::claimed_lines();
  const Case t = make_case(40, 64, 30, false, false, 1.0f, 0.0f, 0, 7);
  std::vector<float> c = t.c0;
  gemm::WriteAhead ahead(buf, 10, 256, 256, gemm::micro_kernel_calls(40, 64, 30, false));
  {
    const gemm::WriteAheadScope scope(&ahead);
    gemm::sgemm(false, false, 40, 64, 30, 1.0f, t.a.data(), t.lda(), t.b.data(), t.ldb(), 0.0f, c.data(), t.ldc());
  }
  CHECK(ahead.done());
  CHECK(gemm::claimed_lines() - before == 40);
}

TEST_CASE("gemm/sgemm: matches a double loop on edge and random shapes, every ISA") {
  struct Dims {
    int64_t m, n, k;
  };
  std::vector<Dims> dims{{1, 1, 1},   {1, 37, 5},   {29, 1, 13},  {7, 11, 1},   {13, 17, 19},
                         {12, 32, 8}, {24, 64, 3},  {31, 47, 53}, {100, 10, 97}, {2, 3, 401},  {20, 5, 1601}};
  std::mt19937 rng(5);
  for (int i = 0; i < 6; ++i)
    dims.push_back({int64_t(rng() % 70 + 1), int64_t(rng() % 90 + 1), int64_t(rng() % 60 + 1)});
  const float alphas[] = {1.0f, -0.75f}, betas[] = {0.0f, 1.0f, 0.5f};
  uint32_t seed = 1;
  for (gemm::Isa isa : supported_isas())
    for (const Dims& d : dims)
      for (int t = 0; t < 4; ++t) {
        const float alpha = alphas[seed % 2], beta = betas[seed % 3];
        check(make_case(d.m, d.n, d.k, t & 1, t & 2, alpha, beta, int64_t(seed % 3) * 5, seed), isa);
        ++seed;
      }
}

TEST_CASE("gemm/sgemm: products larger than one block in every dimension") {
  // m > kMc, n > kNc and k > kKc: several row blocks, column blocks and
  // depth slabs, the later slabs accumulating onto C.
  const Case cases[] = {make_case(gemm::detail::kMc + 13, gemm::detail::kNc + 21, gemm::detail::kKc + 7, false, true,
                                  1.0f, 0.0f, 3, 11),
                        make_case(gemm::detail::kMc + 13, gemm::detail::kNc + 21, gemm::detail::kKc + 7, true, false,
                                  0.5f, -1.0f, 0, 12)};
  int i = 0;
  for (gemm::Isa isa : supported_isas()) check(cases[i++ % 2], isa);
}

TEST_CASE("gemm/sgemm: k = 0 and alpha = 0 scale C by beta") {
  std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
  const float a[1] = {1.0f}, b[1] = {1.0f};
  gemm::sgemm(false, false, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c.data(), 3);
  for (float x : c) CHECK(x == 0.0f);
  c.assign(6, 2.0f);
  gemm::sgemm(false, false, 2, 3, 1, 0.0f, a, 1, b, 3, 0.5f, c.data(), 3);
  for (float x : c) CHECK(x == 1.0f);
}

TEST_CASE("gemm/sgemm: a tiled run on two threads is bitwise equal to one call") {
  // The tiles run concurrently, each with its thread's pack buffers; a
  // C element's arithmetic does not depend on the tile it falls in.
  const Case t = make_case(100, 500, 784, false, false, 1.0f, 0.0f, 0, 21);
  const Case u = make_case(100, 784, 500, false, true, 1.0f, 0.0f, 0, 22);
  for (gemm::Isa isa : supported_isas())
    for (const Case* c : {&t, &u}) {
      std::vector<float> whole(static_cast<size_t>(c->m * c->n)), tiled(whole.size());
      gemm::sgemm(isa, c->ta, c->tb, c->m, c->n, c->k, 1.0f, c->a.data(), c->lda(), c->b.data(), c->ldb(), 0.0f,
                  whole.data(), c->n);
      const int64_t tile_rows = 48, tile_cols = 112, tr = (c->m + tile_rows - 1) / tile_rows,
                    tc = (c->n + tile_cols - 1) / tile_cols;
      tbb::task_arena arena(2);
      arena.execute([&] {
        tbb::parallel_for(int64_t{0}, tr * tc, [&](int64_t tile) {
          const int64_t i0 = tile / tc * tile_rows, j0 = tile % tc * tile_cols;
          const int64_t mi = std::min(tile_rows, c->m - i0), nj = std::min(tile_cols, c->n - j0);
          const float* a = c->ta ? c->a.data() + i0 : c->a.data() + i0 * c->lda();
          const float* b = c->tb ? c->b.data() + j0 * c->ldb() : c->b.data() + j0;
          gemm::sgemm(isa, c->ta, c->tb, mi, nj, c->k, 1.0f, a, c->lda(), b, c->ldb(), 0.0f,
                      tiled.data() + i0 * c->n + j0, c->n);
        });
      });
      INFO("isa=", gemm::isa_name(isa), " tb=", c->tb);
      CHECK(tiled == whole);
    }
}

TEST_CASE("gemm/sgemm: a product read from A in place is bitwise equal to the same columns of one that packs A") {
  // A row-major A is read in place when a column block has at most 512
  // columns, and packed for wider ones (700 columns: one block of 704); each
  // C element must sum the same products in the same order either way.
  // Depths within one slab for n = 10 (whose slabs are deeper), and across
  // slabs for the others; 300 and 512 columns span many B panels.
  constexpr int64_t kWide = 700;
  for (gemm::Isa isa : supported_isas())
    for (const auto& [n, k] : {std::pair<int64_t, int64_t>{10, 300}, {20, 300}, {20, 900}, {300, 900}, {512, 500}}) {
      const Case w = make_case(100, kWide, k, false, false, 1.0f, 0.0f, 0, 31);
      std::vector<float> wide(static_cast<size_t>(100 * kWide)), narrow(static_cast<size_t>(100 * n));
      gemm::sgemm(isa, false, false, 100, kWide, k, 1.0f, w.a.data(), w.lda(), w.b.data(), w.ldb(), 0.0f, wide.data(),
                  kWide);
      gemm::sgemm(isa, false, false, 100, n, k, 1.0f, w.a.data(), w.lda(), w.b.data(), w.ldb(), 0.0f, narrow.data(), n);
      int64_t differ = 0;
      for (int64_t i = 0; i < 100; ++i)
        for (int64_t j = 0; j < n; ++j)
          differ += narrow[static_cast<size_t>(i * n + j)] != wide[static_cast<size_t>(i * kWide + j)];
      INFO("isa=", gemm::isa_name(isa), " n=", n, " k=", k);
      CHECK(differ == 0);
    }
}

TEST_CASE("gemm/sgemm: a one-row product (B read in place) is bitwise equal to the first row of a two-row one") {
  // m = 1 with an untransposed B skips the B pack (a bias gradient, g' v);
  // its sums must be the micro-kernel's, slab by slab: depths within one
  // slab and across two (k = 500 > kKc), ragged widths, A stored either way,
  // beta 0 (C unread), 1 and 0.5.
  uint32_t seed = 40;
  for (gemm::Isa isa : supported_isas())
    for (const auto& [n, k] : {std::pair<int64_t, int64_t>{1, 7}, {15, 100}, {33, 100}, {192, 100}, {300, 500}, {784, 1}})
      for (bool ta : {false, true}) {
        const float beta = std::array{0.0f, 1.0f, 0.5f}[seed % 3], alpha = seed % 2 ? -0.75f : 1.0f;
        const Case t = make_case(2, n, k, ta, false, alpha, beta, int64_t(seed % 2) * 3, seed);
        ++seed;
        std::vector<float> two = t.c0, one = t.c0;
        gemm::sgemm(isa, ta, false, 2, n, k, alpha, t.a.data(), t.lda(), t.b.data(), t.ldb(), beta, two.data(), t.ldc());
        // The first row alone: A's first row (stored transposed: its first column, same leading dimension).
        gemm::sgemm(isa, ta, false, 1, n, k, alpha, t.a.data(), t.lda(), t.b.data(), t.ldb(), beta, one.data(), t.ldc());
        int64_t differ = 0;
        for (int64_t j = 0; j < t.ldc(); ++j) {  // row 0, padding included; row 1 untouched by the one-row call
          const auto at = static_cast<size_t>(j);
          differ += !(std::isnan(two[at]) ? std::isnan(one[at]) : one[at] == two[at]);
        }
        for (int64_t j = 0; j < t.ldc(); ++j) {
          const auto at = static_cast<size_t>(t.ldc() + j);
          differ += !(std::isnan(t.c0[at]) ? std::isnan(one[at]) : one[at] == t.c0[at]);
        }
        INFO("isa=", gemm::isa_name(isa), " n=", n, " k=", k, " ta=", ta, " beta=", beta);
        CHECK(differ == 0);
      }
}

TEST_CASE("gemm/tile_grid: balanced pieces, rows cut on multiples of 16, columns on whole 32-wide panels, narrow products get two row tiles") {
  auto check_grid = [](int64_t m, int64_t n, int64_t rows, int64_t cols) {
    const gemm::TileGrid g = gemm::tile_grid(m, n);
    INFO("m=", m, " n=", n);
    CHECK(g.rows == rows);
    CHECK(g.cols == cols);
    CHECK(g.row_start(0) == 0);
    CHECK(g.row_start(g.rows) == m);
    CHECK(g.col_start(g.cols) == n);
    for (int64_t r = 1; r < g.rows; ++r) CHECK(g.row_start(r) % 16 == 0);
    for (int64_t r = 0; r < g.rows; ++r) CHECK(g.row_start(r + 1) - g.row_start(r) <= 256 + 16);
    for (int64_t c = 1; c < g.cols; ++c) CHECK(g.col_start(c) % 32 == 0);
    int64_t fewest = n, most = 0;  // 32-wide panels per column tile, a part-filled one counted whole
    for (int64_t c = 0; c < g.cols; ++c) {
      const int64_t panels = (g.col_start(c + 1) - g.col_start(c) + 31) / 32;
      fewest = std::min(fewest, panels);
      most = std::max(most, panels);
    }
    CHECK(most - fewest <= 1);
  };
  check_grid(100, 500, 1, 2);   // CD-1's v0 W
  check_grid(784, 500, 4, 2);   // its weight statistics
  check_grid(100, 10, 2, 1);    // a label layer: two row tiles
  check_grid(40, 10, 1, 1);     // too few rows to share
  check_grid(100, 33, 1, 1);    // wider than two vectors: one tile
  check_grid(2000, 10, 8, 1);
  check_grid(100, 784, 1, 4);   // its negative phase
  check_grid(100, 2000, 1, 8);  // a 2000-unit layer
  check_grid(500, 1000, 2, 4);
  CHECK(gemm::tile_grid(100, 10).row_start(1) == 48);
  CHECK(gemm::tile_grid(100, 500).col_start(1) == 256);  // 8 panels each side, not 240 | 260 (8 and 9)
}

TEST_CASE("gemm/PackCache: products on cached B panels are bitwise equal to sgemm, one pack per tile per run") {
  struct Dims {
    int64_t m, n, k;
    bool ta, tb;
  };
  // CD-1's shapes, a narrow label product, and one with several column
  // blocks and depth slabs.
  const Dims dims[] = {{100, 500, 784, false, false}, {100, 784, 500, false, true}, {100, 10, 2000, false, true},
                       {50, gemm::detail::kNc + 40, gemm::detail::kKc + 100, true, false}};
  gemm::PackCache cache;
  std::vector<Case> cases;
  cases.reserve(4);  // the cache keys on B's address
  uint32_t seed = 41;
  for (const Dims& d : dims) {
    const Case& t = cases.emplace_back(make_case(d.m, d.n, d.k, d.ta, d.tb, 1.0f, 0.0f, 2, seed++));
    std::vector<float> ref(static_cast<size_t>(d.m * t.ldc())), got(ref.size());
    gemm::sgemm(d.ta, d.tb, d.m, d.n, d.k, 1.0f, t.a.data(), t.lda(), t.b.data(), t.ldb(), 0.0f, ref.data(), t.ldc());
    const int64_t packs = cache.packs();
    for (int use = 0; use < 2; ++use) {  // the second product reuses the panels
      const float* pb = cache.packed_b(d.tb, d.n, d.k, t.b.data(), t.ldb());
      gemm::sgemm_packed_b(nullptr, d.ta, d.tb, d.m, d.n, d.k, 1.0f, t.a.data(), t.lda(), pb, 0.0f, got.data(), t.ldc());
      INFO("m=", d.m, " n=", d.n, " k=", d.k, " tb=", d.tb, " use=", use);
      CHECK(got == ref);
    }
    CHECK(cache.packs() == packs + 1);
  }
  CHECK(cache.entries() == 4);
  cache.new_run();  // a new run packs again, into the same buffers
  cache.packed_b(false, 500, 784, cases[0].b.data(), cases[0].ldb());
  CHECK(cache.packs() == 5);
  CHECK(cache.entries() == 4);
}

namespace {

// op(A) with about `density` of its elements nonzero: all 1 (sampled
// binary states) when `binary`, else half 1 and half uniform in [-1, 1];
// the columns of op(A) with index p % 7 == 3 all zero.
void sparsify(Case& t, double density, bool binary, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int64_t i = 0; i < t.m; ++i)
    for (int64_t p = 0; p < t.k; ++p) {
      float& x = t.ta ? t.a[static_cast<size_t>(p * t.lda() + i)] : t.a[static_cast<size_t>(i * t.lda() + p)];
      const double r = u(rng);
      x = p % 7 == 3 || r >= density ? 0.0f : binary || r < density / 2 ? 1.0f : x;
    }
}

// C = alpha op(A) b + beta C0 on `isa`, with zero skipping on or off.
std::vector<float> product(const Case& t, const std::vector<float>& b, gemm::Isa isa, bool skip) {
  gemm::set_skip_zeros(skip);
  std::vector<float> c = t.c0;
  gemm::sgemm(isa, t.ta, t.tb, t.m, t.n, t.k, t.alpha, t.a.data(), t.lda(), b.data(), t.ldb(), t.beta, c.data(),
              t.ldc());
  gemm::set_skip_zeros(true);
  return c;
}

// Bitwise equality (C's padding holds NaN when beta = 0).
bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("gemm/sgemm: sparse A (zero skipping) keeps the dense kernel's bits, every ISA") {
  struct Dims {
    int64_t m, n, k;
    bool ta, tb;
  };
  // CD-1's three products and its weight statistics, narrow products (one
  // vector, and a part-filled second one), and blocks crossed every way.
  const Dims dims[] = {{100, 500, 784, false, false}, {100, 784, 500, false, true}, {784, 500, 200, true, false},
                       {100, 10, 2000, false, true},  {37, 20, 300, true, true},    {1, 1, 1, false, false},
                       {13, 17, 19, true, false},
                       {gemm::detail::kMc + 13, gemm::detail::kNc + 21, gemm::detail::kKc + 7, false, true}};
  uint32_t seed = 61;
  for (gemm::Isa isa : supported_isas())
    for (const Dims& d : dims)
      for (const auto& [density, binary] : {std::pair{0.1, false}, {0.25, false}, {0.1, true}, {0.25, true}}) {
        Case t = make_case(d.m, d.n, d.k, d.ta, d.tb, seed % 2 ? 1.0f : -0.5f, seed % 3 == 0 ? 0.0f : 0.5f,
                           int64_t(seed % 2) * 3, seed);
        ++seed;
        sparsify(t, density, binary, seed);
        INFO("isa=", gemm::isa_name(isa), " m=", d.m, " n=", d.n, " k=", d.k, " ta=", d.ta, " tb=", d.tb,
             " density=", density, " binary=", binary);
        CHECK(same_bits(product(t, t.b, isa, true), product(t, t.b, isa, false)));
        check(t, isa);
        // The path is taken: B's row 3 (A's zero column) made infinite turns
        // every element of the dense product into NaN, and none skipping.
        if (d.k <= 3) continue;
        std::vector<float> inf_b = t.b;
        for (int64_t j = 0; j < d.n; ++j)
          inf_b[static_cast<size_t>(d.tb ? j * t.ldb() + 3 : 3 * t.ldb() + j)] = std::numeric_limits<float>::infinity();
        const std::vector<float> skipped = product(t, inf_b, isa, true), dense = product(t, inf_b, isa, false);
        CHECK(std::isnan(dense[0]));
        int64_t nan = 0;
        for (int64_t i = 0; i < d.m; ++i)
          for (int64_t j = 0; j < d.n; ++j) nan += std::isnan(skipped[static_cast<size_t>(i * t.ldc() + j)]);
        CHECK(nan == 0);
        CHECK(same_bits(skipped, product(t, t.b, isa, false)));
      }
}

namespace {

// C = op(A) B of a case with op(A) = A^T (a weight gradient's), tile by
// tile on grid g, each tile one sgemm call.
std::vector<float> product_on_grid(const Case& t, const gemm::TileGrid& g) {
  std::vector<float> c(static_cast<size_t>(t.m * t.n), 0.0f);
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t q = 0; q < g.cols; ++q) {
      const int64_t i0 = g.row_start(r), i1 = g.row_start(r + 1), j0 = g.col_start(q), j1 = g.col_start(q + 1);
      gemm::sgemm(true, false, i1 - i0, j1 - j0, t.k, 1.0f, t.a.data() + i0, t.lda(), t.b.data() + j0, t.ldb(), 0.0f,
                  c.data() + i0 * t.n + j0, t.n);
    }
  return c;
}

// A grid of `tiles` row tiles and one column tile over m rows, inner row
// boundaries on multiples of 16.
void check_rows_only(const gemm::TileGrid& g, int64_t tiles, int64_t m) {
  CHECK(g.rows == tiles);
  CHECK(g.cols == 1);
  for (int64_t r = 1; r < g.rows; ++r) CHECK(g.row_start(r) % 16 == 0);
  CHECK(g.row_start(g.rows) == m);
}

}  // namespace

TEST_CASE("gemm/tile_grid: a sparse A is cut in rows only, when it is tall and at most 512 wide, with the same bits") {
  const gemm::TileGrid mixed = gemm::tile_grid(784, 500), rows = gemm::tile_grid(784, 500, 256, 256, true);
  CHECK(mixed.rows == 4);
  CHECK(mixed.cols == 2);
  check_rows_only(rows, 8, 784);  // as many tiles
  // Shapes it leaves alone: too few rows, too wide, already one column tile.
  CHECK(gemm::tile_grid(100, 500, 256, 256, true).cols == 2);
  CHECK(gemm::tile_grid(500, 2000, 256, 256, true).cols == 8);
  CHECK(gemm::tile_grid(2000, 10, 256, 256, true).rows == 8);
  CHECK(gemm::grid_depends_on_sparsity(784, 500));
  CHECK(gemm::grid_depends_on_sparsity(2000, 500));
  CHECK_FALSE(gemm::grid_depends_on_sparsity(100, 500));
  CHECK_FALSE(gemm::grid_depends_on_sparsity(784, 513));
  CHECK_FALSE(gemm::grid_depends_on_sparsity(784, 256));

  // CD-1's weight statistics from sampled states, tile by tile on each grid.
  Case t = make_case(784, 500, 100, true, false, 1.0f, 0.0f, 0, 31);
  sparsify(t, 0.13, true, 32);
  CHECK(same_bits(product_on_grid(t, mixed), product_on_grid(t, rows)));
}

TEST_CASE("gemm/tile_grid: a shallow product (depth at most 256) of 500 rows or more and at most 2048 columns is cut in rows only, with the same bits") {
  const gemm::TileGrid mixed = gemm::tile_grid(500, 2000), rows = gemm::tile_grid(500, 2000, 256, 256, false, 100);
  CHECK(mixed.rows == 2);
  CHECK(mixed.cols == 8);
  check_rows_only(rows, 16, 500);  // as many tiles
  // Shapes it leaves alone: deeper, too few rows, already one column tile.
  CHECK(gemm::tile_grid(500, 2000, 256, 256, false, 257).cols == 8);
  CHECK(gemm::tile_grid(499, 2000, 256, 256, false, 100).cols == 8);
  CHECK(gemm::tile_grid(500, 2049, 256, 256, false, 100).cols == 9);  // wider than 2048
  for (int64_t r = 0; r < rows.rows; ++r) CHECK(rows.row_start(r + 1) - rows.row_start(r) >= 16);  // no empty tile
  CHECK(gemm::tile_grid(100, 500, 256, 256, false, 100).cols == 2);
  CHECK(gemm::tile_grid(2000, 10, 256, 256, false, 100).rows == 8);
  CHECK(gemm::tile_grid(784, 500, 256, 256, false, 100).rows == 8);  // CD-1's statistics with zero skipping off
  CHECK_FALSE(gemm::grid_depends_on_sparsity(784, 500, 100));        // rows only either way
  CHECK(gemm::grid_depends_on_sparsity(784, 500, 784));

  // Fine-tuning's weight gradient of the 2000-unit layer, h' g, on each grid.
  Case t = make_case(500, 2000, 100, true, false, 1.0f, 0.0f, 0, 33);
  CHECK(same_bits(product_on_grid(t, mixed), product_on_grid(t, rows)));
}

TEST_CASE("gemm/mostly_zeros: at most kSparseDensity (33%) nonzero") {
  std::vector<float> x(300, 0.0f);
  CHECK(gemm::mostly_zeros(x.data(), 300));
  for (int i = 0; i < 99; ++i) x[static_cast<size_t>(3 * i)] = 0.5f;  // 33%
  CHECK(gemm::mostly_zeros(x.data(), 300));
  x[1] = std::numeric_limits<float>::quiet_NaN();  // NaN counts as nonzero
  CHECK_FALSE(gemm::mostly_zeros(x.data(), 300));
  CHECK(gemm::mostly_zeros(x.data(), 0));
}
