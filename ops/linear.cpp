// GEMM-based ops. The output is cut into a fixed grid of tiles (independent
// of the thread count, so results are bitwise reproducible); each tile is one
// single-threaded GEMM call (ebm::gemm, or CBLAS when the executor asks for
// it), and the tiles run on the executor's threads.

#include <algorithm>
#include <cmath>

#include <cblas.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "ops/clock.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"
#include "ops/simd.hpp"
#include "ops/vjp_util.hpp"

namespace ebm {
namespace {

struct Gemm {
  const float* a;
  const float* b;
  float* c;
  int64_t m, n, k;
  bool ta, tb;
  GemmBackend backend;
  gemm::Workspace* workspaces;
  int n_workspaces;
  gemm::PackCache* packs;  // B's packed panels come from here (null: pack them per call)
  uint32_t tag;                   // B's tag in the cache
  gemm::PackCache* thread_packs;  // one per workspace: B's panels come from the thread's (null: not cached there)
};

// The product of inputs first and first + 1 of the kernel.
Gemm make_gemm(const Kernel& kn, bool ta, bool tb, int first = 0) {
  const auto a = static_cast<size_t>(first), b = a + 1;
  const Shape sa = kn.in_shape[a];
  const bool ebm = kn.gemm == GemmBackend::ebm;
  const bool shared = ebm && kn.packs && ((kn.shared_b >> b) & 1u);
  const bool own = ebm && kn.thread_packs && ((kn.thread_b >> b) & 1u);
  return {kn.in[a], kn.in[b], kn.out, kn.out_shape.rows, kn.out_shape.cols, ta ? sa.rows : sa.cols, ta, tb,
          kn.gemm, kn.workspaces, kn.n_workspaces, shared ? kn.packs : nullptr, kn.pack_tag[b],
          own ? kn.thread_packs : nullptr};
}

// Where a tile of C goes: the op's output, or (Kernel::tile_output) the
// thread's tile buffer, row stride ldc.
struct TileDest {
  float* c;
  int64_t ldc;
};

// The calling thread's slot among the executor's per-thread buffers, or -1.
int arena_slot(const Gemm& g) {
  const int t = tbb::this_task_arena::current_thread_index();
  return t >= 0 && t < g.n_workspaces ? t : -1;
}

gemm::Workspace* thread_workspace(const Gemm& g) {
  const int t = arena_slot(g);
  return g.workspaces && t >= 0 ? &g.workspaces[t] : nullptr;
}

TileDest tile_dest(const Gemm& g, const Kernel& k, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  if (k.tile_output) {  // the output has no buffer (graph/plan.hpp)
    gemm::Workspace* ws = thread_workspace(g);
    if (!ws) {
      thread_local gemm::Workspace own;
      ws = &own;
    }
    return {ws->tile((i1 - i0) * (j1 - j0)), j1 - j0};
  }
  return {g.c + i0 * g.n + j0, g.n};
}

// C[i0:i1, j0:j1] = op(A)[i0:i1, :] op(B)[:, j0:j1]  (+ the old C when beta = 1), written at d
void gemm_tile(const Gemm& g, TileDest d, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float beta = 0.0f) {
  const int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n;
  const float* a = g.ta ? g.a + i0 : g.a + i0 * g.k;
  const float* b = g.tb ? g.b + j0 * g.k : g.b + j0;
  if (g.backend == GemmBackend::ebm) {
    gemm::Workspace* ws = thread_workspace(g);
    gemm::PackCache* packs = g.packs;
    if (const int t = arena_slot(g); !packs && g.thread_packs && t >= 0) packs = &g.thread_packs[t];
    if (packs)
      gemm::sgemm_packed_b(ws, g.ta, g.tb, i1 - i0, j1 - j0, g.k, 1.0f, a, lda,
                           packs->packed_b(g.tb, j1 - j0, g.k, b, ldb, g.tag), beta, d.c, d.ldc);
    else if (ws)  // the executor's buffers for this thread: no allocation
      gemm::sgemm(*ws, g.ta, g.tb, i1 - i0, j1 - j0, g.k, 1.0f, a, lda, b, ldb, beta, d.c, d.ldc);
    else
      gemm::sgemm(g.ta, g.tb, i1 - i0, j1 - j0, g.k, 1.0f, a, lda, b, ldb, beta, d.c, d.ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(i1 - i0), static_cast<int>(j1 - j0), static_cast<int>(g.k), 1.0f,
              a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, d.c, static_cast<int>(d.ldc));
}

// Runs gemm_tile, then `epilogue(i0, i1, j0, j1, dest)` (the op's own: bias,
// sigmoid, a second product) and then the kernel's fused epilogue, if any,
// on every tile of gemm::tile_grid: its shape's (and depth's, when each
// thread keeps B packed: ebm::gemm with the executor's per-thread packs),
// or, when zero skipping will list A and the first 4096 floats of A are
// mostly zeros, the grid for a sparse A (no grid changes a bit). g is the
// first product of a MatMulSum, whose second has the same shape and depth.
template <typename Epilogue>
void tiled_gemm(const Gemm& g, const Kernel& k, Epilogue epilogue) {
  const bool ebm = g.backend == GemmBackend::ebm;
  const int64_t depth = ebm && g.thread_packs ? g.k : 0;
  const bool sparse_a = ebm && gemm::grid_depends_on_sparsity(g.m, g.n, depth) && gemm::skip_zeros() &&
                        gemm::mostly_zeros(g.a, std::min<int64_t>(g.m * g.k, 4096));
  const gemm::TileGrid grid = gemm::tile_grid(g.m, g.n, 256, 256, sparse_a, depth);
  auto tile = [&](int64_t t) {
    const int64_t r = t / grid.cols, c = t % grid.cols;
    const int64_t i0 = grid.row_start(r), i1 = grid.row_start(r + 1);
    const int64_t j0 = grid.col_start(c), j1 = grid.col_start(c + 1);
    if (i0 == i1 || j0 == j1) return;
    const int64_t t0 = k.probe ? steady_now_ns() : 0;
    const TileDest d = tile_dest(g, k, i0, i1, j0, j1);
    if (ebm && k.epilogue && k.epilogue->writes && gemm::write_ahead()) {
      gemm::WriteAhead claim(k.epilogue->writes + i0 * g.n + j0, i1 - i0, (j1 - j0) * 4, g.n * 4,
                             gemm::micro_kernel_calls(i1 - i0, j1 - j0, g.k, sparse_a));
      const gemm::WriteAheadScope scope(&claim);
      gemm_tile(g, d, i0, i1, j0, j1);
    } else {
      gemm_tile(g, d, i0, i1, j0, j1);
    }
    epilogue(i0, i1, j0, j1, d);
    if (k.epilogue) (*k.epilogue)(i0, i1, j0, j1, d.c, d.ldc);
    if (k.probe) (*k.probe)(i0, i1, j0, j1, t0, steady_now_ns());
  };
  if (k.parallel && grid.tiles() > 1)
    tbb::parallel_for(int64_t{0}, grid.tiles(), tile);
  else
    for (int64_t t = 0; t < grid.tiles(); ++t) tile(t);
}

// Gives inputs ia, iw of C = op_a(A) op_b(B) their gradients from g = dC:
//   dA = g op_b(B)^T   (or op_b(B) g^T when A is stored transposed)
//   dB = op_a(A)^T g   (or g^T op_a(A) when B is stored transposed)
void matmul_vjp(VjpBuilder& b, int ia, int iw, Val g, bool ta, bool tb) {
  const Val a = b.x(ia), w = b.x(iw);
  if (b.wants(ia)) b.give(ia, ta ? vjp::matmul(b, w, g, tb, true) : vjp::matmul(b, g, w, false, !tb));
  if (b.wants(iw)) b.give(iw, tb ? vjp::matmul(b, g, a, true, ta) : vjp::matmul(b, a, g, !ta, false));
}

// y = epilogue(x op(W) + b), the epilogue applied to each tile's rows while
// they are in cache: row(y_row, bias, n).
template <typename Row>
void affine_forward(const Kernel& k, bool tb, Row row) {
  const float* bias = k.in[2];
  tiled_gemm(make_gemm(k, false, tb), k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1, TileDest d) {
    for (int64_t i = i0; i < i1; ++i) row(d.c + (i - i0) * d.ldc, bias + j0, j1 - j0);
  });
}

// z = x op(W) + b with dz = g: the matmul rule, and db = column sums of g.
void affine_vjp(VjpBuilder& b, Val g, bool tb) {
  matmul_vjp(b, 0, 1, g, false, tb);
  if (b.wants(2)) b.give(2, vjp::sum(b, g, 0));
}

}  // namespace

Shape MatMul::shape(std::span<const Shape> in) const {
  const Shape a = in[0], b = in[1];
  const int64_t m = ta ? a.cols : a.rows, ka = ta ? a.rows : a.cols;
  const int64_t kb = tb ? b.cols : b.rows, n = tb ? b.rows : b.cols;
  if (ka != kb)
    throw ShapeError{fmt::format("inner dimensions to agree (op(A) has {} columns, op(B) {} rows)",
                                 ka, kb)};
  return {m, n};
}

void MatMul::forward(const Kernel& k) const {
  tiled_gemm(make_gemm(k, ta, tb), k, [](auto...) {});
}

void MatMul::vjp(VjpBuilder& b) const { matmul_vjp(b, 0, 1, b.gy(), ta, tb); }

Shape MatMulSum::shape(std::span<const Shape> in) const {
  const Shape first = MatMul{ta, tb}.shape(in.first(2)), second = MatMul{ta, tb}.shape(in.subspan(2, 2));
  if (first != second)
    throw ShapeError{fmt::format("two products of the same shape (they are {} and {})", first, second)};
  return first;
}

void MatMulSum::forward(const Kernel& k) const {
  const Gemm first = make_gemm(k, ta, tb), second = make_gemm(k, ta, tb, 2);
  tiled_gemm(first, k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1, TileDest d) {
    gemm_tile(second, d, i0, i1, j0, j1, 1.0f);  // accumulate onto the first product's tile while it is in cache
  });
}

