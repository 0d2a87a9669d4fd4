// Training the joint image-label model: the top RBM, up-down with a CD-k
// schedule and the refit on all images, stopped after any epoch and resumed,
// end bitwise equal to an unbroken run (parameters, velocities, refit result).

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "graph/executor.hpp"
#include "models/evaluate.hpp"
#include "models/joint_fit.hpp"
#include "tests/tiny_digits.hpp"

using namespace ebm;

namespace {

struct Stop {};  // thrown from on_epoch: a run killed after that epoch's checkpoint

struct Outcome {
  std::vector<float> state;  // parameters and velocities
  JointRefit refit;
  double test_error = 0;
  uint64_t step = 0;
  float last_lr = 0;  // up-down's learning rate at the end
  std::vector<std::string> notes;  // the resume's
  std::vector<double> refit_errors;  // each refit epoch's error on all images, as reported (NaN: not measured)
};

Outcome train(const std::filesystem::path& dir, bool resume, std::optional<std::pair<std::string, int>> stop_after,
              float refit_lr = 0.0f, bool refit_anneal = true, int top_epochs = 5, int updown_epochs = 4,
              int refit_error_every = 1) {
  const io::ImageSet all = testing::tiny_digits(360, 1), test = testing::tiny_digits(90, 2);
  const io::ImageSet tr = io::slice(all, 0, 300), valid = io::slice(all, 300, 60);
  Graph g;
  Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});  // random features
  LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
  Executor ex(g, {.threads = 2, .seed = 3});
  JointTrainer jt(lower, top, ex, {.top_epochs = top_epochs, .updown_epochs = updown_epochs, .top_k = 1, .updown_top_k = {1, 3},
                                   .batch = 20, .lr = 0.1f, .updown_lr = 0.05f, .eval_batch = 30,
                                   .refit_epochs = 3, .refit_lr = refit_lr, .refit_anneal = refit_anneal,
                                   .refit_error_every = refit_error_every, .checkpoint = dir, .resume = resume});
  Outcome o;
  auto hook = [&](const JointEpoch& e) {
    if (std::string_view(e.phase) == "refit") o.refit_errors.push_back(e.train_error);
    if (stop_after && e.phase == stop_after->first && e.epoch == stop_after->second) throw Stop{};
  };
  jt.train_top(tr, valid, hook);
  jt.up_down(tr, valid, hook);
  o.refit = jt.refit(all, hook);
  o.test_error = jt.error(test, true);
  o.step = ex.step();
  o.last_lr = g.value(jt.updown_model().opt.hyper.front())[0];
  o.notes = jt.take_resume_notes();
  // Every parameter, and the velocities of the optimizer in use (those of a
  // schedule phase left behind no longer matter).
  std::vector<Tensor> state = g.params();
  for (Tensor t : jt.updown_model().opt.state) state.push_back(t);
  for (Tensor t : state) o.state.insert(o.state.end(), g.value(t).begin(), g.value(t).end());
  return o;
}

}  // namespace

