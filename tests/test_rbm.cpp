// RBMs: the CD gradient by autodiff against the textbook update for every
// unit type (W, b and c), the trainer's step with and without L1 and L2
// weight decay, the learning-rate schedule, exact partition functions
// (binary units by brute force, gaussian visible or hidden units by
// numerical integration, softmax hidden units by enumeration), Gibbs
// samples against the exact distribution, and AIS against exact log Z.

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <numeric>
#include <random>
#include <tuple>

#include <doctest/doctest.h>

#include "autodiff/grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/ais.hpp"
#include "models/cd.hpp"
#include "models/exact.hpp"
#include "models/rbm_fit.hpp"

using namespace ebm;

namespace {

std::vector<float> binary_data(int64_t rows, int64_t cols, uint32_t seed, double p = 0.4) {
  std::mt19937 gen(seed);
  std::bernoulli_distribution d(p);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (float& x : v) x = d(gen) ? 1.0f : 0.0f;
  return v;
}

std::vector<float> visible_data(Unit u, int64_t rows, int64_t cols, uint32_t seed) {
  if (u == Unit::binary) return binary_data(rows, cols, seed);
  std::mt19937 gen(seed);
  std::vector<float> v(static_cast<size_t>(rows * cols), 0.0f);
  if (u == Unit::softmax) {  // one-hot rows
    for (int64_t r = 0; r < rows; ++r) v[static_cast<size_t>(r * cols + static_cast<int64_t>(gen() % cols))] = 1.0f;
    return v;
  }
  if (counts_words(u)) {  // word counts: 0-4 each
    for (float& x : v) x = static_cast<float>(gen() % 5);
    return v;
  }
  std::normal_distribution<float> d(0.5f, 1.0f);
  for (float& x : v) x = u == Unit::rectified ? std::max(d(gen), 0.0f) : d(gen);
  return v;
}

// The textbook CD gradient for W, b, c from v0, vk (in double).
struct Textbook {
  std::vector<double> dw, db, dc;
};

Textbook textbook(const Rbm& r, std::span<const float> v0, std::span<const float> vk, int64_t batch) {
  const int64_t nv = r.config.visible, nh = r.config.hidden;
  auto w = r.graph->value(r.w), b = r.graph->value(r.b);
  Textbook t{std::vector<double>(static_cast<size_t>(nv * nh), 0.0), std::vector<double>(static_cast<size_t>(nh), 0.0),
             std::vector<double>(static_cast<size_t>(nv), 0.0)};
  const bool count = r.config.visible_unit == Unit::count;
  auto words = [&](const float* v) { return count ? std::accumulate(v, v + nv, 0.0) : 1.0; };
  auto mean_h = [&](const float* v, std::vector<double>& m) {  // E[h|v] for the hidden unit type
    std::vector<double> x(b.begin(), b.end());
    for (double& xj : x) xj *= words(v);  // count units: v W + D b
    for (int64_t i = 0; i < nv; ++i)
      for (int64_t j = 0; j < nh; ++j) x[static_cast<size_t>(j)] += double(v[i]) * w[static_cast<size_t>(i * nh + j)];
    double mx = *std::max_element(x.begin(), x.end()), s = 0;
    for (double xj : x) s += std::exp(xj - mx);
    m.resize(x.size());
    for (size_t j = 0; j < x.size(); ++j) {
      switch (r.config.hidden_unit) {
        case Unit::binary: m[j] = 1 / (1 + std::exp(-x[j])); break;
        case Unit::gaussian: m[j] = x[j]; break;
        case Unit::softmax: m[j] = std::exp(x[j] - mx) / s; break;
        case Unit::rectified: m[j] = std::max(x[j], 0.0); break;
        case Unit::count:
        case Unit::poisson: FAIL("word-count hidden units"); break;
      }
    }
  };
  for (int64_t n = 0; n < batch; ++n) {
    for (int sign : {1, -1}) {  // gradient = -(positive - negative) / B
      const float* v = (sign == 1 ? v0 : vk).data() + n * nv;
      std::vector<double> h;
      mean_h(v, h);
      for (int64_t i = 0; i < nv; ++i) {
        t.dc[static_cast<size_t>(i)] -= sign * double(v[i]) / batch;
        for (int64_t j = 0; j < nh; ++j) t.dw[static_cast<size_t>(i * nh + j)] -= sign * v[i] * h[static_cast<size_t>(j)] / batch;
      }
      for (int64_t j = 0; j < nh; ++j) t.db[static_cast<size_t>(j)] -= sign * words(v) * h[static_cast<size_t>(j)] / batch;
    }
  }
  return t;
}

void check_close(std::span<const float> got, const std::vector<double>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what, "[", i, "]");
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1.0));
  }
}

}  // namespace

