// The model APIs' answers to a library user's mistakes (a second audit,
// of the fitters, the joint model, evaluation, retrieval and the drawn
// data): each an ebm::Error naming what was wrong, never a crash, a hang
// or a silently wrong value. tests/test_misuse.cpp has the engine's.

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "io/curves.hpp"
#include "io/face_patches.hpp"
#include "models/autoencoder_fit.hpp"
#include "models/best_params.hpp"
#include "models/cdbn.hpp"
#include "models/dbn_bound.hpp"
#include "models/deep_kernel.hpp"
#include "models/evaluate.hpp"
#include "models/finetune.hpp"
#include "models/joint_fit.hpp"
#include "models/pca.hpp"
#include "misuse_util.hpp"
#include "models/retrieval.hpp"

using namespace ebm;
using namespace ebm::misuse_test;

TEST_CASE("misuse/models: fitters and the joint model refuse empty models and settings that train nothing") {
  Graph g;
  Executor ex(g, {.parallel = false});
  Autoencoder unmade_ae;
  CHECK(has(error_of([&] { AutoencoderFitter(unmade_ae, ex, {}); }), "an empty Autoencoder"));  // SIGSEGV before
  DeepKernel unmade_dk;
  CHECK(has(error_of([&] { DeepKernelFitter(unmade_dk, ex, {}); }), "an empty DeepKernel"));
  CHECK(has(error_of([&] { Finetuner(SoftmaxNet{}, ex, {}); }), "a SoftmaxNet without its graph"));

  Dbn lower = Dbn::make(g, "d", {.layers = {12, 8}});
  LabelledRbm top = LabelledRbm::make(g, "top", 8, 3, 6, 0.1f, 5);
  Dbn unmade_dbn;
  CHECK(has(error_of([&] { JointTrainer(unmade_dbn, top, ex, JointFitConfig{}); }), "joint model: an empty Dbn"));
  auto config = [](const std::function<void(JointFitConfig&)>& set) {
    JointFitConfig c;
    c.batch = 4, c.eval_batch = 4;
    set(c);
    return c;
  };
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, config([](auto& c) { c.top_k = 0; })); }),
            "joint model: top_k 0"));
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, config([](auto& c) { c.updown_top_k = {3, -1}; })); }),
            "chain lengths 3,-1"));
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, config([](auto& c) { c.refit_epochs = -2; })); }),
            "refit_epochs -2"));
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, config([](auto& c) { c.refit_lr = NAN; })); }), "refit_lr"));
  // named when the trainer is made, not after the top RBM's epochs (the optimizer's "sgd: lr = nan" then)
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, config([](auto& c) { c.updown_lr = NAN; })); }),
            "joint model: updown_lr = nan"));
  LabelledRbm narrow = LabelledRbm::make(g, "narrow", 5, 3, 6, 0.1f, 5);
  CHECK(has(error_of([&] { JointTrainer(lower, narrow, ex, config([](auto&) {})); }),
            "joint model: the top RBM 'narrow' has 5 visible units; expected the DBN's top layer, 8 units"));
  CHECK(has(error_of([&] { make_labelled_cd(top, 4, 0, {}, ChainLabels::sampled); }), "a chain of 0 Gibbs steps"));
  JointTrainer fine(lower, top, ex, config([](auto&) {}));
  io::ImageSet few{4, 3, 4, std::vector<uint8_t>(48, 100), {0, 1, 2, 0}};
  CHECK(has(error_of([&] { fine.error(few, true); }), "asked before up_down()"));  // "the tensor is empty" before
  // named by the call and its setting, not as "input 't.p0': shape [0, 6]" or the Batcher's "batches of 4 from 3"
  CHECK(has(error_of([&] { make_labelled_cd(top, 0, 1, {}, ChainLabels::sampled); }),
            "make_labelled_cd of 'top': batch 0; expected at least 1 row"));
  const io::ImageSet three{3, 3, 4, std::vector<uint8_t>(36, 100), {0, 1, 2}};
  CHECK(has(error_of([&] { fine.train_top(three, few, {}); }),
            "train_top: 3 training images, fewer than a batch of 4 (JointFitConfig::batch)"));
}

