// EnergyFitter: the training loop any EnergyModel gets (models/energy_fit.hpp),
// on a semi-restricted RBM, a model the library does not ship.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "graph/executor.hpp"
#include "graph/init.hpp"
#include "models/energy_fit.hpp"
#include "models/exact.hpp"
#include "models/rbm.hpp"
#include "tests/energy_models.hpp"
#include "tests/misuse_util.hpp"

using namespace ebm;
using namespace ebm::test_models;
using ebm::misuse_test::error_of;
using ebm::misuse_test::has;

namespace {

constexpr int64_t kVisible = 6, kHidden = 4;

// Binary rows of three pairs of equal units (each pair on with
// probability 0.3, 0.5 and 0.7), each unit flipped with probability 0.05:
// what the lateral weights and the hidden units can learn.
std::vector<float> paired_rows(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x;
  for (int64_t r = 0; r < n; ++r)
    for (int p = 0; p < 3; ++p) {
      const float on = u(gen) < 0.3f + 0.2f * static_cast<float>(p) ? 1.0f : 0.0f;
      for (int k = 0; k < 2; ++k) x.push_back(u(gen) < 0.05f ? 1.0f - on : on);
    }
  return x;
}

// The NLL per row of binary `rows` when their units are taken one by one
// (each by its own mean): what a model without couplings reaches.
double independent_nll(const std::vector<float>& rows) {
  const auto n = static_cast<int64_t>(rows.size()) / kVisible;
  double nll = 0;
  for (int64_t i = 0; i < kVisible; ++i) {
    double p = 0;
    for (int64_t r = 0; r < n; ++r) p += rows[static_cast<size_t>(r * kVisible + i)] / static_cast<double>(n);
    nll -= p * std::log(p) + (1 - p) * std::log(1 - p);
  }
  return nll;
}

// A semi-restricted RBM with PCD-1 on it and a fitter, in a graph of its own.
struct Run {
  std::unique_ptr<Graph> g = std::make_unique<Graph>();
  std::unique_ptr<SemiRbm> m;
  Tensor v, recon;
  ContrastiveDivergence cd;
  std::unique_ptr<Executor> ex;
  std::unique_ptr<EnergyFitter> fit;

