#pragma once
// Graph: an append-only list of nodes. Node ids grow as nodes are added, so
// they are already in topological order. Building a node computes nothing;
// it only infers and checks the output shape. Values are computed by an
// Executor (graph/executor.hpp).

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/error.hpp"
#include "ops/op.hpp"

namespace ebm {

using NodeId = int32_t;
class Graph;

// A cheap handle to a node's value: {graph, node id}.
struct Tensor {
  Graph* graph = nullptr;
  NodeId id = -1;

  Shape shape() const;
  const std::string& name() const;
  bool valid() const { return graph != nullptr && id >= 0; }
  friend bool operator==(const Tensor&, const Tensor&) = default;
};

struct Node {
  Op op;
  std::vector<NodeId> inputs;
  Shape shape;
  std::string name;         // empty: shown as "<op>#<id>"
  int32_t storage = -1;     // index of the stored value (params and constants)
  bool trainable = false;   // a parameter that params() lists
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // A value fed to each run (a batch).
  Tensor input(std::string name, Shape shape);
  // A persistent value owned by the graph, initialised to `fill`.
  // Trainable parameters are listed by params(); optimizer and chain state is not.
  // A trainable parameter's name (when not empty) must be new to the graph: an
  // ebm::Error otherwise, as for rename() to a taken name.
  Tensor param(std::string name, Shape shape, float fill = 0.0f, bool trainable = true);
  Tensor constant(Shape shape, std::span<const float> values, std::string name = {});
  Tensor constant(Shape shape, float fill, std::string name = {});

  // Appends an op node; checks arity, graph membership and shapes.
  Tensor apply(const Op& op, std::span<const Tensor> inputs, std::string name = {});
  Tensor apply(const Op& op, std::initializer_list<Tensor> inputs, std::string name = {}) {
    return apply(op, std::span<const Tensor>(inputs.begin(), inputs.size()), std::move(name));
  }

  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  NodeId size() const { return static_cast<NodeId>(nodes_.size()); }
  Tensor tensor(NodeId id) { return {this, id}; }
  void rename(Tensor t, std::string name);
  // "name" if the node has one, else "<op>#<id>".
  std::string label(NodeId id) const;

  // The stored value of a parameter or constant; throws for other nodes.
  std::span<float> value(Tensor t);
  std::span<const float> value(Tensor t) const;
  std::vector<Tensor> params();

  // Graphviz drawing of the whole graph, or of `targets` and their ancestors.
  std::string dump_dot(std::span<const Tensor> targets = {}) const;
  std::string dump_dot(std::initializer_list<Tensor> targets) const {  // g.dump_dot({cd.step})
    return dump_dot(std::span<const Tensor>(targets.begin(), targets.size()));
  }

 private:
  Tensor add_source(const Op& op, std::string name, Shape shape, std::vector<float> value, bool trainable);
  // Throws unless no trainable parameter but `self` is named `name` (empty names aside).
  void check_param_name(const std::string& name, NodeId self) const;
  void check_member(Tensor t, std::string_view what) const;

  std::vector<Node> nodes_;
  std::deque<std::vector<float>> storage_;  // deque: references stay valid
};

// The node behind t, or an ebm::Error that names `what` (the call that
// asked) and says what is wrong: an empty Tensor (default-made), or a node
// id its graph does not have.
const Node& checked_node(const Tensor& t, std::string_view what);

}  // namespace ebm
