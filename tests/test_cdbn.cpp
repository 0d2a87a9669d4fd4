// Training a convolutional RBM like an RBM, and stacking them: the CRBM
// trainer's CD-1 update equals the textbook statistics computed by plain
// loops, its fit resumes bitwise, the sparsity term pulls the groups'
// activations to their target, a convolutional DBN passes pooled
// probabilities up, and a classifier trains on any labelled rows exactly as
// on images.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <unistd.h>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "io/batch.hpp"
#include "autodiff/grad.hpp"
#include "models/cdbn.hpp"
#include "models/finetune.hpp"
#include "models/rbm_fit.hpp"

using namespace ebm;
namespace fs = std::filesystem;

namespace {

// count binary images of side x side: a random stroke (row or column) plus sparse noise, as uint8
io::ImageSet stroke_images(int64_t count, int64_t side, uint32_t seed) {
  io::ImageSet s{count, side, side, {}, {}};
  for (int64_t i = 0; i < count; ++i) {
    const auto r = random_bits<uint32_t>(make_rng_key(seed, i, 1), 0);
    const bool row = r % 2 == 0;
    const int64_t k = (r / 2) % side;
    for (int64_t p = 0; p < side * side; ++p) {
      const bool on = (row ? p / side : p % side) == k ||
                      random_bits<uint32_t>(make_rng_key(seed, i, 0), static_cast<uint32_t>(p)) % 16 == 0;
      s.pixels.push_back(on ? 240 : 5);
    }
    s.labels.push_back(static_cast<uint8_t>(k < side / 2));  // the stroke in the first half or the second
  }
  return s;
}

fs::path fresh_dir(const char* name) {
  const fs::path d = fs::temp_directory_path() / fmt::format("ebm_test_cdbn_{}_{}", name, ::getpid());
  fs::remove_all(d);
  return d;
}

std::vector<float> values(Graph& g, std::initializer_list<Tensor> ts) {
  std::vector<float> v;
  for (Tensor t : ts) v.insert(v.end(), g.value(t).begin(), g.value(t).end());
  return v;
}

// Plain-loop hidden probabilities of a single-channel CRBM with pooling:
// I = W_k * v + b_k, then per block exp(I) / (1 + sum exp(I)).
std::vector<double> plain_p_h(const std::vector<float>& w, const std::vector<float>& b, const float* v, int64_t side,
                              int64_t r, int64_t k_count, int64_t pool) {
  const int64_t o = side - r + 1;
  std::vector<double> in(static_cast<size_t>(k_count * o * o)), p(in.size());
  for (int64_t k = 0; k < k_count; ++k)
    for (int64_t i = 0; i < o; ++i)
      for (int64_t j = 0; j < o; ++j) {
        double s = b[static_cast<size_t>(k)];
        for (int64_t u = 0; u < r; ++u)
          for (int64_t t = 0; t < r; ++t)
            s += double{w[static_cast<size_t>(k * r * r + u * r + t)]} * v[(i + u) * side + j + t];
        in[static_cast<size_t>(k * o * o + i * o + j)] = s;
      }
  for (int64_t k = 0; k < k_count; ++k)
    for (int64_t bi = 0; bi < o; bi += pool)
      for (int64_t bj = 0; bj < o; bj += pool) {
        double z = 1;
        for (int64_t i = bi; i < bi + pool; ++i)
          for (int64_t j = bj; j < bj + pool; ++j) z += std::exp(in[static_cast<size_t>(k * o * o + i * o + j)]);
        for (int64_t i = bi; i < bi + pool; ++i)
          for (int64_t j = bj; j < bj + pool; ++j) {
            const auto at = static_cast<size_t>(k * o * o + i * o + j);
            p[at] = std::exp(in[at]) / z;
          }
      }
  return p;
}

}  // namespace

