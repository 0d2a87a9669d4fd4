// DBNs at enumerable sizes: the variational bound never exceeds the exact
// log-likelihood, is tight when the second RBM is the first one's
// transpose, and its Monte Carlo estimate agrees with the exact value; the
// unrolled classifier starts as the DBN's recognition pass; fine-tuning
// resumes exactly.

#include <cmath>
#include <filesystem>
#include <functional>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn_bound.hpp"
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

}  // namespace

TEST_CASE("dbn/bound: the bound never exceeds the exact log-likelihood") {
  for (uint64_t seed : {1, 2, 3}) {
    Graph g;
    Dbn d = random_dbn(g, {8, 6, 5}, seed);
    const auto v = all_binary(8);
    double total_p = 0;
    for (const DbnExact& e : dbn_exact(d, v)) {
      CHECK(e.bound <= e.log_p + 1e-9);
      total_p += std::exp(e.log_p);
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

TEST_CASE("dbn/finetune: a resume with another batch is refused, one with another rate is noted") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ft_change_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto make = [&](int64_t batch, float lr, bool resume, const std::function<void(Finetuner&)>& check) {
    Graph g;
    Classifier c = Classifier::make(g, "net", {.layers = {16, 12}, .classes = 3, .batch = batch, .sgd = {.lr = lr, .momentum = 0.9f}});
    Executor ex(g, {.threads = 2, .seed = 3});
    Finetuner ft(c, ex, {.epochs = 2, .eval_batch = 60, .checkpoint = dir, .resume = resume});
    check(ft);
  };
  make(20, 0.5f, false, [&](Finetuner& ft) { ft.fit(train, valid); });
  CHECK_THROWS_WITH_AS(make(30, 0.5f, true, [](Finetuner&) {}), doctest::Contains("batches of 20; this run has 30"), Error);
  make(20, 0.25f, true, [](Finetuner& ft) {
    REQUIRE(ft.resume_notes().size() == 1);
    CHECK(ft.resume_notes()[0] == "net: resumed with lr 0.25 (the checkpoint's 0.5)");
  });
  make(20, 0.5f, true, [](Finetuner& ft) { CHECK(ft.resume_notes().empty()); });
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

