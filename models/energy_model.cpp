#include "models/energy_model.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <string>
#include <typeindex>
#include <typeinfo>

#include "autodiff/grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"

namespace ebm {

Tensor EnergyModel::sample_v(Tensor) const {
  throw Error("EnergyModel: this model gives neither sample_v(h) nor gibbs_step(v); expected one of them (sample_v "
              "for a model whose visible units are independent given h, gibbs_step for one whose are not)");
}

Tensor gibbs_chain(const EnergyModel& m, Tensor v0, int k) {
  if (k < 1) throw Error("gibbs_chain: k = {}; expected at least one step", k);
  Tensor v = v0;
  for (int i = 0; i < k; ++i) {
    v = m.gibbs_step(v);
    if (v.shape() != v0.shape())
      throw Error("gibbs_chain: a step gibbs_step(v) (by default sample_v(sample_h(v))) turns the data's {} into {}; "
                  "expected the same shape",
                  v0.shape(), v.shape());
  }
  return v;
}

namespace {

// exact_log_z_binary's batch input and free energy, built once per (graph, model object, its type and params(),
// visible) and reused by later calls, so that a monitor called every epoch adds no nodes (nor compiled plans).
struct LogZNodes {
  const Graph* graph = nullptr;
  const EnergyModel* model = nullptr;
  std::type_index type = typeid(void);
  std::vector<NodeId> params;
  int visible = 0;
  NodeId v = -1, f = -1;
  std::string tag;  // the input's name, unique in the process: a graph made later at the same address lacks it
};

std::mutex log_z_mutex;
std::deque<LogZNodes> log_z_cache;  // the most recent last; a few dozen at most
uint64_t log_z_tags = 0;

}  // namespace

double exact_log_z_binary(Executor& ex, const EnergyModel& m, int visible) {
  if (visible < 1 || visible > 24)
    throw Error("exact_log_z_binary: {} visible units; expected 1 to 24 (2^visible vectors are enumerated)", visible);
  const std::vector<Tensor> params = m.params();
  if (params.empty()) throw Error("exact_log_z_binary: the model's params() is empty; expected its parameters");
  for (size_t i = 0; i < params.size(); ++i)
    checked_node(params[i], fmt::format("exact_log_z_binary (the model's params()[{}])", i));
  Graph& g = *params.front().graph;
  const int64_t all = int64_t{1} << visible, rows = std::min<int64_t>(all, 4096);
  std::vector<NodeId> ids;
  for (const Tensor& p : params) ids.push_back(p.id);
  Tensor v, f;
  {
    const std::lock_guard lock(log_z_mutex);
    for (auto it = log_z_cache.begin(); it != log_z_cache.end(); ++it) {
      if (it->graph != &g || it->model != &m || it->type != std::type_index(typeid(m)) || it->params != ids ||
          it->visible != visible)
        continue;
      if (it->f < g.size() && it->v < it->f && g.node(it->v).name == it->tag) {
        v = g.tensor(it->v), f = g.tensor(it->f);
      } else {
        log_z_cache.erase(it);  // the graph it was built in is gone
      }
      break;
    }
  }
  if (!f.valid()) {
    std::string tag;
    {
      const std::lock_guard lock(log_z_mutex);
      tag = fmt::format("exact_log_z_binary.v#{}", log_z_tags++);
    }
    v = g.input(tag, {rows, visible});
    try {
      f = m.free_energy(v);
    } catch (const Error& e) {  // most often a visible count that is not the model's
      throw Error("exact_log_z_binary: the model's free energy refused a batch of {} visible units ({}); is `visible` "
                  "the model's visible count?",
                  visible, e.what());
    }
    if (f.shape() != Shape{rows, 1})
      throw Error("exact_log_z_binary: free_energy(v) of {} has shape {}; expected [{}, 1]", v.shape(), f.shape(),
                  rows);
    const std::lock_guard lock(log_z_mutex);
    log_z_cache.push_back({.graph = &g, .model = &m, .type = typeid(m), .params = ids, .visible = visible, .v = v.id,
                           .f = f.id, .tag = tag});
    if (log_z_cache.size() > 64) log_z_cache.pop_front();
  }
  std::vector<float> batch(static_cast<size_t>(rows * visible));
  std::vector<double> neg_f;
  neg_f.reserve(static_cast<size_t>(all));
  for (int64_t first = 0; first < all; first += rows) {  // 2^visible is a multiple of rows
    for (int64_t r = 0; r < rows; ++r)
      for (int i = 0; i < visible; ++i)
        batch[static_cast<size_t>(r * visible + i)] = static_cast<float>(((first + r) >> i) & 1);
    const Tensor targets[] = {f};
    const Feed feeds[] = {{v, batch}};
    ex.run(targets, feeds);
    for (float x : ex.value(f)) neg_f.push_back(-static_cast<double>(x));
  }
  for (size_t k = 0; k < neg_f.size(); ++k)
    if (!std::isfinite(neg_f[k]))
      throw Error("exact_log_z_binary: the free energy of visible vector {} (bits of the index, unit 0 lowest) is {}; "
                  "expected finite values", k, -neg_f[k]);
  const double top = *std::max_element(neg_f.begin(), neg_f.end());
  double sum = 0;
  for (double x : neg_f) sum += std::exp(x - top);
  return top + std::log(sum);
}

ContrastiveDivergence contrastive_divergence(const EnergyModel& m, Tensor v_data, int k, bool persistent,
                                             SgdOptions sgd_options, Tensor penalty) {
  checked_node(v_data, "contrastive_divergence (v_data)");  // before anything reads its graph
  Graph& g = *v_data.graph;
  if (penalty.valid() && (penalty.graph != &g || !penalty.shape().is_scalar()))
    throw Error("contrastive_divergence: a penalty of shape {}{}; expected a scalar [1, 1] of the data's graph",
                penalty.shape(), penalty.graph != &g ? " in another graph" : "");
  const std::vector<Tensor> params = m.params();
  if (params.empty())
    throw Error("contrastive_divergence: the model's params() is empty; expected the parameters training updates "
                "(override params() to return them)");
  for (size_t i = 0; i < params.size(); ++i) {
    checked_node(params[i], fmt::format("contrastive_divergence (the model's params()[{}])", i));
    for (size_t j = 0; j < i; ++j)
      if (params[j].graph == params[i].graph && params[j].id == params[i].id)
        throw Error("contrastive_divergence: the model's params()[{}] and params()[{}] are both '{}'; expected each "
                    "parameter once (twice would update it twice a step)",
                    j, i, g.label(params[i].id));
  }
  ContrastiveDivergence cd;
  std::vector<Tensor> updates;
  if (persistent) {
    cd.chain = g.param(g.label(v_data.id) + ".chain", v_data.shape(), 0.0f, false);
    cd.negative = gibbs_chain(m, cd.chain, k);
    updates.push_back(assign(cd.chain, cd.negative));
  } else {
    cd.negative = gibbs_chain(m, v_data, k);
  }
  const Tensor f_data = m.free_energy(v_data);
  if (f_data.shape() != Shape{v_data.shape().rows, 1})
    throw Error("contrastive_divergence: free_energy(v) of the data {} has shape {}; expected [{}, 1], one free "
                "energy per row (sum over axis 1)",
                v_data.shape(), f_data.shape(), v_data.shape().rows);
  cd.data_free_energy = f_data;
  cd.objective = mean(f_data) - mean(m.free_energy(stop_gradient(cd.negative)));
  if (penalty.valid()) cd.objective = cd.objective + penalty;
  const std::vector<Tensor> grads = grad(cd.objective, params);
  for (size_t i = 0; i < params.size(); ++i)  // grad() gives a zero constant for a parameter the objective never reads
    if (const Node& d = g.node(grads[i].id);
        std::holds_alternative<Constant>(d.op) &&
        std::ranges::all_of(g.value(grads[i]), [](float x) { return x == 0.0f; }))
      throw Error("contrastive_divergence: no gradient reaches the model's params()[{}] '{}' from the free energy{} "
                  "(it is not read, or only through sampling, sign or stop_gradient), so CD would never change it; "
                  "expected parameters that free_energy(v) reads",
                  i, g.label(params[i].id), penalty.valid() ? " or the penalty" : "");
  cd.opt = sgd(params, grads, sgd_options);
  updates.push_back(cd.opt.step);
  cd.step = group(updates);
  return cd;
}

}  // namespace ebm
