// Gaussian-kernel SVMs (models/svm.hpp): the SMO solution checked against
// the dual's optimality conditions and against feasible moves, f against
// a plain loop, the distances against a double loop, and bad input.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "models/svm.hpp"
#include "ops/error.hpp"

using namespace ebm;

namespace {

// n points in d dimensions around `classes` centres `spread` apart (unit
// noise), labels cycling through the classes.
struct Blobs {
  std::vector<float> x;
  std::vector<uint8_t> labels;
};

Blobs blobs(int64_t n, int64_t d, int classes, float spread, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  Blobs b;
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % classes);
    b.labels.push_back(static_cast<uint8_t>(c));
    for (int64_t k = 0; k < d; ++k) b.x.push_back((k % classes == c ? spread : 0.0f) + noise(rng));
  }
  return b;
}

std::vector<float> rbf(const std::vector<float>& sq, double gamma) {
  std::vector<float> k(sq.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<float>(std::exp(-gamma * sq[i]));
  return k;
}

// 1/2 a'Qa - 1'a by a plain double loop.
double dual_objective(const std::vector<float>& k, const std::vector<int8_t>& y, const std::vector<double>& a) {
  const size_t n = y.size();
  double s = 0.0, lin = 0.0;
  for (size_t i = 0; i < n; ++i) {
    lin += a[i];
    for (size_t j = 0; j < n; ++j) s += a[i] * a[j] * y[i] * y[j] * k[i * n + j];
  }
  return 0.5 * s - lin;
}

}  // namespace

TEST_CASE("svm: squared distances match a double loop") {
  const Blobs a = blobs(300, 5, 2, 1.0f, 1), b = blobs(4, 5, 2, 1.0f, 2);  // rows in two blocks of the product
  const std::vector<float> sq = svm_squared_distances(a.x, 300, b.x, 4, 5);
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < 5; ++k) {
        const double v = double(a.x[size_t(i * 5 + k)]) - b.x[size_t(j * 5 + k)];
        s += v * v;
      }
      CHECK(sq[size_t(i * 4 + j)] == doctest::Approx(s).epsilon(1e-4));
    }
  const std::vector<float> self = svm_squared_distances(std::span(a.x).first(35), 7, std::span(a.x).first(35), 7, 5);
  double mean = 0.0;
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < 7; ++j) mean += i == j ? 0.0 : self[size_t(i * 7 + j)] / 42.0;
  CHECK(mean_squared_distance(self, 7) == doctest::Approx(mean));
}

TEST_CASE("svm: the SMO solution meets the dual's optimality conditions, and no feasible move lowers it") {
  // Two overlapping classes, so that some multipliers sit at C and some are free.
  const int64_t n = 80;
  const Blobs b = blobs(n, 2, 2, 1.5f, 3);
  const std::vector<float> k = rbf(svm_squared_distances(b.x, n, b.x, n, 2), 0.5);
  std::vector<int8_t> y;
  for (uint8_t l : b.labels) y.push_back(l == 0 ? 1 : -1);
  for (double c : {1.0, 100.0}) {
    CAPTURE(c);
    const double tol = 1e-5;
    const SvmDual d = solve_svm_dual(k, n, y, {.c = c, .tolerance = tol});
    CHECK(d.converged);
    double balance = 0.0;
    int at_zero = 0, at_c = 0, free = 0;
    for (int64_t t = 0; t < n; ++t) {
      const double a = d.alpha[size_t(t)];
      CHECK((a >= 0.0 && a <= c));
      balance += a * y[size_t(t)];
      double f = -d.rho;
      for (int64_t i = 0; i < n; ++i) f += d.alpha[size_t(i)] * y[size_t(i)] * k[size_t(i * n + t)];
      const double margin = y[size_t(t)] * f;
      if (a == 0.0) {
        CHECK(margin >= 1.0 - 2 * tol);
        ++at_zero;
      } else if (a == c) {
        CHECK(margin <= 1.0 + 2 * tol);
        ++at_c;
      } else {
        CHECK(margin == doctest::Approx(1.0).epsilon(2 * tol));
        ++free;
      }
    }
    CHECK(std::abs(balance) < 1e-9 * c * double(n));
    CHECK((at_zero > 0 && free > 0));
    if (c == 1.0) CHECK(at_c > 0);  // the classes overlap
    CHECK(d.objective == doctest::Approx(dual_objective(k, y, d.alpha)).epsilon(1e-6));
    // Moves that keep y'a = 0 and the box: a_i + e, a_j - e within a class.
    std::mt19937 rng(4);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    int tried = 0;
    for (int m = 0; m < 400 && tried < 100; ++m) {
      const int64_t i = pick(rng), j = pick(rng);
      if (i == j || y[size_t(i)] != y[size_t(j)]) continue;
      for (double e : {1e-3, -1e-3}) {
        std::vector<double> a = d.alpha;
        a[size_t(i)] += e, a[size_t(j)] -= e;
        if (a[size_t(i)] < 0 || a[size_t(i)] > c || a[size_t(j)] < 0 || a[size_t(j)] > c) continue;
        ++tried;
        CHECK(dual_objective(k, y, a) >= d.objective - 1e-6);
      }
    }
    CHECK(tried >= 50);
  }
}

