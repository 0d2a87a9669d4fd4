// Deep autoencoders and their PCA baseline: the unrolled net starts as the
// DBN's mean-field up-down pass; its loss's gradient matches finite
// differences; fine-tuning beats the mean row and resumes exactly; PCA
// finds planted components and its error is the variance it leaves out;
// logistic PCA fits data made by its own model, never raises its loss, and
// codes a new row at its loss's minimum.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>

#include <unistd.h>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "graph/executor.hpp"
#include "graph/init.hpp"
#include "models/autoencoder_fit.hpp"
#include "models/dbn.hpp"
#include "models/logistic_pca.hpp"
#include "models/pca.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;
using ebm::testing::tiny_digits;

namespace {

// Rows of a row-major matrix (kept by reference) as a data source.
DataSource matrix_source(const std::vector<float>& m, int64_t dim) {
  return {static_cast<int64_t>(m.size()) / dim, dim, [&m, dim](std::span<const int64_t> idx, std::span<float> out, uint64_t) {
            for (size_t i = 0; i < idx.size(); ++i)
              std::copy_n(m.begin() + idx[i] * dim, dim, out.begin() + static_cast<std::ptrdiff_t>(i) * dim);
          }};
}

Dbn random_dbn(Graph& g, std::vector<int64_t> layers, Unit data, uint64_t seed) {
  Dbn d = Dbn::make(g, "dbn", {.layers = std::move(layers), .init_std = 0.5f, .seed = seed, .visible_unit = data,
                               .top_hidden_unit = Unit::gaussian});
  for (const Rbm& r : d.rbms) {
    fill_normal(g.value(r.b), 0.5f, seed, 11);
    fill_normal(g.value(r.c), 0.5f, seed, 12);
  }
  return d;
}

}  // namespace

TEST_CASE("autoencoder: before fine-tuning it computes the DBN's mean-field up-down pass") {
  for (Unit data : {Unit::binary, Unit::gaussian}) {
    Graph g;
    Dbn d = random_dbn(g, {16, 12, 9, 3}, data, 5);
    Autoencoder a = Autoencoder::make(g, "ae", {.layers = {16, 12, 9, 3}, .data_unit = data, .batch = 10});
    a.init_from(d);
    const Tensor x = g.input("x", {10, 16});
    const Tensor ours = a.reconstruct(x), dbns = d.down(d.up(x, 3), 3), code = a.encode(x), top = d.up(x, 3);
    std::vector<float> xs(160);
    fill_uniform(xs, 0.0f, 1.0f, 3, 1);
    Executor ex(g, {.threads = 2});
    ex.run({ours, dbns, code, top}, {{x, xs}});
    auto va = ex.value(ours), vb = ex.value(dbns);
    double worst = 0;
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(double{va[i]} - vb[i]));
    CHECK(worst < 1e-5);
    auto ca = ex.value(code), cb = ex.value(top);
    CHECK(std::equal(ca.begin(), ca.end(), cb.begin()));
    double spread = 0;  // the code is linear: some of it lies outside (0, 1)
    for (float c : ca) spread = std::max(spread, std::abs(c - 0.5));
    CHECK(spread > 0.5);
  }
}

