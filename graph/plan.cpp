#include "graph/plan.hpp"

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

namespace ebm {
namespace {
// The most floats a step's arena may hold: its bytes, rounded to 64, fit a size_t.
constexpr int64_t kMostArenaFloats = int64_t{1} << 61;
}  // namespace

namespace {

using Bits = std::vector<uint64_t>;

struct Builder {
  const Graph& g;
  Plan& p;
  std::vector<std::vector<int32_t>> consumers;  // per plan node
  std::vector<std::vector<int32_t>> deps;       // per plan node: the plan nodes it reads or (a group) waits for
  std::vector<bool> is_target;

  const Node& node(int32_t i) const { return g.node(p.nodes[static_cast<size_t>(i)].id); }
  const Op& op(int32_t i) const { return p.nodes[static_cast<size_t>(i)].op; }
  OpKind kind(int32_t i) const { return traits(op(i)).kind; }

  void collect(std::span<const Tensor> targets, bool fuse) {
    std::vector<bool> keep(static_cast<size_t>(g.size()), false);
    for (size_t i = 0; i < targets.size(); ++i) {
      const Tensor& t = targets[i];
      if (!t.valid())
        throw Error("run: target {} of {} is empty (a default-made Tensor); expected a node of the executor's graph", i,
                    targets.size());
      if (t.graph != &g)
        throw Error("run: target {} of {} ('{}') belongs to another graph; expected a node of the executor's graph", i,
                    targets.size(), t.id < t.graph->size() ? t.graph->label(t.id) : std::string("?"));
      if (t.id >= g.size())
        throw Error("run: target {} of {} has node id {}; the executor's graph has {} nodes", i, targets.size(), t.id,
                    g.size());
      keep[static_cast<size_t>(t.id)] = true;
      p.targets.push_back(t.id);
    }
    // A stop_gradient only matters to autodiff: unless it is a target, its
    // readers read its input and it is never run (no copy).
    const std::vector<bool> targeted = keep;
    auto source_of = [&](NodeId id) {
      while (!targeted[static_cast<size_t>(id)] && std::holds_alternative<StopGradient>(g.node(id).op))
        id = g.node(id).inputs[0];
      return id;
    };
    for (NodeId i = g.size() - 1; i >= 0; --i)
      if (keep[static_cast<size_t>(i)])
        for (NodeId in : g.node(i).inputs) keep[static_cast<size_t>(source_of(in))] = true;
    // x op(W1) + y op(W2): one matmul_sum in the add's place, the products
    // never stored. (p W1) + (y W2) and C += y W2 onto a tile of p W1 round
    // the same sum once, so no bit changes.
    std::vector<int32_t> uses(static_cast<size_t>(g.size()), 0);
    for (NodeId i = 0; i < g.size(); ++i)
      if (keep[static_cast<size_t>(i)])
        for (NodeId in : g.node(i).inputs) ++uses[static_cast<size_t>(source_of(in))];
    auto product = [&](NodeId x) -> const MatMul* {
      const auto* m = std::get_if<MatMul>(&g.node(x).op);
      return m && !targeted[static_cast<size_t>(x)] && uses[static_cast<size_t>(x)] == 1 ? m : nullptr;
    };
    std::vector<std::array<NodeId, 2>> summed(static_cast<size_t>(g.size()), {-1, -1});
    for (NodeId i = 0; fuse && i < g.size(); ++i) {
      const Node& n = g.node(i);
      if (!keep[static_cast<size_t>(i)] || !std::holds_alternative<Add>(n.op)) continue;
      const NodeId x = source_of(n.inputs[0]), y = source_of(n.inputs[1]);
      const MatMul *mx = product(x), *my = product(y);
      if (x == y || !mx || !my || mx->ta != my->ta || mx->tb != my->tb || g.node(x).shape != n.shape ||
          g.node(y).shape != n.shape)
        continue;
      summed[static_cast<size_t>(i)] = {x, y};
      keep[static_cast<size_t>(x)] = keep[static_cast<size_t>(y)] = false;
    }
    p.index_of.assign(static_cast<size_t>(g.size()), -1);
    for (NodeId i = 0; i < g.size(); ++i) {
      if (!keep[static_cast<size_t>(i)]) {
        if (source_of(i) != i) p.index_of[static_cast<size_t>(i)] = p.find(source_of(i));
        continue;
      }
      p.index_of[static_cast<size_t>(i)] = static_cast<int32_t>(p.nodes.size());
      PlanNode pn{.id = i, .op = g.node(i).op};
      const Node& n = g.node(i);
      std::vector<int32_t> reads;
      if (const auto [x, y] = summed[static_cast<size_t>(i)]; x >= 0) {
        const MatMul& m = std::get<MatMul>(g.node(x).op);
        pn.op = MatMulSum{m.ta, m.tb};
        for (NodeId f : {x, y})
          for (NodeId in : g.node(f).inputs) reads.push_back(p.find(in));
      } else {
        for (NodeId in : n.inputs) reads.push_back(p.find(in));
      }
      if (!std::holds_alternative<Group>(n.op)) {  // a group only waits for its inputs
        pn.n_in = static_cast<int>(reads.size());
        std::copy(reads.begin(), reads.end(), pn.in.begin());
      }
      if (std::holds_alternative<Input>(n.op)) p.inputs.push_back(static_cast<int32_t>(p.nodes.size()));
      p.nodes.push_back(pn);
      deps.push_back(std::move(reads));
    }
    consumers.resize(p.nodes.size());
    is_target.assign(p.nodes.size(), false);
    for (NodeId t : p.targets) is_target[static_cast<size_t>(p.find(t))] = true;
    for (int32_t j = 0; j < static_cast<int32_t>(p.nodes.size()); ++j)
      for (int32_t u : deps[static_cast<size_t>(j)]) consumers[static_cast<size_t>(u)].push_back(j);
  }