TEST_CASE("rbm/cd: the autodiff CD-1 gradient equals the textbook update for every unit type") {
  const int64_t batch = 16, nv = 9, nh = 6;
  // Every type as the visible layer under binary hidden units, every type a
  // hidden layer can have under binary visible units (from kUnits: a new type
  // is covered as it is listed), and word units under two other hidden types.
  std::vector<std::pair<Unit, Unit>> kinds{{Unit::count, Unit::gaussian}, {Unit::poisson, Unit::rectified}};
  for (const Unit u : kUnits) {
    kinds.emplace_back(u, Unit::binary);
    if (!counts_words(u) && u != Unit::binary) kinds.emplace_back(Unit::binary, u);
  }
  for (auto [vu, hu] : kinds) {
    CAPTURE(to_string(vu));
    CAPTURE(to_string(hu));
    Graph g;
    Rbm r = Rbm::make(g, "rbm", {.visible = nv, .hidden = nh, .visible_unit = vu, .hidden_unit = hu, .init_std = 0.3f});
    fill_normal(g.value(r.b), 0.3f, 2, 1);
    fill_normal(g.value(r.c), 0.3f, 2, 2);
    Tensor v0 = g.input("v0", {batch, nv});
    Tensor x0 = r.hidden_input(v0);
    Tensor vk = r.sample_v(unit_sample(hu, x0), r.trials(v0));
    Tensor cd = mean(r.free_energy(v0, x0)) - mean(r.free_energy(stop_gradient(vk)));
    auto grads = grad(cd, r.params());
    auto data = visible_data(vu, batch, nv, 3);
    Executor ex(g, {.threads = 2, .seed = 4});
    ex.run({vk, grads[0], grads[1], grads[2]}, {{v0, data}});
    Textbook t = textbook(r, data, ex.value(vk), batch);
    check_close(ex.value(grads[0]), t.dw, "dW");
    check_close(ex.value(grads[1]), t.db, "db");
    // every visible type: for gaussian and rectified units dF/dc = -(v - c), and c cancels between the phases
    check_close(ex.value(grads[2]), t.dc, "dc");
    if (vu == Unit::count) {  // the chain keeps each document's length (poisson units keep it on average only)
      auto vs = ex.value(vk);
      for (int64_t n = 0; n < batch; ++n)
        CHECK(std::accumulate(vs.begin() + n * nv, vs.begin() + (n + 1) * nv, 0.0) ==
              std::accumulate(data.begin() + n * nv, data.begin() + (n + 1) * nv, 0.0));
    }
  }
}