TEST_CASE("autoencoder: init_from refuses a DBN of other sizes or unit types") {
  Graph g;
  Dbn d = random_dbn(g, {16, 12, 3}, Unit::binary, 1);
  Autoencoder deeper = Autoencoder::make(g, "a1", {.layers = {16, 12, 9, 3}, .batch = 4});
  CHECK_THROWS_WITH_AS(deeper.init_from(d), doctest::Contains("expected 3"), Error);
  Autoencoder wider = Autoencoder::make(g, "a2", {.layers = {16, 10, 3}, .batch = 4});
  CHECK_THROWS_WITH_AS(wider.init_from(d), doctest::Contains("layer 0 is [16, 10]"), Error);
  Autoencoder gaussian = Autoencoder::make(g, "a3", {.layers = {16, 12, 3}, .data_unit = Unit::gaussian, .batch = 4});
  CHECK_THROWS_WITH_AS(gaussian.init_from(d), doctest::Contains("data units are binary"), Error);
  Autoencoder sigmoid_code = Autoencoder::make(g, "a4", {.layers = {16, 12, 3}, .linear_code = false, .batch = 4});
  CHECK_THROWS_WITH_AS(sigmoid_code.init_from(d), doctest::Contains("needs binary ones"), Error);
  Dbn binary_top = Dbn::make(g, "bt", {.layers = {16, 12, 3}});
  Autoencoder linear_code = Autoencoder::make(g, "a7", {.layers = {16, 12, 3}, .batch = 4});
  CHECK_THROWS_WITH_AS(linear_code.init_from(binary_top), doctest::Contains("needs gaussian ones"), Error);
  Dbn rectified = Dbn::make(g, "rect", {.layers = {16, 12, 3}, .top_hidden_unit = Unit::gaussian});
  rectified.rbms[0] = Rbm::make(g, "rect.r0", {.visible = 16, .hidden = 12, .hidden_unit = Unit::rectified});
  CHECK_THROWS_WITH_AS(linear_code.init_from(rectified), doctest::Contains("hidden layer 1 has rectified units"), Error);
  Graph other;
  Dbn elsewhere = random_dbn(other, {16, 12, 3}, Unit::binary, 1);
  CHECK_THROWS_WITH_AS(linear_code.init_from(elsewhere), doctest::Contains("in another graph"), Error);
  CHECK_THROWS_WITH_AS(Autoencoder::make(g, "a5", {.layers = {16}}), doctest::Contains("at least a code size"), Error);
  CHECK_THROWS_WITH_AS(Autoencoder::make(g, "a6", {.layers = {16, 3}, .data_unit = Unit::softmax}),
                       doctest::Contains("expected binary, gaussian, count or poisson"), Error);
}

TEST_CASE("autoencoder: the loss's gradient matches finite differences, binary and gaussian data") {
  for (Unit data : {Unit::binary, Unit::gaussian}) {
    Graph g;
    Autoencoder a = Autoencoder::make(g, "ae", {.layers = {6, 5, 2}, .data_unit = data, .batch = 4, .init_std = 0.5f});
    for (Tensor b : a.be) fill_normal(g.value(b), 0.5f, 2, 1);
    for (Tensor b : a.bd) fill_normal(g.value(b), 0.5f, 2, 2);
    std::vector<float> xs(24);
    fill_uniform(xs, 0.0f, 1.0f, 9, 1);
    const Feed feeds[] = {{a.x, xs}};
    const GradCheck r = check_grad(a.loss, a.params(), feeds, {.eps = 1e-2, .rtol = 2e-2, .atol = 2e-3});
    CHECK_MESSAGE(r.ok, r.worst);
  }
}

