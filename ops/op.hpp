#pragma once
// The closed set of ops. Each op is one struct holding its attributes, with
//   traits  — name, arity, kind (source / element-wise / general / update);
//   shape() — the output shape from the input shapes (throws ShapeError);
//             element-wise ops without one keep their input's shape (unary)
//             or broadcast rows / columns / scalars (binary);
//   forward() — the kernel, writing into a preallocated output buffer;
//   vjp()   — the vector-Jacobian rule, emitting ordinary ops through a
//             VjpBuilder, so the backward pass is a graph like any other.
// Adding an op: write its struct here, its kernel and VJP in the .cpp of its
// family, add it to `Op` below, give users a function that builds it in
// graph/functions.hpp, and add one case to tests/test_ops.cpp. An
// element-wise op is run on column tiles of a GEMM's output unless
// column_local() (op.cpp) names it as one that needs its whole row (as a
// row's categorical draw does); a two-input one that its kernel can read
// from a GEMM's tile in place joins reads_tile()'s list there.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "ops/gemm.hpp"
#include "ops/rng.hpp"
#include "ops/shape.hpp"

namespace ebm {

enum class OpKind : uint8_t {
  source,       // input, parameter or constant: no kernel
  elementwise,  // output row r from input row r (or a broadcast row); column by column too unless column_local() says not
  general,      // anything else (GEMM, reductions, row softmax)
  update,       // writes into its first inputs in place (optimizer steps)
};

struct OpTraits {
  std::string_view name;
  int arity;  // -1: any number of inputs
  OpKind kind;
  bool differentiable = true;
  bool random = false;
  // Differentiable in the maths, but without a VJP rule of its own: the
  // gradient helpers grad() emits (sigmoid_grad, gp_nll_grad, ...). grad()
  // refuses a loss whose path from a parameter runs through one (a gradient
  // of a gradient) rather than pass it zero, as it does through sampling,
  // sign and stop_gradient, whose zero is the right answer.
  bool vjp_missing = false;
};

// Thrown by a shape rule; the graph adds the op, node and shape names.
struct ShapeError {
  std::string expected;
};

inline constexpr int kMaxArity = 5;

// Work a GEMM op runs on each output tile [i0, i1) x [j0, j1) right after
// computing it, while the tile is in cache: the plan's fused epilogue of
// element-wise consumers (graph/plan.hpp). The tile's values are at c, row
// stride ldc: in the op's output, or in the thread's tile buffer when the
// kernel has tile_output set.
struct TileEpilogue {
  void (*run)(const void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, const float* c, int64_t ldc) = nullptr;
  const void* ctx = nullptr;
  // A matrix of the GEMM output's shape that `run` writes in place over
  // each tile (an SGD update's weights; null: none): the GEMM claims the
  // tile's part of it while computing the tile (gemm::WriteAhead).
  float* writes = nullptr;
  void operator()(int64_t i0, int64_t i1, int64_t j0, int64_t j1, const float* c, int64_t ldc) const {
    run(ctx, i0, i1, j0, j1, c, ldc);
  }
};

// The profiler's hook (graph/profile.hpp): a GEMM kernel with a probe
// reports each output tile it computed, with its epilogue, and when
// (steady_now_ns, ops/clock.hpp).
struct TileProbe {
  void (*run)(const void* ctx, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t start_ns, int64_t end_ns) =
      nullptr;
  const void* ctx = nullptr;
  void operator()(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t start_ns, int64_t end_ns) const {
    run(ctx, i0, i1, j0, j1, start_ns, end_ns);
  }
};

// Which GEMM the linear-algebra kernels call on each tile.
enum class GemmBackend : uint8_t {
  ebm,    // ebm::gemm (ops/gemm.hpp): our xsimd kernels, the default
  cblas,  // the system's CBLAS (OpenBLAS): the reference, and a fallback
};

// What a kernel sees. Buffers are contiguous row-major float32.
// Element-wise kernels compute output rows [row_begin, row_end) only, and of
// those the columns [col_begin, col_end) (col_end 0: all); other kernels
// compute everything and may split work over the arena's threads when
// `parallel` is set (with a decomposition that does not depend on the thread
// count, so results are bitwise reproducible). GEMM kernels call `epilogue`
// on each output tile, when set.
struct Kernel {
  std::array<float*, kMaxArity> in{};
  std::array<Shape, kMaxArity> in_shape{};
  int n_in = 0;
  float* out = nullptr;
  Shape out_shape;
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t col_begin = 0;
  int64_t col_end = 0;
  RngKey rng;
  bool parallel = false;
  GemmBackend gemm = GemmBackend::ebm;
  gemm::Workspace* workspaces = nullptr;  // one per arena thread (null: the thread's own)
  int n_workspaces = 0;
  gemm::PackCache* packs = nullptr;  // the executor's packed B operands of this run
  uint32_t shared_b = 0;             // bit i: input i is a B operand other products of the run read too: packs holds it
  gemm::PackCache* thread_packs = nullptr;  // one per workspace (arena thread)
  uint32_t thread_b = 0;             // bit i: input i is a B operand read through this thread's thread_packs
  std::array<uint32_t, kMaxArity> pack_tag{};  // input i's tag in the caches (0 for parameters)
  const TileEpilogue* epilogue = nullptr;
  const TileProbe* probe = nullptr;  // set while profiling
  // A GEMM kernel with tile_output computes each tile into its thread's
  // tile buffer (gemm::Workspace::tile) instead of `out`, and hands it to
  // `epilogue`: the output is never stored whole, for a product whose only
  // readers are in its fused epilogue and read it there (reads_tile).
  bool tile_output = false;
  // In a fused epilogue: input tile_slot (-1: none) is the GEMM's output,
  // and the current tile's values are at `tile` (row stride tile_ld),
  // starting at (row_begin, col_begin). Kernels that read it there
  // (reads_tile: SgdUpdate, the binary element-wise ops) may run after a
  // tile_output GEMM.
  int tile_slot = -1;
  const float* tile = nullptr;
  int64_t tile_ld = 0;

