// The DBN family's answers to a library user's mistakes (a third audit: the
// joint model, up-down, the unrolled classifier and the DBN's bound): each an
// ebm::Error naming the call, what was wrong and what was expected, raised
// before anything trains or is added to the graph; never a silently kept
// epoch, a poisoned graph or an op's message. tests/test_misuse_models.cpp
// has the earlier audit's.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "misuse_util.hpp"
#include "models/classifier.hpp"
#include "models/dbn_bound.hpp"
#include "models/joint_fit.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;
using namespace ebm::misuse_test;

namespace {

// Every parameter's values, in the graph's order.
std::vector<float> param_values(Graph& g) {
  std::vector<float> out;
  for (Tensor t : g.params()) out.insert(out.end(), g.value(t).begin(), g.value(t).end());
  return out;
}

JointFitConfig tiny_config(int top_epochs = 1, int updown_epochs = 1) {
  JointFitConfig c;
  c.top_epochs = top_epochs, c.updown_epochs = updown_epochs, c.batch = 10, c.eval_batch = 30;
  return c;
}

// A 16-6 DBN and a 6+3-7 top RBM on tiny digits, for the order checks.
struct TinyJoint {
  const io::ImageSet train = testing::tiny_digits(60, 1), valid = testing::tiny_digits(30, 2);
  Graph g;
  Dbn lower = Dbn::make(g, "d", {.layers = {16, 6}});
  LabelledRbm top = LabelledRbm::make(g, "t", 6, 3, 7, 0.1f, 1);
  Executor ex{g, {.threads = 2, .seed = 1}};
};

}  // namespace

TEST_CASE("misuse/dbn: train_top and up_down refuse an empty, unlabelled or misfit set before any epoch") {
  const io::ImageSet train = testing::tiny_digits(60, 1), valid = testing::tiny_digits(30, 2);
  Graph g;
  Dbn lower = Dbn::make(g, "d", {.layers = {16, 6}, .init_std = 0.3f});
  LabelledRbm top = LabelledRbm::make(g, "t", 6, 3, 7, 0.1f, 1);
  Executor ex(g, {.threads = 2, .seed = 1});
  JointTrainer jt(lower, top, ex, tiny_config(1, 3));
  const std::vector<float> before = param_values(g);
  const io::ImageSet empty{0, 4, 4, {}, {}};
  CHECK(has(error_of([&] { jt.train_top(train, empty, {}); }),
            "train_top: a validation set of 0 rows; expected at least one"));  // ran with errors of 0 before
  io::ImageSet unlabelled = valid;
  unlabelled.labels.clear();
  CHECK(has(error_of([&] { jt.train_top(train, unlabelled, {}); }),
            "train_top: the validation set has 0 labels for 30 images; expected one label per image"));
  io::ImageSet beyond = valid;
  beyond.labels[4] = 3;
  CHECK(has(error_of([&] { jt.train_top(train, beyond, {}); }),
            "train_top: validation image 4 has label 3; expected a label below the top RBM's 3 label units"));
  const io::ImageSet small{60, 3, 3, std::vector<uint8_t>(540, 100), train.labels};
  CHECK(has(error_of([&] { jt.train_top(small, valid, {}); }),
            "train_top: training images of 3x3 = 9 pixels; expected 16 pixels"));  // "affine_sigmoid: ..." before
  CHECK(param_values(g) == before);  // nothing trained (the unlabelled set was refused after an epoch before)

  jt.train_top(train, valid, {});
  const std::vector<float> trained = param_values(g);
  int epochs = 0;
  CHECK(has(error_of([&] { jt.up_down(train, empty, [&](const JointEpoch&) { ++epochs; }); }),
            "up_down: a validation set of 0 rows; expected at least one"));  // kept epoch 1 of 3 silently before
  CHECK(has(error_of([&] { jt.up_down(train, unlabelled, {}); }),
            "up_down: the validation set has 0 labels for 30 images"));
  CHECK(epochs == 0);
  CHECK(param_values(g) == trained);  // nor were the untied parameters added
  jt.up_down(train, valid, {});      // the corrected call runs
  CHECK(jt.updown_best_epoch() >= 1);
}

