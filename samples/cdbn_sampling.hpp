#pragma once
// cdbn_mnist's Gibbs sampling through the stack: filling in occluded rows
// of test digits (the stack read as one undirected model, make_cdbn_gibbs)
// and samples of the stack read as a DBN (make_cdbn_sampler).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "graph/executor.hpp"
#include "io/batch.hpp"
#include "io/png.hpp"
#include "models/cdbn.hpp"
#include "samples/common.hpp"
#include "samples/pretrain.hpp"
#include "samples/progress.hpp"

namespace ebm::samples {

struct FillInConfig {
  int64_t images = 1000;       // the first test digits filled in (0: none)
  int64_t batch = 100;         // chains run side by side
  int64_t occluded_rows = 14;  // the bottom rows hidden
  int sweeps = 200;            // Gibbs sweeps per batch; the estimate averages the last half
  std::string output;          // folder of fill_in.png
};

// Filling in: the bottom occluded_rows rows of the first `images` test
// digits hidden, the other pixels clamped to the digit's (scaled to
// [0, 1]), and each hidden pixel estimated as its mean E[v | h_0] over the
// last half of `sweeps` Gibbs sweeps (make_cdbn_gibbs) started from
// zeros there: by the first CRBM alone, then by the whole stack, whose upper
// layers give the pooling units top-down input; beside them the training
// images' mean, and all pixels off. Writes fill_in.png (the first batch's
// first ten digits; rows: the digit, what is shown, each chain's estimate,
// the mean image's) and the squared errors per image over the hidden
// pixels. The executor's step counter is restored after, so that what
// follows draws as it would without this phase.
inline void fill_in(const Cdbn& cdbn, Executor& ex, const io::ImageSet& train, const io::ImageSet& test,
                    const FillInConfig& o, Summary& sum) {
  if (o.images < 0 || o.batch < 1 || o.occluded_rows < 1 || o.occluded_rows >= test.height || o.sweeps < 2)
    throw Error("filling in: {} images in batches of {}, {} of {} rows hidden, {} sweeps; expected no fewer than 0 "
                "images, batches of at least 1, 1 to {} rows and at least 2 sweeps (the estimate averages the last "
                "half)",
                o.images, o.batch, o.occluded_rows, test.height, o.sweeps, test.height - 1);
  const int64_t n = std::min(o.images, test.count), dim = test.dim(), batch = std::min(o.batch, n);
  if (n == 0) return;
  const int64_t hidden_from = (test.height - o.occluded_rows) * test.width;
  const int64_t shown_n = std::min<int64_t>({10, n, batch});  // pictured from the first batch
  std::vector<float> mask(static_cast<size_t>(batch * dim), 0.0f), truth(mask.size()), known(mask.size());
  for (int64_t r = 0; r < batch; ++r) std::fill_n(mask.begin() + r * dim, hidden_from, 1.0f);
  const std::vector<float> mean = source_means(image_source(train, io::Pixels::scaled, 0), train.count, batch);

  std::vector<int> depths{1};
  if (cdbn.depth() > 1) depths.push_back(cdbn.depth());
  const int64_t batches = (n + batch - 1) / batch;
  std::vector<float> tiles(static_cast<size_t>((3 + depths.size()) * shown_n * dim), 0.5f);
  const auto tile = [&](size_t row, int64_t i) {
    return tiles.begin() + static_cast<int64_t>(row) * shown_n * dim + i * dim;
  };
  const uint64_t step = ex.step();
  for (size_t v = 0; v < depths.size(); ++v) {
    const int layers = depths[v];
    const std::string what = layers == 1 ? "layer1" : fmt::format("layers1-{}", layers);
    const CdbnGibbs s = make_cdbn_gibbs(cdbn, "fill_" + what, {.batch = batch, .layers = layers, .clamp = true});
    Progress bar(fmt::format("fill in the bottom {} rows by {}", o.occluded_rows, what), batches * o.sweeps,
                 true);
    double error = 0, mean_error = 0, blank_error = 0;
    std::vector<double> avg(mask.size());
    std::vector<int64_t> idx(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t first = b * batch, rows = std::min(batch, n - first);
      for (int64_t r = 0; r < batch; ++r)  // the last batch padded with its last digit
        idx[static_cast<size_t>(r)] = first + std::min(r, rows - 1);
      io::fill_batch(test, idx, truth, {.mode = io::Pixels::scaled});
      for (size_t i = 0; i < truth.size(); ++i) known[i] = truth[i] * mask[i];
      const Feed start[] = {{s.x, known}}, feeds[] = {{s.known, known}, {s.mask, mask}};
      ex.run(std::span(&s.start, 1), start);
      std::fill(avg.begin(), avg.end(), 0.0);
      const int kept = o.sweeps - o.sweeps / 2;
      for (int k = 0; k < o.sweeps; ++k) {
        const Tensor targets[] = {s.sweep, s.mean_v};
        ex.run(targets, feeds);
        if (k >= o.sweeps / 2) {
          const auto m = ex.value(s.mean_v);
          for (size_t i = 0; i < avg.size(); ++i) avg[i] += m[i] / kept;
        }
        bar.update(b * o.sweeps + k + 1,
                   b > 0 ? fmt::format("squared error {:.2f}", error / static_cast<double>(first)) : "");
      }
      const bool baselines = v == 0;  // the mean image, blank pixels and the digits' own tiles: once
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = hidden_from; i < dim; ++i) {
          const auto at = static_cast<size_t>(r * dim + i);
          error += (avg[at] - truth[at]) * (avg[at] - truth[at]);
          if (!baselines) continue;
          mean_error += (mean[static_cast<size_t>(i)] - truth[at]) * (mean[static_cast<size_t>(i)] - truth[at]);
          blank_error += truth[at] * truth[at];
        }
      for (int64_t r = 0; first == 0 && r < shown_n; ++r)
        for (int64_t i = 0; i < dim; ++i) {
          const auto at = static_cast<size_t>(r * dim + i);
          tile(2 + v, r)[i] = i < hidden_from ? truth[at] : static_cast<float>(avg[at]);
          if (!baselines) continue;
          tile(0, r)[i] = truth[at];
          if (i < hidden_from) tile(1, r)[i] = truth[at];
          tile(2 + depths.size(), r)[i] = i < hidden_from ? truth[at] : mean[static_cast<size_t>(i)];
        }
    }
    error /= static_cast<double>(n);
    sum.add(fmt::format("fill in {} rows, by {}", o.occluded_rows, what), bar.seconds(),
            fmt::format("squared error {:.2f} per image", error));
    result(fmt::format("fill_in_squared_error_{}", what).c_str(), fmt::format("{:.3f}", error));
    if (v == 0) {
      mean_error /= static_cast<double>(n);
      blank_error /= static_cast<double>(n);
      sum.add(fmt::format("fill in {} rows, by the mean image", o.occluded_rows), 0.0,
              fmt::format("squared error {:.2f} per image", mean_error));
      result("fill_in_squared_error_mean_image", fmt::format("{:.3f}", mean_error));
      sum.add(fmt::format("fill in {} rows, all pixels off", o.occluded_rows), 0.0,
              fmt::format("squared error {:.2f} per image", blank_error));
      result("fill_in_squared_error_blank", fmt::format("{:.3f}", blank_error));
    }
  }
  io::write_png_grid(o.output + "/fill_in.png", tiles, static_cast<int64_t>(tiles.size()) / dim, test.height,
                     test.width, {.columns = static_cast<int>(shown_n), .upscale = 2,
                                    .contrast = io::GridOptions::Contrast::fixed01});
  sum.note(fmt::format("fill_in.png, rows: the test digits; what is shown (hidden rows grey); filled in by the first "
                       "layer{}; by the mean image",
                       depths.size() > 1 ? "; by the whole stack" : ""));
  ex.set_step(step);
}

