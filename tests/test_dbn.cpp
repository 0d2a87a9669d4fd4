// DBNs at enumerable sizes: the variational bound and the exact
// log-likelihood equal brute-force sums written here, the bound never
// exceeds the log-likelihood, is tight when the second RBM is the first
// one's transpose, and its Monte Carlo estimate agrees with the exact value
// with two and three layers; the unrolled classifier starts as the DBN's
// recognition pass; fine-tuning resumes exactly.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <span>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn_bound.hpp"
#include "models/evaluate.hpp"
#include "models/exact.hpp"
#include "models/finetune.hpp"
#include "models/rbm_fit.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;
using ebm::testing::tiny_digits;

namespace {

std::vector<float> all_binary(int n) {
  std::vector<float> v;
  for (int s = 0; s < (1 << n); ++s)
    for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(s >> i & 1));
  return v;
}

Dbn random_dbn(Graph& g, std::vector<int64_t> layers, uint64_t seed) {
  Dbn d = Dbn::make(g, "dbn", {.layers = std::move(layers), .init_std = 0.8f, .seed = seed});
  for (const Rbm& r : d.rbms) {
    fill_normal(g.value(r.b), 0.5f, seed, 11);
    fill_normal(g.value(r.c), 0.5f, seed, 12);
  }
  return d;
}

// The bound and log p(v) by brute force, written independently of
// models/dbn_bound.cpp: every configuration of the hidden layers h_1 .. h_k
// below the top RBM rbms[k] is visited, with
//   Q(h_1 .. h_k | v) = prod_l Q(h_{l+1} | h_l),
//   log p(v, h_1 .. h_k) = sum_l log p(h_l | h_{l+1}) + log p_k(h_k),
// and p_k(h_k) from the top RBM's energy summed over its hidden layer.
// The bound is sum Q (log p(v, h) - log Q(h | v)), log p(v) the log of
// sum p(v, h). Alongside: the mean and variance under Q of one sample of
// dbn_bound_rows' estimator (each layer's log p(h_l | h_{l+1}) plus the
// entropy of Q(h_{l+1} | h_l), plus log p_k(h_k) + log Z_k), which set the
// Monte Carlo tolerance.
struct Enumerated {
  double log_p = 0, bound = 0, mean = 0, var = 0;
};

class DbnEnumeration {
 public:
  DbnEnumeration(const Dbn& d, int k) : g_(*d.graph), d_(d), k_(k) {
    const Rbm& top = d.rbms[static_cast<size_t>(k)];
    const int64_t nv = top.config.visible, nh = top.config.hidden;
    const auto w = g_.value(top.w), b = g_.value(top.b), c = g_.value(top.c);
    for (int s = 0; s < (1 << nv); ++s) {  // log sum_h exp(-E(x, h)), E(x, h) = -c.x - b.h - x W h
      std::vector<double> terms;
      for (int t = 0; t < (1 << nh); ++t) {
        double e = 0;
        for (int64_t i = 0; i < nv; ++i) e += (s >> i & 1) * double(c[static_cast<size_t>(i)]);
        for (int64_t j = 0; j < nh; ++j) {
          if (!(t >> j & 1)) continue;
          e += b[static_cast<size_t>(j)];
          for (int64_t i = 0; i < nv; ++i) e += (s >> i & 1) * double(w[static_cast<size_t>(i * nh + j)]);
        }
        terms.push_back(e);
      }
      top_log_unnorm_.push_back(log_sum_exp(terms));
    }
    log_z_ = log_sum_exp(top_log_unnorm_);
  }

  double log_z() const { return log_z_; }

  Enumerated at(std::span<const float> v) {
    joints_.clear();
    out_ = {};
    walk(0, std::vector<double>(v.begin(), v.end()), 0, 0, 0);
    out_.log_p = log_sum_exp(joints_);
    out_.var -= out_.mean * out_.mean;
    return out_;
  }

