// The RBM training loop: a resumed run continues exactly as an
// uninterrupted one, numpy reads its checkpoints, a run that blows up is
// stopped (NaN) or flagged (a runaway error), and the monitoring figures
// equal an independent computation. Refused resumes and damaged
// checkpoints: test_rbm_resume.cpp.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "models/rbm_fit.hpp"
#include "python_numpy.hpp"
#include "tests/rbm_fit_runs.hpp"

using namespace ebm;
namespace fs = std::filesystem;
using namespace ebm::rbm_fit_test;

TEST_CASE("rbm/fit: a resumed run ends bitwise equal to an uninterrupted one (CD and PCD)") {
  const io::ImageSet train_set = synthetic_images(200, 1), valid_set = synthetic_images(50, 2);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  for (CdMethod m : {CdMethod::cd, CdMethod::pcd}) {
    const fs::path a = fresh_dir("straight"), b = fresh_dir("resumed");
    Run straight(m, a, false, 4);
    auto stats = straight.fit.fit(train, valid);
    CHECK(stats.size() == 4);
    CHECK(stats.back().recon_error < stats.front().recon_error);
    {
      Run first(m, b, false, 2);
      first.fit.fit(train, valid);
    }
    Run second(m, b, true, 4);
    CHECK(second.fit.epochs_done() == 2);
    auto rest = second.fit.fit(train, valid);
    CHECK(rest.size() == 2);
    CHECK(rest.back().epoch == 4);
    CHECK(second.params() == straight.params());
    CHECK(second.ex.step() == straight.ex.step());
    CHECK(rest.back().recon_error == stats.back().recon_error);
    CHECK(rest.back().recon_baseline == stats.back().recon_baseline);
    fs::remove_all(a);
    fs::remove_all(b);
  }
}

TEST_CASE("rbm/fit: preparing the next batch beside each step changes no bit") {
  const io::ImageSet train_set = synthetic_images(200, 5), valid_set = synthetic_images(50, 6);
  const DataSource beside = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
  DataSource in_turn = beside;
  in_turn.concurrent = false;  // converted before each step instead
  REQUIRE(beside.concurrent);
  Run a(CdMethod::cd, {}, false, 3), b(CdMethod::cd, {}, false, 3);
  const auto sa = a.fit.fit(beside, valid), sb = b.fit.fit(in_turn, valid);
  CHECK(a.params() == b.params());
  CHECK(sa.back().recon_error == sb.back().recon_error);
}

