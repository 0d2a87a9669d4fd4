#pragma once
// The builder functions users compose models from. Each appends one node
// (computing nothing) and returns its handle; shapes are checked here.

#include <cmath>

#include "graph/graph.hpp"

namespace ebm {

struct MatMulOptions {
  bool ta = false;  // use A^T
  bool tb = false;  // use B^T
};

// The graph t belongs to, or an ebm::Error naming `what` (an empty Tensor has none).
inline Graph& graph_of(const Tensor& t, std::string_view what) {
  checked_node(t, what);
  return *t.graph;
}

inline Tensor apply(const Op& op, std::initializer_list<Tensor> in) {
  if (in.size() == 0) throw Error("{}: no inputs given", name(op));
  return graph_of(*in.begin(), name(op)).apply(op, in);
}

inline Tensor matmul(Tensor a, Tensor b, MatMulOptions o = {}) { return apply(MatMul{o.ta, o.tb}, {a, b}); }
// op(A1) op(B1) + op(A2) op(B2), one pass over the result
inline Tensor matmul_sum(Tensor a1, Tensor b1, Tensor a2, Tensor b2, MatMulOptions o = {}) {
  return apply(MatMulSum{o.ta, o.tb}, {a1, b1, a2, b2});
}
// x op(W) + b with the bias added in the GEMM's epilogue.
inline Tensor affine(Tensor x, Tensor w, Tensor b, bool transpose_w = false) {
  return apply(Affine{transpose_w}, {x, w, b});
}
// sigmoid(x op(W) + b): the mean of one Gibbs half-step, one fused kernel.
inline Tensor affine_sigmoid(Tensor x, Tensor w, Tensor b, bool transpose_w = false) {
  return apply(AffineSigmoid{transpose_w}, {x, w, b});
}
inline Tensor transpose(Tensor x) { return apply(Transpose{}, {x}); }

// y = a x + b; a and b must be finite (x / 0.0f would scale by inf): an ebm::Error otherwise.
Tensor scale(Tensor x, float a, float b = 0.0f);
inline Tensor sigmoid(Tensor x) { return apply(Sigmoid{}, {x}); }
inline Tensor tanh(Tensor x) { return apply(Tanh{}, {x}); }
inline Tensor relu(Tensor x) { return apply(Relu{}, {x}); }
inline Tensor softplus(Tensor x) { return apply(Softplus{}, {x}); }
inline Tensor exp(Tensor x) { return apply(Exp{}, {x}); }
inline Tensor log(Tensor x) { return apply(Log{}, {x}); }
inline Tensor abs(Tensor x) { return apply(Abs{}, {x}); }
inline Tensor sign(Tensor x) { return apply(Sign{}, {x}); }
inline Tensor square(Tensor x) { return apply(Square{}, {x}); }
inline Tensor stop_gradient(Tensor x) { return apply(StopGradient{}, {x}); }
inline Tensor broadcast_to(Tensor x, Shape to) { return apply(BroadcastTo{to}, {x}); }

// axis -1: everything -> [1,1];  0: over rows -> [1,n];  1: over columns -> [m,1]
inline Tensor sum(Tensor x, int axis = -1) { return apply(Sum{axis}, {x}); }
inline Tensor mean(Tensor x, int axis = -1) { return apply(Mean{axis}, {x}); }
inline Tensor softmax(Tensor x) { return apply(Softmax{}, {x}); }
inline Tensor log_softmax(Tensor x) { return apply(LogSoftmax{}, {x}); }

// Scalar losses: summed over units, averaged over rows.
inline Tensor bce_logits(Tensor logits, Tensor target) { return apply(BceLogits{}, {logits, target}); }
inline Tensor softmax_xent(Tensor logits, Tensor target) { return apply(SoftmaxXent{}, {logits, target}); }
inline Tensor squared_error(Tensor y, Tensor target) { return apply(SquaredError{}, {y, target}); }

// Valid 2-D cross-correlation of images with filters, its adjoint in the
// images (the full convolution a convolutional RBM's top-down pass is),
// and its adjoint in the filters (ops/op.hpp's ConvGeometry).
inline Tensor conv2d(Tensor x, Tensor w, ConvGeometry g) { return apply(Conv2d{g}, {x, w}); }
inline Tensor conv2d_transpose(Tensor y, Tensor w, ConvGeometry g) { return apply(Conv2dTranspose{g}, {y, w}); }
inline Tensor conv2d_filter(Tensor x, Tensor y, ConvGeometry g) { return apply(Conv2dFilter{g}, {x, y}); }

// Probabilistic max-pooling over pool x pool blocks (ops/op.hpp's
// PoolGeometry): the blocks' free-energy terms, the units' probabilities,
// a draw of the units, a draw given the pooling units' states; each block's
// sum (the pooling unit of a drawn state) and a pooling unit's value spread
// over its block's units.
inline Tensor maxpool_softplus(Tensor x, PoolGeometry g) { return apply(MaxPoolSoftplus{g}, {x}); }
inline Tensor maxpool_probs(Tensor x, PoolGeometry g) { return apply(MaxPoolProbs{g}, {x}); }
inline Tensor maxpool_sample(Tensor x, PoolGeometry g) { return apply(MaxPoolSample{g}, {x}); }
inline Tensor maxpool_sample_given(Tensor x, Tensor pooled, PoolGeometry g) {
  return apply(MaxPoolSampleGiven{g}, {x, pooled});
}
inline Tensor pool_sum(Tensor x, PoolGeometry g) { return apply(PoolSum{g}, {x}); }
inline Tensor pool_spread(Tensor y, PoolGeometry g) { return apply(PoolSpread{g}, {y}); }

// Windows and joins (ops/window.cpp), each the others' gradient: a copy of
// x[r0:r1, c0:c1], of its columns [c0, c1) or rows [r0, r1); x placed at
// (r0, c0) in a matrix of zeros of shape `to`; matrices side by side (axis
// 1, equal row counts) or stacked (axis 0, equal column counts), any
// number of them.
inline Tensor slice(Tensor x, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  return apply(Slice{r0, r1, c0, c1}, {x});
}
inline Tensor slice_cols(Tensor x, int64_t c0, int64_t c1) {
  return slice(x, 0, checked_node(x, "slice_cols").shape.rows, c0, c1);
}
inline Tensor slice_rows(Tensor x, int64_t r0, int64_t r1) {
  return slice(x, r0, r1, 0, checked_node(x, "slice_rows").shape.cols);
}
inline Tensor pad(Tensor x, Shape to, int64_t r0, int64_t c0) { return apply(Pad{r0, c0, to.rows, to.cols}, {x}); }
Tensor concat(std::span<const Tensor> xs, int axis = 1);
inline Tensor concat(std::initializer_list<Tensor> xs, int axis = 1) {
  return concat(std::span<const Tensor>(xs.begin(), xs.size()), axis);
}

// -log p(y | F, theta) / n of a GP regression on the rows of F (ops/op.hpp);
// theta = (log length scale, log signal sd, log noise sd), [1, 3].
inline Tensor gp_nll(Tensor features, Tensor y, Tensor theta) { return apply(GpNll{}, {features, y, theta}); }
// Laplace's approximation to a GP classifier's -log p(labels | features) per
// point; labels -1 or +1, theta [1, 2] = (log l, log sf) (ops/op.hpp's GpClassNll).
inline Tensor gp_class_nll(Tensor features, Tensor labels, Tensor theta) {
  return apply(GpClassNll{}, {features, labels, theta});
}

// Sampling: no gradient flows through these.
inline Tensor bernoulli(Tensor p) { return apply(Bernoulli{}, {p}); }
inline Tensor sigmoid_bernoulli(Tensor logits) { return apply(SigmoidBernoulli{}, {logits}); }
// per row: a one-hot draw from the row's probabilities
inline Tensor categorical(Tensor p) { return apply(Categorical{}, {p}); }
// per row: round(trials) draws from the row's probabilities, counted
// (trials is [rows, 1]; ops/op.hpp documents the generator)
inline Tensor multinomial(Tensor p, Tensor trials) { return apply(Multinomial{}, {p, trials}); }
// per element: a count drawn from Poisson(rate)
inline Tensor poisson(Tensor rate) { return apply(Poisson{}, {rate}); }
inline Tensor gaussian(Tensor mean, float stddev = 1.0f) {
  if (!(stddev >= 0.0f) || !std::isfinite(stddev))
    throw Error("gaussian: stddev = {}; expected a finite value of at least 0", stddev);
  return apply(Gaussian{stddev}, {mean});
}

// target = value, in place, when the node runs (persistent chains).
// The target must be a parameter (trainable or not): a constant would
// change, and an input's data is the caller's.
inline Tensor assign(Tensor target, Tensor value) {
  if (const Node& n = checked_node(target, "assign"); !std::holds_alternative<Param>(n.op))
    throw Error("assign: the target '{}' (its op: {}) is not a parameter; expected one (Graph::param, trainable or "
                "not) to hold the state",
                target.graph->label(target.id), name(n.op));
  return apply(Assign{}, {target, value});
}
Tensor group(std::span<const Tensor> targets);

inline Tensor operator+(Tensor a, Tensor b) { return apply(Add{}, {a, b}); }
inline Tensor operator-(Tensor a, Tensor b) { return apply(Sub{}, {a, b}); }
inline Tensor operator*(Tensor a, Tensor b) { return apply(Mul{}, {a, b}); }
inline Tensor operator/(Tensor a, Tensor b) { return apply(Div{}, {a, b}); }
inline Tensor operator-(Tensor a) { return scale(a, -1.0f); }
inline Tensor operator*(Tensor a, float s) { return scale(a, s); }
inline Tensor operator*(float s, Tensor a) { return scale(a, s); }
inline Tensor operator/(Tensor a, float s) { return scale(a, 1.0f / s); }
inline Tensor operator/(float s, Tensor a) { return graph_of(a, "operator/").constant({1, 1}, s) / a; }  // s / a, element by element
inline Tensor operator+(Tensor a, float s) { return scale(a, 1.0f, s); }
inline Tensor operator+(float s, Tensor a) { return scale(a, 1.0f, s); }
inline Tensor operator-(Tensor a, float s) { return scale(a, 1.0f, -s); }
inline Tensor operator-(float s, Tensor a) { return scale(a, -1.0f, s); }

}  // namespace ebm