TEST_CASE("joint/fit: stopped after any epoch and resumed, training ends bitwise equal") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_{}", ::getpid());
  std::filesystem::remove_all(dir);
  const Outcome straight = train(dir, false, std::nullopt);
  CHECK(straight.test_error < 10.0);
  CHECK(straight.refit.epochs == 3);
  // Stops inside a phase, at the CD-k schedule's boundary (up-down epoch 2 of
  // 4, where the chain lengthens and the velocities restart), and in the refit.
  for (const auto& [phase, epoch] : {std::pair<std::string, int>{"top", 1}, {"updown", 1}, {"updown", 2},
                                     {"updown", 3}, {"refit", 1}, {"refit", 2}}) {
    CAPTURE(phase);
    CAPTURE(epoch);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_AS(train(dir, false, std::pair{phase, epoch}), Stop);
    const Outcome resumed = train(dir, true, std::nullopt);
    CHECK(resumed.step == straight.step);
    CHECK(resumed.refit.epochs == straight.refit.epochs);
    CHECK(resumed.refit.all_error == straight.refit.all_error);
    CHECK(resumed.state == straight.state);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("joint/fit: resumed with a longer phase, the phases it changes start afresh, and it says so") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_more_{}", ::getpid());
  std::filesystem::remove_all(dir);
  const Outcome six = train(dir, false, std::nullopt, 0.0f, true, 6);  // six top epochs, unbroken
  std::filesystem::remove_all(dir);
  train(dir, false, std::nullopt);  // five, every phase finished and saved
  // Asked for six: the top RBM trains one more epoch, so the saved up-down and
  // refit (made from the five-epoch model) must not be picked up.
  const Outcome resumed = train(dir, true, std::nullopt, 0.0f, true, 6);
  CHECK(resumed.refit.all_error == six.refit.all_error);
  CHECK(resumed.state == six.state);
  // Up-down asked for 6 epochs instead of 4: its CD-k schedule {1, 3} now
  // switches after epoch 3, not 2, so the saved up-down is not replayed.
  std::filesystem::remove_all(dir);
  const Outcome longer = train(dir, false, std::nullopt, 0.0f, true, 5, 6);
  std::filesystem::remove_all(dir);
  train(dir, false, std::nullopt);
  const Outcome resumed_longer = train(dir, true, std::nullopt, 0.0f, true, 5, 6);
  CHECK(resumed_longer.step == longer.step);
  CHECK(resumed_longer.state == longer.state);
  // ... and the resume says why (the refit after it trains afresh anyway: it
  // learns from the new up-down).
  REQUIRE(resumed_longer.notes.size() == 1);
  CHECK(resumed_longer.notes[0] == "joint model, updown: the checkpoint's phase was planned for 4 epochs and this "
                                   "run's for 6; its CD-k schedule cuts the phase into equal parts, so the phase "
                                   "starts afresh");
  std::filesystem::remove_all(dir);
}

TEST_CASE("joint/fit: a damaged phase length or an epoch past it is refused, not taken for another run") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_planned_{}", ::getpid());
  std::filesystem::remove_all(dir);
  train(dir, false, std::nullopt);  // up-down planned for 4 epochs, its CD-k schedule {1, 3}
  const std::filesystem::path manifest = dir / "updown" / "manifest.json";
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(manifest));
  const auto refused = [&](const char* key, const nlohmann::json& value, const std::string& message) {
    CAPTURE(message);
    nlohmann::json m = good;
    m["meta"][key] = value;
    std::ofstream(manifest) << m.dump();
    CHECK_THROWS_WITH_AS(train(dir, true, std::nullopt), doctest::Contains(message.c_str()), Error);
  };
  refused("planned", "4", "manifest.json's meta key 'planned' is \"4\"; expected a count");
  refused("planned", -1, "manifest.json's meta key 'planned' is -1; expected a count");
  refused("epoch", 9, "manifest.json's meta holds epoch 9 of a phase planned for 4; expected at most 4");
  std::filesystem::remove_all(dir);
}

TEST_CASE("joint/fit: the refit starts at its own learning rate and anneals it linearly") {
  // Refit epoch e of E runs at lr0 (E - e) / E: the last of 3 at lr0 / 3.
  CHECK(train({}, false, std::nullopt).last_lr == doctest::Approx(0.05f / 3));
  CHECK(train({}, false, std::nullopt, 0.2f).last_lr == doctest::Approx(0.2f / 3));
  CHECK(train({}, false, std::nullopt, 0.2f, false).last_lr == doctest::Approx(0.2f));
}

