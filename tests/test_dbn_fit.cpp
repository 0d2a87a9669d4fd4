// Greedy training of a DBN through the library's one call (models/dbn_fit.hpp):
// each layer's rows are the recognition pass of the layers below, computed
// here by a plain loop; the layers below stay frozen while one trains; the
// starts a layer can take (the data's log-odds, the transpose of the layer
// below, the log-odds of the layer below's mean activations, PCD chains at
// training rows); a run stopped inside a layer resumes bitwise; a layer
// that trains further starts those above it afresh; misuse is named.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "graph/executor.hpp"
#include "models/dbn_fit.hpp"
#include "tests/rbm_fit_runs.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;
using ebm::rbm_fit_test::fresh_dir;
using ebm::testing::tiny_digits;

namespace {

std::vector<float> values(const Graph& g, Tensor t) { return {g.value(t).begin(), g.value(t).end()}; }

// Every parameter of the stack, layer by layer (W, b, c).
std::vector<std::vector<float>> parameters(const Dbn& d) {
  std::vector<std::vector<float>> out;
  for (const Rbm& r : d.rbms)
    for (Tensor t : {r.w, r.b, r.c}) out.push_back(values(*d.graph, t));
  return out;
}

// A stack (16-12-9-6 unless told) on tiny 4x4 digits.
struct Stack {
  io::ImageSet train_set = tiny_digits(60, 1), valid_set = tiny_digits(30, 2);
  Graph g;
  Dbn dbn;
  Executor ex;
  DataSource train = image_source(train_set, io::Pixels::scaled, 1);
  DataSource valid = image_source(valid_set, io::Pixels::scaled, 1);
  std::vector<float> means = io::pixel_means(train_set);

  explicit Stack(std::vector<int64_t> layers = {16, 12, 9, 6})
      : dbn(Dbn::make(g, "dbn", {.layers = std::move(layers), .init_std = 0.3f})), ex(g, {.threads = 2, .seed = 5}) {}
};

// Layer configurations: `epochs` per layer, batches of 10, a checkpoint per
// layer under `dir` when given.
std::vector<DbnLayerConfig> plan(std::vector<int> epochs, const std::filesystem::path& dir = {}, bool resume = false) {
  std::vector<DbnLayerConfig> out;
  for (size_t l = 0; l < epochs.size(); ++l) {
    DbnLayerConfig c{.cd = {.batch = 10, .lr = 0.1f}, .fit = {.epochs = epochs[l], .monitor_images = 20}};
    if (!dir.empty()) c.fit.checkpoint = dir / fmt::format("layer{}", l);
    c.fit.resume = resume;
    out.push_back(c);
  }
  return out;
}

// Q(h = 1 | v) of one layer by a plain loop: sigmoid(v W + b), rows of n.
std::vector<float> recognition(const Graph& g, const Rbm& r, const std::vector<float>& v) {
  const auto w = g.value(r.w), b = g.value(r.b);
  const int64_t nv = r.config.visible, nh = r.config.hidden, rows = static_cast<int64_t>(v.size()) / nv;
  std::vector<float> h(static_cast<size_t>(rows * nh));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < nh; ++j) {
      double a = b[static_cast<size_t>(j)];
      for (int64_t k = 0; k < nv; ++k) a += double{v[static_cast<size_t>(i * nv + k)]} * w[static_cast<size_t>(k * nh + j)];
      h[static_cast<size_t>(i * nh + j)] = static_cast<float>(1.0 / (1.0 + std::exp(-a)));
    }
  return h;
}

}  // namespace

