#include "models/dbn_fit.hpp"

#include <algorithm>

#include "graph/executor.hpp"
#include "graph/functions.hpp"

namespace ebm {

namespace {

Rbm& layer_of(Dbn& dbn, int l) {
  if (l < 0 || l >= dbn.depth())
    throw Error("greedy fit of dbn '{}': layer {}; expected 0 <= l < {} (its RBMs)", dbn.name, l, dbn.depth());
  return dbn.rbms[static_cast<size_t>(l)];
}

// Layer l's trainer; the first layer's visible biases are set from the
// data's means before it is made (a resume then loads the checkpoint's
// over them).
CdTrainer layer_trainer(Dbn& dbn, int l, const DataSource& images, std::span<const float> data_means,
                              const CdConfig& cd) {
  Rbm& r = layer_of(dbn, l);
  if (l == 0 && images.dim != r.config.visible)
    throw Error("greedy fit of dbn '{}': rows of {} values; expected {} (the first layer's visible units)", dbn.name,
                images.dim, r.config.visible);
  const bool from_means = r.config.visible_unit == Unit::binary || counts_words(r.config.visible_unit);
  if (l == 0 && from_means && !data_means.empty()) r.init_visible_bias(data_means);
  return make_cd_trainer(r, cd);
}

}  // namespace

DbnLayerFit::DbnLayerFit(Dbn& dbn, int l, Executor& ex, const DataSource& images, const DataSource& valid_images,
                         std::span<const float> data_means, const DbnLayerConfig& config)
    : trainer_(layer_trainer(dbn, l, images, data_means, config.cd)),
      fitter_(trainer_, ex, config.fit),
      train_(layer_source(dbn, l, ex, images, config.cd.batch, config.sample_up, config.fit.data_seed)),
      valid_(layer_source(dbn, l, ex, valid_images, config.cd.batch, config.sample_up, config.fit.data_seed)) {
  if (fitter_.epochs_done() > 0) return;  // the checkpoint holds the layer's start and its chains
  const int64_t batch = config.cd.batch;
  if (l > 0 && config.transpose_init) dbn.init_from_below(l);
  if (trainer_.chain.valid())
    train_.fill(chain_start_rows(train_.count, batch, config.fit.data_seed), trainer_.chain.graph->value(trainer_.chain), 0);
  Rbm& r = dbn.rbms[static_cast<size_t>(l)];
  if (l > 0 && config.visible_bias_from_below && !config.transpose_init && r.config.visible_unit == Unit::binary) {
    const uint64_t step = ex.step();  // the source runs the executor: the training's draws stay as they were
    r.init_visible_bias(source_means(train_, 5000, batch));
    ex.set_step(step);
  }
}

std::vector<std::vector<EpochStats>> fit_greedy(Dbn& dbn, Executor& ex, const DataSource& images,
                                                const DataSource& valid_images, std::span<const float> data_means,
                                                std::span<const DbnLayerConfig> layers,
                                                const std::function<void(int, const EpochStats&)>& on_epoch) {
  if (layers.size() != dbn.rbms.size())
    throw Error("greedy fit of dbn '{}': {} layer configurations; expected one per RBM ({})", dbn.name, layers.size(),
                dbn.rbms.size());
  std::vector<std::vector<EpochStats>> out;
  bool below_whole = true;  // every layer so far was resumed with all its epochs done
  for (int l = 0; l < dbn.depth(); ++l) {
    DbnLayerConfig c = layers[static_cast<size_t>(l)];
    c.fit.resume = c.fit.resume && below_whole;
    DbnLayerFit layer(dbn, l, ex, images, valid_images, data_means, c);
    const bool trains = layer.fitter().epochs_done() < c.fit.epochs;
    out.push_back(layer.fit([&](const EpochStats& s) {
      if (on_epoch) on_epoch(l, s);
    }));
    below_whole = below_whole && !trains;
  }
  return out;
}

}  // namespace ebm