  int32_t task_of(int32_t i) const { return p.nodes[static_cast<size_t>(i)].task; }
  const Node& head(int32_t t) const { return node(p.tasks[static_cast<size_t>(t)].nodes[0]); }
  const Op& head_op(int32_t t) const { return op(p.tasks[static_cast<size_t>(t)].nodes[0]); }

  // The element-wise chain task that node j may join after its producer, or
  // -1: the producer's only consumer is j, so the chain's intermediate rows
  // stay in cache and no other task can sit between them. A reduction along
  // rows (row_reducing) may end a chain: it runs on the chain's row tiles.
  int32_t chain_task(int32_t j) const {
    const bool reduces = row_reducing(op(j));
    if (kind(j) != OpKind::elementwise && !reduces) return -1;
    const PlanNode& pj = p.nodes[static_cast<size_t>(j)];
    for (int a = 0; a < pj.n_in; ++a) {
      const int32_t i = pj.in[static_cast<size_t>(a)];
      const bool fits = reduces ? node(i).shape.rows == node(j).shape.rows : node(i).shape == node(j).shape;
      if (kind(i) == OpKind::elementwise && traits(head_op(task_of(i))).kind == OpKind::elementwise &&
          consumers[static_cast<size_t>(i)].size() == 1 && !is_target[static_cast<size_t>(i)] && fits &&
          p.tasks[static_cast<size_t>(task_of(i))].nodes.back() == i)
        return task_of(i);
    }
    return -1;
  }

  // Whether task t is a GEMM with output shape s that can take one more
  // epilogue member.
  bool open_gemm_task(int32_t t, Shape s) const {
    return t >= 0 && takes_epilogue(head_op(t)) && head(t).shape == s &&
           p.tasks[static_cast<size_t>(t)].nodes.size() <= kMaxEpilogue;
  }