TEST_CASE("rbm/units: each type's mean is -df/dx of its free-energy term, and its sampler draws with that mean") {
  // 20,000 rows of one input row: each column's sample mean against unit_mean within 5 standard errors.
  const int64_t rows = 20000, k = 4;
  const std::vector<float> row{-1.0f, 0.2f, 0.7f, 1.5f};
  std::vector<float> xs, words(static_cast<size_t>(rows), 7.0f);
  for (int64_t r = 0; r < rows; ++r) xs.insert(xs.end(), row.begin(), row.end());
  for (const Unit u : kUnits) {
    CAPTURE(to_string(u));
    Graph g;
    const Tensor x = g.input("x", {rows, k}), d = g.input("d", {rows, 1});
    const Tensor trials = counts_words(u) ? d : Tensor{};
    const Tensor mu = unit_mean(u, x, trials), draw = unit_sample(u, x, trials);
    std::vector<Tensor> want{mu, draw};
    if (!counts_words(u)) want.push_back(grad(sum(hidden_free_energy(u, x)), {x})[0]);  // df/dx
    Executor ex(g, {.threads = 2, .seed = 11});
    ex.run(want, {{x, xs}, {d, words}});
    const auto m = ex.value(mu), s = ex.value(draw);
    if (!counts_words(u)) {
      const auto df = ex.value(want[2]);
      for (int64_t j = 0; j < k; ++j) CHECK(m[j] == doctest::Approx(-df[j]).epsilon(1e-5).scale(1.0));
    }
    if (u == Unit::rectified) continue;  // its max(0, x) is Nair & Hinton's approximation of the sampler's mean
    for (int64_t j = 0; j < k; ++j) {
      double total = 0, sq = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double v = s[static_cast<size_t>(r * k + j)];
        total += v;
        sq += v * v;
      }
      const double avg = total / rows, se = std::sqrt(std::max(sq / rows - avg * avg, 1e-12) / rows);
      CAPTURE(j);
      CHECK(std::abs(avg - m[static_cast<size_t>(j)]) < 5 * se);
    }
  }
}

TEST_CASE("rbm/cd: one trainer step moves W by lr times the textbook update (CD-1 and PCD)") {
  for (CdMethod method : {CdMethod::cd, CdMethod::pcd}) {
    Graph g;
    Rbm r = Rbm::make(g, "rbm", {.visible = 12, .hidden = 5, .init_std = 0.2f});
    CdTrainer t = make_cd_trainer(r, {.method = method, .batch = 8, .lr = 0.5f, .momentum = 0.0f, .weight_decay = 0.0f});
    if (method == CdMethod::pcd) {
      auto init = binary_data(8, 12, 9);
      std::copy(init.begin(), init.end(), g.value(t.chain).begin());
    }
    auto data = binary_data(8, 12, 5);
    std::vector<float> w0(g.value(r.w).begin(), g.value(r.w).end()), b0(g.value(r.b).begin(), g.value(r.b).end());
    Executor ex(g, {.threads = 2, .seed = 8});
    ex.run({t.negative, t.step}, {{t.v0, data}});
    std::vector<float> w1(g.value(r.w).begin(), g.value(r.w).end());
    std::copy(w0.begin(), w0.end(), g.value(r.w).begin());  // the textbook uses W and b before the step
    std::copy(b0.begin(), b0.end(), g.value(r.b).begin());
    Textbook tb = textbook(r, data, ex.value(t.negative), 8);
    for (size_t i = 0; i < w0.size(); ++i) CHECK(w1[i] - w0[i] == doctest::Approx(-0.5 * tb.dw[i]).epsilon(1e-3).scale(1e-5));
    if (method == CdMethod::pcd) {  // the chains advanced to this step's negative sample
      auto neg = ex.value(t.negative);
      CHECK(std::equal(neg.begin(), neg.end(), g.value(t.chain).begin()));
    }
  }
}