TEST_CASE("cdbn: the CRBM trainer's CD-1 update is the textbook one, by plain loops") {
  // lr, no momentum, no decay: dW_k = lr (sum_b v0_b (x) p(h_k | v0_b) - v1_b (x) p(h_k | v1_b)) / B
  // (a correlation of each image with its hidden probabilities), db_k likewise from each group's sum,
  // dc from the pixels' sums.
  const int64_t side = 6, r = 3, kf = 2, pool = 2, batch = 4, o = side - r + 1;
  const float lr = 0.1f;
  Graph g;
  const Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = side, .width = side, .size = r},
                                        .filters = kf, .pool = pool, .init_std = 0.3f, .seed = 5});
  fill_normal(g.value(m.b), 0.5f, 7, 0);
  CrbmTrainer t = make_crbm_trainer(m, {.batch = batch, .lr = lr, .momentum = 0.0f, .weight_decay = 0.0f});
  const io::ImageSet set = stroke_images(batch, side, 3);
  std::vector<float> v0(static_cast<size_t>(batch * side * side));
  io::fill_batch(set, std::vector<int64_t>{0, 1, 2, 3}, v0, {.mode = io::Pixels::threshold});
  const std::vector<float> w = values(g, {m.w}), b = values(g, {m.b}), c = values(g, {m.c});
  Executor ex(g, {.threads = 2, .seed = 9});
  ex.run({t.step, t.negative}, {{t.v0, v0}});
  const std::vector<float> v1(ex.value(t.negative).begin(), ex.value(t.negative).end());
  std::vector<double> dw(w.size()), db(b.size()), dc(1);
  for (int64_t s = 0; s < batch; ++s)
    for (int phase = 0; phase < 2; ++phase) {
      const float* v = (phase == 0 ? v0 : v1).data() + s * side * side;
      const double sign = phase == 0 ? 1.0 : -1.0;
      const auto p = plain_p_h(w, b, v, side, r, kf, pool);
      for (int64_t k = 0; k < kf; ++k)
        for (int64_t i = 0; i < o; ++i)
          for (int64_t j = 0; j < o; ++j) {
            const double h = p[static_cast<size_t>(k * o * o + i * o + j)];
            db[static_cast<size_t>(k)] += sign * h;
            for (int64_t u = 0; u < r; ++u)
              for (int64_t q = 0; q < r; ++q) dw[static_cast<size_t>(k * r * r + u * r + q)] += sign * h * v[(i + u) * side + j + q];
          }
      for (int64_t i = 0; i < side * side; ++i) dc[0] += sign * v[i];
    }
  const std::vector<float> w1 = values(g, {m.w}), b1 = values(g, {m.b}), c1 = values(g, {m.c});
  double worst = 0;
  for (size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::abs((w1[i] - w[i]) - lr * dw[i] / batch));
  for (size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::abs((b1[i] - b[i]) - lr * db[i] / batch));
  worst = std::max(worst, std::abs((c1[0] - c[0]) - lr * dc[0] / batch));
  double scale = 0;
  for (double x : dw) scale = std::max(scale, std::abs(lr * x / batch));
  INFO("largest update ", scale, ", largest difference from the textbook ", worst);
  CHECK(scale > 1e-2);
  CHECK(worst < 2e-6);
  // the negative sample is binary and differs from the data
  CHECK(std::all_of(v1.begin(), v1.end(), [](float x) { return x == 0.0f || x == 1.0f; }));
  CHECK(v1 != v0);
}

