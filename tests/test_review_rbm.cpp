// Review fixes of the RBM's exact and estimated normalisers, CD's settings,
// the custom-model helpers and check_grad: free_energy_exact for every unit
// pair, a sparsity cost refused where the mean activation is no
// probability, PCD's ignored mean_field_last not blocking a resume, AIS's
// interval honest for few runs, exact_log_z_binary reusing its nodes, and
// empty inputs refused by name.

#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/ais.hpp"
#include "models/cd.hpp"
#include "models/energy_model.hpp"
#include "models/exact.hpp"
#include "models/rbm_fit.hpp"
#include "tests/rbm_fit_runs.hpp"
#include "misuse_util.hpp"

using namespace ebm;
using ebm::misuse_test::error_of;

TEST_CASE("review/exact: free_energy_exact equals Rbm::free_energy for every visible and hidden unit pair") {
  const int64_t nv = 5, nh = 4, rows = 4;
  for (Unit vu : {Unit::binary, Unit::gaussian, Unit::softmax, Unit::rectified, Unit::count, Unit::poisson})
    for (Unit hu : {Unit::binary, Unit::gaussian, Unit::softmax, Unit::rectified}) {
      CAPTURE(to_string(vu));
      CAPTURE(to_string(hu));
      Graph g;
      Rbm r = Rbm::make(g, "r", {.visible = nv, .hidden = nh, .visible_unit = vu, .hidden_unit = hu, .init_std = 0.5f});
      fill_normal(g.value(r.b), 0.5f, 5, 1);
      fill_normal(g.value(r.c), 0.5f, 5, 2);
      std::vector<float> v(static_cast<size_t>(rows * nv));
      std::mt19937 gen(1);
      for (float& x : v)
        x = vu == Unit::binary || vu == Unit::softmax ? static_cast<float>(gen() % 2)
                                                      : static_cast<float>(gen() % 3) * 0.7f;
      const Tensor vin = g.input("v", {rows, nv}), f = r.free_energy(vin);
      Executor ex(g, {.threads = 1});
      ex.run({f}, {{vin, v}});
      const std::vector<double> exact = free_energy_exact(r, v);
      REQUIRE(exact.size() == static_cast<size_t>(rows));
      for (size_t i = 0; i < exact.size(); ++i)
        CHECK(exact[i] == doctest::Approx(ex.value(f)[i]).epsilon(1e-5));
    }
}

TEST_CASE("review/cd: a sparsity cost is refused for hidden units whose mean activation is no probability") {
  const CdConfig sparse{.batch = 4, .sparsity_target = 0.1f, .sparsity_cost = 0.5f};
  for (Unit hu : {Unit::gaussian, Unit::rectified}) {
    CAPTURE(to_string(hu));
    Graph g;
    Rbm r = Rbm::make(g, "r", {.visible = 6, .hidden = 3, .hidden_unit = hu});
    const std::string e = error_of([&] { make_cd_trainer(r, sparse); });
    CHECK(e.find("cd trainer for 'r': sparsity_cost = 0.5 with " + std::string(to_string(hu)) +
                 " hidden units, whose mean activation is not a probability") != std::string::npos);
    CHECK(e.find("expected binary or softmax hidden units") != std::string::npos);
    // the check by itself, as other trainers call it
    CHECK(error_of([&] { check_cd_config("t", sparse, hu); }).starts_with("t: sparsity_cost = 0.5 with"));
    // a target without a cost is unused: accepted
    CHECK(make_cd_trainer(r, {.batch = 4, .sparsity_target = 0.1f}).step.valid());
  }
  for (Unit hu : {Unit::binary, Unit::softmax}) {  // sigmoid and softmax means are probabilities
    Graph g;
    Rbm r = Rbm::make(g, "r", {.visible = 6, .hidden = 3, .hidden_unit = hu});
    CHECK(make_cd_trainer(r, sparse).step.valid());
  }
}

