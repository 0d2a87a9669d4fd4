#include "graph/functions.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ebm {

Tensor scale(Tensor x, float a, float b) {
  if (!std::isfinite(a) || !std::isfinite(b))
    throw Error("scale: y = a x + b of '{}' with a = {}, b = {}; expected finite a and b (x / 0 scales by inf)",
                graph_of(x, "scale").label(x.id), a, b);
  return apply(Scale{a, b}, {x});
}

Tensor group(std::span<const Tensor> targets) {
  if (targets.empty()) throw Error("group: needs at least one target");
  return graph_of(targets.front(), "group").apply(Group{}, targets);
}

Tensor concat(std::span<const Tensor> xs, int axis) {
  if (xs.empty()) throw Error("concat: needs at least one input");
  if (xs.size() <= static_cast<size_t>(kMaxArity)) return graph_of(xs.front(), "concat").apply(Concat{axis}, xs);
  std::vector<Tensor> parts;  // a node joins at most kMaxArity inputs: join them in runs, then the runs
  for (size_t i = 0; i < xs.size(); i += kMaxArity)
    parts.push_back(concat(xs.subspan(i, std::min(xs.size() - i, static_cast<size_t>(kMaxArity))), axis));
  return concat(parts, axis);
}

}  // namespace ebm
