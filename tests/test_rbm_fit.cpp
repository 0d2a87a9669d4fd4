// The RBM training loop: checkpoints round-trip, a resumed run continues
// exactly as an uninterrupted one (or is refused when its settings differ,
// the learning rate aside), bad checkpoints are named errors that leave the
// model untouched, a run that blows up is stopped (NaN) or flagged (a
// runaway error), and the monitoring figures equal an independent
// computation.

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

using namespace ebm;
namespace fs = std::filesystem;

namespace {

io::ImageSet synthetic_images(int64_t count, uint32_t seed) {
  io::ImageSet s{count, 6, 6, {}, {}};
  for (int64_t i = 0; i < count; ++i)
    for (int64_t p = 0; p < 36; ++p)
      s.pixels.push_back(static_cast<uint8_t>((random_bits<uint32_t>(make_rng_key(seed, i, 0), static_cast<uint32_t>(p)) % 4 == 0 || (i % 3) == p % 3) ? 230 : 10));
  s.labels.assign(static_cast<size_t>(count), 0);
  return s;
}

fs::path fresh_dir(const char* name) {
  const fs::path d = fs::temp_directory_path() / fmt::format("ebm_test_{}_{}", name, ::getpid());
  fs::remove_all(d);
  return d;
}

struct Run {
  Graph g;
  Rbm rbm;
  CdTrainer trainer;
  Executor ex;
  RbmFitter fit;

  Run(CdMethod method, const fs::path& ckpt, bool resume, int epochs)
      : rbm(Rbm::make(g, "rbm", {.visible = 36, .hidden = 8, .init_std = 0.1f})),
        trainer(make_cd_trainer(rbm, {.method = method, .batch = 10, .lr = 0.05f})),
        ex(g, {.threads = 2, .seed = 4}),
        fit(trainer, ex, {.epochs = epochs, .momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = ckpt, .resume = resume}) {}

  std::vector<float> params() {
    std::vector<float> v;
    for (Tensor t : {rbm.w, rbm.b, rbm.c}) v.insert(v.end(), g.value(t).begin(), g.value(t).end());
    return v;
  }
};

// A PCD fitter of a 36-`hidden` RBM resuming from `dir` on an executor of
// `seed`: throws what loading the checkpoint finds wrong.
void resume_pcd(const fs::path& dir, int64_t hidden, uint64_t seed) {
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = hidden});
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10, .lr = 0.05f});
  Executor ex(g, {.seed = seed});
  RbmFitter(t, ex, {.momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = dir, .resume = true});
}

}  // namespace

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