TEST_CASE("rbm/fit: numpy reads a checkpoint as its manifest describes (skipped without numpy)") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    MESSAGE("SKIPPED: no python3 with numpy (python3 or /usr/bin/python3)");
    return;
  }
  const io::ImageSet train_set = synthetic_images(100, 7), valid_set = synthetic_images(20, 8);
  const fs::path d = fresh_dir("ckpt_numpy");
  Run r(CdMethod::pcd, d, false, 1);
  r.fit.fit(image_source(train_set, io::Pixels::sampled, 1), image_source(valid_set, io::Pixels::sampled, 1));
  // numpy loads every tensor the manifest lists, checks its dtype and shape
  // against it, and writes each one's sum in double; they must be the sums
  // of the values the model holds.
  const fs::path script = d.string() + ".py", sums = d.string() + ".sums";
  std::ofstream(script) << fmt::format(
      "import json, numpy as n, sys\n"
      "m = json.load(open('{0}/manifest.json'))\n"
      "with open('{1}', 'w') as out:\n"
      "    for name, shape in sorted(m['tensors'].items()):\n"
      "        a = n.load('{0}/' + name + '.npy')\n"
      "        if a.dtype != n.float32 or list(a.shape) != shape: sys.exit(name + ': ' + str(a.dtype) + str(a.shape))\n"
      "        out.write('%s %.17g\\n' % (name, a.astype(n.float64).sum()))\n",
      d.string(), sums.string());
  REQUIRE(std::system(fmt::format("{} '{}'", python, script.string()).c_str()) == 0);
  std::map<std::string, double> read;
  std::ifstream in(sums);
  for (std::string name; in >> name;) in >> read[name];
  const std::map<std::string, Tensor> held{{"W", r.rbm.w},
                                           {"b", r.rbm.b},
                                           {"c", r.rbm.c},
                                           {"W.velocity", r.trainer.weights.state[0]},
                                           {"b.velocity", r.trainer.biases.state[0]},
                                           {"c.velocity", r.trainer.biases.state[1]},
                                           {"chain", r.trainer.chain}};
  std::vector<std::string> names;
  for (const auto& entry : read) names.push_back(entry.first);
  CHECK(names == std::vector<std::string>{"W", "W.velocity", "b", "b.velocity", "c", "c.velocity", "chain"});
  for (const auto& [name, t] : held) {
    REQUIRE(read.count(name) == 1);
    double sum = 0, size = 0;
    for (float x : r.g.value(t)) sum += x, size += std::abs(x);
    CHECK_MESSAGE(size > 0, name);  // a tensor of zeros would compare equal to any other
    CHECK_MESSAGE(read[name] == doctest::Approx(sum).epsilon(1e-12), name);
  }
  fs::remove_all(d);
  fs::remove(script);
  fs::remove(sums);
}
TEST_CASE("rbm/fit: a run whose weights turn NaN stops with a named error, its last checkpoint stays finite") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("diverged");
  Run r(CdMethod::cd, d, false, 3);
  // After epoch 1 (checkpoint saved), as epoch 2's first batch is read, one
  // weight turns NaN, as a learning rate far too large would make it; epoch
  // 2's updates add to it, so it stays NaN.
  DataSource poisoned = train;
  poisoned.concurrent = false;  // it writes the model: never beside a step
  bool poisoned_yet = false;
  poisoned.fill = [&](std::span<const int64_t> idx, std::span<float> out, uint64_t epoch) {
    if (epoch == 1 && !poisoned_yet) r.g.value(r.rbm.w)[5] = std::numeric_limits<float>::quiet_NaN();
    poisoned_yet = poisoned_yet || epoch == 1;
    train.fill(idx, out, epoch);
  };
  CHECK_THROWS_WITH_AS(r.fit.fit(poisoned, valid),
                       doctest::Contains("fit 'rbm': training diverged in epoch 2: 'W' ('rbm.W') holds"), Error);
  CHECK(r.fit.epochs_done() == 1);
  CHECK(checkpoint_meta(d, "rbm").find("\"epoch\":1") != std::string::npos);
  const io::NpyArray w = io::read_npy(d / "W.npy");  // the saved weights are epoch 1's, finite
  CHECK(w.data.size() == 36u * 8u);
  CHECK(std::all_of(w.data.begin(), w.data.end(), [](float x) { return std::isfinite(x); }));
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: weights run away by a weight decay too large for the rate name the decay's flag beside the rate's") {
  const SmallData data;
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = 8, .init_std = 0.1f});
  // lr x decay = 10: each step multiplies W by about -9, so it overflows within a few epochs of 10 steps
  CdTrainer t = make_cd_trainer(rbm, {.batch = 10, .lr = 0.1f, .weight_decay = 100.0f});
  Executor ex(g, {.threads = 2, .seed = 4});
  RbmFitter fit(t, ex,
                {.epochs = 30, .monitor_images = 40, .checkpoint = {}, .lr_name = "--lr",
                 .setting_flags = {{"weight_decay", "--weight-decay"}}});
  CHECK_THROWS_WITH_AS(fit.fit(data.train, data.valid),
                       doctest::Contains("(a smaller --lr (now 0.1) or --weight-decay (now 100: with the rate, each "
                                         "step subtracts 10 times each weight) usually cures it)"),
                       Error);
  // A rate far too large with the usual decay: the rate alone is named.
  Graph g2;
  Rbm fast = Rbm::make(g2, "rbm", {.visible = 36, .hidden = 8, .init_std = 0.1f});
  CdTrainer t2 = make_cd_trainer(fast, {.batch = 10, .lr = 1e20f, .weight_decay = 2e-4f});
  Executor ex2(g2, {.threads = 2, .seed = 4});
  RbmFitter fit2(t2, ex2,
                 {.epochs = 30, .monitor_images = 40, .checkpoint = {}, .lr_name = "--lr",
                  .setting_flags = {{"weight_decay", "--weight-decay"}}});
  CHECK_THROWS_WITH_AS(fit2.fit(data.train, data.valid), doctest::Contains("(a smaller --lr (now 1e+20) usually cures it)"),
                       Error);
}