TEST_CASE("misuse/dbn: make_up_down checks every argument before it adds anything to the graph") {
  Graph g;
  Dbn lower = Dbn::make(g, "d", {.layers = {16, 6, 4}});
  LabelledRbm top = LabelledRbm::make(g, "t", 4, 3, 7, 0.1f, 1);
  const size_t params = g.params().size();
  CHECK(has(error_of([&] { make_up_down(lower, top, 10, 0, {}); }), "make_up_down: top_k 0; expected at least 1"));
  CHECK(has(error_of([&] { make_up_down(lower, top, 0, 1, {}); }), "make_up_down: batch 0; expected at least 1"));
  CHECK(g.params().size() == params);  // R and G were added before the refusal, and the retry failed
  const UpDown ud = make_up_down(lower, top, 10, 1, {});  // the corrected retry
  CHECK(ud.r.size() == 2);
  CHECK(has(error_of([&] { make_up_down(lower, top, 10, 1, {}); }),
            "make_up_down: the graph already holds 'd.rbm0.R', an up-down network over the DBN 'd'"));
}

TEST_CASE("misuse/dbn: up_down refuses a second call, and train_top after it, by name") {
  TinyJoint t;
  auto& [train, valid, g, lower, top, ex] = t;
  JointTrainer jt(lower, top, ex, tiny_config());
  jt.train_top(train, valid, {});
  jt.up_down(train, valid, {});
  CHECK(has(error_of([&] { jt.up_down(train, valid, {}); }),
            "up_down has already run on this trainer; expected one call"));  // "param 'd.rbm0.R': ..." before
  CHECK(has(error_of([&] { jt.train_top(train, valid, {}); }),
            "train_top: up_down has already run on this trainer; expected train_top before up_down"));  // trained
}

TEST_CASE("misuse/dbn: make_up_down refuses a top RBM of another size than the DBN's top layer") {
  Graph g;
  Dbn lower = Dbn::make(g, "d", {.layers = {16, 6, 4}});
  LabelledRbm wide = LabelledRbm::make(g, "t", 5, 3, 7, 0.1f, 1);
  const size_t params = g.params().size();
  CHECK(has(error_of([&] { make_up_down(lower, wide, 10, 1, {}); }),
            "make_up_down: the top RBM 't' has 5 visible units; expected the DBN's top layer, 4 units"));  // matmul
  CHECK(g.params().size() == params);
  Graph other;
  LabelledRbm apart = LabelledRbm::make(other, "t", 4, 3, 7, 0.1f, 1);
  CHECK(has(error_of([&] { make_up_down(lower, apart, 10, 1, {}); }), "are in different graphs"));
}

TEST_CASE("misuse/dbn: the classifier, the joint trainer and up-down refuse units other than binary") {
  Graph g;
  const Dbn linear_top = Dbn::make(g, "lin", {.layers = {16, 6, 4}, .top_hidden_unit = Unit::gaussian});
  Classifier c = Classifier::make(g, "c", {.layers = {16, 6, 4}, .classes = 3, .batch = 10});
  CHECK(has(error_of([&] { c.init_from(linear_top); }),
            "classifier 'c': init_from: 'lin.rbm1' has gaussian hidden units; expected binary hidden units"));
  const Dbn words = Dbn::make(g, "w", {.layers = {16, 6, 4}, .visible_unit = Unit::count});
  CHECK(has(error_of([&] { c.init_from(words); }), "classifier 'c': init_from: 'w.rbm0' has count visible units"));
  const Dbn binary = Dbn::make(g, "bin", {.layers = {16, 6, 4}});
  c.init_from(binary);  // the binary DBN unrolls as before
  CHECK(std::vector<float>(g.value(c.w[1]).begin(), g.value(c.w[1]).end()) ==
        std::vector<float>(g.value(binary.rbms[1].w).begin(), g.value(binary.rbms[1].w).end()));

  Dbn lin_lower = Dbn::make(g, "ll", {.layers = {16, 4}, .top_hidden_unit = Unit::gaussian});
  Dbn real_lower = Dbn::make(g, "rl", {.layers = {16, 4}, .visible_unit = Unit::gaussian});
  LabelledRbm top = LabelledRbm::make(g, "t", 4, 3, 7, 0.1f, 1);
  Executor ex(g, {.threads = 2});
  CHECK(has(error_of([&] { JointTrainer(lin_lower, top, ex, tiny_config()); }),
            "joint model: 'll.rbm0' has binary visible and gaussian hidden units; expected binary units"));
  CHECK(has(error_of([&] { JointTrainer(real_lower, top, ex, tiny_config()); }),
            "joint model: 'rl.rbm0' has gaussian visible and binary hidden units; expected binary units"));
  CHECK(has(error_of([&] { make_up_down(lin_lower, top, 10, 1, {}); }),
            "make_up_down: 'll.rbm0' has binary visible and gaussian hidden units; expected binary units"));
}