TEST_CASE("review/cd: PCD ignores mean_field_last, its config says so, and a resume that changes it is accepted") {
  using namespace ebm::rbm_fit_test;
  // the same PCD step with and without the flag: the same chains and weights
  std::vector<std::vector<float>> after;
  for (bool mean_field : {false, true}) {
    Graph g;
    Rbm r = Rbm::make(g, "r", {.visible = 6, .hidden = 3, .init_std = 0.5f});
    CdTrainer t = make_cd_trainer(r, {.method = CdMethod::pcd, .k = 2, .batch = 4, .mean_field_last = mean_field});
    CHECK_FALSE(t.config.mean_field_last);
    const std::vector<float> data{1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
    std::copy(data.begin(), data.end(), g.value(t.chain).begin());
    Executor ex(g, {.threads = 1, .seed = 2});
    ex.run({t.step}, {{t.v0, data}});
    for (float x : g.value(t.chain)) CHECK((x == 0.0f || x == 1.0f));  // sampled states
    std::vector<float> state(g.value(r.w).begin(), g.value(r.w).end());
    state.insert(state.end(), g.value(t.chain).begin(), g.value(t.chain).end());
    after.push_back(state);
  }
  CHECK(after[0] == after[1]);
  // CD keeps it
  {
    Graph g;
    Rbm r = Rbm::make(g, "r", {.visible = 6, .hidden = 3});
    CHECK(make_cd_trainer(r, {.batch = 4, .mean_field_last = true}).config.mean_field_last);
  }
  // a PCD run saved with the flag off resumes with it on (and the other way), as the same run
  const SmallData data;
  const fs::path d = fresh_dir("review_pcd_mean_field");
  CdConfig off = base_cd();
  off.method = CdMethod::pcd;
  Custom(off, base_fit(d, 1, false)).fit.fit(data.train, data.valid);
  CdConfig on = off;
  on.mean_field_last = true;
  CHECK(Custom(on, base_fit(d, 2, true)).fit.epochs_done() == 1);
  // CD's flag still matters: a CD run that changes it is refused
  const fs::path d2 = fresh_dir("review_cd_mean_field");
  Custom(base_cd(), base_fit(d2, 1, false)).fit.fit(data.train, data.valid);
  CdConfig cd_on = base_cd();
  cd_on.mean_field_last = true;
  CHECK_THROWS_WITH_AS(Custom(cd_on, base_fit(d2, 2, true)),
                       doctest::Contains("mean_field_last = false; this run has true"), Error);
  fs::remove_all(d);
  fs::remove_all(d2);
}

TEST_CASE("review/ais: with two runs the interval holds exact log Z in at least 19 of 20 seeds") {
  Graph g;
  Rbm r = Rbm::make(g, "r", {.visible = 12, .hidden = 8, .init_std = 0.5f, .seed = 11});
  fill_normal(g.value(r.b), 0.5f, 3, 1);
  fill_normal(g.value(r.c), 0.5f, 3, 2);
  const double truth = exact_log_z(r);
  const std::vector<float> base = base_rate_bias(std::vector<float>(12, 0.3f));
  int inside = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const AisResult a = ais_log_z(r, base, {.runs = 2, .schedule = {{1.0, 1000}}, .seed = seed, .threads = 1});
    inside += a.log_z_low <= truth && truth <= a.log_z_high;
  }
  CHECK(inside >= 19);  // +-3 standard errors held it in 15 to 17 (Student's t with 1 degree of freedom)
}