TEST_CASE("dbn/greedy: each layer learns from the plain-loop recognition pass of the layers below, which stay frozen") {
  Stack s;
  std::vector<DbnLayerConfig> layers = plan({2, 2, 2});
  std::vector<std::vector<float>> frozen;  // the layers below as they ended, W, b and c each
  int checked = 0;
  const auto stats = fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers, [&](int l, const EpochStats& e) {
    if (e.epoch == 2) {  // a layer's last epoch: it is frozen from here on
      const Rbm& r = s.dbn.rbms[static_cast<size_t>(l)];
      for (Tensor t : {r.w, r.b, r.c}) frozen.push_back(values(s.g, t));
    }
    for (int k = 0; k < l; ++k) {
      const Rbm& r = s.dbn.rbms[static_cast<size_t>(k)];
      CHECK(values(s.g, r.w) == frozen[static_cast<size_t>(3 * k)]);
      CHECK(values(s.g, r.c) == frozen[static_cast<size_t>(3 * k + 2)]);
      ++checked;
    }
  });
  REQUIRE(stats.size() == 3);
  for (const auto& l : stats) CHECK(l.size() == 2);
  CHECK(checked == 2 * 1 + 2 * 2);
  // The top layer's rows: the images passed up by a plain loop through the trained layers below.
  DbnLayerFit top(s.dbn, 2, s.ex, s.train, s.valid, {}, layers[2]);
  const std::vector<int64_t> idx{3, 17, 42, 0, 59, 8, 8, 21, 30, 11};
  std::vector<float> want(idx.size() * 16);
  s.train.fill(idx, want, 0);
  want = recognition(s.g, s.dbn.rbms[1], recognition(s.g, s.dbn.rbms[0], want));
  std::vector<float> got(want.size());
  top.train().fill(idx, got, 0);
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
}

TEST_CASE("dbn/greedy: the starts a layer takes, data log-odds, transpose, the layer below's log-odds, chains at rows") {
  SUBCASE("the first layer's visible biases are the data's log-odds") {
    Stack s;
    DbnLayerFit first(s.dbn, 0, s.ex, s.train, s.valid, s.means, plan({0})[0]);
    const auto c = s.g.value(s.dbn.rbms[0].c);
    for (size_t i = 0; i < c.size(); ++i) {
      const double p = std::clamp(s.means[i], 1e-3f, 1.0f - 1e-3f);
      CHECK(c[i] == doctest::Approx(std::log(p / (1 - p))).epsilon(1e-5));
    }
  }
  SUBCASE("transpose_init: the second layer is the first one's transpose") {
    Stack s({16, 12, 16});
    std::vector<DbnLayerConfig> layers = plan({1, 0});
    layers[1].transpose_init = true;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers);
    const Rbm &lo = s.dbn.rbms[0], &hi = s.dbn.rbms[1];
    const auto wl = s.g.value(lo.w), wh = s.g.value(hi.w);
    for (int64_t i = 0; i < 16; ++i)
      for (int64_t j = 0; j < 12; ++j) REQUIRE(wh[static_cast<size_t>(j * 16 + i)] == wl[static_cast<size_t>(i * 12 + j)]);
    CHECK(values(s.g, hi.b) == values(s.g, lo.c));
    CHECK(values(s.g, hi.c) == values(s.g, lo.b));
  }
  SUBCASE("visible_bias_from_below: the log-odds of the layer below's mean activations") {
    Stack s;
    std::vector<DbnLayerConfig> layers = plan({1, 0, 0});
    layers[1].visible_bias_from_below = true;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers);
    std::vector<float> rows(60 * 16);
    std::vector<int64_t> all(60);
    for (int64_t i = 0; i < 60; ++i) all[static_cast<size_t>(i)] = i;
    s.train.fill(all, rows, 0);
    const std::vector<float> h = recognition(s.g, s.dbn.rbms[0], rows);
    const auto c = s.g.value(s.dbn.rbms[1].c);
    for (size_t j = 0; j < 12; ++j) {
      double m = 0;
      for (size_t i = 0; i < 60; ++i) m += h[i * 12 + j];
      const double p = std::clamp(m / 60, 1e-3, 1 - 1e-3);
      CHECK(c[j] == doctest::Approx(std::log(p / (1 - p))).epsilon(1e-4));
    }
    CHECK(values(s.g, s.dbn.rbms[2].c) == std::vector<float>(9, 0.0f));  // not asked: 0
  }
  SUBCASE("sample_up: binary states drawn from Q, a pure function of the rows and the epoch") {
    Stack s;
    std::vector<DbnLayerConfig> layers = plan({1, 0, 0});
    layers[1].sample_up = true;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers);
    DbnLayerFit second(s.dbn, 1, s.ex, s.train, s.valid, {}, layers[1]);
    const std::vector<int64_t> idx{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::vector<float> a(10 * 12), b(a.size()), c(a.size());
    second.train().fill(idx, a, 0);
    second.train().fill(idx, b, 0);
    second.train().fill(idx, c, 1);
    CHECK(std::ranges::all_of(a, [](float x) { return x == 0.0f || x == 1.0f; }));
    CHECK(a == b);
    CHECK(a != c);
  }
  SUBCASE("PCD: the chains start at training rows") {
    Stack s;
    DbnLayerConfig c = plan({0})[0];
    c.cd.method = CdMethod::pcd;
    DbnLayerFit first(s.dbn, 0, s.ex, s.train, s.valid, s.means, c);
    std::vector<float> want(10 * 16);
    s.train.fill(chain_start_rows(60, 10, c.fit.data_seed), want, 0);
    CHECK(values(s.g, first.trainer().chain) == want);
  }
}