  Run(EnergyFitConfig cfg, int64_t batch = 40, float lr = 0.05f, bool persistent = true) {
    m = std::make_unique<SemiRbm>(*g, kVisible, kHidden);
    fill_normal(g->value(m->w), 0.1f, 3, 1);
    v = g->input("v", {batch, kVisible});
    cd = contrastive_divergence(*m, v, 1, persistent, {.lr = lr, .momentum = 0.5f});
    // the user's own monitor: each row's squared error when rebuilt as E[v | p(h | v)] without the lateral weights
    recon = mean(sum(square(sigmoid(affine(affine_sigmoid(v, m->w, m->b), m->w, m->c, true)) - v), 1));
    ex = std::make_unique<Executor>(*g, ExecutorOptions{.threads = 2, .seed = 5});
    fit = std::make_unique<EnergyFitter>(*m, cd, v, *ex, cfg, std::vector<Tensor>{recon, mean(m->free_energy(v))});
  }
  std::vector<float> values() const {
    std::vector<float> out;
    for (const Tensor& p : m->params()) out.insert(out.end(), g->value(p).begin(), g->value(p).end());
    out.insert(out.end(), g->value(cd.chain).begin(), g->value(cd.chain).end());
    return out;
  }
};

std::filesystem::path scratch(const char* what) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_energy_fit_{}_{}", ::getpid(), what);
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE(
    "energy fit: PCD epochs lower a semi-restricted RBM's exact negative log-likelihood, and its monitors are what "
    "they say") {
  const std::vector<float> train_rows = paired_rows(400, 1), valid_rows = paired_rows(100, 2);
  const DataSource train = matrix_source(train_rows, kVisible), valid = matrix_source(valid_rows, kVisible);
  Run r({.name = "semi", .epochs = 30, .monitor_rows = 1000});
  auto nll = [&] { return r.fit->mean_free_energy(train, 400) + exact_log_z_binary(*r.ex, *r.m, kVisible); };
  const double before = nll();
  std::vector<EnergyEpoch> seen;
  const std::vector<EnergyEpoch> epochs = r.fit->fit(train, valid, [&](const EnergyEpoch& e) { seen.push_back(e); });
  const double after = nll();
  const double independent = independent_nll(train_rows);
  MESSAGE("NLL before ", before, ", after ", after, "; units one by one ", independent);
  REQUIRE(epochs.size() == 30);
  CHECK(seen.size() == 30);
  CHECK(r.fit->epochs_done() == 30);
  CHECK(std::isfinite(after));
  CHECK(after < before - 0.5);
  CHECK(after < independent - 0.5);  // it learned the pairs
  // The last epoch's monitoring subsets are the first 400 and 100 rows (fewer than monitor_rows), after its step.
  const EnergyEpoch& last = epochs.back();
  CHECK(last.epoch == 30);
  CHECK(last.fe_train == doctest::Approx(r.fit->mean_free_energy(train, 400)).epsilon(1e-12));
  CHECK(last.fe_valid == doctest::Approx(r.fit->mean_free_energy(valid, 100)).epsilon(1e-12));
  CHECK(last.fe_gap == doctest::Approx(last.fe_valid - last.fe_train).epsilon(1e-12));
  // The user's monitors, averaged over the epoch's 10 batches as the batches' free energy is, before each step:
  // the second is that free energy computed again.
  REQUIRE(last.monitors.size() == 2);
  CHECK(last.monitors[0] > 0);
  CHECK(last.monitors[0] < kVisible);
  CHECK(std::isfinite(last.free_energy));
  for (const EnergyEpoch& e : epochs) CHECK(e.monitors[1] == doctest::Approx(e.free_energy).epsilon(1e-12));
}

TEST_CASE(
    "energy fit: a run stopped after 2 epochs and resumed ends bitwise as one run of 4, and other settings are "
    "refused") {
  const std::vector<float> rows = paired_rows(200, 3);
  const DataSource train = matrix_source(rows, kVisible), none{};
  const auto straight_dir = scratch("straight"), split_dir = scratch("split");
  const std::map<std::string, std::string> flags{{"--pixels", "scaled"}};
  Run straight({.name = "semi", .epochs = 4, .checkpoint = straight_dir});
  straight.fit->fit(train, none);
  {
    Run first({.name = "semi", .epochs = 2, .checkpoint = split_dir, .run_settings = flags});
    first.fit->fit(train, none);
  }
  Run resumed({.name = "semi", .epochs = 4, .checkpoint = split_dir, .resume = true, .run_settings = flags});
  CHECK(resumed.fit->epochs_done() == 2);
  CHECK(resumed.fit->resume_notes().empty());
  const std::vector<EnergyEpoch> rest = resumed.fit->fit(train, none);
  REQUIRE(rest.size() == 2);
  CHECK(rest.front().epoch == 3);
  CHECK(std::isnan(rest.front().fe_gap));        // no validation rows
  CHECK(resumed.values() == straight.values());  // parameters and chains, bit for bit

  // What must stay the same is refused by name; the rate may change, and is said.
  const std::string refusal = "resume from '" + split_dir.string() + "': the checkpoint has ";
  CHECK(has(error_of([&] { Run({.name = "semi", .epochs = 5, .checkpoint = split_dir, .resume = true}, 20); }),
            refusal + "batch size 40; this run has 20"));
  CHECK(has(error_of([&] {
              Run({.name = "semi",
                   .epochs = 5,
                   .checkpoint = split_dir,
                   .resume = true,
                   .run_settings = {{"--pixels", "x"}}});
            }),
            refusal + "--pixels = scaled; this run has x"));
  CHECK(has(
      error_of([&] { Run({.name = "semi", .epochs = 5, .checkpoint = split_dir, .resume = true}, 40, 0.05f, false); }),
      refusal + "method pcd; this run has cd"));
  Run faster({.name = "semi", .epochs = 5, .checkpoint = split_dir, .resume = true, .lr_name = "--lr"}, 40, 0.1f);
  REQUIRE(faster.fit->resume_notes().size() == 1);
  CHECK(faster.fit->resume_notes()[0] == "semi: resumed with --lr 0.1 (the checkpoint's 0.05)");
  std::filesystem::remove_all(straight_dir);
  std::filesystem::remove_all(split_dir);
}

TEST_CASE(
    "energy fit: the shipped Rbm is an EnergyModel: EnergyFitter trains it, exact_log_z_binary agrees with its own "
    "log Z, and its chain keeps count units' word counts") {
  const std::vector<float> rows = paired_rows(400, 7);
  const DataSource train = matrix_source(rows, kVisible), none{};
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = kVisible, .hidden = kHidden, .init_std = 0.1f, .seed = 2});
  const Tensor v = g.input("v", {40, kVisible});
  const ContrastiveDivergence cd = contrastive_divergence(rbm, v, 1, true, {.lr = 0.1f, .momentum = 0.5f});
  Executor ex(g, {.threads = 2, .seed = 5});
  EnergyFitter fit(rbm, cd, v, ex, {.name = "rbm", .epochs = 30, .monitor_rows = 0});
  const double log_z_before = exact_log_z_binary(ex, rbm, kVisible);
  CHECK(log_z_before == doctest::Approx(exact_log_z(rbm)).epsilon(1e-6));
  const double before = fit.mean_free_energy(train, 400) + log_z_before;
  fit.fit(train, none);
  const double log_z_after = exact_log_z_binary(ex, rbm, kVisible);
  CHECK(log_z_after == doctest::Approx(exact_log_z(rbm)).epsilon(1e-6));
  const double after = fit.mean_free_energy(train, 400) + log_z_after;
  MESSAGE("the RBM's exact NLL before ", before, ", after ", after, "; units one by one ", independent_nll(rows));
  CHECK(after < before - 0.3);
  CHECK(after < independent_nll(rows) - 0.1);  // its hidden units learned something of the pairs

  // Count visible units: the interface's Gibbs step passes each row's number of words on, as the RBM's own chain does.
  Graph gc;
  const Rbm counts =
      Rbm::make(gc, "counts", {.visible = 5, .hidden = 3, .visible_unit = Unit::count, .init_std = 0.5f, .seed = 3});
  const Tensor docs = gc.input("docs", {4, 5});
  const EnergyModel& as_model = counts;
  const Tensor chained = gibbs_chain(as_model, docs, 3);
  Executor exc(gc, {.threads = 1, .seed = 9});
  const std::vector<float> words{3, 0, 1, 0, 0, 0, 7, 0, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 12};
  exc.run({chained}, {{docs, words}});
  const auto out = exc.value(chained);
  for (size_t r = 0; r < 4; ++r) {
    float in_row = 0, out_row = 0;
    for (size_t i = 0; i < 5; ++i) {
      in_row += words[r * 5 + i];
      out_row += out[r * 5 + i];
    }
    CHECK(out_row == in_row);
  }
  CHECK(has(error_of([&] { (void)as_model.sample_v(counts.sample_h(docs)); }), "no number of words given"));
}