TEST_CASE("cdbn: a CRBM fit resumes bitwise (CD and PCD), and its checkpoint names the model") {
  const io::ImageSet train_set = stroke_images(120, 8, 1), valid_set = stroke_images(40, 8, 2);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  struct Run {
    Graph g;
    Crbm m;
    CrbmTrainer t;
    Executor ex;
    RbmFitter fit;
    Run(CdMethod method, const fs::path& ckpt, bool resume, int epochs)
        : m(Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 8, .width = 8, .size = 3}, .filters = 3,
                                   .pool = 2, .init_std = 0.1f})),
          t(make_crbm_trainer(m, {.method = method, .batch = 10, .lr = 0.05f, .sparsity_target = 0.1f,
                                  .sparsity_cost = 0.5f})),
          ex(g, {.threads = 2, .seed = 4}),
          fit(t, ex, {.epochs = epochs, .momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = ckpt,
                      .resume = resume}) {}
  };
  for (CdMethod method : {CdMethod::cd, CdMethod::pcd}) {
    const fs::path a = fresh_dir("straight"), b = fresh_dir("resumed");
    Run straight(method, a, false, 4);
    const auto stats = straight.fit.fit(train, valid);
    REQUIRE(stats.size() == 4);
    CHECK(stats.back().recon_error < stats.front().recon_error);
    CHECK(stats.back().pseudo_ll < 0.0);
    {
      Run first(method, b, false, 2);
      first.fit.fit(train, valid);
    }
    Run second(method, b, true, 4);
    CHECK(second.fit.epochs_done() == 2);
    const auto rest = second.fit.fit(train, valid);
    REQUIRE(rest.size() == 2);
    CHECK(values(second.g, {second.m.w, second.m.b, second.m.c}) ==
          values(straight.g, {straight.m.w, straight.m.b, straight.m.c}));
    CHECK(rest.back().recon_error == stats.back().recon_error);
    CHECK(rest.back().fe_gap == stats.back().fe_gap);
    std::ifstream manifest(b / "manifest.json");
    const std::string text((std::istreambuf_iterator<char>(manifest)), std::istreambuf_iterator<char>());
    CHECK(text.find("\"kind\": \"crbm\"") != std::string::npos);
    CHECK(text.find("\"filters\": 3") != std::string::npos);
    fs::remove_all(a);
    fs::remove_all(b);
  }
  // an RBM's checkpoint is not a CRBM's
  const fs::path d = fresh_dir("kind");
  {
    Graph g;
    Rbm rbm = Rbm::make(g, "rbm", {.visible = 64, .hidden = 4});
    CdTrainer t = make_cd_trainer(rbm, {.batch = 10});
    Executor ex(g, {.threads = 1, .seed = 4});
    RbmFitter(t, ex, {.epochs = 1, .monitor_images = 10, .checkpoint = d}).fit(train, valid);
  }
  CHECK_THROWS_WITH_AS(Run(CdMethod::cd, d, true, 2), doctest::Contains("holds a 'rbm'; expected a 'crbm'"), Error);
  fs::remove_all(d);
  // a CRBM checkpoint of other pooling (the same tensor shapes) is refused, naming it
  {
    Run pooled(CdMethod::cd, d, false, 1);
    pooled.fit.fit(train, valid);
  }
  {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 8, .width = 8, .size = 3}, .filters = 3,
                                    .pool = 1});
    CrbmTrainer t = make_crbm_trainer(m, {.batch = 10, .lr = 0.05f});
    Executor ex(g, {.threads = 1, .seed = 4});
    CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.epochs = 2, .monitor_images = 40, .checkpoint = d, .resume = true}),
                         doctest::Contains("the checkpoint has pool = 2; this run has 1"), Error);
  }
  fs::remove_all(d);
}

TEST_CASE("cdbn: the trainer's sparsity term pulls each group's mean activation to its target") {
  const io::ImageSet set = stroke_images(200, 8, 4);
  const DataSource train = image_source(set, io::Pixels::threshold, 1);
  auto activation = [&](float cost) {
    Graph g;
    Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 8, .width = 8, .size = 3}, .filters = 4,
                                    .pool = 2, .init_std = 0.1f, .seed = 3});
    CrbmTrainer t = make_crbm_trainer(m, {.batch = 20, .lr = 0.05f, .sparsity_target = 0.02f, .sparsity_cost = cost});
    const Tensor q = mean(m.group_means(m.p_h(t.v0)), 0);
    Executor ex(g, {.threads = 2, .seed = 4});
    RbmFitter(t, ex, {.epochs = 15, .monitor_images = 20, .checkpoint = {}}).fit(train, train);
    std::vector<float> batch(static_cast<size_t>(20 * 64));
    std::vector<int64_t> idx(20);
    std::iota(idx.begin(), idx.end(), 0);
    train.fill(idx, batch, 0);
    ex.run({q}, {{t.v0, batch}});
    return std::vector<float>(ex.value(q).begin(), ex.value(q).end());
  };
  const auto free = activation(0.0f), held = activation(20.0f);
  REQUIRE(held.size() == 4);
  for (size_t k = 0; k < held.size(); ++k) {
    INFO("group ", k, ": mean p(h | v) ", free[k], " without the term, ", held[k], " with it (target 0.02)");
    CHECK(std::abs(held[k] - 0.02f) < 0.5f * std::abs(free[k] - 0.02f));
  }
}