  // The GEMM task whose tiles node j may join as an epilogue, or -1: j is
  // column-local, has the GEMM's output shape and reads a value of that
  // task, and none of its other inputs comes from a task that depends on the
  // GEMM task (joining would close a cycle); or j sums over the rows a
  // value of that task (a bias's gradient), whose tiles span every row.
  int32_t epilogue_task(int32_t j) {
    const PlanNode& pj = p.nodes[static_cast<size_t>(j)];
    if (column_reducing(op(j))) {  // a sum over rows of a value the task computes, on tiles that span every row
      const int32_t i = pj.in[0], t = task_of(i);
      const Shape s = node(i).shape;
      return open_gemm_task(t, s) && gemm::full_row_tiles(s.rows, s.cols) && !writes_input_of(t, j) ? t : -1;
    }
    if (!column_local(op(j))) return -1;
    for (int a = 0; a < pj.n_in; ++a) {
      const int32_t t = task_of(pj.in[static_cast<size_t>(a)]);
      if (!open_gemm_task(t, node(j).shape)) continue;
      bool acyclic = true;
      for (int b = 0; b < pj.n_in && acyclic; ++b) {
        const int32_t u = task_of(pj.in[static_cast<size_t>(b)]);
        acyclic = u < 0 || u == t || !reaches(t, u);
      }
      if (acyclic && !writes_input_of(t, j)) return t;
    }
    return -1;
  }

  // Whether task t holds an update that writes one of node j's inputs.
  bool writes_input_of(int32_t t, int32_t j) const {
    for (int32_t m : p.tasks[static_cast<size_t>(t)].nodes)
      for (int w : mutated_inputs(op(m)))
        for (int32_t u : deps[static_cast<size_t>(j)])
          if (u == p.nodes[static_cast<size_t>(m)].in[static_cast<size_t>(w)]) return true;
    return false;
  }

  // The GEMM task that computes update j's gradient, when j may run on its
  // tiles (the gradient then never makes a round trip through memory), or -1.
  // Every other reader of the parameters j writes must come before the GEMM,
  // and nothing in the GEMM's task may read them.
  int32_t update_task(int32_t j) {
    const int gi = tile_update_gradient(op(j));
    if (gi < 0) return -1;
    const PlanNode& pj = p.nodes[static_cast<size_t>(j)];
    const int32_t grad = pj.in[static_cast<size_t>(gi)], t = task_of(grad);
    if (!open_gemm_task(t, node(grad).shape)) return -1;
    for (int w : mutated_inputs(op(j))) {
      const int32_t v = pj.in[static_cast<size_t>(w)];
      for (int32_t m : p.tasks[static_cast<size_t>(t)].nodes)
        for (int32_t u : deps[static_cast<size_t>(m)])
          if (u == v) return -1;
      for (int32_t r : consumers[static_cast<size_t>(v)]) {
        if (r == j || std::holds_alternative<Group>(op(r))) continue;
        if (r > j || reaches(t, task_of(r))) return -1;
      }
    }
    return t;
  }

  // Whether task `to` depends on task `from` through the edges made so far.
  bool reaches(int32_t from, int32_t to) {
    ++stamp;
    std::vector<int32_t>& stack = scratch;
    stack.assign(1, from);
    while (!stack.empty()) {
      const int32_t t = stack.back();
      stack.pop_back();
      if (t == to) return true;
      for (int32_t s : early_succ[static_cast<size_t>(t)])
        if (seen[static_cast<size_t>(s)] != stamp) {
          seen[static_cast<size_t>(s)] = stamp;
          stack.push_back(s);
        }
    }
    return false;
  }

  std::vector<std::vector<int32_t>> early_succ;  // data edges between tasks, while they form
  std::vector<int32_t> seen, scratch;
  int32_t stamp = 0;