TEST_CASE("misuse/dbn: dbn_exact refuses data that is not binary") {
  Graph g;
  const Dbn d = Dbn::make(g, "d", {.layers = {4, 3, 2}, .init_std = 0.5f});
  CHECK(dbn_exact(d, std::vector<float>{0, 1, 1, 0}).size() == 1);
  CHECK(has(error_of([&] { dbn_exact(d, std::vector<float>{0, 1, 1, 0, 0.5f, 0.2f, 1, 0}); }),
            "dbn_exact 'd': row 1 holds 0.5 at column 0; expected binary data, 0 or 1"));  // a number before
  CHECK(has(error_of([&] { dbn_exact(d, std::vector<float>{0, 2, 1, 0}); }), "row 0 holds 2 at column 1"));
  CHECK(has(error_of([&] { dbn_exact(d, std::vector<float>{0, 1, NAN, 0}); }), "row 0 holds nan at column 2"));
}

TEST_CASE("misuse/dbn: the bound and with_top_k name a wrong size or an empty model, not an op") {
  Graph g;
  const Dbn d = Dbn::make(g, "d", {.layers = {4, 3, 2}});
  Executor ex(g, {.parallel = false});
  const std::vector<float> rows5(4 * 5, 1.0f);
  CHECK(has(error_of([&] { dbn_bound_rows(d, 1, ex, matrix_source(rows5, 5), 4, 1); }),
            "dbn bound 'd': data rows of 5 values; expected 4, the DBN's visible units"));  // "affine: ..." before
  const std::vector<float> rows4(4 * 4, 1.0f);
  CHECK(has(error_of([&] { dbn_bound_rows(d, 1, ex, matrix_source(rows4, 4), 0, 1); }),
            "dbn bound 'd': batch 0; expected at least 1"));
  CHECK(has(error_of([&] { with_top_k(UpDown{}, 2, {}); }),
            "with_top_k: an empty UpDown (default-made)"));  // "matmul: the tensor is empty" before
}

TEST_CASE("misuse/dbn: the up-down model refuses use before up_down, and up_down before train_top") {
  TinyJoint t;
  auto& [train, valid, g, lower, top, ex] = t;
  JointTrainer jt(lower, top, ex, tiny_config(0, 1));
  const Tensor pen = g.input("pen", {2, 6});
  CHECK(has(error_of([&] { (void)jt.updown_model().generate(pen); }),
            "UpDown::generate: an empty UpDown (default-made, or JointTrainer::updown_model() before up_down())"));
  CHECK(has(error_of([&] { (void)jt.updown_model().classify(g.input("px", {2, 16})); }), "UpDown::classify: an empty"));
  CHECK(has(error_of([&] { jt.up_down(train, valid, {}); }),
            "up_down: train_top has not run on this trainer; expected train_top first"));  // ran silently before
  jt.train_top(train, valid, {});  // top_epochs = 0: the top RBM kept as it is, and up_down may follow
  jt.up_down(train, valid, {});
  const Tensor pixels = jt.updown_model().generate(pen);
  CHECK(pixels.shape().cols == 16);
  CHECK(has(error_of([&] { (void)jt.updown_model().generate(g.input("pen5", {2, 5})); }),
            "UpDown::generate: an input of shape [2, 5]; expected 6 columns"));
}