// Samples of the stack as a DBN (make_cdbn_sampler): ten chains of the top
// CRBM started from a test digit of each class passed up; every tenth of
// `steps` steps (a multiple of 10; 0: none), 50 steps of each layer below,
// top down, and the pixels' E[v | h_0] (samples.png: the starting digits,
// then ten rows of snapshots). The step counter restored after.
inline void write_samples(const Cdbn& cdbn, Executor& ex, const io::ImageSet& test, int steps, const std::string& path,
                          Summary& sum) {
  if (steps < 0 || steps % 10 != 0)
    throw Error("samples: {} steps; expected 0 (none) or a positive multiple of 10 (a snapshot every tenth)", steps);
  if (steps == 0) return;
  Progress bar("samples", steps, true);
  const int64_t dim = test.dim();
  const CdbnSampler s = make_cdbn_sampler(cdbn, "samples", 10);
  const std::vector<int64_t> idx = samples::first_of_each_digit(test);
  std::vector<float> x(static_cast<size_t>(10 * dim)), tiles;
  io::fill_batch(test, idx, x, {.mode = io::Pixels::scaled});
  tiles = x;  // the first row: the digit each chain starts from
  const uint64_t step = ex.step();
  const Feed start[] = {{s.x, x}};
  ex.run(std::span(&s.start, 1), start);
  const int every = steps / 10;
  for (int k = 1; k <= steps; ++k) {
    const bool shot = k % every == 0;
    if (shot && s.down.empty())  // one layer: the top chain draws the pixels
      ex.run({s.top, s.mean_v});
    else
      ex.run({s.top});
    bar.update(k);
    if (!shot) continue;
    for (size_t l = s.down.size(); l-- > 0;)  // each layer below settles on the state above it, top down
      for (int j = 0; j < 50; ++j) l == 0 ? ex.run({s.down[0], s.mean_v}) : ex.run({s.down[l]});
    tiles.insert(tiles.end(), ex.value(s.mean_v).begin(), ex.value(s.mean_v).end());
  }
  io::write_png_grid(path, tiles, static_cast<int64_t>(tiles.size()) / dim, test.height,
                     test.width, {.columns = 10, .upscale = 2, .contrast = io::GridOptions::Contrast::fixed01});
  ex.set_step(step);
  sum.add("samples", bar.seconds(),
          fmt::format("{}, 10 chains of {} steps", std::filesystem::path(path).filename().string(), steps));
}

}  // namespace ebm::samples