TEST_CASE("rbm/cd: with L1 and L2 weight decay one step moves W by -lr (textbook + l1 sign(W) + wd W)") {
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 12, .hidden = 5, .init_std = 0.2f});
  const float lr = 0.5f, l1 = 0.03f, wd = 0.02f;
  CdTrainer t = make_cd_trainer(r, {.batch = 8, .lr = lr, .momentum = 0.0f, .weight_decay = wd, .l1 = l1});
  auto data = binary_data(8, 12, 5);
  std::vector<float> w0(g.value(r.w).begin(), g.value(r.w).end()), b0(g.value(r.b).begin(), g.value(r.b).end()),
      c0(g.value(r.c).begin(), g.value(r.c).end());
  Executor ex(g, {.threads = 2, .seed = 8});
  ex.run({t.negative, t.step}, {{t.v0, data}});
  std::vector<float> w1(g.value(r.w).begin(), g.value(r.w).end()), b1(g.value(r.b).begin(), g.value(r.b).end()),
      c1(g.value(r.c).begin(), g.value(r.c).end());
  std::copy(w0.begin(), w0.end(), g.value(r.w).begin());  // the textbook uses the parameters before the step
  std::copy(b0.begin(), b0.end(), g.value(r.b).begin());
  Textbook tb = textbook(r, data, ex.value(t.negative), 8);
  size_t penalised = 0;
  for (size_t i = 0; i < w0.size(); ++i) {
    const double sign = w0[i] > 0 ? 1.0 : w0[i] < 0 ? -1.0 : 0.0;
    const double want = -double(lr) * (tb.dw[i] + l1 * sign + wd * double(w0[i]));
    CHECK(w1[i] - w0[i] == doctest::Approx(want).epsilon(1e-3).scale(1e-5));
    penalised += std::abs(l1 * sign + wd * double(w0[i])) > 0.1 * std::abs(tb.dw[i]);
  }
  CHECK(penalised > w0.size() / 4);  // the penalties are a visible part of the step, so leaving one out shows
  for (size_t j = 0; j < b0.size(); ++j)  // the biases are not decayed
    CHECK(b1[j] - b0[j] == doctest::Approx(-double(lr) * tb.db[j]).epsilon(1e-3).scale(1e-5));
  for (size_t i = 0; i < c0.size(); ++i)
    CHECK(c1[i] - c0[i] == doctest::Approx(-double(lr) * tb.dc[i]).epsilon(1e-3).scale(1e-5));
}

TEST_CASE("rbm/fit: lr_decay scales epoch e's step by lr_decay^e") {
  // One batch per epoch and no momentum: epoch 1 (e = 0) is the same step in both runs; epoch 2 (e = 1) starts
  // from the same parameters with the same draws, so its step with lr_decay 0.5 is half that without decay.
  const auto data = binary_data(10, 12, 4);
  const DataSource src = matrix_source(data, 12);
  struct Run {
    Graph g;
    Rbm r;
    CdTrainer t;
    Executor ex;
    RbmFitter fit;
    explicit Run(float decay, int epochs)
        : r(Rbm::make(g, "rbm", {.visible = 12, .hidden = 5, .init_std = 0.2f})),
          t(make_cd_trainer(r, {.batch = 10, .lr = 0.3f, .momentum = 0.0f, .weight_decay = 0.0f})),
          ex(g, {.threads = 2, .seed = 3}),
          fit(t, ex, {.epochs = epochs, .lr_decay = decay, .final_momentum = 0.0f, .monitor_images = 10}) {}
    std::vector<float> w() const { return {g.value(r.w).begin(), g.value(r.w).end()}; }
  };
  Run once(1.0f, 1), plain(1.0f, 2), decayed(0.5f, 2), decayed_once(0.5f, 1);
  once.fit.fit(src, src);
  decayed_once.fit.fit(src, src);
  CHECK(once.w() == decayed_once.w());  // epoch 0: lr * 0.5^0 = lr
  plain.fit.fit(src, src);
  decayed.fit.fit(src, src);
  const std::vector<float> w1 = once.w(), full = plain.w(), half = decayed.w();
  size_t moved = 0;
  for (size_t i = 0; i < w1.size(); ++i) {
    CHECK(half[i] - w1[i] == doctest::Approx(0.5 * (double(full[i]) - w1[i])).epsilon(1e-3).scale(1e-6));
    moved += std::abs(full[i] - w1[i]) > 1e-4f;
  }
  CHECK(moved > w1.size() / 2);
}