  void make_tasks(bool fuse) {
    for (int32_t j = 0; j < static_cast<int32_t>(p.nodes.size()); ++j) {
      if (kind(j) == OpKind::source) continue;
      int32_t t = fuse ? epilogue_task(j) : -1;
      if (t < 0 && fuse) t = update_task(j);
      if (t < 0 && fuse) t = chain_task(j);
      if (t < 0) {
        t = static_cast<int32_t>(p.tasks.size());
        p.tasks.emplace_back();
        early_succ.emplace_back();
        seen.push_back(0);
      }
      PlanTask& task = p.tasks[static_cast<size_t>(t)];
      task.nodes.push_back(j);
      p.nodes[static_cast<size_t>(j)].task = t;
      for (int32_t d : deps[static_cast<size_t>(j)]) {
        const int32_t u = task_of(d);
        if (u >= 0 && u != t) early_succ[static_cast<size_t>(u)].push_back(t);
      }
      std::vector<Shape> in;
      for (int32_t d : deps[static_cast<size_t>(j)]) in.push_back(node(d).shape);
      task.flops += flops(op(j), in, node(j).shape);
    }
    // The named nodes each task reads or makes (parameters, inputs).
    std::vector<std::vector<std::string>> direct(p.tasks.size());
    for (size_t ti = 0; ti < p.tasks.size(); ++ti) {
      auto add = [&](const std::string& n) {
        if (!n.empty() && std::find(direct[ti].begin(), direct[ti].end(), n) == direct[ti].end())
          direct[ti].push_back(n);
      };
      for (int32_t j : p.tasks[ti].nodes) {
        add(node(j).name);
        for (int32_t d : deps[static_cast<size_t>(j)])
          if (p.nodes[static_cast<size_t>(d)].task < 0) add(node(d).name);
      }
    }
    // A task that reads only unnamed values (a gradient's sum, a backward
    // product's next op, a slice of a slice) is named by the nearest named
    // tasks up its inputs' chains, "from net.W2": an unnamed producer
    // passes on the names it was given. Tasks mostly follow their
    // producers, so the passes are few; a list only grows, to at most five
    // (four are shown, then "..."), so they end.
    std::vector<std::vector<std::string>> resolved = direct;
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t ti = 0; ti < p.tasks.size(); ++ti) {
        if (!direct[ti].empty()) continue;
        std::vector<std::string> named;
        for (int32_t j : p.tasks[ti].nodes)
          for (int32_t d : deps[static_cast<size_t>(j)]) {
            const int32_t u = p.nodes[static_cast<size_t>(d)].task;
            if (u < 0 || static_cast<size_t>(u) == ti) continue;
            for (const std::string& n : resolved[static_cast<size_t>(u)])
              if (named.size() < 5 && std::find(named.begin(), named.end(), n) == named.end()) named.push_back(n);
          }
        if (named.size() != resolved[ti].size()) {
          resolved[ti] = std::move(named);
          changed = true;
        }
      }
    }
    for (size_t ti = 0; ti < p.tasks.size(); ++ti) {
      PlanTask& t = p.tasks[ti];
      const bool from = direct[ti].empty();
      const std::vector<std::string>& named = resolved[ti];
      if (from && !named.empty()) t.about = "from ";
      for (size_t k = 0; k < named.size() && k < 4; ++k) t.about += (k ? ", " : "") + named[k];
      if (named.size() > 4) t.about += ", ...";
      if (t.nodes.size() == 1) { t.label = std::string(name(op(t.nodes[0]))); continue; }
      t.label = "fused(";
      for (size_t k = 0; k < t.nodes.size(); ++k) {
        if (k) t.label += '+';
        t.label += name(op(t.nodes[k]));
      }
      t.label += ')';
    }
  }

  void edge(int32_t from, int32_t to) {
    if (from >= 0 && from != to) p.tasks[static_cast<size_t>(from)].succ.push_back(to);
  }