TEST_CASE("autoencoder/fit: fine-tuning beats the mean image, and a resumed run goes on where it stopped (sgd, adam, cg)") {
  const io::ImageSet train = tiny_digits(300, 1), valid = tiny_digits(60, 2);
  const DataSource tr = image_source(train, io::Pixels::scaled, 1), va = image_source(valid, io::Pixels::scaled, 1);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ae_{}", ::getpid());
  std::vector<std::string> notes;  // the last run's resume notes
  auto run = [&](int epochs, bool resume, AeOptimizer opt, float lr_scale = 1.0f, float noise = 0.0f,
                 int64_t batch = 20, int line_searches = 3) {
    Graph g;
    // (cg with noise on the code: every evaluation of a batch must draw the same noise)
    Autoencoder a = Autoencoder::make(g, "ae", {.layers = {16, 8, 2}, .batch = batch, .optimizer = opt,
                                                .sgd = {.lr = 0.05f * lr_scale, .momentum = 0.9f},
                                                .adam = {.lr = 0.01f * lr_scale},
                                                .cg = {.line_searches = line_searches}, .init_std = 0.3f,
                                                .code_noise = opt == AeOptimizer::cg ? 0.3f : noise});
    Executor ex(g, {.threads = 2, .seed = 3});
    AutoencoderFitter fit(a, ex, {.epochs = epochs, .eval_batch = 50, .checkpoint = dir, .resume = resume});
    notes = fit.resume_notes();
    const auto stats = fit.fit(tr, va);
    std::vector<float> p;
    for (Tensor t : a.params()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::tuple{p, fit.error(va), stats, fit.best_epoch()};
  };
  // The baseline by hand: the validation images against the training images' mean.
  std::vector<double> mean(16);
  for (int64_t i = 0; i < train.count; ++i)
    for (size_t p = 0; p < 16; ++p) mean[p] += train.pixels[static_cast<size_t>(i) * 16 + p] / 255.0 / 300.0;
  double baseline = 0;
  for (int64_t i = 0; i < valid.count; ++i)
    for (size_t p = 0; p < 16; ++p) baseline += std::pow(valid.pixels[static_cast<size_t>(i) * 16 + p] / 255.0 - mean[p], 2) / 60.0;
  for (AeOptimizer opt : {AeOptimizer::sgd, AeOptimizer::adam, AeOptimizer::cg}) {
    CAPTURE(static_cast<int>(opt));
    std::filesystem::remove_all(dir);
    const auto [params, err, stats, best] = run(30, false, opt);
    REQUIRE(stats.size() == 30);
    CHECK(stats.front().baseline == doctest::Approx(baseline).epsilon(1e-5));
    // Two code units can tell the three classes apart; what is left is about
    // the flipped pixels' share (16 x 0.1 x (200/255)^2 = 0.98 per image).
    CHECK(err < 0.5 * baseline);
    CHECK(err == doctest::Approx(stats[static_cast<size_t>(best - 1)].valid_error));
    for (const AutoencoderEpoch& e : stats) {
      CHECK_FALSE(e.diverging);
      // cg: each of the 15 batches evaluates its start and at least one
      // point per line search, unless a search fails (then 21 or more)
      if (opt == AeOptimizer::cg) CHECK(e.evaluations >= 15 * 4 - e.failures);
      if (opt != AeOptimizer::cg) CHECK(e.evaluations == 0);
    }
    // Stopped the epoch before the best one (so the resumed run must find
    // it, beyond its checkpoint's record) and resumed: the same epochs
    // follow, and the same weights end it; resumed again with none left,
    // the best epoch's weights come back from the checkpoint. (A fixed stop
    // at 12 held the best after it only by luck of the bits: cg's best
    // epoch is 7 in one build, 24 in another.)
    const int stop = best > 1 ? best - 1 : 12;
    CAPTURE(stop);
    std::filesystem::remove_all(dir);
    run(stop, false, opt);
    const auto [rparams, rerr, rstats, rbest] = run(30, true, opt);
    REQUIRE(rstats.size() == static_cast<size_t>(30 - stop));
    CHECK(rstats.front().epoch == stop + 1);
    for (size_t i = 0; i < rstats.size(); ++i) CHECK(rstats[i].valid_error == stats[i + static_cast<size_t>(stop)].valid_error);
    CHECK(rparams == params);
    CHECK(rbest == best);
    const auto [nparams, nerr, nstats, nbest] = run(30, true, opt);
    CHECK(nstats.empty());
    CHECK(nparams == params);
    CHECK(nbest == best);
    std::filesystem::remove_all(dir);
  }
  // A checkpoint is resumed only by the optimizer that made it, named as the
  // flag, before its state tensors (adam's do not fit sgd's) are read.
  run(2, false, AeOptimizer::sgd);
  CHECK(notes.empty());
  run(3, true, AeOptimizer::sgd, 0.5f);  // another rate: allowed, and said
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == "resumed with lr 0.025 (the checkpoint's 0.05)");
  CHECK_THROWS_WITH_AS(run(4, true, AeOptimizer::sgd, 0.5f, 0.3f),  // other noise on the code: another run
                       doctest::Contains("the checkpoint has code noise (the standard deviation added to the code "
                                         "units' input) 0; this run has 0.3"),
                       Error);
  CHECK_THROWS_WITH_AS(run(4, true, AeOptimizer::cg),
                       doctest::Contains("the checkpoint has optimizer sgd; this run has cg"), Error);
  CHECK_THROWS_WITH_AS(run(4, true, AeOptimizer::adam),
                       doctest::Contains("the checkpoint has optimizer sgd; this run has adam"), Error);
  // Other batches, or with cg other line searches a batch, are another run.
  CHECK_THROWS_WITH_AS(run(4, true, AeOptimizer::sgd, 1.0f, 0.0f, 30),
                       doctest::Contains("the checkpoint has batch (AutoencoderConfig::batch; the samples' --batch, "
                                         "with cg --cg-batch) 20; this run has 30"),
                       Error);
  std::filesystem::remove_all(dir);
  run(2, false, AeOptimizer::cg);
  CHECK_THROWS_WITH_AS(run(3, true, AeOptimizer::cg, 1.0f, 0.0f, 20, 2),
                       doctest::Contains("the checkpoint has line searches per batch (CgOptions::line_searches; the "
                                         "samples' --cg-line-searches) 3; this run has 2"),
                       Error);
  run(3, true, AeOptimizer::cg);
  CHECK(notes.empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("autoencoder/fit: reconstructs the rows asked for, in their order, a runaway rate is flagged") {
  const io::ImageSet set = tiny_digits(70, 1);
  const DataSource src = image_source(set, io::Pixels::scaled, 1);
  Graph g;
  Autoencoder a = Autoencoder::make(g, "ae", {.layers = {16, 8, 2}, .batch = 10, .init_std = 0.5f});
  Executor ex(g, {.threads = 2});
  AutoencoderFitter fit(a, ex, {.epochs = 0, .eval_batch = 4, .checkpoint = {}});
  const std::vector<int64_t> rows{66, 2, 66, 0, 41};
  const std::vector<float> got = fit.reconstruct(src, rows);
  REQUIRE(got.size() == 5 * 16);
  const Tensor x = g.input("x", {70, 16});
  const Tensor y = a.reconstruct(x);
  std::vector<float> all(70 * 16);
  std::vector<int64_t> every(70);
  std::iota(every.begin(), every.end(), 0);
  src.fill(every, all, 0);
  ex.run({y}, {{x, all}});
  const auto want = ex.value(y);
  double worst = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t p = 0; p < 16; ++p)
      worst = std::max(worst, std::abs(double{got[i * 16 + p]} - want[static_cast<size_t>(rows[i]) * 16 + p]));
  CHECK(worst < 1e-6);
  // A rate far too large throws the weights far out; the first epoch's
  // validation error is then well over the mean image's.
  Graph g2;
  Autoencoder wild = Autoencoder::make(g2, "wild", {.layers = {16, 8, 2}, .batch = 10, .sgd = {.lr = 50.0f, .momentum = 0.9f}});
  Executor ex2(g2, {.threads = 2});
  AutoencoderFitter wfit(wild, ex2, {.epochs = 2, .eval_batch = 10, .checkpoint = {}});
  const auto stats = wfit.fit(src, src);
  REQUIRE_FALSE(stats.empty());
  CHECK(stats.front().valid_error > 1.5 * stats.front().baseline);
  CHECK(stats.front().diverging);
}

TEST_CASE("pca: finds planted components, and leaves out exactly their variance") {
  // Rows mean + s1 a u1 + s2 b u2 over the four sign pairs: the covariance is
  // a^2 u1 u1' + b^2 u2 u2' exactly, with u1, u2 orthonormal in 6-D.
  const double a = 2.0, b = 0.5;
  const std::vector<double> u1{0.6, 0.8, 0, 0, 0, 0}, u2{0, 0, 0.28, 0, 0.96, 0}, mean{1, 2, 3, 4, 5, 6};
  std::vector<float> m;
  for (int s1 : {-1, 1})
    for (int s2 : {-1, 1})
      for (size_t i = 0; i < 6; ++i) m.push_back(static_cast<float>(mean[i] + s1 * a * u1[i] + s2 * b * u2[i]));
  const DataSource src = matrix_source(m, 6);
  const Pca one = fit_pca(src, 1, 3);
  CHECK(one.total_variance == doctest::Approx(a * a + b * b).epsilon(1e-6));
  CHECK(one.variances[0] == doctest::Approx(a * a).epsilon(1e-6));
  double dot = 0;
  for (size_t i = 0; i < 6; ++i) dot += one.components[i] * u1[i];
  CHECK(std::abs(dot) == doctest::Approx(1.0).epsilon(1e-6));
  for (size_t i = 0; i < 6; ++i) CHECK(one.mean[i] == doctest::Approx(mean[i]).epsilon(1e-6));
  CHECK(pca_error(one, src) == doctest::Approx(b * b).epsilon(1e-5));
  CHECK(pca_error(fit_pca(src, 2), src) < 1e-9);
}

TEST_CASE("pca: on the rows it was fitted to, its error is the covariance's trace minus the kept variances") {
  std::vector<float> m(500 * 20);
  fill_uniform(m, 0.0f, 1.0f, 4, 1);
  for (size_t r = 0; r < 500; ++r)  // correlated columns, so the spectrum is not flat
    for (size_t i = 1; i < 20; ++i) m[r * 20 + i] += 0.7f * m[r * 20 + i - 1];
  const DataSource src = matrix_source(m, 20);
  for (int64_t k : {1, 5, 19}) {
    const Pca p = fit_pca(src, k, 64);
    const double kept = std::accumulate(p.variances.begin(), p.variances.end(), 0.0);
    CHECK(pca_error(p, src, 77) == doctest::Approx(p.total_variance - kept).epsilon(1e-4));
    for (int64_t j = 1; j < k; ++j) CHECK(p.variances[j] <= p.variances[j - 1]);
  }
  CHECK_THROWS_WITH_AS(fit_pca(src, 0), doctest::Contains("expected 1 .. 20"), Error);
  CHECK_THROWS_WITH_AS(fit_pca(src, 21), doctest::Contains("expected 1 .. 20"), Error);
  const Pca p = fit_pca(src, 3);
  std::vector<float> other(10 * 7);
  CHECK_THROWS_WITH_AS(pca_error(p, matrix_source(other, 7)), doctest::Contains("fitted to rows of 20"), Error);
}

TEST_CASE("pca: data far from zero keep their variance, and bad rows are named") {
  // Columns near 2^22 (floats 0.5 apart) moved by whole steps of -1, 0, +1:
  // every value exact, so the covariance below, by plain loops around the
  // mean, is the true one. E[x x'] - m m' in one pass loses about 1e-2 here.
  const size_t n = 4000, d = 5;
  std::mt19937 rng(11);
  std::vector<float> m(n * d);
  for (size_t r = 0; r < n; ++r)
    for (size_t i = 0; i < d; ++i)
      m[r * d + i] = 4194304.0f + static_cast<float>(static_cast<int>(rng() % 3) - 1) + (i > 0 ? m[r * d] - 4194304.0f : 0.0f);
  std::vector<double> mean(d), cov(d * d);
  for (size_t r = 0; r < n; ++r)
    for (size_t i = 0; i < d; ++i) mean[i] += m[r * d + i] / static_cast<double>(n);
  for (size_t r = 0; r < n; ++r)
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j)
        cov[i * d + j] += (m[r * d + i] - mean[i]) * (m[r * d + j] - mean[j]) / static_cast<double>(n);
  const DataSource src = matrix_source(m, static_cast<int64_t>(d));
  const Pca p = fit_pca(src, 1, 300);
  double trace = 0;
  for (size_t i = 0; i < d; ++i) trace += cov[i * d + i];
  CHECK(p.total_variance == doctest::Approx(trace).epsilon(1e-9));
  // The leading eigenvalue by its Rayleigh quotient on the returned vector.
  double rq = 0;
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j < d; ++j) rq += p.components[i] * cov[i * d + j] * p.components[j];
  CHECK(p.variances[0] == doctest::Approx(rq).epsilon(1e-6));
  for (size_t i = 0; i < d; ++i) CHECK(p.mean[i] == static_cast<float>(mean[i]));

  m[7 * d + 3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(fit_pca(matrix_source(m, static_cast<int64_t>(d)), 1), doctest::Contains("row 7 holds nan at column 3"), Error);
  CHECK_THROWS_WITH_AS(pca_error(p, matrix_source(m, static_cast<int64_t>(d))), doctest::Contains("row 7 holds nan at column 3"), Error);
  const std::vector<float> none;
  CHECK_THROWS_WITH_AS(pca_error(p, matrix_source(none, static_cast<int64_t>(d))), doctest::Contains("no rows"), Error);
}