TEST_CASE("rbm/cd: a trainer refuses hyper-parameters out of range, naming them") {
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 12, .hidden = 5});
  CHECK_THROWS_WITH_AS(make_cd_trainer(r, {.momentum = 1.5f}),
                       doctest::Contains("cd trainer for 'rbm': momentum = 1.5; expected a value in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(make_cd_trainer(r, {.weight_decay = -1.0f}), doctest::Contains("weight_decay = -1"), Error);
  CHECK_THROWS_WITH_AS(make_cd_trainer(r, {.sparsity_target = 1.0f, .sparsity_cost = 0.1f}),
                       doctest::Contains("sparsity_target = 1"), Error);
  CHECK_THROWS_WITH_AS(make_cd_trainer(r, {.k = 0}), doctest::Contains("k = 0"), Error);
}

TEST_CASE("rbm: two models of one name in a graph are refused, two of different names are not") {
  Graph g;
  Rbm a = Rbm::make(g, "rbm", {.visible = 12, .hidden = 5});
  CHECK_THROWS_WITH_AS(Rbm::make(g, "rbm", {.visible = 12, .hidden = 5}),
                       doctest::Contains("param 'rbm.W': this graph already has a trainable parameter of that name"),
                       Error);
  Rbm b = Rbm::make(g, "rbm2", {.visible = 12, .hidden = 5});
  CHECK(a.w.name() == "rbm.W");
  CHECK(b.w.name() == "rbm2.W");
}

TEST_CASE("rbm/cd: a method is read as cd, cdK, pcd or pcdK, K a positive number written without leading zeros") {
  for (const auto& [text, method, k] : {std::tuple{"cd", CdMethod::cd, 1}, std::tuple{"cd1", CdMethod::cd, 1},
                                        std::tuple{"cd25", CdMethod::cd, 25}, std::tuple{"pcd", CdMethod::pcd, 1},
                                        std::tuple{"pcd10", CdMethod::pcd, 10}}) {
    CAPTURE(text);
    CdConfig c;
    parse_cd_method(text, c);
    CHECK(c.method == method);
    CHECK(c.k == k);
  }
  for (const char* bad : {"", "cd0", "cd00", "cd01", "pcd0", "cdx", "cd-1", "cd12345", "gibbs", "PCD"}) {
    CAPTURE(bad);
    CdConfig c;
    CHECK_THROWS_WITH_AS(parse_cd_method(bad, c), doctest::Contains("expected cd1 (or cd), cdK"), Error);
  }
}

TEST_CASE("rbm/ais: runs whose chains would not fit in memory are refused before any work, naming the runs") {
  check_ais_fits(784, 500, 400);  // a paper run's chains: a few MB
  CHECK_THROWS_WITH_AS(check_ais_fits(784, 500, 2000000000),
                       doctest::Contains("ais: 2000000000 runs of an RBM of 784 visible and 500 hidden units need about"),
                       Error);
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 784, .hidden = 500});
  const std::vector<float> base(784, 0.0f);
  CHECK_THROWS_WITH_AS(ais_log_z(r, base, {.runs = 2000000000}), doctest::Contains("expected fewer runs"), Error);
}

