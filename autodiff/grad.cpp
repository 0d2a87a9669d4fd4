#include "autodiff/grad.hpp"

#include <fmt/format.h>

#include "graph/functions.hpp"

namespace ebm {
namespace {

class Builder final : public VjpBuilder {
 public:
  Builder(Graph& g, std::vector<NodeId>& grads, const std::vector<bool>& on_path)
      : g_(g), grads_(grads), on_path_(on_path) {}

  void at(NodeId id) { id_ = id; }

  Val x(int i) const override { return {node().inputs.at(static_cast<size_t>(i))}; }
  int inputs() const override { return static_cast<int>(node().inputs.size()); }
  Val y() const override { return {id_}; }
  Val gy() const override { return {grads_[static_cast<size_t>(id_)]}; }
  Shape shape(Val v) const override { return g_.node(v.id).shape; }
  bool wants(int i) const override { return on_path_[static_cast<size_t>(x(i).id)]; }
  Val emit(const Op& op, std::initializer_list<Val> args) override {
    std::vector<Tensor> in;
    for (Val v : args) in.push_back({&g_, v.id});
    if (traits(op).kind == OpKind::elementwise && in.size() == 2) {
      unbroadcast(in[0], in[1]);
      unbroadcast(in[1], in[0]);
    }
    return {g_.apply(op, in).id};
  }
  void give(int i, Val gv) override {
    const NodeId target = x(i).id;
    if (!on_path_[static_cast<size_t>(target)]) return;
    NodeId& acc = grads_[static_cast<size_t>(target)];
    acc = acc < 0 ? gv.id : sum_of(acc, gv.id);
  }

 private:
  const Node& node() const { return g_.node(id_); }

  // Binary element-wise kernels broadcast a row, column or scalar operand
  // themselves, so an operand that is a broadcast_to (as the VJP of a sum
  // emits) is replaced by its source when the other operand has the full
  // shape: one full-size pass fewer.
  void unbroadcast(Tensor& x, const Tensor& other) const {
    const Node& n = g_.node(x.id);
    if (std::holds_alternative<BroadcastTo>(static_cast<const OpVariant&>(n.op)) && g_.node(other.id).shape == n.shape)
      x = Tensor{&g_, n.inputs[0]};
  }

  // a + b; two products of the same kind (a weight used twice, as in CD's two
  // phases) become one matmul_sum, leaving the separate products unused.
  NodeId sum_of(NodeId a, NodeId b) {
    const auto* m1 = std::get_if<MatMul>(&static_cast<const OpVariant&>(g_.node(a).op));
    const auto* m2 = std::get_if<MatMul>(&static_cast<const OpVariant&>(g_.node(b).op));
    if (m1 && m2 && m1->ta == m2->ta && m1->tb == m2->tb) {
      const auto& x = g_.node(a).inputs;
      const auto& y = g_.node(b).inputs;
      return g_.apply(MatMulSum{m1->ta, m1->tb}, {Tensor{&g_, x[0]}, Tensor{&g_, x[1]}, Tensor{&g_, y[0]}, Tensor{&g_, y[1]}}).id;
    }
    return g_.apply(Add{}, {Tensor{&g_, a}, Tensor{&g_, b}}).id;
  }
  Graph& g_;
  std::vector<NodeId>& grads_;
  const std::vector<bool>& on_path_;
  NodeId id_ = -1;
};

}  // namespace

std::vector<Tensor> grad(Tensor loss, std::span<const Tensor> wrt) {
  checked_node(loss, "grad (the loss)");
  Graph& g = *loss.graph;
  if (loss.shape() != Shape{1, 1})
    throw Error("grad: the loss '{}' has shape {}; expected a scalar [1, 1] (reduce it with sum or mean)",
                g.label(loss.id), loss.shape());
  const auto n = static_cast<size_t>(loss.id) + 1;
  // on_path: depends on some w and (checked below) is an ancestor of the loss
  std::vector<bool> on_path(n, false), ancestor(n, false);
  for (size_t i = 0; i < wrt.size(); ++i) {
    const Tensor& w = wrt[i];
    checked_node(w, fmt::format("grad (wrt[{}], a tensor to differentiate by)", i));
    if (w.graph != &g) throw Error("grad: wrt[{}] '{}' belongs to another graph than the loss", i, w.graph->label(w.id));
    if (static_cast<size_t>(w.id) < n) on_path[static_cast<size_t>(w.id)] = true;
  }
  for (size_t i = 0; i < n; ++i)
    for (NodeId in : g.node(static_cast<NodeId>(i)).inputs)
      if (on_path[static_cast<size_t>(in)] && traits(g.node(static_cast<NodeId>(i)).op).differentiable)
        on_path[i] = true;
  ancestor[n - 1] = true;
  for (size_t i = n; i-- > 0;)
    if (ancestor[i])
      for (NodeId in : g.node(static_cast<NodeId>(i)).inputs) ancestor[static_cast<size_t>(in)] = true;
  for (size_t i = 0; i < n; ++i) on_path[i] = on_path[i] && ancestor[i];
  // A gradient helper between a parameter and the loss (the loss is itself
  // made of a gradient): its own VJP is not written, and passing it zero
  // would be a wrong answer given without a word. (Reached: the loss's
  // gradient gets to it, through differentiable ops only; past a
  // stop_gradient it does not.)
  std::vector<bool> reached(n, false);
  reached[n - 1] = true;
  for (size_t i = n; i-- > 0;)
    if (reached[i] && traits(g.node(static_cast<NodeId>(i)).op).differentiable)
      for (NodeId in : g.node(static_cast<NodeId>(i)).inputs) reached[static_cast<size_t>(in)] = true;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.node(static_cast<NodeId>(i));
    if (!reached[i] || !traits(node.op).vjp_missing) continue;
    for (NodeId in : node.inputs)
      if (on_path[static_cast<size_t>(in)])
        throw Error("grad: the loss '{}' depends on '{}' through '{}', {} (a gradient's own node), which has no "
                    "gradient rule: a gradient of a gradient is not supported; expected a loss whose path from the "
                    "parameters runs through differentiable ops (stop_gradient() cuts a path on purpose)",
                    g.label(loss.id), g.label(in), g.label(static_cast<NodeId>(i)), name_with_article(node.op));
  }

  std::vector<NodeId> grads(n, -1);
  grads[n - 1] = g.constant({1, 1}, 1.0f, "d(" + g.label(loss.id) + ")").id;  // dL/dL = 1, named after L
  Builder b(g, grads, on_path);
  for (size_t i = n; i-- > 0;) {
    const Node& node = g.node(static_cast<NodeId>(i));
    if (!on_path[i] || grads[i] < 0 || traits(node.op).kind == OpKind::source) continue;
    b.at(static_cast<NodeId>(i));
    // A copy: the rule's emits append nodes, which may move `node` (and the op whose members the rule reads).
    const Op op = node.op;
    run_vjp(op, b);
  }
  std::vector<Tensor> out;
  for (const Tensor& w : wrt) {
    const auto i = static_cast<size_t>(w.id);
    if (i < n && grads[i] >= 0) out.push_back({&g, grads[i]});
    else out.push_back(g.constant(w.shape(), 0.0f, "d" + g.label(w.id)));
  }
  return out;
}

}  // namespace ebm
