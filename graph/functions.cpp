#include "graph/functions.hpp"

namespace ebm {

Tensor group(std::span<const Tensor> targets) {
  if (targets.empty()) throw Error("group: needs at least one target");
  return targets.front().graph->apply(Group{}, targets);
}

}  // namespace ebm