TEST_CASE("rbm/fit: checkpoints are complete numpy files and bad ones are named errors") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("ckpt");
  {
    Run r(CdMethod::pcd, d, false, 1);
    r.fit.fit(train, valid);
  }
  for (const char* f : {"manifest.json", "W.npy", "b.npy", "c.npy", "W.velocity.npy", "chain.npy"})
    CHECK(fs::exists(d / f));
  CHECK(!fs::exists(fs::path(d.string() + ".tmp")));
  // a checkpoint of another shape, named by the model's description before any tensor is read
  CHECK_THROWS_WITH_AS(resume_pcd(d, 9, 4), doctest::Contains("the checkpoint has hidden = 8; this run has 9"), Error);
  // another seed
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 5), doctest::Contains("seed = 4"), Error);
  // another method: named as such, not by the tensor PCD would miss (its chains)
  {
    const fs::path cd_dir = fresh_dir("ckpt_cd");
    {
      Run r(CdMethod::cd, cd_dir, false, 1);
      r.fit.fit(train, valid);
    }
    CHECK_THROWS_WITH_AS(resume_pcd(cd_dir, 8, 4),
                         doctest::Contains("the checkpoint has method = cd; this run has pcd"), Error);
    fs::remove_all(cd_dir);
  }
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = 8});
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10});
  Executor ex(g, {.seed = 4});
  // a NaN in a tensor: the file is damaged (checkpoints are saved only when finite), said before training
  const fs::path good = fresh_dir("ckpt_good");
  fs::copy(d, good);
  {
    io::NpyArray w = io::read_npy(d / "W.npy");
    w.data[5] = std::nanf("");
    io::write_npy(d / "W.npy", w.rows, w.cols, w.data);
  }
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 4), doctest::Contains("W.npy holds 1 NaN or Inf values of 288"), Error);
  // the tensors without their manifest: a damaged checkpoint, not a missing one (which would start afresh over it)
  fs::remove_all(d);
  fs::copy(good, d);
  fs::remove(d / "manifest.json");
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 4), doctest::Contains("but no manifest.json; expected both"), Error);
  fs::remove_all(good);
  // a damaged manifest, and a missing checkpoint
  std::ofstream(d / "manifest.json") << "{ not json";
  CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.checkpoint = d, .resume = true}),
                       doctest::Contains("manifest.json is not valid JSON, cut short or edited? (parse error"), Error);
  fs::remove_all(d);
  CHECK(RbmFitter(t, ex, {.checkpoint = d, .resume = true}).epochs_done() == 0);  // nothing saved: a fresh start
  CHECK_THROWS_WITH_AS(load_checkpoint(d, "rbm", {}), doctest::Contains("no manifest.json"), Error);
  // a checkpoint that cannot be written (a file where its folder would go) is a named error too
  const fs::path blocked = fresh_dir("ckpt_blocked");
  fs::create_directories(blocked);
  std::ofstream(blocked / "file") << "in the way";
  const NamedTensor w{"W", rbm.w};
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "file" / "ckpt", "rbm", {&w, 1}, "{}"),
                       doctest::Contains("cannot write it"), Error);
  const NamedTensor twice[] = {{"W", rbm.w}, {"b", rbm.b}, {"W", rbm.c}};  // the second W would overwrite the first
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", twice, "{}"), doctest::Contains("two tensors named 'W'"),
                       Error);
  CHECK(!fs::exists(blocked / "ckpt"));
  // meta_json that is not a JSON object, and a tensor name that is no file name: refused before anything is
  // written; a tensor that cannot be written leaves no <dir>.tmp behind
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, "not json"),
                       doctest::Contains("its meta_json is not valid JSON (parse error"), Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, ""),
                       doctest::Contains("its meta_json is not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, "[1, 2]"),
                       doctest::Contains("its meta_json holds [1,2]; expected a JSON object"), Error);
  for (const char* bad : {"a/b", "", "..", "a\\b"}) {
    const NamedTensor named{bad, rbm.w};
    CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&named, 1}, "{}"),
                         doctest::Contains("expected a name that is a file name"), Error);
  }
  CHECK(!fs::exists(blocked / "ckpt"));
  CHECK(!fs::exists(blocked / "ckpt.tmp"));
  const NamedTensor second_fails[] = {{"W", rbm.w}, {std::string(300, 'b'), rbm.b}};  // a file name too long
  CHECK_THROWS_AS(save_checkpoint(blocked / "ckpt", "rbm", second_fails, "{}"), Error);
  CHECK(!fs::exists(blocked / "ckpt.tmp"));
  CHECK(!fs::exists(blocked / "ckpt"));
  fs::remove_all(blocked);
}

TEST_CASE("rbm/fit: a run whose weights turn NaN stops with a named error, its last checkpoint stays finite") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("diverged");
  Run r(CdMethod::cd, d, false, 3);
  // After epoch 1 (checkpoint saved) one weight turns NaN, as a learning rate
  // far too large would make it; epoch 2's updates add to it, so it stays NaN.
  auto poison = [&](const EpochStats& s) {
    if (s.epoch == 1) r.g.value(r.rbm.w)[5] = std::numeric_limits<float>::quiet_NaN();
  };
  CHECK_THROWS_WITH_AS(r.fit.fit(train, valid, poison),
                       doctest::Contains("fit 'rbm': training diverged in epoch 2: 'W' holds"), Error);
  CHECK(r.fit.epochs_done() == 1);
  CHECK(checkpoint_meta(d, "rbm").find("\"epoch\":1") != std::string::npos);
  const io::NpyArray w = io::read_npy(d / "W.npy");  // the saved weights are epoch 1's, finite
  CHECK(w.data.size() == 36u * 8u);
  CHECK(std::all_of(w.data.begin(), w.data.end(), [](float x) { return std::isfinite(x); }));
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: an epoch whose reconstruction error runs far above a mean prediction's is flagged as diverging") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
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
}