TEST_CASE("review/ais: the half-width is the 99.73 percent Student t quantile for runs - 1 degrees of freedom") {
  const double tail = 0.5 * std::erfc(3.0 / std::numbers::sqrt2);  // one side of +-3 sigma
  // 1 degree of freedom (Cauchy): t = tan(pi (1/2 - tail)); 2: t = r sqrt(2 / (1 - r^2)), r = 1 - 2 tail
  CHECK(ais_interval_sd(2) == doctest::Approx(std::tan(std::numbers::pi * (0.5 - tail))).epsilon(1e-9));
  const double r2 = 1.0 - 2.0 * tail;
  CHECK(ais_interval_sd(3) == doctest::Approx(r2 * std::sqrt(2.0 / (1.0 - r2 * r2))).epsilon(1e-9));
  // reference values (mpmath), on both sides of the switch to the expansion at 101 runs
  CHECK(ais_interval_sd(5) == doctest::Approx(6.62020596682).epsilon(1e-8));
  CHECK(ais_interval_sd(10) == doctest::Approx(4.09425530621).epsilon(1e-8));
  CHECK(ais_interval_sd(30) == doctest::Approx(3.28042609741).epsilon(1e-8));
  CHECK(ais_interval_sd(101) == doctest::Approx(3.0767555771).epsilon(1e-8));
  CHECK(ais_interval_sd(102) == doctest::Approx(3.07597811048).epsilon(1e-6));
  CHECK(ais_interval_sd(1000) == doctest::Approx(3.00752482238).epsilon(1e-6));
  CHECK(ais_interval_sd(1'000'000) == doctest::Approx(3.0).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(ais_interval_sd(1), doctest::Contains("ais_interval_sd: 1 runs; expected at least 2"), Error);
}

namespace {

struct RbmModel final : EnergyModel {
  Rbm r;
  explicit RbmModel(const Rbm& rbm) : r(rbm) {}
  Tensor free_energy(Tensor v) const override { return r.free_energy(v); }
  Tensor sample_h(Tensor v) const override { return r.sample_h(v); }
  Tensor sample_v(Tensor h) const override { return r.sample_v(h); }
  std::vector<Tensor> params() const override { return r.params(); }
};

// the same parameters, another free energy: F / 2
struct HalfModel final : EnergyModel {
  Rbm r;
  explicit HalfModel(const Rbm& rbm) : r(rbm) {}
  Tensor free_energy(Tensor v) const override { return r.free_energy(v) * 0.5f; }
  Tensor sample_h(Tensor v) const override { return r.sample_h(v); }
  Tensor sample_v(Tensor h) const override { return r.sample_v(h); }
  std::vector<Tensor> params() const override { return r.params(); }
};

}  // namespace

TEST_CASE("review/energy_model: exact_log_z_binary again on a model adds no nodes and reads the current values") {
  Graph g;
  Rbm r = Rbm::make(g, "r", {.visible = 8, .hidden = 3, .init_std = 0.5f, .seed = 2});
  const RbmModel m(r);
  Executor ex(g, {.threads = 1});
  const double first = exact_log_z_binary(ex, m, 8);
  CHECK(first == doctest::Approx(exact_log_z(r)).epsilon(1e-6));
  const NodeId nodes = g.size();
  for (int call = 0; call < 200; ++call) CHECK(exact_log_z_binary(ex, m, 8) == first);
  CHECK(g.size() == nodes);
  // new parameter values are read
  fill_normal(g.value(r.c), 0.5f, 9, 1);
  CHECK(exact_log_z_binary(ex, m, 8) == doctest::Approx(exact_log_z(r)).epsilon(1e-6));
  CHECK(g.size() == nodes);
  // another model over the same parameters builds its own free energy
  const HalfModel half(r);
  const double h = exact_log_z_binary(ex, half, 8);
  CHECK(g.size() > nodes);
  CHECK(std::abs(h - exact_log_z(r)) > 0.1);
  // and a new graph at the same address is no stale hit
  for (int round = 0; round < 2; ++round) {
    Graph g2;
    const uint64_t seed = 3u + static_cast<uint64_t>(round);
    Rbm r2 = Rbm::make(g2, "r", {.visible = 6, .hidden = 2, .init_std = 0.5f, .seed = seed});
    Executor ex2(g2, {.threads = 1});
    CHECK(exact_log_z_binary(ex2, RbmModel(r2), 6) == doctest::Approx(exact_log_z(r2)).epsilon(1e-6));
  }
}

TEST_CASE("review/energy_model: contrastive_divergence of an empty data Tensor is refused, naming the call") {
  Graph g;
  Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 2});
  const RbmModel m(r);
  CHECK_THROWS_WITH_AS(contrastive_divergence(m, Tensor{}, 1, false, {.lr = 0.1f}),
                       doctest::Contains("contrastive_divergence (v_data): the tensor is empty"), Error);
  CHECK_THROWS_WITH_AS(contrastive_divergence(m, Tensor{}, 1, true, {.lr = 0.1f}),
                       doctest::Contains("contrastive_divergence (v_data): the tensor is empty"), Error);
}

TEST_CASE("review/check_grad: an empty wrt is refused, naming the call") {
  Graph g;
  const Tensor w = g.param("w", {1, 3}, 0.5f);
  CHECK_THROWS_WITH_AS(check_grad(sum(w), std::span<const Tensor>{}),
                       doctest::Contains("check_grad: wrt is empty, so nothing would be checked"), Error);
}