  int64_t col_stop() const { return col_end > 0 ? col_end : out_shape.cols; }
  bool full_rows() const { return col_begin == 0 && col_stop() == out_shape.cols; }
};

struct Op;

// A value in the graph being differentiated, as seen by a VJP rule.
struct Val {
  int32_t id = -1;
};

// The interface through which a VJP rule reads the forward node and emits
// backward nodes. Implemented by autodiff/; ops/ never sees the graph.
class VjpBuilder {
 public:
  virtual ~VjpBuilder() = default;
  virtual Val x(int i) const = 0;     // forward input i
  virtual int inputs() const = 0;     // how many the forward node has
  virtual Val y() const = 0;          // forward output
  virtual Val gy() const = 0;         // gradient of the loss w.r.t. y
  virtual Shape shape(Val v) const = 0;
  virtual bool wants(int i) const = 0;  // is input i on a path to a parameter
  virtual Val emit(const Op& op, std::initializer_list<Val> args) = 0;
  virtual void give(int i, Val g) = 0;  // add g to the gradient of input i
};


// ---- sources ---------------------------------------------------------------
struct Input {
  static constexpr OpTraits traits{"input", 0, OpKind::source, false};
};
struct Param {
  static constexpr OpTraits traits{"param", 0, OpKind::source, false};
};
struct Constant {
  static constexpr OpTraits traits{"constant", 0, OpKind::source, false};
};

// ---- element-wise, unary -----------------------------------------------------
struct Scale {  // y = a x + b
  static constexpr OpTraits traits{"scale", 1, OpKind::elementwise};
  float a = 1.0f;
  float b = 0.0f;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Sigmoid {  // y = 1 / (1 + exp(-x)),  dy/dx = y (1 - y)
  static constexpr OpTraits traits{"sigmoid", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Tanh {  // dy/dx = 1 - y^2
  static constexpr OpTraits traits{"tanh", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Relu {  // y = max(x, 0)
  static constexpr OpTraits traits{"relu", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Softplus {  // y = log(1 + e^x) = max(x, 0) + log1p(exp(-|x|)),  dy/dx = sigmoid(x)
  static constexpr OpTraits traits{"softplus", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Exp {
  static constexpr OpTraits traits{"exp", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Log {
  static constexpr OpTraits traits{"log", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Abs {  // d|x|/dx = sign(x) (0 at 0)
  static constexpr OpTraits traits{"abs", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Sign {  // -1, 0 or 1; no gradient
  static constexpr OpTraits traits{"sign", 1, OpKind::elementwise, false};
  void forward(const Kernel& k) const;
};
struct Square {
  static constexpr OpTraits traits{"square", 1, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct StopGradient {  // y = x; no gradient flows back
  static constexpr OpTraits traits{"stop_gradient", 1, OpKind::elementwise, false};
  void forward(const Kernel& k) const;
};
struct BroadcastTo {  // [1,n], [m,1] or [1,1] repeated to `to`
  static constexpr OpTraits traits{"broadcast_to", 1, OpKind::elementwise};
  Shape shape(std::span<const Shape> in) const;
  Shape to;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- element-wise gradient helpers (used by VJP rules) ----------------------
struct SigmoidGrad {  // (y, gy) -> gy y (1 - y)
  static constexpr OpTraits traits{"sigmoid_grad", 2, OpKind::elementwise, false, false, true};
  void forward(const Kernel& k) const;
};
struct TanhGrad {  // (y, gy) -> gy (1 - y^2)
  static constexpr OpTraits traits{"tanh_grad", 2, OpKind::elementwise, false, false, true};
  void forward(const Kernel& k) const;
};
struct SoftplusGrad {  // (x, gy) -> gy sigmoid(x)
  static constexpr OpTraits traits{"softplus_grad", 2, OpKind::elementwise, false, false, true};
  void forward(const Kernel& k) const;
};
struct ReluGrad {  // (x, gy) -> gy [x > 0]
  static constexpr OpTraits traits{"relu_grad", 2, OpKind::elementwise, false, false, true};
  void forward(const Kernel& k) const;
};

// ---- element-wise, binary with row / column / scalar broadcasting ----------
struct Add {
  static constexpr OpTraits traits{"add", 2, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Sub {
  static constexpr OpTraits traits{"sub", 2, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Mul {
  static constexpr OpTraits traits{"mul", 2, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Div {
  static constexpr OpTraits traits{"div", 2, OpKind::elementwise};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- sampling (no gradient) ---------------------------------------------------
struct Bernoulli {  // h = [u < p], u ~ U[0,1) from the counter-based generator
  static constexpr OpTraits traits{"bernoulli", 1, OpKind::elementwise, false, true};
  void forward(const Kernel& k) const;
};
struct SigmoidBernoulli {  // fused: h = [u < sigmoid(x)]
  static constexpr OpTraits traits{"sigmoid_bernoulli", 1, OpKind::elementwise, false, true};
  void forward(const Kernel& k) const;
};
struct Categorical {  // per row: a one-hot draw from the row's probabilities p (summing to 1 within 1e-3, else an ebm::Error)
  static constexpr OpTraits traits{"categorical", 1, OpKind::elementwise, false, true};
  void forward(const Kernel& k) const;
};
// (p, trials): per row r, round(trials[r]) draws from the row's probabilities
// p (any nonnegative weights; normalised by their sum), counted: y[r, j] is
// how many of them fell on j. Row r draws with its own key
// {bits(2r), bits(2r + 1)} of the op's key, counter = draw index, each draw
// the first j whose cumulative weight exceeds u times the row's total.
// trials is [rows, 1]; a negative or NaN count draws nothing, and one over
// 2^24 (where float counts stop being exact; inf too) is an ebm::Error.
struct Multinomial {
  static constexpr OpTraits traits{"multinomial", 2, OpKind::elementwise, false, true};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
// y[i] ~ Poisson(rate[i]), one draw per element (a count, as a float).
// Element i draws with its own key {bits(2i), bits(2i + 1)} of the op's key,
// counter = the uniform's index: by inversion of the cumulative probability
// for rates under 10, by Hormann's transformed rejection with squeeze (PTRS,
// 1993) at 10 and above. A rate of 0 draws 0; a negative, NaN or infinite
// rate, or one over 2^22 (float counts are exact to 2^24 only), is an
// ebm::Error naming the element.
struct Poisson {
  static constexpr OpTraits traits{"poisson", 1, OpKind::elementwise, false, true};
  void forward(const Kernel& k) const;
};
struct Gaussian {  // y = mean + stddev * N(0,1)  (Box-Muller on two counter draws)
  static constexpr OpTraits traits{"gaussian", 1, OpKind::elementwise, false, true};
  float stddev = 1.0f;
  void forward(const Kernel& k) const;
};

// ---- linear algebra ------------------------------------------------------------
struct MatMul {  // C = op(A) op(B), op = transpose when the flag is set
  static constexpr OpTraits traits{"matmul", 2, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  bool ta = false;
  bool tb = false;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct MatMulSum {  // C = op(A1) op(B1) + op(A2) op(B2) in one pass over C (e.g. both CD phases' statistics)
  static constexpr OpTraits traits{"matmul_sum", 4, OpKind::general};
  bool ta = false;
  bool tb = false;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Affine {  // y = x op(W) + b, b a [1,n] row: the bias added in the GEMM's epilogue
  static constexpr OpTraits traits{"affine", 3, OpKind::general};
  bool tb = false;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct AffineSigmoid {  // y = sigmoid(x op(W) + b), b a [1,n] row: one Gibbs half-step
  static constexpr OpTraits traits{"affine_sigmoid", 3, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  bool tb = false;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Transpose {
  static constexpr OpTraits traits{"transpose", 1, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- reductions and row-wise ops -----------------------------------------------
struct Sum {  // axis -1: all -> [1,1];  0: over rows -> [1,n];  1: over columns -> [m,1]
  static constexpr OpTraits traits{"sum", 1, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  int axis = -1;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Mean {
  static constexpr OpTraits traits{"mean", 1, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  int axis = -1;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Softmax {  // per row: y = exp(x - max) / sum exp(x - max)
  static constexpr OpTraits traits{"softmax", 1, OpKind::general};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct LogSoftmax {  // per row: y = x - max - log sum exp(x - max)
  static constexpr OpTraits traits{"log_softmax", 1, OpKind::general};
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- losses: scalar [1,1], summed over units, averaged over the rows ----------
struct BceLogits {  // (x, t): sum(softplus(x) - t x) / rows
  static constexpr OpTraits traits{"bce_logits", 2, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct SoftmaxXent {  // (x, t): -sum(t log_softmax(x)) / rows
  static constexpr OpTraits traits{"softmax_xent", 2, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct SoftmaxXentGrad {  // (x, t, g [1,1]): (softmax(x) rowsum(t) - t) g / rows, SoftmaxXent's gradient in x,
                          // one op rather than a chain of small ones on the fine-tuning step's critical path
  static constexpr OpTraits traits{"softmax_xent_grad", 3, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct SquaredError {  // (y, t): sum((y - t)^2) / rows
  static constexpr OpTraits traits{"squared_error", 2, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- windows and joins (ops/window.cpp) --------------------------------------
// A window of a matrix, a matrix placed in zeros, and matrices side by side
// or stacked: each other's VJPs. With them a model can update some of its
// units and keep the rest (a sequential Gibbs sweep), or join layers that
// share a product (image and label units).
struct Slice {  // (x) -> x[r0:r1, c0:c1] (copied)
  static constexpr OpTraits traits{"slice", 1, OpKind::general};
  int64_t r0 = 0, r1 = 0, c0 = 0, c1 = 0;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Pad {  // (x) -> [rows, cols] of zeros holding x at (r0, c0)
  static constexpr OpTraits traits{"pad", 1, OpKind::general};
  int64_t r0 = 0, c0 = 0, rows = 0, cols = 0;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Concat {  // (x1, ..., xn), n <= kMaxArity -> axis 1: [x1 x2 ...] side by side; axis 0: stacked
  static constexpr OpTraits traits{"concat", -1, OpKind::general};
  int axis = 1;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- 2-D convolution (ops/conv.cpp) -------------------------------------------
// A row holds one image of `channels` planes of height x width, row-major
// plane after plane; a filter row holds `channels` planes of size x size.
// Valid cross-correlation, stride 1: the output planes are
// (height - size + 1) x (width - size + 1), one per filter. The three ops
// are each other's VJPs.
struct ConvGeometry {
  int64_t channels = 1, height = 0, width = 0, size = 0;
  int64_t out_height() const { return height - size + 1; }
  int64_t out_width() const { return width - size + 1; }
  int64_t image() const { return channels * height * width; }      // values per input row
  int64_t filter() const { return channels * size * size; }        // values per filter row
  int64_t plane() const { return out_height() * out_width(); }     // values per output plane
};
struct Conv2d {  // (x [B, C H W], w [K, C r r]) -> y [B, K H' W']:  y[b,k,i,j] = sum_{c,u,v} x[b,c,i+u,j+v] w[k,c,u,v]
  static constexpr OpTraits traits{"conv2d", 2, OpKind::general};
  ConvGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Conv2dTranspose {  // (y [B, K H' W'], w [K, C r r]) -> x [B, C H W]: conv2d's adjoint in x (a full convolution)
  static constexpr OpTraits traits{"conv2d_transpose", 2, OpKind::general};
  ConvGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct Conv2dFilter {  // (x [B, C H W], y [B, K H' W']) -> w [K, C r r]: conv2d's adjoint in w, summed over the batch
  static constexpr OpTraits traits{"conv2d_filter", 2, OpKind::general};
  ConvGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// Probabilistic max-pooling (Lee et al. 2009): each of `groups` planes of
// height x width units is cut into pool x pool blocks, and in each block at
// most one unit is on. Given the units' total inputs x, block a is off with
// probability 1 / (1 + sum_{i in a} exp(x_i)) and unit i is on with
// exp(x_i) / (1 + sum_{j in a} exp(x_j)).
struct PoolGeometry {
  int64_t groups = 1, height = 0, width = 0, pool = 1;
  int64_t plane() const { return height * width; }
  int64_t blocks() const { return (height / pool) * (width / pool); }  // per group
};
struct MaxPoolSoftplus {  // (x [B, G H W]) -> [B, G (H/P) (W/P)]: log(1 + sum_block exp(x)), the blocks' free-energy terms
  static constexpr OpTraits traits{"maxpool_softplus", 1, OpKind::general};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct MaxPoolProbs {  // (x [B, G H W]) -> the same shape: each unit's probability of being on
  static constexpr OpTraits traits{"maxpool_probs", 1, OpKind::general};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct MaxPoolProbsGrad {  // (x, gy) -> dx_i = p_i (gy_i - sum_{j in i's block} p_j gy_j)
  static constexpr OpTraits traits{"maxpool_probs_grad", 2, OpKind::general, false, false, true};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
struct MaxPoolGrad {  // (x, gy [B, G (H/P) (W/P)]) -> [B, G H W]: each unit's probability times its block's gy
  static constexpr OpTraits traits{"maxpool_grad", 2, OpKind::general, false, false, true};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
// (x) -> the same shape: a draw of the units, per block one of its units on
// or none, with the probabilities above; block a of row r draws one
// uniform u with counter r * (groups * blocks) + a and takes the first
// state (off, then the units in row-major order) whose cumulative
// probability exceeds u. A block whose inputs hold NaN or +inf draws NaN
// at every unit.
struct MaxPoolSample {
  static constexpr OpTraits traits{"maxpool_sample", 1, OpKind::general, false, true};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};

// (x, p [B, G (H/P) (W/P)]) -> x's shape: a draw of the units given their
// pooling units (0 off, NaN: NaN at every unit, anything else on; an on
// block without a finite sum of exp(x) is NaN too): a block whose pooling unit is off has no unit on,
// one that is on has exactly one, unit i with exp(x_i) / sum_{j in a} exp(x_j).
// Block a of row r draws one uniform u with counter r * (groups * blocks) + a
// and takes the first unit whose cumulative probability exceeds u.
struct MaxPoolSampleGiven {
  static constexpr OpTraits traits{"maxpool_sample_given", 2, OpKind::general, false, true};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
// A block's units and its pooling unit, linearly: pool_sum adds each block's
// units (with at most one unit on per block, the pooling units' states),
// pool_spread writes each pooling unit's value at every unit of its block
// (a top-down input to the pooling units, given to their units). Each is
// the other's adjoint.
struct PoolSum {  // (x [B, G H W]) -> [B, G (H/P) (W/P)]
  static constexpr OpTraits traits{"pool_sum", 1, OpKind::general};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
struct PoolSpread {  // (y [B, G (H/P) (W/P)]) -> [B, G H W]
  static constexpr OpTraits traits{"pool_spread", 1, OpKind::general};
  PoolGeometry g;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};

// ---- Gaussian-process regression (ops/gp.hpp) ------------------------------------
// (F [n, d], y [n, 1], theta [1, 3]): -log p(y | F, theta) / n, the negative
// log marginal likelihood per target of a zero-mean GP with the kernel
// sf^2 exp(-|f_i - f_j|^2 / 2 l^2) + (sn^2 + 1e-6 sf^2) [i = j] over the rows of F, with
// theta = (log l, log sf, log sn). Computed in double; its gradient reaches
// F (so a net below it learns its kernel), y and theta.
struct GpNll {
  static constexpr OpTraits traits{"gp_nll", 3, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
// (F, y, theta, g): g d GpNll / d input `wrt` (0: F, 1: y, 2: theta), or
// with wrt 3 both F's and theta's from one factorization, packed as
// [n + 1, max(d, 3)]: F's in the first n rows, theta's at the start of the last.
struct GpNllGrad {
  static constexpr OpTraits traits{"gp_nll_grad", 4, OpKind::general, false, false, true};
  int wrt = 0;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};

// ---- Gaussian-process classification (ops/gp.hpp) --------------------------------
// (F [n, d], y [n, 1] of -1 and +1, theta [1, 2]): Laplace's approximation
// to -log p(y | F, theta) / n for a zero-mean GP with the kernel
// sf^2 exp(-|f_i - f_j|^2 / 2 l^2) over the rows of F and the logistic
// likelihood p(y_i | f_i) = sigmoid(y_i f_i); theta = (log l, log sf).
// Computed in double; its gradient (the posterior mode's move included)
// reaches F and theta; the labels take none.
struct GpClassNll {
  static constexpr OpTraits traits{"gp_class_nll", 3, OpKind::general};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
  void vjp(VjpBuilder& b) const;
};
// (F, y, theta, g): g d GpClassNll / d input `wrt` (0: F, 2: theta), or with
// wrt 3 both from one mode, packed as [n + 1, max(d, 2)] (F's in the first
// n rows, theta's at the start of the last).
struct GpClassNllGrad {
  static constexpr OpTraits traits{"gp_class_nll_grad", 4, OpKind::general, false, false, true};
  int wrt = 0;
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};

// ---- updates: run inside the compiled graph, write their inputs in place -------
struct SgdUpdate {  // (w, vel, g, hyper=[lr, momentum, weight_decay, -]):
                    // vel = momentum vel - lr (g + wd w);  w += vel
                    // With Kernel::col_end set, only the window of rows and columns.
  static constexpr OpTraits traits{"sgd_update", 4, OpKind::update, false};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
struct AdamUpdate {  // (w, m, v, g, hyper=[lr, beta1, beta2, eps, wd, t]): Kingma & Ba
  static constexpr OpTraits traits{"adam_update", 5, OpKind::update, false};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
struct Assign {  // (target, value): target = value  (persistent chains)
  static constexpr OpTraits traits{"assign", 2, OpKind::update, false};
  Shape shape(std::span<const Shape> in) const;
  void forward(const Kernel& k) const;
};
struct Group {  // joins several targets into one; computes nothing
  static constexpr OpTraits traits{"group", -1, OpKind::update, false};
  Shape shape(std::span<const Shape> in) const;
};

// ---- the closed list -----------------------------------------------------------
using OpVariant =
    std::variant<Input, Param, Constant, Scale, Sigmoid, Tanh, Relu, Softplus, Exp, Log, Abs, Sign, Square,
                 StopGradient, BroadcastTo, SigmoidGrad, TanhGrad, SoftplusGrad, ReluGrad, Add, Sub, Mul, Div,
                 Bernoulli, SigmoidBernoulli, Categorical, Multinomial, Poisson, Gaussian, MatMul, MatMulSum, Affine,
                 AffineSigmoid, Transpose, Sum, Mean, Softmax, LogSoftmax, BceLogits, SoftmaxXent, SoftmaxXentGrad,
                 SquaredError, Conv2d, Conv2dTranspose, Conv2dFilter, MaxPoolSoftplus, MaxPoolProbs,
                 MaxPoolProbsGrad, MaxPoolGrad, MaxPoolSample, MaxPoolSampleGiven, PoolSum, PoolSpread, Slice, Pad,
                 Concat, GpNll, GpNllGrad, GpClassNll, GpClassNllGrad, SgdUpdate, AdamUpdate, Assign, Group>;

struct Op : OpVariant {
  using OpVariant::OpVariant;
};

const OpTraits& traits(const Op& op);
inline std::string_view name(const Op& op) { return traits(op).name; }
// The name with its article, for messages: "an input", "a matmul".
inline std::string name_with_article(const Op& op) {
  const std::string_view n = name(op);
  return (n.find_first_of("aeiou") == 0 ? "an " : "a ") + std::string(n);
}

// Output shape for these input shapes; throws ShapeError.
Shape infer_shape(const Op& op, std::span<const Shape> in);
// Runs the kernel (no-op for sources and groups).
void run_forward(const Op& op, const Kernel& k);
// Emits the VJP; false when the op has no gradient.
bool run_vjp(const Op& op, VjpBuilder& b);
// Floating-point operations of one forward call (GEMMs only; 0 otherwise).
double flops(const Op& op, std::span<const Shape> in, Shape out);
// Floats of the arena thread's scratch buffer (gemm::Workspace::scratch)
// one forward call uses (the convolutions' patches, the pooling ops'
// planes; 0 for the rest): a parallel executor sizes every thread's buffer
// to the largest before a run, so no kernel grows it (a serial one runs on
// the caller's thread, whose own buffer grows on first use).
int64_t scratch_floats(const Op& op);
// Input indices an update op writes in place.
std::span<const int> mutated_inputs(const Op& op);

// A GEMM op whose kernel calls Kernel::epilogue on each output tile.
bool takes_epilogue(const Op& op);
// An element-wise op whose output element (r, c) needs only input elements
// (r, c) (or their broadcast row / column / scalar): it may run on any
// rectangle of its output, such as one GEMM tile.
bool column_local(const Op& op);
// A reduction over the rows, column by column (a sum over axis 0: a bias's
// gradient): run in a GEMM's fused epilogue on a tile of columns [j0, j1)
// that spans every row, it computes its output's columns [j0, j1), with
// the same bits as whole. The plan fuses it only onto a GEMM whose tiles
// all span every row (gemm::full_row_tiles).
bool column_reducing(const Op& op);
// A reduction along each row (a sum or mean over axis 1: a free energy's
// sum over the hidden units): output row r needs only input row r, so it
// may run on any range of rows, with the same bits as whole. The plan fuses
// it at the end of the element-wise chain that computes its input, whose
// row tiles then never leave the cache, and the executor splits a large
// one by rows over the threads.
bool row_reducing(const Op& op);
// For an update op that may run on any rectangle of the parameter it writes
// (element by element, with no state of its own), the index of its gradient
// input; -1 for every other op.
int tile_update_gradient(const Op& op);
// For such an update, the index of the input worth claiming for writing
// while the GEMM computes its gradient's tile (TileEpilogue::writes): the
// weights, which the other core's products read. Not the velocity, which
// only the update touches: claiming it too made the fine-tuning and CD-1
// steps slower (docs/performance.md, 2026-12-02). -1 for every other op.
int tile_update_claims(const Op& op);
// Whether the op, run in a GEMM's fused epilogue, reads input `slot` (the
// GEMM's output) at Kernel::tile, so that GEMM may keep its output in
// per-thread tile buffers (Kernel::tile_output).
bool reads_tile(const Op& op, int slot);

}  // namespace ebm