TEST_CASE("energy fit: refuses what does not fit, names a NaN row, and NaN weights name the rate's flag") {
  const std::vector<float> rows = paired_rows(100, 4);
  const DataSource train = matrix_source(rows, kVisible);
  Run r({.name = "semi", .epochs = 1, .monitor_rows = 0, .lr_name = "--lr"});
  const std::vector<float> wide(100 * 7, 0.0f), few(30 * kVisible, 0.0f);
  CHECK(has(error_of([&] { r.fit->fit(matrix_source(wide, 7), DataSource{}); }),
            "fit 'semi': rows of 7 (training) and 0 (validation) values; expected 6"));
  CHECK(has(error_of([&] { r.fit->fit(matrix_source(few, kVisible), DataSource{}); }),
            "30 training rows; expected at least a batch of 40"));
  CHECK(has(error_of([&] { EnergyFitter(*r.m, r.cd, r.v, *r.ex, {.name = "semi"}, {sum(r.v, 0)}); }),
            "monitors[0] 'sum"));
  std::vector<float> bad = rows;
  bad[static_cast<size_t>(17 * kVisible + 2)] = std::nanf("");
  CHECK(has(error_of([&] { Run({.name = "semi", .epochs = 1}).fit->fit(matrix_source(bad, kVisible), DataSource{}); }),
            "fit 'semi': training row 17 holds nan at column 2; expected finite data"));
  // Weights gone NaN (as a run-away rate leaves them; here one of A's, which spreads to W in the first step) are
  // named after the epoch, the first of them, with the rate's flag.
  Run runaway({.name = "semi", .epochs = 3, .monitor_rows = 0, .lr_name = "--lr"});
  runaway.g->value(runaway.m->a)[1] = std::nanf("");
  const std::string ran_away = error_of([&] { runaway.fit->fit(train, DataSource{}); });
  CHECK(has(ran_away, "fit 'semi': training diverged in epoch 1: 'p0' ('w') holds"));
  CHECK(has(ran_away, "a smaller --lr (now 0.05) usually cures it"));
}