TEST_CASE("rbm/exact: log Z by enumerating either layer agrees with brute force") {
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 7, .hidden = 5, .init_std = 0.8f, .seed = 3});
  fill_normal(g.value(r.b), 0.5f, 4, 1);
  fill_normal(g.value(r.c), 0.5f, 4, 2);
  double brute = 0;
  for (int v = 0; v < 128; ++v)
    for (int h = 0; h < 32; ++h) {
      double e = 0;
      for (int i = 0; i < 7; ++i) e += (v >> i & 1) * double(g.value(r.c)[static_cast<size_t>(i)]);
      for (int j = 0; j < 5; ++j) e += (h >> j & 1) * double(g.value(r.b)[static_cast<size_t>(j)]);
      for (int i = 0; i < 7; ++i)
        for (int j = 0; j < 5; ++j) e += (v >> i & 1) * (h >> j & 1) * double(g.value(r.w)[static_cast<size_t>(i * 5 + j)]);
      brute += std::exp(e);
    }
  CHECK(exact_log_z(r) == doctest::Approx(std::log(brute)).epsilon(1e-12));  // enumerates the 5 hidden
  Rbm wide = Rbm::make(g, "wide", {.visible = 5, .hidden = 7, .init_std = 0.8f, .seed = 3});
  for (int i = 0; i < 5; ++i)  // the transpose of r: the same Z, now enumerated over the visible layer
    for (int j = 0; j < 7; ++j) g.value(wide.w)[static_cast<size_t>(i * 7 + j)] = g.value(r.w)[static_cast<size_t>(j * 5 + i)];
  std::copy(g.value(r.b).begin(), g.value(r.b).end(), g.value(wide.c).begin());
  std::copy(g.value(r.c).begin(), g.value(r.c).end(), g.value(wide.b).begin());
  CHECK(exact_log_z(wide) == doctest::Approx(std::log(brute)).epsilon(1e-12));
  // and the normalised probabilities of all visible vectors sum to one
  std::vector<float> all;
  for (int v = 0; v < 128; ++v)
    for (int i = 0; i < 7; ++i) all.push_back(static_cast<float>(v >> i & 1));
  double total = 0;
  for (double f : free_energy_exact(r, all)) total += std::exp(-f - exact_log_z(r));
  CHECK(total == doctest::Approx(1.0).epsilon(1e-10));
}

TEST_CASE("rbm/exact: log Z with gaussian visible units equals a numerical integral over v of the summed h") {
  // Z = integral dv sum_h exp(-E), E = |v - c|^2 / 2 - b.h - v'W h: two visible units on a grid, three binary hidden
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 2, .hidden = 3, .visible_unit = Unit::gaussian, .init_std = 0.8f,
                               .seed = 5});
  fill_normal(g.value(r.b), 0.5f, 5, 1);
  fill_normal(g.value(r.c), 0.5f, 5, 2);
  auto w = g.value(r.w), b = g.value(r.b), c = g.value(r.c);
  const double lo = -14, step = 0.04;
  const int n = 700;
  double z = 0;
  for (int a = 0; a < n; ++a)
    for (int d = 0; d < n; ++d) {
      const double v[2] = {lo + a * step, lo + d * step};
      for (int h = 0; h < 8; ++h) {
        double e = 0.5 * ((v[0] - c[0]) * (v[0] - c[0]) + (v[1] - c[1]) * (v[1] - c[1]));
        for (int j = 0; j < 3; ++j)
          if (h >> j & 1) e -= b[size_t(j)] + v[0] * w[size_t(j)] + v[1] * w[size_t(3 + j)];
        z += std::exp(-e) * step * step;
      }
    }
  CHECK(exact_log_z(r) == doctest::Approx(std::log(z)).epsilon(1e-6));
}

TEST_CASE("rbm/exact: log Z with gaussian or softmax hidden units equals brute force over v and h") {
  const int64_t nv = 4, nh = 2;
  for (Unit hu : {Unit::gaussian, Unit::softmax}) {
    CAPTURE(to_string(hu));
    Graph g;
    Rbm r = Rbm::make(g, "rbm", {.visible = nv, .hidden = nh, .hidden_unit = hu, .init_std = 0.6f, .seed = 8});
    fill_normal(g.value(r.b), 0.5f, 8, 1);
    fill_normal(g.value(r.c), 0.5f, 8, 2);
    auto w = g.value(r.w), b = g.value(r.b), c = g.value(r.c);
    double z = 0;
    for (int v = 0; v < (1 << nv); ++v) {
      const auto bit = [&](int64_t i) { return double(v >> i & 1); };
      double cv = 0, x[nh] = {};
      for (int64_t i = 0; i < nv; ++i) cv += c[size_t(i)] * bit(i);
      for (int64_t j = 0; j < nh; ++j) {
        x[j] = b[size_t(j)];
        for (int64_t i = 0; i < nv; ++i) x[j] += bit(i) * w[size_t(i * nh + j)];
      }
      if (hu == Unit::softmax) {  // h one-hot: E = -c.v - x_k for the unit k that is on
        for (int64_t k = 0; k < nh; ++k) z += std::exp(cv + x[k]);
        continue;
      }
      // Gaussian h: E = -c.v + |h|^2 / 2 - x.h, integrated over h on a grid
      const double lo = -12, step = 0.03;
      const int n = 800;
      double inner = 0;
      for (int a = 0; a < n; ++a)
        for (int d = 0; d < n; ++d) {
          const double h0 = lo + a * step, h1 = lo + d * step;
          inner += std::exp(-(0.5 * (h0 * h0 + h1 * h1) - x[0] * h0 - x[1] * h1)) * step * step;
        }
      z += std::exp(cv) * inner;
    }
    // Rbm's F for gaussian hidden units leaves out the integral's constant (2 pi)^(nh / 2), and so does exact_log_z
    const double constant = hu == Unit::gaussian ? 0.5 * double(nh) * std::log(2 * std::numbers::pi) : 0.0;
    CHECK(exact_log_z(r) == doctest::Approx(std::log(z) - constant).epsilon(1e-6));
  }
}