TEST_CASE("joint/fit: up-down's momentum and weight decay reach every step it builds and the refit's, checked") {
  const io::ImageSet all = testing::tiny_digits(200, 1);
  const io::ImageSet tr = io::slice(all, 0, 160), valid = io::slice(all, 160, 40);
  auto run = [&](float momentum, float weight_decay) {
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 2, .seed = 3});
    // Chain lengths 1 then 3: the second phase builds a new step; the refit runs on it.
    JointTrainer jt(lower, top, ex, {.top_epochs = 1, .updown_epochs = 2, .top_k = 1, .updown_top_k = {1, 3},
                                     .batch = 20, .lr = 0.1f, .updown_lr = 0.05f, .updown_momentum = momentum,
                                     .updown_weight_decay = weight_decay, .eval_batch = 40, .refit_epochs = 1,
                                     .checkpoint = {}, .resume = false});
    auto check_hyper = [&](const JointEpoch&) {
      const Optimizer& opt = jt.updown_model().opt;
      CHECK(opt.momentum() == momentum);
      CHECK(g.value(opt.hyper.front())[2] == weight_decay);  // sgd's hyper row: lr, momentum, weight decay
    };
    jt.train_top(tr, valid, {});
    jt.up_down(tr, valid, check_hyper);
    jt.refit(all, check_hyper);
    std::vector<float> params;
    for (Tensor t : g.params()) params.insert(params.end(), g.value(t).begin(), g.value(t).end());
    return params;
  };
  const std::vector<float> plain = run(0.0f, 0.0f), heavy = run(0.5f, 0.0f), decayed = run(0.0f, 0.01f);
  REQUIRE(plain.size() == heavy.size());
  CHECK(plain != heavy);
  CHECK(plain != decayed);
  CHECK_THROWS_WITH_AS(run(1.0f, 0.0f), doctest::Contains("up-down momentum = 1; expected a value in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(run(-0.1f, 0.0f), doctest::Contains("up-down momentum = -0.1"), Error);
  CHECK_THROWS_WITH_AS(run(0.9f, -1e-4f), doctest::Contains("up-down weight decay = -0.0001"), Error);
}

TEST_CASE("joint/fit: up-down ends with the parameters of its epoch of lowest validation error") {
  const io::ImageSet all = testing::tiny_digits(360, 1);
  const io::ImageSet tr = io::slice(all, 0, 300), valid = io::slice(all, 300, 60);
  for (const bool keep : {true, false}) {
    CAPTURE(keep);
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 2, .seed = 3});
    // A large rate, so that the validation error wanders rather than falls.
    JointTrainer jt(lower, top, ex, {.top_epochs = 2, .updown_epochs = 8, .top_k = 1, .updown_top_k = {1}, .batch = 20,
                                     .lr = 0.1f, .updown_lr = 0.5f, .updown_keep_best = keep, .eval_batch = 30,
                                     .checkpoint = {}});
    jt.train_top(tr, valid, {});
    auto params = [&] {
      std::vector<Tensor> p = top.params();
      const UpDown& ud = jt.updown_model();
      for (const auto* v : {&ud.r, &ud.rb, &ud.g, &ud.gb}) p.insert(p.end(), v->begin(), v->end());
      std::vector<float> out;
      for (Tensor t : p) out.insert(out.end(), g.value(t).begin(), g.value(t).end());
      return out;
    };
    std::vector<std::vector<float>> after;  // the parameters after each epoch
    std::vector<double> errors;
    std::vector<bool> marked;
    jt.up_down(tr, valid, [&](const JointEpoch& e) {
      after.push_back(params());
      errors.push_back(e.valid_error);
      marked.push_back(e.best);
    });
    REQUIRE(errors.size() == 8);
    const auto lowest = std::min_element(errors.begin(), errors.end());  // the earliest of equal ones
    const int best = static_cast<int>(lowest - errors.begin()) + 1;
    double so_far = 1e300;
    for (size_t i = 0; i < errors.size(); ++i) {  // `best` marks each new lowest error (when keeping)
      CHECK(marked[i] == (keep && errors[i] < so_far));
      so_far = std::min(so_far, errors[i]);
    }
    if (keep) {
      REQUIRE(best < 8);  // the case the test is for: an earlier epoch beat the last
      CHECK(jt.updown_best_epoch() == best);
      CHECK(jt.updown_best_error() == *lowest);
      CHECK(params() == after[static_cast<size_t>(best - 1)]);
      CHECK(params() != after.back());
      for (Tensor v : jt.updown_model().opt.state)  // momentum from later epochs does not carry over
        for (float x : g.value(v)) CHECK(x == 0.0f);
    } else {
      CHECK(jt.updown_best_epoch() == 0);
      CHECK(params() == after.back());
    }
  }
}

TEST_CASE("joint/fit: balanced batches train on other batches than shuffled ones, and need a label per image") {
  const io::ImageSet all = testing::tiny_digits(200, 1);
  const io::ImageSet tr = io::slice(all, 0, 160), valid = io::slice(all, 160, 40);
  auto run = [&](bool balanced, const io::ImageSet& train) {
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 2, .seed = 3});
    JointTrainer jt(lower, top, ex, {.top_epochs = 1, .updown_epochs = 1, .top_k = 1, .updown_top_k = {1},
                                     .batch = 20, .lr = 0.1f, .updown_lr = 0.05f, .balanced_batches = balanced,
                                     .eval_batch = 40, .checkpoint = {}, .resume = false});
    jt.train_top(train, valid, {});
    std::vector<float> params;
    for (Tensor t : top.params()) params.insert(params.end(), g.value(t).begin(), g.value(t).end());
    return params;
  };
  CHECK(run(true, tr) != run(false, tr));
  CHECK(run(true, tr) == run(true, tr));
  io::ImageSet unlabelled = tr;
  unlabelled.labels.clear();
  CHECK_THROWS_WITH_AS(run(true, unlabelled),
                       doctest::Contains("balanced batches need a label per image; the set has 0 labels for 160"),
                       Error);
}

