#include "models/dbn_sampling.hpp"

#include <vector>

#include "graph/functions.hpp"
#include "ops/error.hpp"

namespace ebm {

namespace {

// Refuses a name whose chain state the graph already holds: two sets of
// chains of one name would be told apart in no error or profile.
void check_new_name(const Graph& g, const std::string& state, std::string_view call) {
  for (NodeId i = 0; i < g.size(); ++i)
    if (g.node(i).name == state)
      throw Error("{}: the graph already holds '{}'; expected a name no other chains use", call, state);
}

}  // namespace

DbnChains make_dbn_chains(const Dbn& dbn, int64_t chains, const std::string& name) {
  if (dbn.graph == nullptr || dbn.rbms.empty())
    throw Error("make_dbn_chains: an empty Dbn (default-made); expected one Dbn::make built");
  if (chains < 1) throw Error("make_dbn_chains: {} chains; expected at least 1", chains);
  for (const Rbm& r : dbn.rbms)  // sample_v and down are the binary units' here; others would need their own
    if (r.config.visible_unit != Unit::binary || r.config.hidden_unit != Unit::binary)
      throw Error("make_dbn_chains: '{}' has {} visible and {} hidden units; expected binary units in every layer",
                  r.name, to_string(r.config.visible_unit), to_string(r.config.hidden_unit));
  Graph& g = *dbn.graph;
  check_new_name(g, name + ".state", "make_dbn_chains");
  const int top = dbn.depth() - 1;
  const Rbm& r = dbn.rbms[static_cast<size_t>(top)];
  DbnChains c;
  c.state = g.param(name + ".state", {chains, r.config.visible}, 0.0f, false);
  c.x = g.input(name + ".x", {chains, dbn.rbms.front().config.visible});
  c.start = assign(c.state, dbn.up(c.x, top));
  const Tensor h = r.sample_h(c.state);
  c.step = assign(c.state, r.sample_v(h));
  c.visible = dbn.down(r.p_v(h), top);
  return c;
}

LabelledChains make_labelled_chains(const LabelledRbm& top, std::span<const int> labels, const std::string& name,
                                    const std::function<Tensor(Tensor)>& down) {
  if (top.w.graph == nullptr) throw Error("make_labelled_chains: an empty LabelledRbm (default-made); expected one LabelledRbm::make built");
  if (labels.empty()) throw Error("make_labelled_chains: no labels; expected one per chain");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= top.labels)
      throw Error("make_labelled_chains: chain {} has label {}; expected a label from 0 to {}", i, labels[i],
                  top.labels - 1);
  if (!down) throw Error("make_labelled_chains: no `down` function; expected one (the identity shows the top RBM's own units)");
  Graph& g = *top.w.graph;
  check_new_name(g, name + ".state", "make_labelled_chains");
  const auto n = static_cast<int64_t>(labels.size());
  std::vector<float> one_hot(static_cast<size_t>(n * top.labels), 0.0f);
  for (int64_t i = 0; i < n; ++i) one_hot[static_cast<size_t>(i * top.labels + labels[static_cast<size_t>(i)])] = 1.0f;
  LabelledChains c;
  c.state = g.param(name + ".state", {n, top.visible}, 0.0f, false);
  const Tensor y = g.constant({n, top.labels}, one_hot, name + ".labels");
  const Tensor h = sigmoid_bernoulli(top.hidden_input(c.state, y));
  const Tensor mean = sigmoid(matmul(h, top.w, {.tb = true}) + top.c);  // E[p | h]: the labels are clamped
  c.step = assign(c.state, bernoulli(mean));
  c.visible = down(mean);
  return c;
}

}  // namespace ebm
