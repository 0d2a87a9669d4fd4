#include "models/cdbn.hpp"

#include <fmt/format.h>

#include "models/dbn.hpp"
#include "ops/error.hpp"

namespace ebm {

Cdbn Cdbn::make(Graph& g, std::string name, const CdbnConfig& cfg) {
  if (cfg.layers.empty()) throw Error("cdbn '{}': no layers; expected at least one", name);
  Cdbn d;
  d.graph = &g;
  d.name = name;
  ConvGeometry in{.channels = cfg.channels, .height = cfg.height, .width = cfg.width, .size = 0};
  for (size_t l = 0; l < cfg.layers.size(); ++l) {
    const CdbnLayer& c = cfg.layers[l];
    in.size = c.size;
    if (c.size < 1 || c.size > in.height || c.size > in.width || c.pool < 1 || c.filters < 1 ||
        in.out_height() % c.pool != 0 || in.out_width() % c.pool != 0)
      throw Error("cdbn '{}': layer {} has {} filters of {} x {} pooled {} x {} over an input of {} x {}; expected "
                  "filters no larger than the input and pooling blocks that divide the hidden planes ({} x {})",
                  name, l + 1, c.filters, c.size, c.size, c.pool, c.pool, in.height, in.width,
                  in.height - c.size + 1, in.width - c.size + 1);
    d.crbms.push_back(Crbm::make(g, fmt::format("{}.crbm{}", name, l),
                                 {.visible = in,
                                  .filters = c.filters,
                                  .pool = c.pool,
                                  .visible_unit = l == 0 ? cfg.visible_unit : Unit::binary,
                                  .init_std = cfg.init_std,
                                  .seed = cfg.seed + l}));
    in = {.channels = c.filters, .height = in.out_height() / c.pool, .width = in.out_width() / c.pool, .size = 0};
  }
  return d;
}

Tensor Cdbn::up(Tensor v, int l) const {
  if (l < 0 || l > depth()) throw Error("cdbn '{}': up to layer {}; expected 0 to {}", name, l, depth());
  for (int i = 0; i < l; ++i) v = crbms[static_cast<size_t>(i)].p_pool(v);
  return v;
}

int64_t Cdbn::pooled_size(int l) const {
  const Crbm& m = crbms.at(static_cast<size_t>(l));
  return m.config.filters * m.pooling().blocks();
}

DataSource cdbn_layer_source(const Cdbn& cdbn, int l, Executor& ex, const DataSource& images, int64_t batch) {
  if (l == 0) return images;
  const Tensor x = cdbn.graph->input(fmt::format("{}.up{}.in", cdbn.name, l), {batch, images.dim});
  return mapped_source(ex, x, cdbn.up(x, l), images);
}

}  // namespace ebm