namespace {

// A CD fitter of a 36-8 RBM on `dir` whose CD and fit settings the caller
// may change from those of Run above (CD, batch 10, lr 0.05, seed 4).
struct Custom {
  Graph g;
  Rbm rbm;
  CdTrainer trainer;
  Executor ex;
  RbmFitter fit;

  Custom(CdConfig cd, RbmFitConfig f, uint64_t seed = 4)
      : rbm(Rbm::make(g, "rbm", {.visible = 36, .hidden = 8, .init_std = 0.1f})),
        trainer(make_cd_trainer(rbm, cd)),
        ex(g, {.threads = 2, .seed = seed}),
        fit(trainer, ex, std::move(f)) {}

  std::vector<float> params() {
    std::vector<float> v;
    for (Tensor t : {rbm.w, rbm.b, rbm.c}) v.insert(v.end(), g.value(t).begin(), g.value(t).end());
    return v;
  }
};

CdConfig base_cd() { return {.method = CdMethod::cd, .batch = 10, .lr = 0.05f}; }
RbmFitConfig base_fit(const fs::path& dir, int epochs, bool resume) {
  return {.epochs = epochs, .momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = dir, .resume = resume,
          .run_settings = {{"--pixels", "sampled"}}};
}

nlohmann::json read_json(const fs::path& file) {
  std::ifstream f(file);
  return nlohmann::json::parse(f);
}
void write_json(const fs::path& file, const nlohmann::json& j) { std::ofstream(file) << j.dump(2); }

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

TEST_CASE("rbm/fit: a resume that changes a training setting is refused, naming it, and leaves the model untouched") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("refused");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  {
    Custom same(base_cd(), base_fit(d, 3, true));  // the same settings and more epochs: accepted, nothing to say
    CHECK(same.fit.epochs_done() == 1);
    CHECK(same.fit.resume_notes().empty());
  }
  struct Change {
    const char* message;
    CdConfig cd;
    RbmFitConfig fit;
  };
  std::vector<Change> changes;
  const auto add = [&](const char* message, auto edit) {
    Change c{message, base_cd(), base_fit(d, 3, true)};
    edit(c.cd, c.fit);
    changes.push_back(std::move(c));
  };
  add("momentum = 0.5; this run has 0.6", [](CdConfig& c, RbmFitConfig&) { c.momentum = 0.6f; });
  add("weight_decay = 0.0002; this run has 0.001", [](CdConfig& c, RbmFitConfig&) { c.weight_decay = 1e-3f; });
  add("l1 = 0; this run has 0.001", [](CdConfig& c, RbmFitConfig&) { c.l1 = 1e-3f; });
  add("sparsity_cost = 0; this run has 0.1", [](CdConfig& c, RbmFitConfig&) {
    c.sparsity_cost = 0.1f;
    c.sparsity_target = 0.05f;
  });
  add("mean_field_last = false; this run has true", [](CdConfig& c, RbmFitConfig&) { c.mean_field_last = true; });
  add("lr_decay = 1; this run has 0.9", [](CdConfig&, RbmFitConfig& f) { f.lr_decay = 0.9f; });
  add("final_momentum = 0.9; this run has 0.8", [](CdConfig&, RbmFitConfig& f) { f.final_momentum = 0.8f; });
  add("momentum_switch_epoch = 2; this run has 3", [](CdConfig&, RbmFitConfig& f) { f.momentum_switch_epoch = 3; });
  add("monitor_images = 40; this run has 30", [](CdConfig&, RbmFitConfig& f) { f.monitor_images = 30; });
  add("data_seed = 1; this run has 2", [](CdConfig&, RbmFitConfig& f) { f.data_seed = 2; });
  add("batch = 10; this run has 20", [](CdConfig& c, RbmFitConfig&) { c.batch = 20; });
  add("--pixels = sampled; this run has threshold",
      [](CdConfig&, RbmFitConfig& f) { f.run_settings["--pixels"] = "threshold"; });
  for (const Change& c : changes) {
    CAPTURE(c.message);
    // The refused fitter's model keeps its own starting weights (the check comes before any tensor is read).
    Custom fresh(c.cd, [&] {
      RbmFitConfig f = c.fit;
      f.resume = false;
      return f;
    }());
    const std::vector<float> start = fresh.params();
    CHECK_THROWS_WITH_AS(fresh.fit.load(), doctest::Contains(c.message), Error);
    CHECK(fresh.params() == start);
    CHECK_THROWS_WITH_AS(Custom(c.cd, c.fit), doctest::Contains(fmt::format("resume from '{}'", d.string()).c_str()),
                         Error);
  }
  // another executor seed
  CHECK_THROWS_WITH_AS(Custom(base_cd(), base_fit(d, 3, true), 5), doctest::Contains("seed = 4; this run has 5"),
                       Error);
  // the sparsity target alone, with the penalty off in both runs, changes nothing: accepted
  CdConfig target = base_cd();
  target.sparsity_target = 0.3f;
  CHECK(Custom(target, base_fit(d, 3, true)).fit.epochs_done() == 1);
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a resume with a smaller learning rate says so and continues as a run whose rate changed there") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("smaller_lr");
  Custom(base_cd(), base_fit(d, 2, false)).fit.fit(train, valid);
  CdConfig slower = base_cd();
  slower.lr = 0.02f;
  Custom resumed(slower, base_fit(d, 4, true));
  REQUIRE(resumed.fit.resume_notes().size() == 1);
  CHECK(resumed.fit.resume_notes()[0] == "resumed with lr 0.02 (checkpoint: 0.05)");
  resumed.fit.fit(train, valid);
  // Unbroken: lr 0.05 for two epochs, then 0.02 (the rate of epoch e is set as it starts).
  Custom straight(base_cd(), base_fit({}, 4, false));
  straight.fit.fit(train, valid, [&](const EpochStats& s) {
    if (s.epoch == 2) straight.trainer.config.lr = 0.02f;
  });
  CHECK(resumed.params() == straight.params());
  // A checkpoint written at the new rate records it: resumed again at that rate, nothing to say.
  CHECK(Custom(slower, base_fit(d, 5, true)).fit.resume_notes().empty());
  // Were the rate not applied (the checkpoint's kept), the weights would differ.
  Custom kept(base_cd(), base_fit({}, 4, false));
  kept.fit.fit(train, valid);
  CHECK(kept.params() != resumed.params());
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: an older checkpoint without some settings resumes, naming those it could not check") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("older");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  nlohmann::json m = read_json(d / "manifest.json");
  for (const char* key : {"l1", "lr_decay", "run"}) m["meta"].erase(key);
  write_json(d / "manifest.json", m);
  Custom r(base_cd(), base_fit(d, 2, true));
  CHECK(r.fit.epochs_done() == 1);
  REQUIRE(r.fit.resume_notes().size() == 1);
  CHECK(r.fit.resume_notes()[0] ==
        "the checkpoint does not record l1, lr_decay, --pixels (it was written by an older version): not checked");
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a manifest key missing or of the wrong type is a named error, not a JSON library exception") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("manifest_keys");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  const nlohmann::json good = read_json(d / "manifest.json");
  const auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& message) {
    CAPTURE(message);
    nlohmann::json m = good;
    edit(m);
    write_json(d / "manifest.json", m);
    Custom r(base_cd(), base_fit(d, 2, false));
    const std::vector<float> start = r.params();
    const std::string want = fmt::format("checkpoint '{}': {}", d.string(), message);
    CHECK_THROWS_WITH_AS(r.fit.load(), doctest::Contains(want.c_str()), Error);
    CHECK(r.params() == start);
  };
  refused([](nlohmann::json& m) { m.erase("tensors"); }, "manifest.json has no key 'tensors'");
  refused([](nlohmann::json& m) { m.erase("meta"); }, "manifest.json has no key 'meta'");
  refused([](nlohmann::json& m) { m.erase("format_version"); }, "manifest.json has no key 'format_version'");
  refused([](nlohmann::json& m) { m["format_version"] = "1"; },
          "manifest.json's 'format_version' is \"1\"; expected an integer");
  refused([](nlohmann::json& m) { m["kind"] = 7; }, "manifest.json's 'kind' is 7; expected a string");
  refused([](nlohmann::json& m) { m["meta"] = "epoch 1"; },
          "manifest.json's 'meta' is \"epoch 1\"; expected an object");
  refused([](nlohmann::json& m) { m["tensors"]["b"] = "1x8"; },
          "manifest.json gives tensor 'b' the shape \"1x8\"; expected [rows, cols]");
  refused([](nlohmann::json& m) { m["tensors"]["b"] = {1, 9}; },
          "manifest.json lists tensor 'b' as [1,9], but b.npy holds [1, 8]");
  refused([](nlohmann::json& m) { m["meta"].erase("epoch"); }, "manifest.json's meta has no key 'epoch'");
  refused([](nlohmann::json& m) { m["meta"]["step"] = "many"; }, "manifest.json's meta key 'step' is \"many\"");
  refused([](nlohmann::json& m) { m["meta"]["epoch"] = -1; }, "manifest.json's meta key 'epoch' is -1");
  // counts past an int, which would wrap (to 1, or to a negative epoch that never reaches the last)
  refused([](nlohmann::json& m) { m["meta"]["epoch"] = 2147483648u; },
          "manifest.json's meta key 'epoch' is 2147483648; expected a count of at most 2147483647");
  refused([](nlohmann::json& m) { m["format_version"] = 4294967297u; }, "format_version 4294967297; expected 1");
  // a listed tensor whose file is gone; nesting deeper than any manifest's; a long value quoted in part
  refused([](nlohmann::json& m) { m["tensors"]["X"] = {3, 3}; },
          "manifest.json lists tensor 'X', but there is no file X.npy beside it");
  refused([](nlohmann::json& m) {
            nlohmann::json deep = 1;
            for (int i = 0; i < 40; ++i) deep = nlohmann::json::array({deep});
            m["meta"]["note"] = deep;
          },
          "manifest.json nests arrays or objects more than 32 deep");
  refused([](nlohmann::json& m) { m["kind"] = std::vector<int>(5000, 7); },
          "manifest.json's 'kind' is [7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7"
          ",7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7... (10001 characters); expected a string");
  // the manifest put back: it loads
  write_json(d / "manifest.json", good);
  CHECK(Custom(base_cd(), base_fit(d, 2, true)).fit.epochs_done() == 1);
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a checkpoint whose second tensor has the wrong shape leaves the first tensor unchanged") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1),
                   valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("second_tensor");
  Custom(base_cd(), base_fit(d, 2, false)).fit.fit(train, valid);
  // b (saved second, after W) replaced by a [1, 9] array, and the manifest agreeing with it
  const std::vector<float> nine(9, 0.5f);
  io::write_npy(d / "b.npy", 1, 9, nine);
  nlohmann::json m = read_json(d / "manifest.json");
  m["tensors"]["b"] = {1, 9};
  write_json(d / "manifest.json", m);
  Custom r(base_cd(), base_fit(d, 2, false));
  const std::vector<float> w(r.g.value(r.rbm.w).begin(), r.g.value(r.rbm.w).end());
  REQUIRE(io::read_npy(d / "W.npy").data != w);  // a load that copied W first would change it
  CHECK_THROWS_WITH_AS(r.fit.load(), doctest::Contains("tensor 'b' has shape [1, 9]; the model expects [1, 8]"), Error);
  CHECK(std::equal(w.begin(), w.end(), r.g.value(r.rbm.w).begin()));
  CHECK(r.fit.epochs_done() == 0);
  // the same through load_checkpoint itself
  const NamedTensor both[] = {{"W", r.rbm.w}, {"b", r.rbm.b}};
  CHECK_THROWS_WITH_AS(load_checkpoint(d, "rbm", both), doctest::Contains("tensor 'b' has shape [1, 9]"), Error);
  CHECK(std::equal(w.begin(), w.end(), r.g.value(r.rbm.w).begin()));
  fs::remove_all(d);
}

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
}