TEST_CASE("rbm/sampling: Gibbs samples of a small RBM match its exact distribution (chi-square)") {
  const int64_t nv = 5, nh = 4, chains = 4000;
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = nv, .hidden = nh, .init_std = 1.0f, .seed = 6});
  fill_normal(g.value(r.b), 0.5f, 7, 1);
  fill_normal(g.value(r.c), 0.5f, 7, 2);
  Tensor state = g.param("state", {chains, nv}, 0.0f, false);
  Tensor advance = assign(state, gibbs_chain(r, state, 1));
  Executor ex(g, {.threads = 2, .seed = 10});
  for (int s = 0; s < 60; ++s) ex.run({advance});  // burn-in; chains mix within a few steps at this size
  std::vector<double> count(32, 0.0);
  for (int s = 0; s < 5; ++s) {
    for (int k = 0; k < 10; ++k) ex.run({advance});  // thin
    auto v = g.value(state);
    for (int64_t c = 0; c < chains; ++c) {
      int code = 0;
      for (int64_t i = 0; i < nv; ++i) code |= (v[static_cast<size_t>(c * nv + i)] > 0.5f) << i;
      count[static_cast<size_t>(code)] += 1;
    }
  }
  std::vector<float> all;
  for (int v = 0; v < 32; ++v)
    for (int i = 0; i < 5; ++i) all.push_back(static_cast<float>(v >> i & 1));
  const double log_z = exact_log_z(r), n = 5.0 * chains;
  double chi2 = 0;
  auto f = free_energy_exact(r, all);
  for (int v = 0; v < 32; ++v) {
    const double e = n * std::exp(-f[static_cast<size_t>(v)] - log_z);
    chi2 += (count[static_cast<size_t>(v)] - e) * (count[static_cast<size_t>(v)] - e) / e;
  }
  CHECK(chi2 < 61.1);  // 31 degrees of freedom: p = 0.001
}

TEST_CASE("rbm/ais: the estimate converges to exact log Z on a tiny RBM, from any base model") {
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 10, .hidden = 4, .init_std = 1.0f, .seed = 3});
  fill_normal(g.value(r.b), 0.5f, 4, 1);
  fill_normal(g.value(r.c), 0.5f, 4, 2);
  for (float base : {0.0f, -1.0f}) {
    std::vector<float> a(10, base);
    const AisResult ais = ais_log_z(r, a, {.runs = 400, .schedule = {{0.5, 200}, {1.0, 800}}, .seed = 3, .threads = 2});
    CHECK(ais.log_z == doctest::Approx(exact_log_z(r)).epsilon(0.005));
    CHECK(ais.log_z_low < exact_log_z(r));
    CHECK(ais.log_z_high > exact_log_z(r));
    CHECK(std::abs(ais.log_z_base - exact_log_z(r)) > 1.0);
  }
}