TEST_CASE("joint/fit: resuming with other seed, batch, schedule, labels, decay, batching or program flags is refused, "
          "rate or momentum noted") {
  const io::ImageSet all = testing::tiny_digits(200, 1);
  const io::ImageSet tr = io::slice(all, 0, 160), valid = io::slice(all, 160, 40);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_change_{}", ::getpid());
  std::filesystem::remove_all(dir);
  struct Change {
    uint64_t seed = 3, data_seed = 1;
    int64_t batch = 20;
    std::vector<int> ks = {1, 3};
    float updown_lr = 0.05f, updown_momentum = 0.9f, updown_weight_decay = 0.0f, top_weight_decay = 2e-4f;
    ChainLabels labels = ChainLabels::sampled;
    bool balanced = false;
    std::map<std::string, std::string> flags = {{"--validation", "40"}};
  };
  auto run = [&](const Change& c, bool resume) {
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 2, .seed = c.seed});
    JointTrainer jt(lower, top, ex, {.top_epochs = 1, .updown_epochs = 2, .top_k = 1, .updown_top_k = c.ks,
                                     .chain_labels = c.labels, .batch = c.batch, .lr = 0.1f, .top_weight_decay = c.top_weight_decay,
                                     .updown_lr = c.updown_lr, .updown_momentum = c.updown_momentum,
                                     .updown_weight_decay = c.updown_weight_decay, .data_seed = c.data_seed,
                                     .balanced_batches = c.balanced, .eval_batch = 40, .checkpoint = dir,
                                     .resume = resume, .run_settings = c.flags});
    jt.train_top(tr, valid, {});
    jt.up_down(tr, valid, {});
    return jt.take_resume_notes();
  };
  run({}, false);
  CHECK(run({}, true).empty());
  CHECK_THROWS_WITH_AS(run({.seed = 4}, true), doctest::Contains("seed 3; this run has 4"), Error);
  CHECK_THROWS_WITH_AS(run({.data_seed = 2}, true), doctest::Contains("expected the same JointFitConfig::data_seed"), Error);
  CHECK_THROWS_WITH_AS(run({.batch = 40}, true), doctest::Contains("expected the same JointFitConfig::batch"), Error);
  CHECK_THROWS_WITH_AS(run({.top_weight_decay = 1e-3f}, true), doctest::Contains("expected the same JointFitConfig::top_weight_decay"), Error);
  CHECK_THROWS_WITH_AS(run({.updown_weight_decay = 1e-3f}, true),
                       doctest::Contains("weight_decay 0; this run has 0.001; expected the same JointFitConfig::updown_weight_decay"),
                       Error);
  // The same number of phases, so the saved up-down would be picked up: the other chain lengths must be refused.
  CHECK_THROWS_WITH_AS(run({.ks = {1, 4}}, true), doctest::Contains("top_k [1,3]; this run has [1,4]; expected the same JointFitConfig::updown_top_k"), Error);
  CHECK_THROWS_WITH_AS(run({.labels = ChainLabels::probabilities}, true),
                       doctest::Contains("chain_labels sampled; this run has probabilities"), Error);
  CHECK_THROWS_WITH_AS(
      run({.balanced = true}, true),
      doctest::Contains("balanced_batches false; this run has true; expected the same JointFitConfig::balanced_batches"), Error);
  CHECK_THROWS_WITH_AS(run({.flags = {{"--validation", "30"}}}, true),
                       doctest::Contains("the checkpoint has --validation = 40; this run has 30; expected the same"), Error);
  const std::vector<std::string> unrecorded = run({.flags = {{"--validation", "40"}, {"--views", "2"}}}, true);
  REQUIRE(unrecorded.size() == 2);  // the top RBM's checkpoint, then up-down's
  CHECK(unrecorded[0] == "joint model, top: the checkpoint does not record --views (it was written by an older "
                         "version): not checked");
  const std::vector<std::string> notes = run({.updown_lr = 0.02f}, true);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == "joint model, updown: resumed with learning rate 0.02 (the checkpoint's 0.05)");
  const std::vector<std::string> momentum_notes = run({.updown_momentum = 0.5f}, true);
  REQUIRE(momentum_notes.size() == 1);
  CHECK(momentum_notes[0] == "joint model, updown: resumed with momentum 0.5 (the checkpoint's 0.9)");
  std::filesystem::remove_all(dir);
}