TEST_CASE("cdbn: layers fit the one below, pass pooled probabilities up, and bad shapes are named") {
  Graph g;
  const Cdbn d = Cdbn::make(g, "cdbn", {.channels = 1, .height = 12, .width = 12, .layers = {{3, 5, 2}, {2, 3, 2}}});
  REQUIRE(d.depth() == 2);
  const Crbm& top = d.crbms[1];
  CHECK(top.config.visible.channels == 3);
  CHECK(top.config.visible.height == 4);  // (12 - 5 + 1) / 2
  CHECK(top.config.visible_unit == Unit::binary);
  CHECK(d.pooled_size(0) == 3 * 4 * 4);
  CHECK(d.pooled_size(1) == 2 * 1 * 1);
  fill_normal(g.value(d.crbms[0].w), 0.5f, 1, 0);
  fill_normal(g.value(top.w), 0.5f, 2, 0);
  const io::ImageSet set = stroke_images(10, 12, 5);
  const DataSource images = image_source(set, io::Pixels::scaled, 0);
  Executor ex(g, {.threads = 2, .seed = 1});
  // layer 1's source is layer 0's pooled probabilities, row for row
  const DataSource up1 = cdbn_layer_source(d, 1, ex, images, 5);
  CHECK(up1.dim == 48);
  const std::vector<int64_t> idx{0, 1, 2, 3, 4};
  const auto rows = rows_of(up1, idx);
  const Tensor x = g.input("x", {5, 144});
  const Tensor p0 = d.crbms[0].p_pool(x), p1 = d.pooled(x, 1);
  ex.run({p0, p1}, {{x, rows_of(images, idx)}});
  CHECK(rows == std::vector<float>(ex.value(p0).begin(), ex.value(p0).end()));
  CHECK(std::all_of(rows.begin(), rows.end(), [](float p) { return p >= 0.0f && p <= 1.0f; }));
  CHECK(ex.value(p1).size() == 10);
  CHECK_THROWS_WITH_AS(Cdbn::make(g, "bad", {.channels = 1, .height = 12, .width = 12, .layers = {{3, 5, 2}, {2, 6, 1}}}),
                       doctest::Contains("layer 2 has 2 filters of 6 x 6 pooled 1 x 1 over an input of 4 x 4"), Error);
  CHECK_THROWS_WITH_AS(Cdbn::make(g, "odd", {.channels = 1, .height = 12, .width = 12, .layers = {{3, 4, 2}}}),
                       doctest::Contains("pooling blocks that divide the hidden planes (9 x 9)"), Error);
}