  void make_edges() {
    std::vector<int32_t> writer(p.nodes.size(), -1);  // each parameter's one update op in this plan
    for (int32_t j = 0; j < static_cast<int32_t>(p.nodes.size()); ++j) {
      const int32_t tj = p.nodes[static_cast<size_t>(j)].task;
      for (int32_t d : deps[static_cast<size_t>(j)]) edge(p.nodes[static_cast<size_t>(d)].task, tj);
      for (int m : mutated_inputs(op(j))) {
        const int32_t v = p.nodes[static_cast<size_t>(j)].in[static_cast<size_t>(m)];
        if (kind(v) != OpKind::source || std::holds_alternative<Input>(op(v)))
          throw Error("{} '{}': writes '{}', which is not a parameter", name(op(j)), g.label(p.nodes[static_cast<size_t>(j)].id),
                      g.label(p.nodes[static_cast<size_t>(v)].id));
        // Every reader runs before the writer, so with two writers each
        // would compute from the value before the run, and the later would
        // silently undo the earlier.
        if (const int32_t w = std::exchange(writer[static_cast<size_t>(v)], j); w >= 0 && w != j)
          throw Error("compile: parameter '{}' is written by two ops of one run, {} '{}' and {} '{}'; expected one "
                      "writer per parameter in a run (each would start from the value before the run, and the later "
                      "would undo the earlier): run them in separate runs, or fold them into one update",
                      g.label(p.nodes[static_cast<size_t>(v)].id), name(op(w)), g.label(p.nodes[static_cast<size_t>(w)].id),
                      name(op(j)), g.label(p.nodes[static_cast<size_t>(j)].id));
        for (int32_t r : consumers[static_cast<size_t>(v)]) {  // hazard: readers before the writer
          if (r == j || std::holds_alternative<Group>(op(r))) continue;
          if (kind(r) == OpKind::update && r > j) continue;  // later writers wait for us instead
          edge(p.nodes[static_cast<size_t>(r)].task, tj);
        }
      }
    }
    for (PlanTask& t : p.tasks) {
      std::sort(t.succ.begin(), t.succ.end());
      t.succ.erase(std::unique(t.succ.begin(), t.succ.end()), t.succ.end());
      for (int32_t s : t.succ) ++p.tasks[static_cast<size_t>(s)].n_pred;
    }
  }

  void topo_order() {
    std::vector<int32_t> pending(p.tasks.size());
    for (size_t t = 0; t < p.tasks.size(); ++t) {
      pending[t] = p.tasks[t].n_pred;
      if (pending[t] == 0) p.order.push_back(static_cast<int32_t>(t));
    }
    for (size_t k = 0; k < p.order.size(); ++k)
      for (int32_t s : p.tasks[static_cast<size_t>(p.order[k])].succ)
        if (--pending[static_cast<size_t>(s)] == 0) p.order.push_back(s);
    if (p.order.size() != p.tasks.size()) throw Error("compile: the task graph has a cycle (an update op reads its own result?)");
  }

  // PlanOptions::tile_outputs: a product whose every reader sits in its own
  // task's epilogue and reads it once, from the tile, and that is no target.
  void mark_tile_only() {
    for (const PlanTask& t : p.tasks) {
      const int32_t head = t.nodes[0];
      if (t.nodes.size() < 2 || !takes_epilogue(op(head)) || is_target[static_cast<size_t>(head)]) continue;
      bool ok = true;
      size_t reads = 0;
      for (size_t m = 1; m < t.nodes.size(); ++m) {
        const PlanNode& pn = p.nodes[static_cast<size_t>(t.nodes[m])];
        int here = 0;  // a member reads the tile through one slot (Kernel::tile_slot): not x * x
        for (int a = 0; a < pn.n_in; ++a)
          if (pn.in[static_cast<size_t>(a)] == head) {
            ++here;
            ok = ok && reads_tile(pn.op, a);
          }
        ok = ok && here <= 1;
        reads += static_cast<size_t>(here);
      }
      if (ok && reads == consumers[static_cast<size_t>(head)].size()) p.nodes[static_cast<size_t>(head)].tile_only = true;
    }
  }

  void assign_buffers(bool reuse);
};

// A buffer slot. It holds its latest value's producer and consumer tasks;
// whoever took the slot before had to wait for all earlier holders, so a new
// task may take it when it depends on these few tasks (transitivity).
struct Slot {
  int64_t size = 0;
  int64_t offset = 0;
  bool pinned = false;
  std::vector<int32_t> occupants;
  int32_t last_pos = -1;  // the latest topological position among the occupants
};

bool has_bit(const Bits& b, int32_t i) { return (b[static_cast<size_t>(i) / 64] >> (i % 64)) & 1; }
void set_bit(Bits& b, int32_t i) { b[static_cast<size_t>(i) / 64] |= uint64_t{1} << (i % 64); }