TEST_CASE("rbm/ais: progress is reported as the temperatures go by, ending at all of them, with the same estimate") {
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = 10, .hidden = 4, .init_std = 1.0f, .seed = 3});
  const std::vector<float> a(10, 0.0f);
  AisConfig cfg{.runs = 20, .schedule = {{0.5, 150}, {1.0, 353}}, .seed = 3, .threads = 2};  // 503: the last call is no multiple of the step
  const double quiet = ais_log_z(r, a, cfg).log_z;
  std::vector<int> done;
  int total = 0;
  cfg.on_progress = [&](int d, int t) { done.push_back(d), total = t; };
  CHECK(ais_log_z(r, a, cfg).log_z == quiet);
  CHECK(total == 503);
  REQUIRE(done.size() >= 75);
  CHECK(done.size() <= 102);  // about every 1%, and the last
  CHECK(done.back() == 503);
  CHECK(std::is_sorted(done.begin(), done.end()));
  CHECK(std::adjacent_find(done.begin(), done.end()) == done.end());  // never the same count twice
}

TEST_CASE("rbm/ais: AIS agrees with exact log Z within 0.2 nats on a 784-15 RBM trained briefly") {
  const int64_t nv = 784, nh = 15, batch = 100;
  // MNIST-like data: ten stroke prototypes with 3% of pixels flipped
  std::vector<std::vector<float>> protos;
  for (uint32_t p = 0; p < 10; ++p) {
    std::vector<float> img(nv, 0.0f);
    std::mt19937 gen(100 + p);
    int x = 8 + static_cast<int>(gen() % 12), y = 4 + static_cast<int>(gen() % 6);
    for (int s = 0; s < 60; ++s) {
      x = std::clamp(x + static_cast<int>(gen() % 3) - 1, 2, 25);
      y = std::clamp(y + static_cast<int>(gen() % 2), 2, 25);
      for (int dx = 0; dx < 2; ++dx) img[static_cast<size_t>((y)*28 + x + dx)] = 1.0f;
    }
    protos.push_back(img);
  }
  std::vector<float> data;
  std::mt19937 gen(7);
  for (int n = 0; n < 2000; ++n) {
    const auto& p = protos[static_cast<size_t>(n % 10)];
    for (float px : p) data.push_back((gen() % 100 < 3) ? 1.0f - px : px);
  }
  Graph g;
  Rbm r = Rbm::make(g, "rbm", {.visible = nv, .hidden = nh});
  std::vector<float> mean_v(nv, 0.0f);
  for (size_t i = 0; i < data.size(); ++i) mean_v[i % nv] += data[i] / 2000.0f;
  r.init_visible_bias(mean_v);
  CdTrainer t = make_cd_trainer(r, {.batch = batch, .lr = 0.1f, .momentum = 0.5f});
  Executor ex(g, {.threads = 2, .seed = 1});
  for (int epoch = 0; epoch < 3; ++epoch)
    for (int64_t b = 0; b < 20; ++b) ex.run({t.step}, {{t.v0, std::span<const float>(data).subspan(static_cast<size_t>(b * batch * nv), static_cast<size_t>(batch * nv))}});
  const double exact = exact_log_z(r);
  const AisResult ais = ais_log_z(r, base_rate_bias(mean_v), {.runs = 200, .schedule = {{0.5, 500}, {0.9, 2000}, {1.0, 3000}}, .seed = 3, .threads = 2});
  MESSAGE("exact ", exact, " ais ", ais.log_z, " [", ais.log_z_low, ", ", ais.log_z_high, "]");
  INFO("exact ", exact, " ais ", ais.log_z, " [", ais.log_z_low, ", ", ais.log_z_high, "]");
  CHECK(std::abs(ais.log_z - exact) < 0.2);
  CHECK(ais.log_z_high - ais.log_z_low < 1.0);
  CHECK(std::abs(exact - ais.log_z_base) > 1.0);  // training moved Z away from the base model's
}