 private:
  static double log_sum_exp(const std::vector<double>& x) {
    const double m = *std::max_element(x.begin(), x.end());
    double s = 0;
    for (double t : x) s += std::exp(t - m);
    return m + std::log(s);
  }
  // log of the probability of binary x under independent units on with probability sigmoid(a_i)
  static double log_bernoulli(const std::vector<double>& a, const std::vector<double>& x) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i)
      s += x[i] > 0.5 ? -std::log1p(std::exp(-a[i])) : -std::log1p(std::exp(a[i]));
    return s;
  }

  // layer l's state h (h_0 = v); log Q, log p(v, h) and the estimator's value so far
  void walk(int l, const std::vector<double>& h, double log_q, double log_joint, double estimate) {
    if (l == k_) {
      int index = 0;
      for (size_t i = 0; i < h.size(); ++i) index |= (h[i] > 0.5 ? 1 : 0) << i;
      const double top = top_log_unnorm_[static_cast<size_t>(index)];
      const double q = std::exp(log_q), joint = log_joint + top - log_z_;
      joints_.push_back(joint);
      out_.bound += q * (joint - log_q);
      out_.mean += q * (estimate + top);
      out_.var += q * (estimate + top) * (estimate + top);  // the second moment until at() subtracts the mean's square
      return;
    }
    const Rbm& r = d_.rbms[static_cast<size_t>(l)];
    const int64_t nv = r.config.visible, nh = r.config.hidden;
    const auto w = g_.value(r.w), b = g_.value(r.b), c = g_.value(r.c);
    std::vector<double> up(b.begin(), b.end());  // recognition input h W + b
    for (int64_t i = 0; i < nv; ++i)
      for (int64_t j = 0; j < nh; ++j)
        up[static_cast<size_t>(j)] += h[static_cast<size_t>(i)] * w[static_cast<size_t>(i * nh + j)];
    double entropy = 0;
    for (double a : up) {
      const double q = 1 / (1 + std::exp(-a));
      entropy -= q * std::log(q) + (1 - q) * std::log(1 - q);
    }
    for (int s = 0; s < (1 << nh); ++s) {
      std::vector<double> next(static_cast<size_t>(nh));
      for (int64_t j = 0; j < nh; ++j) next[static_cast<size_t>(j)] = s >> j & 1;
      std::vector<double> down(c.begin(), c.end());  // generative input W next + c
      for (int64_t i = 0; i < nv; ++i)
        for (int64_t j = 0; j < nh; ++j)
          down[static_cast<size_t>(i)] += w[static_cast<size_t>(i * nh + j)] * next[static_cast<size_t>(j)];
      const double log_gen = log_bernoulli(down, h);
      walk(l + 1, next, log_q + log_bernoulli(up, next), log_joint + log_gen, estimate + log_gen + entropy);
    }
  }

  const Graph& g_;
  const Dbn& d_;
  int k_;
  std::vector<double> top_log_unnorm_, joints_;
  double log_z_ = 0;
  Enumerated out_;
};

}  // namespace

TEST_CASE("dbn/bound: the bound never exceeds the exact log-likelihood") {
  for (uint64_t seed : {1, 2, 3}) {
    Graph g;
    Dbn d = random_dbn(g, {8, 6, 5}, seed);
    const auto v = all_binary(8);
    DbnEnumeration reference(d, 1);
    const std::vector<DbnExact> exact = dbn_exact(d, v);
    double total_p = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      const DbnExact& e = exact[i];
      CHECK(e.bound <= e.log_p + 1e-9);
      total_p += std::exp(e.log_p);
      // both equal the brute-force sums over (h1, h2) written in this file
      const Enumerated r = reference.at(std::span(v).subspan(i * 8, 8));
      CHECK(e.log_p == doctest::Approx(r.log_p).epsilon(1e-9));
      CHECK(e.bound == doctest::Approx(r.bound).epsilon(1e-9));
    }
    CHECK(total_p == doctest::Approx(1.0).epsilon(1e-9));  // a normalised model over all 256 vectors
  }
}

TEST_CASE("dbn/bound: with the second RBM the transpose of the first, the bound equals the first RBM's log-likelihood") {
  Graph g;
  Dbn d = random_dbn(g, {7, 6, 7}, 4);
  d.init_from_below(1);
  const auto v = all_binary(7);
  const auto exact = dbn_exact(d, v);
  const auto f = free_energy_exact(d.rbms[0], v);
  const double log_z = exact_log_z(d.rbms[0]);
  for (size_t i = 0; i < exact.size(); ++i) {
    CHECK(exact[i].bound == doctest::Approx(-f[i] - log_z).epsilon(1e-9));
    CHECK(exact[i].log_p == doctest::Approx(-f[i] - log_z).epsilon(1e-9));
  }
  Graph g2;
  Dbn bad = random_dbn(g2, {7, 6, 5}, 4);
  CHECK_THROWS_WITH_AS(bad.init_from_below(1), doctest::Contains("not the transpose"), Error);
}