// Ancestor sets of every task, as bitsets over task ids (n^2 bits).
std::vector<Bits> ancestors(const Plan& p) {
  const size_t words = (p.tasks.size() + 63) / 64;
  std::vector<Bits> anc(p.tasks.size(), Bits(words, 0));
  for (int32_t t : p.order)
    for (int32_t s : p.tasks[static_cast<size_t>(t)].succ) {
      Bits& a = anc[static_cast<size_t>(s)];
      for (size_t w = 0; w < words; ++w) a[w] |= anc[static_cast<size_t>(t)][w];
      set_bit(a, t);
    }
  return anc;
}

void Builder::assign_buffers(bool reuse) {
  reuse = reuse && p.tasks.size() <= 40000;  // ancestor sets are n^2 bits
  const std::vector<Bits> anc = reuse ? ancestors(p) : std::vector<Bits>{};
  std::vector<int32_t> pos(p.tasks.size());
  for (size_t k = 0; k < p.order.size(); ++k) pos[static_cast<size_t>(p.order[k])] = static_cast<int32_t>(k);
  auto free_for = [&](const Slot& sl, int32_t t) {
    if (sl.pinned || sl.last_pos >= pos[static_cast<size_t>(t)]) return false;
    for (int32_t o : sl.occupants)
      if (!has_bit(anc[static_cast<size_t>(t)], o)) return false;
    return true;
  };
  std::vector<Slot> slots;
  for (int32_t t : p.order) {
    for (int32_t j : p.tasks[static_cast<size_t>(t)].nodes) {
      const int64_t need = node(j).shape.size();
      if (need <= 0 || p.nodes[static_cast<size_t>(j)].tile_only) continue;
      p.unshared_floats = std::min(p.unshared_floats, kMostArenaFloats - need) + need;  // a statistic: saturates
      int32_t best = -1;
      for (int32_t s = 0; reuse && s < static_cast<int32_t>(slots.size()); ++s) {
        const Slot& sl = slots[static_cast<size_t>(s)];
        if (!free_for(sl, t)) continue;
        const Slot* b = best < 0 ? nullptr : &slots[static_cast<size_t>(best)];
        const bool fits = sl.size >= need, b_fits = b && b->size >= need;
        if (!b || (fits && (!b_fits || sl.size < b->size)) || (!fits && !b_fits && sl.size > b->size)) best = s;
      }
      if (best < 0) {
        best = static_cast<int32_t>(slots.size());
        slots.emplace_back();
      }
      Slot& sl = slots[static_cast<size_t>(best)];
      sl.size = std::max(sl.size, need);
      sl.pinned = !reuse || is_target[static_cast<size_t>(j)];
      sl.occupants = {t};
      sl.last_pos = pos[static_cast<size_t>(t)];
      for (int32_t c : consumers[static_cast<size_t>(j)]) {
        const int32_t ct = p.nodes[static_cast<size_t>(c)].task;
        sl.occupants.push_back(ct);
        sl.last_pos = std::max(sl.last_pos, pos[static_cast<size_t>(ct)]);
      }
      p.nodes[static_cast<size_t>(j)].offset = best;  // slot index for now
    }
  }
  for (Slot& s : slots) {
    s.offset = p.arena_floats;
    const int64_t floats = (s.size + 15) / 16 * 16;  // 64-byte aligned
    if (floats > kMostArenaFloats - p.arena_floats)  // values of 2^61 floats each may still sum past memory
      throw Error("run: the step's values need more than 2^61 floats ({} and {} more); expected a graph whose live "
                  "values fit in memory (a smaller batch or layer)",
                  p.arena_floats, floats);
    p.arena_floats += floats;
  }
  for (PlanNode& n : p.nodes)
    if (n.task >= 0 && n.offset >= 0) n.offset = slots[static_cast<size_t>(n.offset)].offset;
}

}  // namespace

Plan compile_plan(const Graph& g, std::span<const Tensor> targets, PlanOptions opt) {
  if (targets.empty()) throw Error("run: no targets given");
  Plan p;
  Builder b{g, p, {}, {}, {}, {}, {}, {}, 0};
  b.collect(targets, opt.fuse);
  b.make_tasks(opt.fuse);
  b.make_edges();
  b.topo_order();
  if (opt.fuse && opt.tile_outputs) b.mark_tile_only();
  b.assign_buffers(opt.reuse);
  return p;
}

}  // namespace ebm