TEST_CASE("rbm/fit: an epoch whose reconstruction error runs far above a mean prediction's is flagged as diverging") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  // The baseline: the pixels' variances summed, over the monitoring subset as converted in epoch 0.
  std::vector<int64_t> all(40);
  std::iota(all.begin(), all.end(), 0);
  std::vector<float> rows(40 * 36);
  train.fill(all, rows, 0);
  double want = 0;
  for (int p = 0; p < 36; ++p) {
    double m = 0;
    for (int i = 0; i < 40; ++i) m += rows[size_t(i * 36 + p)] / 40.0;
    want += m * (1.0 - m);  // binary values: E[v^2] = E[v]
  }
  Run calm(CdMethod::cd, {}, false, 3);
  const uint64_t step = calm.ex.step();
  CHECK(calm.fit.recon_baseline(train) == doctest::Approx(want).epsilon(1e-9));
  CHECK(calm.ex.step() == step);  // the pass leaves the random draws of the training that follows alone
  for (const EpochStats& s : calm.fit.fit(train, valid)) {
    CHECK(s.recon_baseline == doctest::Approx(want).epsilon(1e-9));
    CHECK_FALSE(s.diverging);  // a slow start (an error near the baseline) is not divergence
  }
  Run wild(CdMethod::cd, {}, false, 2);
  wild.trainer.config.lr = 1000.0f;
  const std::vector<EpochStats> w = wild.fit.fit(train, valid);
  CHECK_FALSE(w[0].diverging);  // the first epoch is not judged
  CHECK(w[1].recon_error > 1.5 * w[1].recon_baseline);
  CHECK(w[1].diverging);
  CHECK(diverging_reason(w[1], "pixel") ==
        fmt::format("over 1.5 times that of predicting each pixel by its mean ({:.4g})", w[1].recon_baseline));
}

TEST_CASE("rbm/fit: an epoch whose error rises to over twice its best is flagged, though it stays near the means'") {
  // Three noiseless prototypes (class c lights the pixels p with p % 3 == c),
  // which the RBM learns to rebuild far better than the means do; then a
  // rate that grows tenfold an epoch throws it off its best.
  io::ImageSet protos{300, 6, 6, {}, {}};
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t p = 0; p < 36; ++p) protos.pixels.push_back(p % 3 == i % 3 ? 255 : 0);
  protos.labels.assign(300, 0);
  const DataSource src = image_source(protos, io::Pixels::scaled, 1);
  Custom grow({.method = CdMethod::cd, .batch = 10, .lr = 0.1f},
              {.epochs = 8, .lr_decay = 3.0f, .momentum_switch_epoch = 2, .monitor_images = 40});
  const std::vector<EpochStats> st = grow.fit.fit(src, src);
  const double base = st[0].recon_baseline;
  double lowest = st[0].recon_error;
  int flagged = 0;
  for (const EpochStats& s : st) {
    INFO("epoch ", s.epoch, ": error ", s.recon_error, ", lowest before ", lowest, ", baseline ", base);
    // the rule as rbm_fit.hpp states it, from the errors the fitter reports
    const bool want = (s.epoch > 1 && s.recon_error > 1.5 * base) ||
                      (s.epoch > 1 && s.recon_error > 2 * lowest && s.recon_error - lowest > 0.1 * base);
    CHECK(s.diverging == want);
    CHECK(s.lowest_before == (s.epoch > 1 ? lowest : 0.0));
    CHECK(diverging_reason(s).empty() == !s.diverging);
    if (s.diverging && flagged == 0) flagged = s.epoch;
    lowest = std::min(lowest, s.recon_error);
  }
  // It learned (its best far under the means'), then the first flagged epoch
  // rose off that best while still under 1.5 times the means' error.
  CHECK(lowest < 0.01 * base);
  REQUIRE(flagged > 0);
  CHECK(st[size_t(flagged - 1)].recon_error < 1.5 * base);
  CHECK_FALSE(inputs_barely_vary(st[0]));
  CHECK(diverging_reason(st[size_t(flagged - 1)]) ==
        fmt::format("over twice the lowest of the earlier epochs ({:.4g})", st[size_t(flagged - 1)].lowest_before));

  // Inputs that barely vary (one pixel of one row in 300 a grey level off):
  // a baseline under 1e-6 gives no verdict, where the error, however small,
  // would be far over 1.5 times it.
  io::ImageSet still{300, 6, 6, std::vector<uint8_t>(300 * 36, 128), std::vector<uint8_t>(300, 0)};
  still.pixels[0] = 129;
  const DataSource still_src = image_source(still, io::Pixels::scaled, 1);
  Custom flat(base_cd(), {.epochs = 3, .momentum_switch_epoch = 2, .monitor_images = 300});
  for (const EpochStats& s : flat.fit.fit(still_src, still_src)) {
    INFO("epoch ", s.epoch, ": error ", s.recon_error, ", baseline ", s.recon_baseline);
    CHECK(s.recon_baseline > 0);
    CHECK(s.recon_baseline < 1e-6);
    CHECK(inputs_barely_vary(s));
    CHECK(s.recon_error > 1.5 * s.recon_baseline);
    CHECK_FALSE(s.diverging);
  }
}