TEST_CASE("cdbn: a classifier trains on labelled rows in memory bit for bit as on the images they hold") {
  const io::ImageSet train = stroke_images(300, 6, 7), valid = stroke_images(60, 6, 8);
  auto as_matrix = [](const io::ImageSet& s) {
    std::vector<float> m(static_cast<size_t>(s.count * s.dim()));
    std::vector<int64_t> idx(static_cast<size_t>(s.count));
    std::iota(idx.begin(), idx.end(), 0);
    io::fill_batch(s, idx, m, {.mode = io::Pixels::scaled});
    return m;
  };
  const std::vector<float> train_rows = as_matrix(train), valid_rows = as_matrix(valid);
  auto run = [&](bool rows) {
    Graph g;
    Classifier c = Classifier::make(g, "lr", {.layers = {36}, .classes = 2, .batch = 20, .sgd = {.lr = 0.1f}});
    Executor ex(g, {.threads = 2, .seed = 1});
    Finetuner ft(c, ex, {.epochs = 4, .eval_batch = 30, .checkpoint = {}});
    std::vector<FinetuneEpoch> e;
    if (rows)
      e = ft.fit({matrix_source(train_rows, 36), train.labels}, {matrix_source(valid_rows, 36), valid.labels});
    else
      e = ft.fit(train, valid);
    std::vector<float> p;
    for (Tensor t : c.params()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::make_pair(p, e.back().valid_error);
  };
  const auto [p_images, err_images] = run(false);
  const auto [p_rows, err_rows] = run(true);
  CHECK(p_rows == p_images);
  CHECK(err_rows == err_images);
  CHECK(err_rows < 10.0);  // which half the stroke is in: linearly separable
  Graph g;
  Classifier c = Classifier::make(g, "lr", {.layers = {36}, .classes = 2, .batch = 20});
  Executor ex(g, {.threads = 1, .seed = 1});
  Finetuner ft(c, ex, {.epochs = 1, .eval_batch = 30, .checkpoint = {}});
  const std::vector<uint8_t> short_labels(10, 0);
  CHECK_THROWS_WITH_AS(ft.fit({matrix_source(train_rows, 36), short_labels}, {matrix_source(valid_rows, 36), valid.labels}),
                       doctest::Contains("10 labels for 300 training rows"), Error);
  CHECK_THROWS_WITH_AS(ft.fit({matrix_source(train_rows, 18), train.labels}, {matrix_source(valid_rows, 18), valid.labels}),
                       doctest::Contains("rows of 18 (training) and 18 (validation) values; the net takes 36"), Error);
  std::vector<float> out(2 * 36);
  CHECK_THROWS_WITH_AS(matrix_source(valid_rows, 36).fill(std::vector<int64_t>{0, 60}, out, 0),
                       doctest::Contains("row 1 asks for row 60; expected an index in [0, 60)"), Error);
}

TEST_CASE("cdbn: the unrolled convnet's logits are its pooled features' linear map, its gradient matches finite differences, and it fine-tunes") {
  Graph g;
  Cdbn d = Cdbn::make(g, "cdbn", {.channels = 1, .height = 12, .width = 12, .layers = {{3, 5, 2}, {2, 3, 2}}});
  fill_normal(g.value(d.crbms[0].w), 0.4f, 1, 0);
  fill_normal(g.value(d.crbms[1].w), 0.4f, 2, 0);
  fill_normal(g.value(d.crbms[1].b), 0.5f, 3, 0);
  CdbnClassifier c = CdbnClassifier::make(g, "cc", d, {.feature_layers = {0, 1}, .classes = 2, .batch = 4, .init_std = 0.3f});
  fill_normal(g.value(c.d), 0.3f, 4, 0);
  const io::ImageSet set = stroke_images(4, 12, 6);
  std::vector<float> x(4 * 144), t(4 * 2);
  const std::vector<int64_t> idx{0, 1, 2, 3};
  io::fill_batch(set, idx, x, {.mode = io::Pixels::scaled});
  io::fill_one_hot(set, idx, 2, t);
  const Tensor p0 = d.crbms[0].p_pool(c.x), p1 = d.crbms[1].p_pool(p0);
  const std::vector<Tensor> wrt{d.crbms[0].w, d.crbms[1].b, c.v[0], c.v[1]};
  const auto grads = grad(c.loss, wrt);
  Executor ex(g, {.threads = 2, .seed = 1});
  std::vector<Tensor> targets{c.logits, c.loss, p0, p1};
  targets.insert(targets.end(), grads.begin(), grads.end());
  const Feed feeds[] = {{c.x, x}, {c.t, t}};
  ex.run(targets, feeds);
  // logits = p0 V0 + p1 V1 + d, by plain loops
  const auto lg = ex.value(c.logits), f0 = ex.value(p0), f1 = ex.value(p1);
  const auto v0 = g.value(c.v[0]), v1 = g.value(c.v[1]), dd = g.value(c.d);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t k = 0; k < 2; ++k) {
      double want = dd[static_cast<size_t>(k)];
      for (int64_t i = 0; i < 48; ++i) want += double{f0[static_cast<size_t>(r * 48 + i)]} * v0[static_cast<size_t>(i * 2 + k)];
      for (int64_t i = 0; i < 2; ++i) want += double{f1[static_cast<size_t>(r * 2 + i)]} * v1[static_cast<size_t>(i * 2 + k)];
      CHECK(lg[static_cast<size_t>(r * 2 + k)] == doctest::Approx(want).epsilon(1e-5));
    }
  // central differences of the loss in a few elements of each parameter
  std::vector<std::vector<float>> analytics;
  for (Tensor gr : grads) analytics.emplace_back(ex.value(gr).begin(), ex.value(gr).end());
  for (size_t p = 0; p < wrt.size(); ++p) {
    const std::vector<float>& analytic = analytics[p];
    auto values = g.value(wrt[p]);
    for (size_t i = 0; i < values.size(); i += std::max<size_t>(1, values.size() / 5)) {
      const float keep = values[i], h = 1e-2f;
      values[i] = keep + h;
      ex.run({c.loss}, feeds);
      const double up = ex.scalar(c.loss);
      values[i] = keep - h;
      ex.run({c.loss}, feeds);
      const double down = ex.scalar(c.loss);
      values[i] = keep;
      INFO("parameter ", p, " element ", i);
      CHECK(analytic[i] == doctest::Approx((up - down) / (2 * h)).epsilon(2e-2).scale(1e-3));
    }
  }
  // fine-tuning on the strokes (which half: linearly separable in pixels) brings the error down
  const io::ImageSet train = stroke_images(200, 12, 7), valid = stroke_images(100, 12, 8);
  Graph g2;
  Cdbn d2 = Cdbn::make(g2, "cdbn", {.channels = 1, .height = 12, .width = 12, .layers = {{4, 5, 2}}, .init_std = 0.1f});
  CdbnClassifier c2 = CdbnClassifier::make(g2, "cc", d2, {.feature_layers = {0}, .classes = 2, .batch = 20,
                                                          .sgd = {.lr = 0.1f, .momentum = 0.9f}});
  Executor ex2(g2, {.threads = 2, .seed = 1});
  Finetuner ft(c2.net(), ex2, {.epochs = 15, .eval_batch = 50, .checkpoint = {}});
  const auto before = ft.error(labelled_images(valid));
  const auto epochs = ft.fit(labelled_images(train), labelled_images(valid));
  INFO("validation error ", before, "% before, ", epochs.back().valid_error, "% after (best ", ft.best_epoch(), ")");
  CHECK(before > 25.0);
  CHECK(ft.error(labelled_images(valid)) < 10.0);
  CHECK_THROWS_WITH_AS(CdbnClassifier::make(g2, "bad", d2, {.feature_layers = {1}}),
                       doctest::Contains("feature layer 1; expected layers in increasing order, each below 1"), Error);
}