TEST_CASE("dbn/bound: the Monte Carlo estimate agrees with the exact bound") {
  Graph g;
  Dbn d = random_dbn(g, {8, 6, 5}, 5);
  const auto v = all_binary(8);
  const auto exact = dbn_exact(d, v);
  io::ImageSet set{256, 1, 8, {}, {}};
  for (float x : v) set.pixels.push_back(x > 0 ? 255 : 0);
  const DataSource src = image_source(set, io::Pixels::threshold, 0);
  Executor ex(g, {.threads = 2, .seed = 6});
  const auto mc = dbn_bound_rows(d, 1, ex, src, 64, 400);
  const double log_z = exact_log_z(d.rbms[1]);
  double mean_mc = 0, mean_exact = 0;
  for (size_t i = 0; i < mc.size(); ++i) {
    mean_mc += (mc[i] - log_z) / 256.0;
    mean_exact += exact[i].bound / 256.0;
  }
  CHECK(mean_mc == doctest::Approx(mean_exact).epsilon(0.003));
  // with the first RBM on top, the estimate is log p(v) of that RBM exactly (no sampling involved)
  const auto top0 = dbn_bound_rows(d, 0, ex, src, 64, 1);
  const auto f = free_energy_exact(d.rbms[0], v);
  for (size_t i = 0; i < 256; i += 17) CHECK(top0[i] == doctest::Approx(-f[i]).epsilon(1e-4));
}

TEST_CASE("dbn/bound: dbn_bound, with AIS's log Z, agrees with the exact bound and leaves the caller's graph alone") {
  Graph g;
  Dbn d = random_dbn(g, {8, 6, 5}, 5);
  const auto v = all_binary(8);
  const auto exact = dbn_exact(d, v);
  double mean_exact = 0;
  for (const DbnExact& e : exact) mean_exact += e.bound / 256.0;
  io::ImageSet set{256, 1, 8, {}, {}};
  for (float x : v) set.pixels.push_back(x > 0 ? 255 : 0);
  const DataSource src = image_source(set, io::Pixels::threshold, 0);
  const size_t nodes = g.size();
  DbnBoundConfig bc{.ais = {.runs = 200, .seed = 3, .threads = 1}, .batch = 64, .samples = 400,
                    .executor = {.threads = 1, .seed = 6}};
  bc.ais.scale_temperatures(0.2);
  const DbnBound b = dbn_bound(d, 1, src, src, bc);
  CHECK(g.size() == nodes);  // measured on a copy
  CHECK(b.log_z == doctest::Approx(exact_log_z(d.rbms[1])).epsilon(0.002));
  CHECK(b.err > 0);
  CHECK(b.err < 0.1);
  CHECK_FALSE(b.open_above());
  CHECK(std::abs(b.nats - mean_exact) <= b.err + 0.02);
  // a NaN weight is named, not averaged into a NaN bound
  g.value(d.rbms[0].w)[3] = std::nanf("");
  CHECK_THROWS_WITH_AS(dbn_bound(d, 1, src, src, bc), doctest::Contains("dbn bound 'dbn': RBM 'dbn.rbm0'"), Error);
  Executor ex(g, {.threads = 1});
  CHECK_THROWS_WITH_AS(dbn_bound_rows(d, 1, ex, src, 64, 1), doctest::Contains("dbn bound 'dbn': RBM 'dbn.rbm0'"),
                       Error);
}

