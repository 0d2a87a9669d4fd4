#include "graph/graph.hpp"

#include <algorithm>
#include <limits>
#include <new>

#include <fmt/format.h>

namespace ebm {

namespace {

// Positive rows and columns whose float count fits in memory's addresses
// (an overflowing product would wrap to a small, or zero, size).
void check_shape(Shape shape, std::string_view what) {
  if (shape.rows <= 0 || shape.cols <= 0)
    throw Error("{}: shape {}; expected positive rows and columns", what, shape);
  if (shape.rows > std::numeric_limits<int64_t>::max() / 4 / shape.cols)
    throw Error("{}: shape {} holds more floats than memory can address; expected at most 2^61 floats", what, shape);
}

}  // namespace

const Node& checked_node(const Tensor& t, std::string_view what) {
  if (t.graph == nullptr)
    throw Error("{}: the tensor is empty (a default-made Tensor); expected one a Graph made (input, param, constant "
                "or an op)",
                what);
  if (t.id < 0 || t.id >= t.graph->size())
    throw Error("{}: the tensor's node id {} is not in its graph, which has {} nodes; expected a Tensor the graph made",
                what, t.id, t.graph->size());
  return t.graph->node(t.id);
}

Shape Tensor::shape() const { return checked_node(*this, "Tensor::shape").shape; }
const std::string& Tensor::name() const { return checked_node(*this, "Tensor::name").name; }

Tensor Graph::add_source(const Op& op, std::string name, Shape shape, std::vector<float> value,
                         bool trainable) {
  check_shape(shape, fmt::format("{} '{}'", ebm::name(op), name));
  Node n{op, {}, shape, std::move(name), -1, trainable};
  if (!value.empty()) {
    n.storage = static_cast<int32_t>(storage_.size());
    storage_.push_back(std::move(value));
  }
  nodes_.push_back(std::move(n));
  return {this, size() - 1};
}

Tensor Graph::input(std::string name, Shape shape) {
  return add_source(Input{}, std::move(name), shape, {}, false);
}

void Graph::check_param_name(const std::string& name, NodeId self) const {
  if (name.empty()) return;
  for (NodeId i = 0; i < size(); ++i)
    if (i != self && nodes_[static_cast<size_t>(i)].trainable && nodes_[static_cast<size_t>(i)].name == name)
      throw Error("param '{}': this graph already has a trainable parameter of that name (node #{}); expected "
                  "each trainable parameter's name once in a graph, since names tell parameters apart in errors, "
                  "profiles and the optimizer's state (give each model in one graph its own name)",
                  name, i);
}

namespace {

// The n floats of a stored value, or an ebm::Error saying they do not fit.
std::vector<float> stored_floats(Shape shape, float fill, std::string_view what) {
  check_shape(shape, what);
  try {
    return std::vector<float>(static_cast<size_t>(shape.size()), fill);
  } catch (const std::bad_alloc&) {
    throw Error("{}: shape {} needs {:.3g} GiB, which cannot be allocated; expected a value that fits in memory", what,
                shape, static_cast<double>(shape.size()) * 4.0 / (1 << 30));
  }
}

}  // namespace

Tensor Graph::param(std::string name, Shape shape, float fill, bool trainable) {
  if (trainable) check_param_name(name, -1);
  std::vector<float> v = stored_floats(shape, fill, fmt::format("param '{}'", name));
  return add_source(Param{}, std::move(name), shape, std::move(v), trainable);
}

Tensor Graph::constant(Shape shape, std::span<const float> values, std::string name) {
  check_shape(shape, fmt::format("constant '{}'", name));
  if (static_cast<int64_t>(values.size()) != shape.size())
    throw Error("constant '{}': {} values given for shape {}, expected {}", name, values.size(),
                shape, shape.size());
  return add_source(Constant{}, std::move(name), shape, {values.begin(), values.end()}, false);
}

Tensor Graph::constant(Shape shape, float fill, std::string name) {
  const std::vector<float> v = stored_floats(shape, fill, fmt::format("constant '{}'", name));
  return constant(shape, v, std::move(name));
}

void Graph::check_member(Tensor t, std::string_view what) const {
  checked_node(t, what);  // an empty Tensor, or an id out of its graph, named as such
  if (t.graph != this)
    throw Error("{}: the tensor '{}' belongs to another graph; expected tensors of one graph", what, t.graph->label(t.id));
}

Tensor Graph::apply(const Op& op, std::span<const Tensor> inputs, std::string name) {
  const OpTraits& tr = traits(op);
  if (tr.kind == OpKind::source) throw Error("{}: build sources with input(), param() or constant()", tr.name);
  std::vector<Shape> shapes;
  std::vector<NodeId> ids;
  for (const Tensor& t : inputs) {
    check_member(t, tr.name);
    shapes.push_back(t.shape());
    ids.push_back(t.id);
  }
  Shape out;
  try {
    out = infer_shape(op, shapes);
  } catch (const ShapeError& e) {
    std::string args;
    for (const Tensor& t : inputs) args += fmt::format("{}'{}' {}", args.empty() ? "" : ", ", label(t.id), t.shape());
    throw Error("{}{}: cannot take {}; expected {}", tr.name,
                name.empty() ? "" : fmt::format(" '{}'", name), args.empty() ? "no inputs" : args, e.expected);
  }
  if (tr.kind != OpKind::update)  // updates (and group, assign) have no value: shape [0, 0]
    check_shape(out, fmt::format("{}{}'s output", tr.name, name.empty() ? "" : fmt::format(" '{}'", name)));
  nodes_.push_back(Node{op, std::move(ids), out, std::move(name), -1, false});
  return {this, size() - 1};
}

void Graph::rename(Tensor t, std::string name) {
  check_member(t, "rename");
  if (nodes_[static_cast<size_t>(t.id)].trainable) check_param_name(name, t.id);
  nodes_[static_cast<size_t>(t.id)].name = std::move(name);
}

std::string Graph::label(NodeId id) const {
  const Node& n = node(id);
  return n.name.empty() ? fmt::format("{}#{}", ebm::name(n.op), id) : n.name;
}

std::span<float> Graph::value(Tensor t) {
  check_member(t, "value");
  const Node& n = node(t.id);
  if (n.storage < 0) throw Error("value: '{}' is {}, not a parameter or constant", label(t.id), name_with_article(n.op));
  return storage_[static_cast<size_t>(n.storage)];
}

std::span<const float> Graph::value(Tensor t) const {
  return const_cast<Graph*>(this)->value(t);
}

std::vector<Tensor> Graph::params() {
  std::vector<Tensor> out;
  for (NodeId i = 0; i < size(); ++i)
    if (nodes_[static_cast<size_t>(i)].trainable) out.push_back({this, i});
  return out;
}

std::string Graph::dump_dot(std::span<const Tensor> targets) const {
  std::vector<bool> keep(nodes_.size(), targets.empty());
  for (const Tensor& t : targets) {
    check_member(t, "dump_dot");
    keep[static_cast<size_t>(t.id)] = true;
  }
  for (NodeId i = size() - 1; i >= 0; --i)
    if (keep[static_cast<size_t>(i)])
      for (NodeId in : node(i).inputs) keep[static_cast<size_t>(in)] = true;
  std::string s = "digraph ebm {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  for (NodeId i = 0; i < size(); ++i) {
    if (!keep[static_cast<size_t>(i)]) continue;
    const Node& n = node(i);
    const OpKind k = traits(n.op).kind;
    const char* style = k == OpKind::source ? "shape=ellipse, style=filled, fillcolor=\"#dde8f5\""
                        : k == OpKind::update ? "shape=box, style=filled, fillcolor=\"#f5e0dd\""
                                              : "shape=box";
    s += fmt::format("  n{} [label=\"{}\\n{} {}\", {}];\n", i, label(i), ebm::name(n.op), n.shape, style);
    for (NodeId in : n.inputs) s += fmt::format("  n{} -> n{};\n", in, i);
  }
  return s + "}\n";
}

}  // namespace ebm