TEST_CASE("dbn/greedy: a run stopped inside a layer and resumed ends bitwise equal to one that never stopped") {
  const std::filesystem::path whole = fresh_dir("greedy_whole"), parts = fresh_dir("greedy_parts");
  std::vector<std::vector<float>> want;
  const auto with_pcd = [](std::vector<DbnLayerConfig> l) {
    l[1].cd.method = CdMethod::pcd;
    l[1].sample_up = true;
    return l;
  };
  {
    Stack s;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, with_pcd(plan({2, 3, 1}, whole)));
    want = parameters(s.dbn);
  }
  {
    Stack s;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, with_pcd(plan({2, 1, 0}, parts)));
  }
  Stack s;
  const auto stats = fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, with_pcd(plan({2, 3, 1}, parts, true)));
  REQUIRE(stats.size() == 3);
  CHECK(stats[0].empty());  // resumed whole
  REQUIRE(stats[1].size() == 2);
  CHECK(stats[1].front().epoch == 2);
  CHECK(stats[2].size() == 1);
  CHECK(parameters(s.dbn) == want);
  std::filesystem::remove_all(whole);
  std::filesystem::remove_all(parts);
}

TEST_CASE("dbn/greedy: a layer that trains further starts the layers above it afresh") {
  const std::filesystem::path dir = fresh_dir("greedy_afresh");
  {
    Stack s;
    fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, plan({1, 2, 2}, dir));
  }
  Stack s;
  const auto stats = fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, plan({2, 2, 2}, dir, true));
  REQUIRE(stats.size() == 3);
  REQUIRE(stats[0].size() == 1);
  CHECK(stats[0].front().epoch == 2);
  for (int l : {1, 2}) {
    REQUIRE(stats[static_cast<size_t>(l)].size() == 2);
    CHECK(stats[static_cast<size_t>(l)].front().epoch == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("dbn/greedy: misuse is a named error") {
  Stack s;
  CHECK_THROWS_WITH_AS(fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, plan({1, 1})),
                       doctest::Contains("2 layer configurations; expected one per RBM (3)"), Error);
  const std::vector<float> rows(20 * 25, 0.5f);
  const DataSource wide = matrix_source(rows, 25);
  CHECK_THROWS_WITH_AS(fit_greedy(s.dbn, s.ex, wide, wide, {}, plan({1, 1, 1})),
                       doctest::Contains("rows of 25 values; expected 16"), Error);
  CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 3, s.ex, s.train, s.valid, {}, plan({1})[0]),
                       doctest::Contains("layer 3; expected 0 <= l < 3"), Error);
  std::vector<DbnLayerConfig> layers = plan({0, 1, 1});
  layers[1].transpose_init = true;  // 12-9 is no transpose of 16-12
  CHECK_THROWS_WITH_AS(fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers),
                       doctest::Contains("not the transpose"), Error);
  CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 0, s.ex, s.train, s.valid, std::vector<float>(5, 0.5f), plan({1})[0]),
                       doctest::Contains("init_visible_bias got 5 means; expected 16"), Error);
}