TEST_CASE("joint/fit: up-down keeping its best epoch resumes bitwise, and ends with the best of the epochs it holds") {
  const io::ImageSet all = testing::tiny_digits(360, 1);
  const io::ImageSet tr = io::slice(all, 0, 300), valid = io::slice(all, 300, 60);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_best_{}", ::getpid());
  struct Result {
    std::vector<float> params;
    int best = 0;
  };
  // Up-down at a large rate (its validation error wanders), stopped after
  // `stop` epochs when given, with `epochs` asked.
  auto run = [&](int epochs, bool resume, int stop) {
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 2, .seed = 3});
    JointTrainer jt(lower, top, ex, {.top_epochs = 2, .updown_epochs = epochs, .top_k = 1, .updown_top_k = {1},
                                     .batch = 20, .lr = 0.1f, .updown_lr = 0.5f, .eval_batch = 30, .checkpoint = dir,
                                     .resume = resume});
    jt.train_top(tr, valid, {});
    jt.up_down(tr, valid, [&](const JointEpoch& e) {
      if (e.epoch == stop) throw Stop{};
    });
    Result r{.params = {}, .best = jt.updown_best_epoch()};
    std::vector<Tensor> state = g.params();
    for (Tensor t : jt.updown_model().opt.state) state.push_back(t);
    for (Tensor t : state) r.params.insert(r.params.end(), g.value(t).begin(), g.value(t).end());
    return r;
  };
  std::filesystem::remove_all(dir);
  const Result straight = run(8, false, 0);
  REQUIRE(straight.best < 8);  // an earlier epoch was restored
  for (const int stop : {straight.best - 1, straight.best, straight.best + 1, 7}) {
    if (stop < 1) continue;
    CAPTURE(stop);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_AS(run(8, false, stop), Stop);
    const Result resumed = run(8, true, 0);
    CHECK(resumed.best == straight.best);
    CHECK(resumed.params == straight.params);
  }
  // All 8 epochs saved, 5 asked (one chain length: the checkpoint is used as
  // it is): the model is the best of the 8 it holds, as the unbroken run's.
  std::filesystem::remove_all(dir);
  run(8, false, 0);
  const Result fewer = run(5, true, 0);
  CHECK(fewer.best == straight.best);
  CHECK(fewer.params == straight.params);
  std::filesystem::remove_all(dir);
}

TEST_CASE("joint/fit: the refit measuring its error on all images every other epoch trains bitwise the same") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_joint_every_{}", getpid());
  std::filesystem::remove_all(dir);
  const Outcome each = train(dir / "each", false, std::nullopt);
  const Outcome every2 = train(dir / "every2", false, std::nullopt, 0.0f, true, 5, 4, 2);
  CHECK(every2.state == each.state);
  CHECK(every2.step == each.step);
  CHECK(every2.test_error == each.test_error);
  CHECK(every2.refit.all_error == each.refit.all_error);  // the last epoch is always measured
  REQUIRE(each.refit_errors.size() == 3);
  REQUIRE(every2.refit_errors.size() == 3);
  CHECK(std::isnan(every2.refit_errors[0]));
  CHECK(every2.refit_errors[1] == each.refit_errors[1]);
  CHECK(every2.refit_errors[2] == each.refit_errors[2]);
  CHECK(std::ranges::none_of(each.refit_errors, [](double e) { return std::isnan(e); }));
  // stopped after the unmeasured first refit epoch and resumed: the same again
  CHECK_THROWS_AS(train(dir / "stopped", false, std::pair<std::string, int>{"refit", 1}, 0.0f, true, 5, 4, 2), Stop);
  const Outcome resumed = train(dir / "stopped", true, std::nullopt, 0.0f, true, 5, 4, 2);
  CHECK(resumed.state == each.state);
  CHECK(resumed.step == each.step);
  CHECK(resumed.refit.all_error == each.refit.all_error);
  std::filesystem::remove_all(dir);
  Graph g;
  Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}});
  LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
  Executor ex(g, {.threads = 1});
  CHECK_THROWS_WITH_AS(JointTrainer(lower, top, ex, {.refit_error_every = 0, .checkpoint = {}, .resume = false}),
                       doctest::Contains("refit_error_every 0; expected at least 1"), Error);
}