TEST_CASE("svm: one against the rest separates three blobs, and f matches a plain loop") {
  const int64_t n = 90, m = 150, d = 6;  // f's rows in three blocks
  const Blobs train = blobs(n, d, 3, 4.0f, 5), test = blobs(m, d, 3, 4.0f, 6);
  const std::vector<float> sq = svm_squared_distances(train.x, n, train.x, n, d);
  const double gamma = 1.0 / mean_squared_distance(sq, n);
  const KernelSvm svm(sq, n, train.labels, 3, gamma, {.c = 10.0});
  const std::vector<float> cross = svm_squared_distances(test.x, m, train.x, n, d);
  CHECK(error_percent(svm.predict(cross, m), test.labels) == 0.0);
  CHECK(svm.support_vectors() > 0);
  CHECK(svm.support_vectors() < n);
  const std::vector<float> f = svm.decisions(cross, m);
  for (int c = 0; c < 3; ++c) {
    CHECK(svm.problem(c).converged);
    for (int64_t i = 0; i < m; ++i) {
      double v = -svm.problem(c).rho;
      for (int64_t t = 0; t < n; ++t) {
        const double yt = train.labels[size_t(t)] == c ? 1.0 : -1.0;
        v += svm.problem(c).alpha[size_t(t)] * yt * std::exp(-gamma * cross[size_t(i * n + t)]);
      }
      CHECK(f[size_t(i * 3 + c)] == doctest::Approx(v).epsilon(1e-4));
    }
  }
  // A class absent from training is never the answer, and f stays finite.
  std::vector<uint8_t> two = train.labels;
  for (uint8_t& l : two) l = l == 2 ? 1 : l;
  const KernelSvm partial(sq, n, two, 3, gamma);
  for (float v : partial.decisions(cross, m)) CHECK(std::isfinite(v));
  for (uint8_t p : partial.predict(cross, m)) CHECK(p != 2);
}

TEST_CASE("svm: trained from its kernel matrix, the same machine as from the distances") {
  const int64_t n = 60, m = 20, d = 4;
  const Blobs train = blobs(n, d, 3, 3.0f, 8), test = blobs(m, d, 3, 3.0f, 9);
  const std::vector<float> sq = svm_squared_distances(train.x, n, train.x, n, d);
  const double gamma = 0.7 / mean_squared_distance(sq, n);
  std::vector<float> k = sq;
  gaussian_kernel_in_place(k, gamma);
  CHECK(k == rbf(sq, gamma));  // bit for bit: the same expression per entry
  const KernelSvm a(sq, n, train.labels, 3, gamma, {.c = 5.0});
  const KernelSvm b = KernelSvm::from_kernel(k, n, train.labels, 3, gamma, {.c = 5.0});
  for (int c = 0; c < 3; ++c) {
    CHECK(a.problem(c).alpha == b.problem(c).alpha);
    CHECK(a.problem(c).rho == b.problem(c).rho);
    CHECK(a.problem(c).iterations == b.problem(c).iterations);
  }
  const std::vector<float> cross = svm_squared_distances(test.x, m, train.x, n, d);
  CHECK(a.decisions(cross, m) == b.decisions(cross, m));
  CHECK(b.gamma() == gamma);
  k[7] = NAN;
  CHECK_THROWS_WITH_AS(KernelSvm::from_kernel(k, n, train.labels, 3, gamma), doctest::Contains("kernel value 7"),
                       Error);
  CHECK_THROWS_WITH_AS(gaussian_kernel_in_place(k, -1.0), doctest::Contains("gamma = -1"), Error);
}