TEST_CASE("dbn: a clone holds the same sizes, units and values in another graph, and adds no node to the first") {
  Graph g;
  Dbn d = Dbn::make(g, "dbn", {.layers = {6, 4, 3}, .init_std = 0.5f, .visible_unit = Unit::gaussian});
  std::ranges::fill(g.value(d.rbms[1].c), 0.25f);
  const auto nodes = g.size();
  Graph other;
  const Dbn c = d.clone(other);
  CHECK(g.size() == nodes);
  REQUIRE(c.depth() == 2);
  CHECK(c.graph == &other);
  CHECK(c.rbms[0].config.visible_unit == Unit::gaussian);
  CHECK(c.rbms[1].config.hidden == 3);
  CHECK(parameters(c) == parameters(d));
  CHECK_THROWS_WITH_AS(Dbn{}.clone(other), doctest::Contains("clone of an empty stack"), Error);
}

TEST_CASE("dbn/greedy: a layer's checkpoint is its own: one folder for two layers, other layers below, another sample_up") {
  const std::filesystem::path dir = fresh_dir("greedy_own");
  {  // two layers given one folder (written two ways) are refused before any trains
    Stack s;
    std::vector<DbnLayerConfig> layers = plan({1, 1, 1}, dir);
    layers[2].fit.checkpoint = dir / "." / "layer1/";
    CHECK_THROWS_WITH_AS(fit_greedy(s.dbn, s.ex, s.train, s.valid, s.means, layers),
                         doctest::Contains("layers 1 and 2 have one checkpoint folder"), Error);
    CHECK(!std::filesystem::exists(dir / "layer0"));
  }
  {  // layer by layer, one epoch each
    Stack s;
    const std::vector<DbnLayerConfig> layers = plan({1, 1, 0}, dir);
    for (int l : {0, 1}) DbnLayerFit(s.dbn, l, s.ex, s.train, s.valid, s.means, layers[static_cast<size_t>(l)]).fit();
  }
  {  // layer 0 trained further: layer 1's checkpoint was trained on another layer 0
    Stack s;
    const std::vector<DbnLayerConfig> layers = plan({2, 2, 0}, dir, true);
    DbnLayerFit(s.dbn, 0, s.ex, s.train, s.valid, s.means, layers[0]).fit();
    CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 1, s.ex, s.train, s.valid, s.means, layers[1]),
                         doctest::Contains("the layers below layer 1 of 'dbn' are not those the checkpoint's run "
                                           "trained it on"),
                         Error);
  }
  std::filesystem::remove_all(dir);
  {
    Stack s;
    const std::vector<DbnLayerConfig> layers = plan({1, 1, 0}, dir);
    for (int l : {0, 1}) DbnLayerFit(s.dbn, l, s.ex, s.train, s.valid, s.means, layers[static_cast<size_t>(l)]).fit();
  }
  {  // the same layer 0, resumed whole: layer 1 resumes, but not with another sample_up, nor as layer 2
    Stack s;
    std::vector<DbnLayerConfig> layers = plan({1, 2, 1}, dir, true);
    DbnLayerFit(s.dbn, 0, s.ex, s.train, s.valid, s.means, layers[0]).fit();
    layers[1].sample_up = true;
    CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 1, s.ex, s.train, s.valid, s.means, layers[1]),
                         doctest::Contains("the checkpoint has sample_up = false; this run has true (set by "
                                           "DbnLayerConfig::sample_up)"),
                         Error);
    layers[1].sample_up = false;
    DbnLayerFit one(s.dbn, 1, s.ex, s.train, s.valid, s.means, layers[1]);
    CHECK(one.fitter().epochs_done() == 1);
    layers[2].fit.checkpoint = layers[1].fit.checkpoint;
    CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 2, s.ex, s.train, s.valid, s.means, layers[2]),
                         doctest::Contains("the checkpoint is of 'dbn.rbm1'; this fitter trains 'dbn.rbm2'"), Error);
    // a fresh fit there would save over layer 1's at the end of its first epoch: refused as it is made
    layers[2].fit.resume = false;
    CHECK_THROWS_WITH_AS(DbnLayerFit(s.dbn, 2, s.ex, s.train, s.valid, s.means, layers[2]),
                         doctest::Contains("holds the checkpoint of 'dbn.rbm1'; this one is of 'dbn.rbm2'"), Error);
  }
  std::filesystem::remove_all(dir);
}