namespace {

// F(v) = -c.v - sum_j softplus(b_j + (v W)_j) of a binary RBM, in double with plain loops.
double free_energy_of(const Custom& r, std::span<const float> v) {
  const auto w = r.g.value(r.rbm.w), b = r.g.value(r.rbm.b), c = r.g.value(r.rbm.c);
  const int64_t nv = 36, nh = 8;
  double f = 0;
  for (int64_t i = 0; i < nv; ++i) f -= double(c[size_t(i)]) * v[size_t(i)];
  for (int64_t j = 0; j < nh; ++j) {
    double x = b[size_t(j)];
    for (int64_t i = 0; i < nv; ++i) x += double(v[size_t(i)]) * w[size_t(i * nh + j)];
    f -= x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return f;
}

}  // namespace

TEST_CASE("rbm/fit: the free energies and pseudo-likelihood it reports equal an independent computation") {
  const io::ImageSet train_set = synthetic_images(100, 7), valid_set = synthetic_images(30, 8);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  RbmFitConfig f = base_fit({}, 3, false);
  f.monitor_images = 37;  // not a whole number of batches of 10: the last batch is padded
  f.data_seed = 6;
  Custom r(base_cd(), f);
  const std::vector<EpochStats> stats = r.fit.fit(train, valid);
  REQUIRE(stats.size() == 3);
  // The last epoch's figures: the model as it ended, the data as converted in that epoch (index 2).
  const uint64_t epoch = 2;
  const auto rows_in = [&](const DataSource& src, int64_t n) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::vector<float> out(static_cast<size_t>(n * 36));
    src.fill(idx, out, epoch);
    return out;
  };
  const auto mean_f = [&](const std::vector<float>& rows, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += free_energy_of(r, std::span(rows).subspan(size_t(i * 36), 36));
    return s / double(n);
  };
  const std::vector<float> tr = rows_in(train, 37), va = rows_in(valid, 30);
  const double fe_train = mean_f(tr, 37), fe_valid = mean_f(va, 30);
  CHECK(stats.back().fe_train == doctest::Approx(fe_train).epsilon(1e-5));
  CHECK(stats.back().fe_valid == doctest::Approx(fe_valid).epsilon(1e-5));
  CHECK(stats.back().fe_gap == doctest::Approx(fe_valid - fe_train).epsilon(1e-4));
  CHECK(std::abs(fe_valid - fe_train) > 1e-3);  // the two subsets differ, so a swap would show
  // Pseudo-likelihood: V log sigmoid(F(v~) - F(v)), v~ = v with the hook's bit flipped, averaged over the rows.
  double pl = 0;
  std::vector<int64_t> bits;
  for (int64_t i = 0; i < 37; ++i) {
    std::vector<float> v(tr.begin() + i * 36, tr.begin() + (i + 1) * 36), flipped = v;
    const int64_t bit = pseudo_likelihood_bit(6, epoch, i, 36);
    REQUIRE(bit >= 0);
    REQUIRE(bit < 36);
    bits.push_back(bit);
    flipped[size_t(bit)] = 1.0f - flipped[size_t(bit)];
    const double d = free_energy_of(r, flipped) - free_energy_of(r, v);
    pl += 36.0 * -std::log1p(std::exp(-d)) / 37.0;
  }
  std::sort(bits.begin(), bits.end());
  CHECK(std::unique(bits.begin(), bits.end()) - bits.begin() > 15);  // the flipped bits are spread over the units
  CHECK(pl < 0.0);
  CHECK(stats.back().pseudo_ll == doctest::Approx(pl).epsilon(1e-4));
  // the public entry points agree with the epoch's figures
  CHECK(r.fit.mean_free_energy(head(train, 37), epoch) == doctest::Approx(fe_train).epsilon(1e-5));
  CHECK(r.fit.pseudo_likelihood(head(train, 37), epoch) == doctest::Approx(pl).epsilon(1e-4));
  // Grey rows (a flip of p to 1 - p measures nothing): no figure, and the
  // step counter moved as on binary rows (two runs a batch of 10), so the
  // draws of the training after it are those of a run that measured it.
  const DataSource grey = image_source(train_set, io::Pixels::scaled, 1);
  for (const DataSource* src : {&train, &grey}) {
    const uint64_t before = r.ex.step();
    const double p = r.fit.pseudo_likelihood(head(*src, 37), epoch);
    CHECK(std::isnan(p) == (src == &grey));
    CHECK(r.ex.step() - before == 8);
  }
}