TEST_CASE("dbn/bound: with three layers the Monte Carlo estimate agrees with the bound enumerated exactly") {
  // Layers {6, 4, 4, 4}: rbms[1] and rbms[2] have the same shapes, so a
  // layer taken for another still runs and only the values tell. Each RBM
  // gets its own biases.
  Graph g;
  Dbn d = random_dbn(g, {6, 4, 4, 4}, 8);
  for (size_t l = 0; l < d.rbms.size(); ++l) {
    fill_normal(g.value(d.rbms[l].b), 0.5f, 8, 20 + 2 * l);
    fill_normal(g.value(d.rbms[l].c), 0.5f, 8, 21 + 2 * l);
  }
  const auto v = all_binary(6);
  io::ImageSet set{64, 1, 6, {}, {}};
  for (float x : v) set.pixels.push_back(x > 0 ? 255 : 0);
  const DataSource src = image_source(set, io::Pixels::threshold, 0);
  Executor ex(g, {.threads = 2, .seed = 9});
  const int samples = 400;
  for (const int k : {1, 2}) {  // the top RBM rbms[k]: 2 is dbn_mnist's three-layer bound
    CAPTURE(k);
    DbnEnumeration reference(d, k);
    const auto mc = dbn_bound_rows(d, k, ex, src, 64, samples);
    REQUIRE(mc.size() == 64);
    double total_p = 0, mean_gap = 0, total_var = 0;
    for (size_t i = 0; i < 64; ++i) {
      CAPTURE(i);
      const Enumerated r = reference.at(std::span(v).subspan(i * 6, 6));
      total_p += std::exp(r.log_p);
      CHECK(r.bound <= r.log_p + 1e-9);
      // the estimator's exact mean is the bound (plus log Z): entropies in closed form or as -E log Q agree
      CHECK(r.mean - reference.log_z() == doctest::Approx(r.bound).epsilon(1e-9));
      // each row within five standard errors of its average over `samples` draws
      const double gap = mc[i] - reference.log_z() - r.bound, se = std::sqrt(r.var / samples);
      CAPTURE(gap);
      CHECK(std::abs(gap) <= 5 * se);
      mean_gap += gap / 64;
      total_var += r.var;
    }
    CHECK(total_p == doctest::Approx(1.0).epsilon(1e-9));  // the reference is a normalised model over all 64 vectors
    // the average over all rows, within five of its standard errors
    const double se = std::sqrt(total_var / samples) / 64;
    CAPTURE(se);
    CHECK(std::abs(mean_gap) <= 5 * se);
  }
}

TEST_CASE("dbn: the unrolled classifier's features equal the DBN's recognition pass before training") {
  Graph g;
  Dbn d = random_dbn(g, {16, 12, 9}, 7);
  Classifier c = Classifier::make(g, "net", {.layers = {16, 12, 9}, .classes = 3, .batch = 10});
  c.init_from(d);
  const Tensor x = g.input("x", {10, 16});
  const Tensor a = c.features(x), b = d.up(x, 2);
  std::vector<float> xs(160);
  fill_uniform(xs, 0.0f, 1.0f, 3, 1);
  Executor ex(g, {.threads = 2});
  ex.run({a, b}, {{x, xs}});
  auto va = ex.value(a), vb = ex.value(b);
  CHECK(std::equal(va.begin(), va.end(), vb.begin()));
  Classifier wrong = Classifier::make(g, "wrong", {.layers = {16, 12}, .classes = 3, .batch = 10});
  CHECK_THROWS_WITH_AS(wrong.init_from(d), doctest::Contains("expected 1"), Error);
  // a DBN in another graph gives the same start (its values are copied)
  Graph elsewhere;
  const Dbn copy = d.clone(elsewhere);
  Classifier c2 = Classifier::make(g, "net2", {.layers = {16, 12, 9}, .classes = 3, .batch = 10});
  c2.init_from(copy);
  for (size_t l = 0; l < 2; ++l) {
    CHECK(std::ranges::equal(g.value(c2.w[l]), g.value(c.w[l])));
    CHECK(std::ranges::equal(g.value(c2.b[l]), g.value(c.b[l])));
  }
}

