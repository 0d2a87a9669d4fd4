#pragma once
// The small RBM fits the fitter's tests share (test_rbm_fit.cpp,
// test_rbm_resume.cpp): 36-pixel synthetic images (and SmallData, the
// sources of most of their cases), a fitter of a 36-8 RBM
// on a checkpoint folder (Run, or Custom with the caller's settings), and
// the manifest read and written as JSON.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "models/rbm_fit.hpp"

namespace ebm::rbm_fit_test {

namespace fs = std::filesystem;

inline io::ImageSet synthetic_images(int64_t count, uint32_t seed) {
  io::ImageSet s{count, 6, 6, {}, {}};
  for (int64_t i = 0; i < count; ++i)
    for (int64_t p = 0; p < 36; ++p)
      s.pixels.push_back(static_cast<uint8_t>((random_bits<uint32_t>(make_rng_key(seed, i, 0), static_cast<uint32_t>(p)) % 4 == 0 || (i % 3) == p % 3) ? 230 : 10));
  s.labels.assign(static_cast<size_t>(count), 0);
  return s;
}

// The training and validation sources most fit tests share: 100 and 20
// synthetic images, binarized by sampling. It holds the images its sources
// read, so it stays where it was made.
struct SmallData {
  io::ImageSet train_set = synthetic_images(100, 3), valid_set = synthetic_images(20, 4);
  DataSource train = image_source(train_set, io::Pixels::sampled, 1), valid = image_source(valid_set, io::Pixels::sampled, 1);
  SmallData() = default;
  SmallData(const SmallData&) = delete;
  SmallData& operator=(const SmallData&) = delete;
};

inline fs::path fresh_dir(const char* name) {
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
inline void resume_pcd(const fs::path& dir, int64_t hidden, uint64_t seed) {
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = hidden});
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10, .lr = 0.05f});
  Executor ex(g, {.seed = seed});
  RbmFitter(t, ex, {.momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = dir, .resume = true});
}

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

inline CdConfig base_cd() { return {.method = CdMethod::cd, .batch = 10, .lr = 0.05f}; }
inline RbmFitConfig base_fit(const fs::path& dir, int epochs, bool resume) {
  return {.epochs = epochs, .momentum_switch_epoch = 2, .monitor_images = 40, .checkpoint = dir, .resume = resume,
          .run_settings = {{"--pixels", "sampled"}}};
}

inline nlohmann::json read_json(const fs::path& file) {
  std::ifstream f(file);
  return nlohmann::json::parse(f);
}
inline void write_json(const fs::path& file, const nlohmann::json& j) { std::ofstream(file) << j.dump(2); }

}  // namespace ebm::rbm_fit_test