TEST_CASE("joint/fit: test images read over binarizations leave the step counter where the scaled reading does") {
  const io::ImageSet all = testing::tiny_digits(240, 1), test = testing::tiny_digits(70, 2);
  const io::ImageSet tr = io::slice(all, 0, 180), valid = io::slice(all, 180, 60);
  Graph g;
  Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = 4});
  LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
  Executor ex(g, {.threads = 2, .seed = 3});
  JointTrainer jt(lower, top, ex, {.top_epochs = 2, .updown_epochs = 1, .top_k = 1, .updown_top_k = {1},
                                   .batch = 20, .lr = 0.1f, .updown_lr = 0.05f, .eval_batch = 30,
                                   .checkpoint = {}, .resume = false});
  jt.train_top(tr, valid, {});
  jt.up_down(tr, valid, {});
  for (const bool after_up_down : {false, true}) {
    CAPTURE(after_up_down);
    const uint64_t before = ex.step();
    jt.error(test, after_up_down);
    const uint64_t scaled_step = ex.step();
    CHECK(scaled_step == before + 3);  // 70 images in batches of 30
    std::vector<int64_t> wrong, again;
    const double e = jt.error(test, after_up_down, &wrong, 6);
    CHECK(ex.step() == scaled_step + 3);  // the 18 runs of the views count as the scaled reading's 3
    CHECK(jt.error(test, after_up_down, &again, 6) == e);  // the views are fixed draws
    CHECK(again == wrong);
    CHECK(wrong.size() == static_cast<size_t>(std::lround(e * 70.0 / 100.0)));
    // the same reading for images without labels: probabilities whose argmax misses exactly `wrong`, and the same step
    for (const int views : {0, 6}) {
      CAPTURE(views);
      const uint64_t at = ex.step();
      const std::vector<float> p = jt.probabilities(test, after_up_down, views);
      CHECK(ex.step() == at + 3);
      REQUIRE(p.size() == 70 * 3);
      for (size_t r = 0; r < 70; ++r) CHECK(p[3 * r] + p[3 * r + 1] + p[3 * r + 2] == doctest::Approx(1.0).epsilon(1e-5));
      const std::vector<int> given = predicted_classes(p, 3);
      std::vector<int64_t> missed, read_wrong;
      for (size_t r = 0; r < given.size(); ++r)
        if (given[r] != test.labels[r]) missed.push_back(static_cast<int64_t>(r));
      jt.error(test, after_up_down, &read_wrong, views);
      CHECK(missed == read_wrong);
    }
  }
}

TEST_CASE("joint/fit: a phase resumed on a lower DBN other than the one it trained on is refused") {
  const io::ImageSet all = testing::tiny_digits(240, 1);
  const io::ImageSet tr = io::slice(all, 0, 180), valid = io::slice(all, 180, 60);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_joint_lower_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto run = [&](uint64_t lower_seed, int top_epochs) {
    Graph g;
    Dbn lower = Dbn::make(g, "dbn", {.layers = {16, 12}, .init_std = 0.8f, .seed = lower_seed});
    LabelledRbm top = LabelledRbm::make(g, "top", 12, 3, 30, 0.1f, 5);
    Executor ex(g, {.threads = 1, .seed = 3});
    JointTrainer jt(lower, top, ex, {.top_epochs = top_epochs, .updown_epochs = 1, .top_k = 1, .updown_top_k = {1},
                                     .batch = 20, .lr = 0.1f, .updown_lr = 0.05f, .eval_batch = 30,
                                     .checkpoint = dir, .resume = true});
    int trained = 0;
    jt.train_top(tr, valid, [&](const JointEpoch&) { ++trained; });
    return trained;
  };
  CHECK(run(4, 1) == 1);
  CHECK_THROWS_WITH_AS(run(5, 2), doctest::Contains("the weights of the lower DBN 'dbn' are not those the checkpoint's "
                                                    "run started from"),
                       Error);
  CHECK(run(4, 2) == 1);  // the same stack: resumed, one epoch to go
  std::filesystem::remove_all(dir);
}