TEST_CASE("dbn/finetune: learns a tiny task, and a resumed run ends bitwise equal") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ft_{}", ::getpid());
  auto run = [&](int epochs, bool resume) {
    Graph g;
    Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = 20, .sgd = {.lr = 0.5f, .momentum = 0.9f}});
    Executor ex(g, {.threads = 2, .seed = 3});
    Finetuner ft(c, ex, {.epochs = epochs, .eval_batch = 60, .checkpoint = dir, .resume = resume});
    ft.fit(train, valid);
    std::vector<float> p;
    for (Tensor t : c.params()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::pair{p, ft.error(valid)};
  };
  std::filesystem::remove_all(dir);
  const auto straight = run(6, false);
  CHECK(straight.second < 5.0);
  std::filesystem::remove_all(dir);
  run(3, false);
  const auto resumed = run(6, true);
  CHECK(resumed.first == straight.first);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dbn/finetune: probabilities of rows without labels sum to 1 a row and their argmax errs where error() does") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(70, 2);
  Graph g;
  Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = 20, .sgd = {.lr = 0.5f}});
  Executor ex(g, {.threads = 2, .seed = 3});
  Finetuner ft(c, ex, {.epochs = 1, .eval_batch = 30, .checkpoint = {}});
  ft.fit(train, valid);
  const std::vector<float> p = ft.probabilities(image_source(valid, io::Pixels::scaled, 0));
  REQUIRE(p.size() == 70 * 3);
  for (size_t r = 0; r < 70; ++r) CHECK(p[3 * r] + p[3 * r + 1] + p[3 * r + 2] == doctest::Approx(1.0).epsilon(1e-5));
  const std::vector<int> given = predicted_classes(p, 3);
  std::vector<int64_t> missed, wrong;
  for (size_t r = 0; r < given.size(); ++r)
    if (given[r] != valid.labels[r]) missed.push_back(static_cast<int64_t>(r));
  const double e = ft.error(valid, &wrong);
  CHECK(missed == wrong);
  CHECK(e > 0);  // one epoch leaves some wrong: the comparison means something
  CHECK_THROWS_WITH_AS(predicted_classes(p, 4), doctest::Contains("210 probabilities in rows of 4 classes"), Error);
}

TEST_CASE("dbn/finetune: weights run away by a weight decay too large for the rate name its flag beside the rate's") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  Graph g;
  // lr x decay = 10: each step multiplies the weights by about -9
  Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = 20,
                                             .sgd = {.lr = 0.1f, .momentum = 0.0f, .weight_decay = 100.0f}});
  Executor ex(g, {.threads = 2, .seed = 3});
  Finetuner ft(c, ex, {.epochs = 5, .eval_batch = 60, .checkpoint = {}, .lr_name = "--finetune-lr",
                       .weight_decay_name = "--finetune-weight-decay"});
  CHECK_THROWS_WITH_AS(ft.fit(train, valid),
                       doctest::Contains("(a smaller --finetune-lr (now 0.1) or --finetune-weight-decay (now 100: "
                                         "with the rate, each step subtracts 10 times each weight) usually cures it)"),
                       Error);
}