// Each product's operands get MatMul's rule.
void MatMulSum::vjp(VjpBuilder& b) const {
  matmul_vjp(b, 0, 1, b.gy(), ta, tb);
  matmul_vjp(b, 2, 3, b.gy(), ta, tb);
}

Shape Affine::shape(std::span<const Shape> in) const { return AffineSigmoid{tb}.shape(in); }

void Affine::forward(const Kernel& k) const { affine_forward(k, tb, simd::add_bias); }

void Affine::vjp(VjpBuilder& b) const { affine_vjp(b, b.gy(), tb); }

Shape AffineSigmoid::shape(std::span<const Shape> in) const {
  Shape s = MatMul{false, tb}.shape(in.first(2));
  if (in[2] != Shape{1, s.cols})
    throw ShapeError{fmt::format("a bias of shape [1, {}]", s.cols)};
  return s;
}

void AffineSigmoid::forward(const Kernel& k) const { affine_forward(k, tb, simd::add_bias_sigmoid); }

// y = sigmoid(z), z = x op(W) + b: dz = gy y (1 - y), then the affine rule.
void AffineSigmoid::vjp(VjpBuilder& b) const { affine_vjp(b, b.emit(SigmoidGrad{}, {b.y(), b.gy()}), tb); }

Shape Transpose::shape(std::span<const Shape> in) const { return {in[0].cols, in[0].rows}; }

void Transpose::forward(const Kernel& k) const {
  const int64_t m = k.in_shape[0].rows, n = k.in_shape[0].cols;
  constexpr int64_t t = 32;
  for (int64_t i0 = 0; i0 < m; i0 += t)
    for (int64_t j0 = 0; j0 < n; j0 += t)
      for (int64_t i = i0; i < std::min(i0 + t, m); ++i)
        for (int64_t j = j0; j < std::min(j0 + t, n); ++j) k.out[j * m + i] = k.in[0][i * n + j];
}

void Transpose::vjp(VjpBuilder& b) const { b.give(0, b.emit(Transpose{}, {b.gy()})); }

}  // namespace ebm