TEST_CASE("misuse/models: classification error refuses scores of other rows and labels beyond the classes") {
  Graph g;
  const Tensor x = g.input("x", {4, 3});
  const Tensor w = g.param("w", {3, 2}, 0.1f);
  const Tensor scores = matmul(x, w), one_row = sum(scores, 0);
  Executor ex(g, {.parallel = false});
  io::ImageSet set{4, 1, 3, std::vector<uint8_t>(12, 50), {0, 1, 1, 0}};
  CHECK(has(error_of([&] { classification_error(ex, x, one_row, set); }), "have 1 rows for the input's 4"));
  set.labels[2] = 7;
  CHECK(has(error_of([&] { classification_error(ex, x, scores, set); }), "label 7 (row 2) for 2 classes"));
  set.labels[2] = 1;
  const double e = classification_error(ex, x, scores, set);
  CHECK((e >= 0.0 && e <= 100.0));
  const LabelledRows no_fill{DataSource{4, 3, {}}, set.labels};
  CHECK(has(error_of([&] { classification_error(ex, x, scores, no_fill); }), "no fill function"));
}

TEST_CASE("misuse/models: a Hamming ball wider than the table is found by measuring every address, the same") {
  std::vector<uint64_t> codes(200);
  uint64_t s = 12345;
  for (uint64_t& c : codes) c = s = s * 6364136223846793005ULL + 1442695040888963407ULL;  // 64 random-ish bits
  const HammingIndex index(codes, 64);
  for (const int radius : {0, 3, 30, 64}) {  // C(64, 30) probes would never end (the lookup hung)
    std::vector<int64_t> got;
    index.lookup(codes[7], radius, got);
    std::vector<int64_t> want;  // ring by ring, each ring in database order
    for (int r = 0; r <= radius; ++r)
      for (int64_t i = 0; i < static_cast<int64_t>(codes.size()); ++i)
        if (std::popcount(codes[static_cast<size_t>(i)] ^ codes[7]) == r) want.push_back(i);
    CAPTURE(radius);
    CHECK(got == want);
  }
  const Topics topics(codes.size(), std::vector<int32_t>{0});
  const std::vector<uint64_t> queries{codes[0], codes[1]};
  const auto balls = hamming_ball_scores(index, queries, Topics{{0}, {0}}, topics, 40);  // hung before
  CHECK(balls.size() == 41);
}

TEST_CASE("misuse/models: drawn data refuses sizes that overflow, points far off the image and short pixel sets") {
  CHECK(has(error_of([&] { io::Curves(1, {.side = int64_t{1} << 40}); }), "expected 4 to 4096"));  // SIGSEGV before
  io::CurvePoints far{{-1e9, 0.0, 1e9}, {10.0, 10.0, 10.0}};
  std::vector<float> image(28 * 28);
  CHECK(has(error_of([&] { io::draw_curve(far, 28, image); }), "expected coordinates within [-28, 56]"));  // hung
  io::ImageSet faces{2, 8, 8, std::vector<uint8_t>(64), {0, 1}};  // pixels for one of the two faces
  CHECK(has(error_of([&] { io::FacePatches(faces, {0, 1}, {.size = 4, .per_image = 2}); }), "the set has 64 pixels"));
  faces.pixels.resize(128);
  CHECK(has(error_of([&] { io::FacePatches(faces, {0}, {.size = int64_t{1} << 32}); }), "expected a size of 1 to 4096"));
  CHECK(has(error_of([&] { io::FacePatches(faces, {0}, {.size = 4, .max_angle = INFINITY}); }),
            "expected finite values"));
  CHECK(io::FacePatches(faces, {0, 1}, {.size = 4, .per_image = 2}).count() == 4);
}