TEST_CASE("dbn/finetune: a resume with another batch is refused, one with another rate, momentum or weight decay is "
          "noted") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ft_change_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto make = [&](int64_t batch, float lr, bool resume, const std::function<void(Finetuner&)>& check,
                  float momentum = 0.9f, float weight_decay = 0.0f) {
    Graph g;
    Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = batch,
                                               .sgd = {.lr = lr, .momentum = momentum, .weight_decay = weight_decay}});
    Executor ex(g, {.threads = 2, .seed = 3});
    Finetuner ft(c, ex, {.epochs = 2, .eval_batch = 60, .checkpoint = dir, .resume = resume, .lr_name = "--finetune-lr"});
    check(ft);
  };
  make(20, 0.5f, false, [&](Finetuner& ft) { ft.fit(train, valid); });
  CHECK_THROWS_WITH_AS(make(30, 0.5f, true, [](Finetuner&) {}), doctest::Contains("batches of 20; this run has 30"),
                       Error);
  make(20, 0.25f, true, [](Finetuner& ft) {
    REQUIRE(ft.resume_notes().size() == 1);
    CHECK(ft.resume_notes()[0] == "net: resumed with --finetune-lr 0.25 (the checkpoint's 0.5)");  // the rate's flag
  });
  make(20, 0.5f, true, [](Finetuner& ft) { CHECK(ft.resume_notes().empty()); });
  make(
      20, 0.5f, true,
      [](Finetuner& ft) {
        REQUIRE(ft.resume_notes().size() == 2);
        CHECK(ft.resume_notes()[0] == "net: resumed with momentum 0.5 (the checkpoint's 0.9)");
        CHECK(ft.resume_notes()[1] == "net: resumed with weight decay 0.001 (the checkpoint's 0)");
      },
      0.5f, 1e-3f);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dbn/finetune: a resume whose net starts from other weights, or has them set after the Finetuner, is refused") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ft_start_{}", ::getpid());
  std::filesystem::remove_all(dir);
  // A net started from a DBN of seed `first` before the Finetuner is made
  // (0: not), then from one of seed `then` after (0: not).
  auto run = [&](int epochs, bool resume, uint64_t first, uint64_t then) {
    Graph g;
    const auto dbn = [&](uint64_t seed) {  // (named by its seed: the name keys the draws too)
      return Dbn::make(g, fmt::format("d{}", seed), {.layers = {16, 12}, .init_std = 0.3f, .seed = seed});
    };
    Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = 20});
    Executor ex(g, {.threads = 1, .seed = 3});
    if (first > 0) c.init_from(dbn(first));
    Finetuner ft(c, ex, {.epochs = epochs, .eval_batch = 60, .checkpoint = dir, .resume = resume});
    if (then > 0) c.init_from(dbn(then));
    return ft.fit(train, valid).size();
  };
  run(1, false, 1, 0);
  const char* other_start = "the weights of 'net' before the resume are not those the checkpoint's run started from";
  CHECK_THROWS_WITH_AS(run(2, true, 2, 0), doctest::Contains(other_start), Error);  // another stack
  CHECK_THROWS_WITH_AS(run(2, true, 0, 1), doctest::Contains(other_start), Error);  // the start set too late
  CHECK_THROWS_WITH_AS(run(2, true, 1, 2), doctest::Contains("its weights changed after the Finetuner resumed them"),
                       Error);
  CHECK(run(2, true, 1, 0) == 1);  // the same start: resumed, one epoch to go
  std::filesystem::remove_all(dir);
  // a net whose start is set after the Finetuner, in a fresh run, records that start
  run(1, false, 0, 1);
  CHECK(run(2, true, 1, 0) == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dbn/finetune: a resume into a net of other layers is refused naming the layers, not a tensor") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ft_layers_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto make = [&](std::vector<int64_t> layers, bool resume) {
    Graph g;
    Classifier c = Classifier::make(g, "net", {.layers = std::move(layers), .classes = 3, .batch = 20});
    Executor ex(g, {.threads = 1, .seed = 3});
    Finetuner ft(c, ex, {.epochs = 1, .eval_batch = 60, .checkpoint = dir, .resume = resume});
    ft.fit(train, valid);
  };
  make({16, 12}, false);
  for (const std::vector<int64_t>& other : {std::vector<int64_t>{16, 8}, std::vector<int64_t>{16, 12, 5}})
    CHECK_THROWS_WITH_AS(make(other, true), doctest::Contains("the checkpoint's net has layers [16,12]; this run's has"),
                         Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dbn/finetune: an epoch whose loss runs far above a uniform guess's is flagged as diverging") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  auto epochs = [&](float lr) {
    Graph g;
    Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = 20, .sgd = {.lr = lr, .momentum = 0.9f}});
    Executor ex(g, {.threads = 2, .seed = 3});
    Finetuner ft(c, ex, {.epochs = 3, .eval_batch = 60, .checkpoint = {}});
    return ft.fit(train, valid);
  };
  for (const FinetuneEpoch& e : epochs(0.5f)) CHECK_FALSE(e.diverging);
  const std::vector<FinetuneEpoch> wild = epochs(1e6f);
  CHECK(wild.front().train_loss > 10.0 * std::log(3.0));
  for (const FinetuneEpoch& e : wild) CHECK(e.diverging == (e.train_loss > 10.0 * std::log(3.0)));
}

TEST_CASE("dbn/pretrain: a layer above the first, fed by its layer source on the same executor, fits at any batch") {
  // The fitter's passes over the monitoring subset (25 rows here, batches of
  // 10) must ask the layer source for whole batches only, and leave the
  // executor's step as they found it.
  const io::ImageSet train = tiny_digits(60, 1), valid = tiny_digits(30, 2);
  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = {16, 12, 9}, .init_std = 0.1f});
  Executor ex(g, {.threads = 2, .seed = 5});
  const DataSource images = image_source(train, io::Pixels::scaled, 1), valid_images = image_source(valid, io::Pixels::scaled, 1);
  const DataSource up = layer_source(dbn, 1, ex, images, 10), valid_up = layer_source(dbn, 1, ex, valid_images, 10);
  CdTrainer t = make_cd_trainer(dbn.rbms[1], {.batch = 10, .lr = 0.05f});
  RbmFitter fit(t, ex, {.epochs = 2, .monitor_images = 25, .checkpoint = {}});
  const uint64_t step = ex.step();
  CHECK(fit.recon_baseline(up) > 0.0);
  CHECK(ex.step() == step);
  const std::vector<EpochStats> stats = fit.fit(up, valid_up);
  REQUIRE(stats.size() == 2);
  CHECK(stats.back().recon_baseline > 0.0);
  CHECK(std::isfinite(stats.back().recon_error));
}