TEST_CASE("svm: a grid search keeps the pair the validation rows chose, whether it keeps the distances or not") {
  const int64_t n = 90, nv = 45, m = 2100, d = 4;  // m over predict_rows' block of 2,048 rows
  const Blobs train = blobs(n, d, 3, 2.0f, 11), valid = blobs(nv, d, 3, 2.0f, 12), test = blobs(m, d, 3, 2.0f, 13);
  // Widths from far too narrow (each point its own island) to wide; the widest two tie (the first is kept).
  const SvmSearchConfig config{.c = {0.1, 10.0}, .gamma = {300.0, 1.0, 0.001}, .classes = 3};
  std::vector<SvmTrial> kept, remade;
  const SvmSearch a = svm_search(train.x, n, train.labels, valid.x, nv, valid.labels, d, config,
                                 [&](const SvmTrial& t) { kept.push_back(t); });
  SvmSearchConfig lean = config;
  lean.keep_distances = false;
  const SvmSearch b = svm_search(train.x, n, train.labels, valid.x, nv, valid.labels, d, lean,
                                 [&](const SvmTrial& t) { remade.push_back(t); });
  REQUIRE(kept.size() == 6);
  REQUIRE(remade.size() == 6);
  const double unit = 1.0 / mean_squared_distance(svm_squared_distances(train.x, n, train.x, n, d), n);
  CHECK(a.unit == unit);
  size_t lowest = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    CHECK(kept[i].c == config.c[i % 2]);  // every C for each width, in order
    CHECK(kept[i].gamma_multiple == config.gamma[i / 2]);
    CHECK(kept[i].gamma == config.gamma[i / 2] * unit);
    CHECK(remade[i].valid_error == kept[i].valid_error);
    CHECK(remade[i].iterations == kept[i].iterations);
    if (kept[i].valid_error < kept[lowest].valid_error) lowest = i;
    // Each pair's error is that of the same machine trained directly.
    const std::vector<float> sq = svm_squared_distances(train.x, n, train.x, n, d);
    const KernelSvm direct(sq, n, train.labels, 3, kept[i].gamma, {.c = kept[i].c});
    CHECK(kept[i].valid_error ==
          error_percent(direct.predict(svm_squared_distances(valid.x, nv, train.x, n, d), nv), valid.labels));
    CHECK(kept[i].support_vectors == direct.support_vectors());
  }
  CHECK(a.chosen.c == kept[lowest].c);
  CHECK(a.chosen.gamma_multiple == kept[lowest].gamma_multiple);
  CHECK(b.chosen.valid_error == a.chosen.valid_error);
  CHECK(a.chosen.valid_error < 20.0);  // the blobs overlap; chance is 66.7%
  CHECK(kept[0].valid_error > 2 * a.chosen.valid_error);  // each point its own island: near chance
  // predict_rows, in blocks, gives what one call on all the distances gives.
  const std::vector<uint8_t> whole = a.svm.predict(svm_squared_distances(test.x, m, train.x, n, d), m);
  CHECK(predict_rows(a.svm, train.x, n, test.x, m, d) == whole);
  CHECK(predict_rows(b.svm, train.x, n, test.x, m, d) == whole);
  CHECK_THROWS_WITH_AS(svm_search(train.x, n, train.labels, valid.x, nv, valid.labels, d, {.c = {}}),
                       doctest::Contains("0 values of C"), Error);
  CHECK_THROWS_WITH_AS(svm_search(train.x, n, train.labels, valid.x, nv, std::span(valid.labels).first(5), d, config),
                       doctest::Contains("5 labels for 45 validation rows"), Error);
  const std::vector<float> same(static_cast<size_t>(n * d), 0.5f);
  CHECK_THROWS_WITH_AS(svm_search(same, n, train.labels, valid.x, nv, valid.labels, d, config),
                       doctest::Contains("all the same"), Error);
  CHECK_THROWS_WITH_AS(svm_search(train.x, n, train.labels, std::span(valid.x).first(9), nv, valid.labels, d, lean),
                       doctest::Contains("9 feature values for 45 validation rows of 4"), Error);
  CHECK_THROWS_WITH_AS(predict_rows(a.svm, train.x, n, std::span(test.x).first(7), 2, d),
                       doctest::Contains("7 feature values for 2 rows of 4"), Error);
}

