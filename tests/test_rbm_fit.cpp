// The RBM training loop: checkpoints round-trip, a resumed run continues
// exactly as an uninterrupted one, bad checkpoints are named errors, and a
// run that blows up is stopped (NaN) or flagged (a runaway error).

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include <doctest/doctest.h>

#include "io/npy.hpp"
#include "models/rbm_fit.hpp"

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
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10});
  Executor ex(g, {.seed = seed});
  RbmFitter(t, ex, {.checkpoint = dir, .resume = true});
}

}  // namespace

TEST_CASE("rbm/fit: a resumed run ends bitwise equal to an uninterrupted one (CD and PCD)") {
  const io::ImageSet train_set = synthetic_images(200, 1), valid_set = synthetic_images(50, 2);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
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

TEST_CASE("rbm/fit: checkpoints are complete numpy files and bad ones are named errors") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
  const fs::path d = fresh_dir("ckpt");
  {
    Run r(CdMethod::pcd, d, false, 1);
    r.fit.fit(train, valid);
  }
  for (const char* f : {"manifest.json", "W.npy", "b.npy", "c.npy", "W.velocity.npy", "chain.npy"})
    CHECK(fs::exists(d / f));
  CHECK(!fs::exists(fs::path(d.string() + ".tmp")));
  // a checkpoint of another shape
  CHECK_THROWS_WITH_AS(resume_pcd(d, 9, 4), doctest::Contains("tensor 'W' has shape [36, 8]; the model expects [36, 9]"),
                       Error);
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
                         doctest::Contains("the checkpoint has method = \"cd\"; this run has \"pcd\""), Error);
    fs::remove_all(cd_dir);
  }
  // a damaged manifest, and a missing checkpoint
  std::ofstream(d / "manifest.json") << "{ not json";
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = 8});
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10});
  Executor ex(g, {.seed = 4});
  CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.checkpoint = d, .resume = true}), doctest::Contains("not valid JSON"), Error);
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
  fs::remove_all(blocked);
}

TEST_CASE("rbm/fit: a run whose weights turn NaN stops with a named error, its last checkpoint stays finite") {
  const io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
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
  const DataSource train = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
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