TEST_CASE("autoencoder/fit: a resumed run takes this run's momentum and weight decay, not the checkpoint's") {
  const io::ImageSet train = tiny_digits(60, 1);
  const DataSource tr = image_source(train, io::Pixels::scaled, 1);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ae_wd_{}", ::getpid());
  std::filesystem::remove_all(dir);
  for (AeOptimizer opt : {AeOptimizer::sgd, AeOptimizer::adam}) {
    for (float wd : {0.0f, 0.02f}) {  // trained with none, resumed with 0.02
      Graph g;
      Autoencoder a = Autoencoder::make(g, "ae", {.layers = {16, 4}, .batch = 20, .optimizer = opt,
                                                  .sgd = {.lr = 0.05f, .momentum = wd > 0 ? 0.5f : 0.9f, .weight_decay = wd},
                                                  .adam = {.lr = 0.01f, .weight_decay = wd}});
      Executor ex(g, {.threads = 1, .seed = 3});
      AutoencoderFitter fit(a, ex, {.epochs = wd > 0 ? 2 : 1, .eval_batch = 20, .checkpoint = dir, .resume = wd > 0});
      if (wd > 0) {  // and said
        const std::vector<std::string>& n = fit.resume_notes();
        CHECK(std::ranges::find(n, "resumed with weight decay 0.02 (the checkpoint's 0)") != n.end());
      }
      for (Tensor h : a.opt.hyper) {
        CHECK(g.value(h)[opt == AeOptimizer::adam ? 4 : 2] == wd);
        if (opt == AeOptimizer::sgd) CHECK(g.value(h)[1] == (wd > 0 ? 0.5f : 0.9f));
      }
      fit.fit(tr, tr);
    }
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("autoencoder/fit: a resume into other units or layers is refused by name, and a NaN row named whatever the optimizer") {
  const io::ImageSet train = tiny_digits(60, 2);
  const DataSource tr = image_source(train, io::Pixels::scaled, 1);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_ae_units_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto fit_with = [&](AutoencoderConfig c, int epochs, bool resume) {
    Graph g;
    Autoencoder a = Autoencoder::make(g, "ae", c);
    Executor ex(g, {.threads = 1, .seed = 3});
    AutoencoderFitter fit(a, ex, {.epochs = epochs, .eval_batch = 20, .checkpoint = dir, .resume = resume});
    fit.fit(tr, tr);
  };
  const AutoencoderConfig base{.layers = {16, 6, 3}, .data_unit = Unit::gaussian, .batch = 20};
  fit_with(base, 1, false);
  AutoencoderConfig other = base;
  other.data_unit = Unit::binary;
  CHECK_THROWS_WITH_AS(fit_with(other, 2, true), doctest::Contains("the checkpoint has data units (AutoencoderConfig::data_unit) gaussian; this run has binary"), Error);
  other = base;
  other.linear_code = false;
  CHECK_THROWS_WITH_AS(fit_with(other, 2, true), doctest::Contains("the checkpoint has linear code (AutoencoderConfig::linear_code) true; this run has false"), Error);
  other = base;
  other.layers = {16, 7, 3};
  CHECK_THROWS_WITH_AS(fit_with(other, 2, true), doctest::Contains("the checkpoint has layers (AutoencoderConfig::layers) [16,6,3]; this run has [16,7,3]"), Error);
  CHECK_NOTHROW(fit_with(base, 2, true));
  std::filesystem::remove_all(dir);

  std::vector<float> rows(40 * 16, 0.5f);
  rows[37 * 16 + 4] = std::numeric_limits<float>::quiet_NaN();
  for (AeOptimizer opt : {AeOptimizer::sgd, AeOptimizer::cg}) {
    Graph g;
    Autoencoder a = Autoencoder::make(g, "ae", {.layers = {16, 4}, .data_unit = Unit::gaussian, .batch = 20, .optimizer = opt});
    Executor ex(g, {.threads = 1, .seed = 3});
    AutoencoderFitter fit(a, ex, {.epochs = 1, .eval_batch = 20, .checkpoint = {}, .validate = false});
    CHECK_THROWS_WITH_AS(fit.fit(matrix_source(rows, 16), matrix_source(rows, 16)),
                         doctest::Contains("fine-tuning 'ae': training row 37 holds nan at column 4; expected finite data"), Error);
  }
}

namespace {

// Rows x = sigmoid(u V + b) of a planted logistic PCA with k components
// (values in (0, 1), not binary: the model's own means), and the rows'
// summed cross-entropy at its minimum (x^ = x): their binary entropies.
struct Planted {
  std::vector<float> x;
  double entropy = 0;
};

// V and b are drawn with `seed`, the codes with `code_seed`.
Planted planted_logistic(int64_t n, int64_t dim, int64_t k, uint64_t seed, uint64_t code_seed) {
  std::vector<float> u(static_cast<size_t>(n * k)), v(static_cast<size_t>(k * dim)), b(static_cast<size_t>(dim));
  fill_normal(u, 1.5f, code_seed, 1);
  fill_normal(v, 1.5f, seed, 2);
  fill_normal(b, 1.0f, seed, 3);
  Planted p;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j) {
      double t = b[static_cast<size_t>(j)];
      for (int64_t a = 0; a < k; ++a) t += u[static_cast<size_t>(i * k + a)] * v[static_cast<size_t>(a * dim + j)];
      const double y = 1.0 / (1.0 + std::exp(-t));
      p.x.push_back(static_cast<float>(y));
      p.entropy -= y * std::log(y) + (1 - y) * std::log(1 - y);
    }
  return p;
}

// Row x's cross-entropy under code u, by plain loops.
double row_xent(const LogisticPca& p, std::span<const float> x, std::span<const double> u) {
  double sum = 0;
  for (int64_t j = 0; j < p.dim; ++j) {
    double t = p.bias[static_cast<size_t>(j)];
    for (int64_t a = 0; a < p.k(); ++a) t += u[static_cast<size_t>(a)] * p.components[static_cast<size_t>(a * p.dim + j)];
    sum += std::max(t, 0.0) + std::log1p(std::exp(-std::abs(t))) - x[static_cast<size_t>(j)] * t;
  }
  return sum;
}

}  // namespace

TEST_CASE("logistic pca: fits data made by its own model to their entropy, far better than PCA, its loss never rises") {
  const int64_t n = 300, dim = 24, k = 2;
  const Planted data = planted_logistic(n, dim, k, 5, 5);
  const DataSource src = matrix_source(data.x, dim);
  std::vector<double> losses;
  const LogisticPca p = fit_logistic_pca(src, k, {.sweeps = 60, .progress = [&](int sweep, double loss) {
    CHECK(sweep == static_cast<int>(losses.size()) + 1);
    losses.push_back(loss);
  }});
  REQUIRE(losses.size() == 60);
  // never up, but for the rounding of float sums
  for (size_t s = 1; s < losses.size(); ++s) CHECK(losses[s] <= losses[s - 1] + 1e-6 * std::abs(losses[s - 1]));
  const double floor = data.entropy / n;
  CAPTURE(floor);
  CHECK(losses.back() < floor + 0.01 * floor);           // the fit's own codes
  CHECK(logistic_pca_loss(p, src) < floor + 0.01 * floor);  // each row coded afresh by encode
  const double err = logistic_pca_error(p, src), linear = pca_error(fit_pca(src, k), src);
  CAPTURE(err);
  CAPTURE(linear);
  CHECK(err < 0.02 * linear);
  // rows the fit never saw (other codes), from the same model (the same V and b)
  const Planted fresh = planted_logistic(100, dim, k, 5, 6);
  CHECK(logistic_pca_error(p, matrix_source(fresh.x, dim)) < 0.02 * linear);
}

TEST_CASE("logistic pca: a new row's code minimises its cross-entropy, decode is sigmoid(u V + b)") {
  const int64_t dim = 20, k = 3;
  const Planted data = planted_logistic(200, dim, k, 8, 8);
  const LogisticPca p = fit_logistic_pca(matrix_source(data.x, dim), k, {.sweeps = 20});
  std::vector<float> rows(5 * dim);
  fill_uniform(rows, 0.0f, 1.0f, 9, 1);  // rows of no model: a code is still the best one for each
  std::vector<float> codes(5 * k), out(5 * dim);
  p.encode(rows, codes);
  p.decode(codes, out);
  for (int64_t i = 0; i < 5; ++i) {
    const std::span<const float> x(rows.data() + i * dim, static_cast<size_t>(dim));
    std::vector<double> u(codes.begin() + i * k, codes.begin() + (i + 1) * k);
    const double at = row_xent(p, x, u);
    for (int64_t a = 0; a < k; ++a)
      for (double h : {-1e-2, 1e-2}) {  // every nearby code is worse
        std::vector<double> moved = u;
        moved[static_cast<size_t>(a)] += h;
        CHECK(row_xent(p, x, moved) >= at - 1e-9);
      }
    for (int64_t j = 0; j < dim; ++j) {
      double t = p.bias[static_cast<size_t>(j)];
      for (int64_t a = 0; a < k; ++a) t += u[static_cast<size_t>(a)] * p.components[static_cast<size_t>(a * dim + j)];
      CHECK(out[static_cast<size_t>(i * dim + j)] == doctest::Approx(1.0 / (1.0 + std::exp(-t))).epsilon(1e-5));
    }
  }
}

TEST_CASE("logistic pca: bad component counts, values outside [0, 1] and wrong sizes are refused") {
  std::vector<float> m(50 * 8, 0.5f);
  const DataSource src = matrix_source(m, 8);
  CHECK_THROWS_WITH_AS(fit_logistic_pca(src, 0), doctest::Contains("expected 1 .. 8"), Error);
  CHECK_THROWS_WITH_AS(fit_logistic_pca(src, 9), doctest::Contains("expected 1 .. 8"), Error);
  CHECK_THROWS_WITH_AS(fit_logistic_pca(src, 2, {.sweeps = -1}), doctest::Contains("expected 0 or more"), Error);
  m[17] = 1.5f;
  CHECK_THROWS_WITH_AS(fit_logistic_pca(src, 2), doctest::Contains("row 2 unit 1 is 1.5; expected values in [0, 1]"),
                       Error);
  m[17] = 0.5f;
  const LogisticPca p = fit_logistic_pca(src, 2, {.sweeps = 2});
  std::vector<float> codes(3), out(7);
  CHECK_THROWS_WITH_AS(p.encode(m, codes), doctest::Contains("expected 100 (50 rows x 2)"), Error);
  CHECK_THROWS_WITH_AS(p.decode(codes, out), doctest::Contains("expected rows of 2 codes"), Error);
  std::vector<float> other(10 * 7);
  CHECK_THROWS_WITH_AS(logistic_pca_error(p, matrix_source(other, 7)), doctest::Contains("expected rows of 8"), Error);
  CHECK_THROWS_WITH_AS(p.encode(std::span<const float>(m).first(8), std::span<float>(codes).first(2), 0),
                       doctest::Contains("expected at least 1"), Error);
  const std::vector<float> none;
  CHECK_THROWS_WITH_AS(fit_logistic_pca(matrix_source(none, 8), 2), doctest::Contains("no rows"), Error);
  CHECK_THROWS_WITH_AS(LogisticPca{}.encode(m, codes), doctest::Contains("no components"), Error);
}