TEST_CASE("svm: bad input is an ebm::Error naming what was wrong") {
  const Blobs b = blobs(10, 3, 2, 2.0f, 7);
  const std::vector<float> sq = svm_squared_distances(b.x, 10, b.x, 10, 3);
  CHECK_THROWS_WITH_AS(svm_squared_distances(b.x, 10, b.x, 9, 3), doctest::Contains("rows of 3"), Error);
  std::vector<float> bad = b.x;
  bad[4] = NAN;
  CHECK_THROWS_WITH_AS(svm_squared_distances(bad, 10, b.x, 10, 3), doctest::Contains("feature value 4"), Error);
  std::vector<uint8_t> labels = b.labels;
  labels[3] = 2;
  CHECK_THROWS_WITH_AS(KernelSvm(sq, 10, labels, 2, 1.0), doctest::Contains("label 3 is 2; expected 0 to 1"), Error);
  CHECK_THROWS_WITH_AS(KernelSvm(sq, 10, b.labels, 2, 0.0), doctest::Contains("gamma"), Error);
  CHECK_THROWS_WITH_AS(KernelSvm(sq, 10, b.labels, 2, 1.0, {.c = -1.0}), doctest::Contains("C = -1"), Error);
  CHECK_THROWS_WITH_AS(KernelSvm(sq, 9, b.labels, 2, 1.0), doctest::Contains("expected n x n and n"), Error);
  CHECK_THROWS_WITH_AS(KernelSvm(sq, 10, b.labels, 1, 1.0), doctest::Contains("expected 2 to 255"), Error);
  CHECK_THROWS_WITH_AS(KernelSvm({}, kMaxSvmPoints + 1, {}, 2, 1.0), doctest::Contains("training points"), Error);
  const std::vector<int8_t> y(10, 0);
  CHECK_THROWS_WITH_AS(solve_svm_dual(rbf(sq, 1.0), 10, y, {}), doctest::Contains("expected +1 or -1"), Error);
  const KernelSvm svm(sq, 10, b.labels, 2, 1.0);
  CHECK_THROWS_WITH_AS(svm.decisions(sq, 3), doctest::Contains("expected m x n"), Error);
  CHECK_THROWS_WITH_AS(error_percent(std::vector<uint8_t>(3), b.labels), doctest::Contains("3 predictions"), Error);
  REQUIRE(available_memory_bytes() > 0);
  CHECK_NOTHROW(check_matrix_fits(1000, 1000, "a small matrix"));
  CHECK_THROWS_WITH_AS(check_matrix_fits(int64_t{1} << 22, int64_t{1} << 22, "distances"),
                       doctest::Contains("4194304 x 4194304 floats need 65536.0 GiB; "), Error);
  CHECK_THROWS_WITH_AS(check_matrix_fits(int64_t{1} << 22, int64_t{1} << 22, "distances"),
                       doctest::Contains("GiB of memory is available now"), Error);
}

TEST_CASE("svm: the room under a memory cgroup's limits is read from the group and its ancestors") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / "ebm_test_cgroup";
  fs::remove_all(root);
  auto put = [&](const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  };
  // v1: the process's group has no limit (the huge number), its parent 1 MB with 0.7 MB used, 0.2 MB of
  // it inactive file cache (0.5 MB left), the root 2 MB with almost nothing used.
  put(root / "v1/memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
  put(root / "v1/memory/a/memory.limit_in_bytes", "1000000\n");
  put(root / "v1/memory/a/memory.usage_in_bytes", "700000\n");
  put(root / "v1/memory/a/memory.stat", "cache 300000\ntotal_cache 300000\ntotal_inactive_file 200000\n");
  put(root / "v1/memory/memory.limit_in_bytes", "2000000\n");
  put(root / "v1/memory/memory.usage_in_bytes", "100\n");
  CHECK(detail::cgroup_memory_left("5:devices:/\n4:memory:/a/b\n0::/\n", root / "v1") == 500000);
  // v2: "max" in the group, the root over its limit once the cache is discounted: nothing left.
  put(root / "v2/x/memory.max", "max\n");
  put(root / "v2/memory.max", "300000\n");
  put(root / "v2/memory.current", "400000\n");
  put(root / "v2/memory.stat", "anon 350000\ninactive_file 50000\n");
  CHECK(detail::cgroup_memory_left("0::/x\n", root / "v2") == 0);
  CHECK(detail::cgroup_memory_left("0::/\n", root / "none") == -1);  // no limit anywhere
  CHECK(detail::cgroup_memory_left("not a cgroup line", root / "v2") == -1);
  fs::remove_all(root);
  REQUIRE(available_memory_bytes() > 0);
}