TEST_CASE("misuse/models: the DBN bound, a CDBN's layers and BestParams name their misuse") {
  Graph g;
  const Dbn dbn = Dbn::make(g, "d", {.layers = {6, 4, 3}});
  Executor ex(g, {.parallel = false});
  std::vector<float> rows(12, 1.0f);
  const DataSource data = matrix_source(rows, 6);
  CHECK(has(error_of([&] { dbn_bound_rows(dbn, 1, ex, data, 2, 0); }), "0 samples a row; expected at least 1"));
  const Dbn real = Dbn::make(g, "r", {.layers = {6, 4}, .visible_unit = Unit::gaussian});
  CHECK(has(error_of([&] { dbn_bound_rows(real, 0, ex, data, 2, 1); }), "expected binary units"));
  std::vector<float> grey = rows;
  grey[6 + 4] = 0.5f;  // row 1, column 4: a grey pixel
  CHECK(has(error_of([&] { dbn_bound_rows(dbn, 1, ex, matrix_source(grey, 6), 2, 1); }),
            "dbn bound 'd': data row 1 holds 0.5 at column 4; expected binary data"));
  const Cdbn cdbn = Cdbn::make(g, "c", {.height = 12, .width = 12, .layers = {{4, 3, 2}}});
  CHECK(has(error_of([&] { (void)cdbn.pooled_size(3); }), "pooled_size(3); expected a layer 0 to 0"));
  Graph other;
  const std::vector<Tensor> foreign{other.param("p", {2, 2})};
  CHECK(has(error_of([&] { BestParams(g, foreign); }), "BestParams: 'p' belongs to another graph"));
}

TEST_CASE("misuse/models: an empty validation set is refused, and NaN in the data of PCA and fine-tuning named") {
  Graph g;
  Classifier c = Classifier::make(g, "c", {.layers = {3, 4}, .classes = 2, .batch = 2});
  Executor ex(g, {.parallel = false});
  FinetuneConfig one_epoch;
  one_epoch.epochs = 1;
  Finetuner fit(c, ex, one_epoch);
  std::vector<float> rows(12, 0.5f);
  const std::vector<uint8_t> labels{0, 1, 0, 1};
  const LabelledRows train{matrix_source(rows, 3), labels}, none{DataSource{0, 3, train.rows.fill}, {}};
  CHECK(has(error_of([&] { fit.fit(train, none); }), "a validation set of 0 rows"));  // epoch 1 kept at error 0 before
  // labels beyond the classes, before any training (a validation label was met only after an epoch)
  const std::vector<uint8_t> bad_labels{0, 1, 2, 1};
  const LabelledRows bad_valid{matrix_source(rows, 3), bad_labels};
  CHECK(has(error_of([&] { fit.fit(train, bad_valid); }),
            "fine-tuning 'c': validation row 2 has label 2; expected a label below the net's 2 classes"));
  CHECK(fit.epochs_done() == 0);
  const std::vector<float> one_row(3, 0.5f);
  const std::vector<uint8_t> one_label{0};
  const LabelledRows too_few{matrix_source(one_row, 3), one_label};
  CHECK(has(error_of([&] { fit.fit(too_few, train); }),
            "fine-tuning 'c': 1 training row, fewer than a batch of 2 (the net's batch: ClassifierConfig::batch)"));
  const LabelledRows unlabelled{matrix_source(rows, 3), {}};
  CHECK(has(error_of([&] { fit.fit(train, unlabelled); }), "0 labels for 4 validation rows"));
  rows[7] = NAN;
  CHECK(has(error_of([&] { fit_pca(matrix_source(rows, 3), 2); }), "pca: row 2 holds nan at column 1"));
  // NaN in the training rows named as such (it was blamed on the learning rate)
  CHECK(has(error_of([&] { fit.fit(train, train); }), "fine-tuning 'c': training row 2 holds nan at column 1"));
}