TEST_CASE("cdbn: a matrix source serves a column range of its rows") {
  const std::vector<float> m{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};  // 3 rows of 4
  const DataSource s = matrix_source(m, 2, 4, 1);
  CHECK(s.count == 3);
  CHECK(s.dim == 2);
  CHECK(rows_of(s, std::vector<int64_t>{2, 0}) == std::vector<float>{21, 22, 1, 2});
  CHECK_THROWS_WITH_AS(matrix_source(m, 3, 4, 2), doctest::Contains("columns 2 .. 4 of rows of 4"), Error);
  CHECK_THROWS_WITH_AS(matrix_source(std::vector<float>(10), 2, 4, 0), doctest::Contains("in 10 floats"), Error);
}

TEST_CASE("cdbn: the filter gradient has the same bits on 1 and 2 threads (blocks of taps differ)") {
  const ConvGeometry geo{.channels = 2, .height = 12, .width = 12, .size = 5};
  std::vector<float> result[2];
  for (int threads : {1, 2}) {
    Graph g;
    const Tensor x = g.param("x", {6, geo.image()}), y = g.param("y", {6, 24 * geo.plane()});
    fill_normal(g.value(x), 1.0f, 1, 0);
    fill_normal(g.value(y), 1.0f, 2, 0);
    for (size_t i = 0; i < g.value(y).size(); i += 3) g.value(y)[i] = 0.0f;  // some zeros, as sampled states have
    const Tensor dw = conv2d_filter(x, y, geo);
    Executor ex(g, {.threads = threads, .seed = 1});
    ex.run({dw});
    result[threads - 1].assign(ex.value(dw).begin(), ex.value(dw).end());
  }
  REQUIRE(result[0].size() == 24 * geo.filter());
  CHECK(result[0] == result[1]);
}

// Each condition a layer can fail is named: a pool above the kernels' 16
// was taken, and failed at the first run naming an internal node.
TEST_CASE("cdbn: make names the condition a layer fails, a pool above 16 included") {
  const auto make = [](CdbnLayer top) {  // layer 2's input: 35 x 35
    Graph g;
    return Cdbn::make(g, "d", {.channels = 1, .height = 72, .width = 72, .layers = {{2, 3, 2}, top}}).depth();
  };
  CHECK(make({2, 4, 16}) == 2);  // hidden planes of 32 x 32
  CHECK_THROWS_WITH_AS(make({2, 2, 17}),  // hidden planes of 34 x 34
                       "cdbn 'd': layer 2 has 2 filters of 2 x 2 pooled 17 x 17 over an input of 35 x 35; expected "
                       "pooling blocks of 1 x 1 (no pooling) to 16 x 16",
                       Error);
  CHECK_THROWS_WITH_AS(make({2, 2, 0}), doctest::Contains("expected pooling blocks of 1 x 1 (no pooling) to 16 x 16"),
                       Error);
  CHECK_THROWS_WITH_AS(make({0, 3, 1}), doctest::Contains("0 filters of 3 x 3 pooled 1 x 1 over an input of 35 x 35; "
                                                          "expected at least one filter"),
                       Error);
  CHECK_THROWS_WITH_AS(make({2, 36, 1}), doctest::Contains("expected filters of 1 x 1 up to the input's size"), Error);
  CHECK_THROWS_WITH_AS(make({2, 4, 3}),
                       doctest::Contains("expected pooling blocks that divide the hidden planes (32 x 32)"), Error);
}
