// Every op: forward against a plain double-precision loop (serial and
// parallel executors, with extreme inputs where the op allows them), and
// its VJP against finite differences of a random projection of the output.

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string_view>
#include <utility>
#include <variant>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "autodiff/grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "tests/op_references.hpp"

using namespace ebm;
using namespace ebm::op_ref;

namespace {

using Ref = std::function<Mat(const std::vector<Mat>&)>;
using Build = std::function<Tensor(const std::vector<Tensor>&)>;

struct Case {
  const char* name;
  std::vector<Shape> shapes;
  Build build;
  Ref ref;
  float lo = -2.0f, hi = 2.0f;  // input range
  bool grad = true;
  std::vector<float> extreme = {};  // values mixed into the forward test
  bool central = false;  // with grad false: the gradient checked against the double reference only (large cases)
  // The central differences' step (times max(1, |x|)): larger for a loss summed over thousands of terms, whose
  // rounding the differences divide by 2 step.
  double step = 1e-6;
};

std::vector<Case> cases() {
  const Shape m{7, 13}, row{1, 13}, col{7, 1}, one{1, 1}, w{7, 37}, wrow{1, 37}, wcol{7, 1};
  auto u = [](Build b) { return b; };
  return {
      {"scale", {m}, u([](auto& x) { return scale(x[0], -1.5f, 0.25f); }),
       [](auto& x) { return map(x[0], [](double a) { return -1.5 * a + 0.25; }); }},
      {"sigmoid", {m}, u([](auto& x) { return sigmoid(x[0]); }), [](auto& x) { return map(x[0], sigm); }, -4, 4, true,
       {1e4f, -1e4f, 88.0f, -88.0f, 0.0f}},
      {"tanh", {m}, u([](auto& x) { return ebm::tanh(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::tanh(a); }); }, -3, 3, true, {1e4f, -1e4f}},
      {"relu", {m}, u([](auto& x) { return relu(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::max(a, 0.0); }); }, 0.1f, 2, true, {-1e4f, 1e4f}},
      {"relu (negative side)", {m}, u([](auto& x) { return relu(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::max(a, 0.0); }); }, -2, -0.1f},
      {"softplus", {m}, u([](auto& x) { return softplus(x[0]); }), [](auto& x) { return map(x[0], softplus_ref); },
       -5, 5, true, {1e4f, -1e4f, 100.0f, -100.0f}},
      {"exp", {m}, u([](auto& x) { return ebm::exp(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::exp(a); }); }, -3, 3, true, {-1e4f, 80.0f}},
      {"log", {m}, u([](auto& x) { return ebm::log(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::log(a); }); }, 0.2f, 3, true, {1e4f, 1e-30f}},
      {"abs", {m}, u([](auto& x) { return ebm::abs(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::abs(a); }); }, 0.1f, 2, true, {-1e4f, 0.0f}},
      {"abs (negative side)", {m}, u([](auto& x) { return ebm::abs(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return std::abs(a); }); }, -2, -0.1f},
      {"sign (forward)", {m}, u([](auto& x) { return sign(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return a > 0 ? 1.0 : (a < 0 ? -1.0 : 0.0); }); }, -2, 2, false,
       {0.0f, -1e4f}},
      {"square", {m}, u([](auto& x) { return square(x[0]); }),
       [](auto& x) { return map(x[0], [](double a) { return a * a; }); }},
      {"broadcast_to row", {row}, u([](auto& x) { return broadcast_to(x[0], {7, 13}); }),
       [](auto& x) { return zip(x[0], Mat{7, 13, std::vector<double>(91, 0.0)}, std::plus<>()); }},
      {"broadcast_to col", {col}, u([](auto& x) { return broadcast_to(x[0], {7, 13}); }),
       [](auto& x) { return zip(x[0], Mat{7, 13, std::vector<double>(91, 0.0)}, std::plus<>()); }},
      {"add", {m, m}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"add row", {m, row}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"add col", {m, col}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"add scalar", {one, m}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"sub", {m, m}, u([](auto& x) { return x[0] - x[1]; }), [](auto& x) { return zip(x[0], x[1], std::minus<>()); }},
      {"sub row-first", {row, m}, u([](auto& x) { return x[0] - x[1]; }), [](auto& x) { return zip(x[0], x[1], std::minus<>()); }},
      {"sub scalar", {m, one}, u([](auto& x) { return x[0] - x[1]; }), [](auto& x) { return zip(x[0], x[1], std::minus<>()); }},
      {"mul", {m, m}, u([](auto& x) { return x[0] * x[1]; }), [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"mul col", {col, m}, u([](auto& x) { return x[0] * x[1]; }), [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"mul row", {m, row}, u([](auto& x) { return x[0] * x[1]; }), [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"div", {m, m}, u([](auto& x) { return x[0] / x[1]; }), [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div row", {m, row}, u([](auto& x) { return x[0] / x[1]; }), [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div col", {m, col}, u([](auto& x) { return x[0] / x[1]; }), [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div scalar", {m, one}, u([](auto& x) { return x[0] / x[1]; }), [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"matmul", {{7, 5}, {5, 13}}, u([](auto& x) { return matmul(x[0], x[1]); }),
       [](auto& x) { return gemm_ref(x[0], x[1], false, false); }},
      {"matmul ta", {{5, 7}, {5, 13}}, u([](auto& x) { return matmul(x[0], x[1], {.ta = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], true, false); }},
      {"matmul tb", {{7, 5}, {13, 5}}, u([](auto& x) { return matmul(x[0], x[1], {.tb = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], false, true); }},
      {"matmul ta tb", {{5, 7}, {13, 5}}, u([](auto& x) { return matmul(x[0], x[1], {.ta = true, .tb = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], true, true); }},
      {"matmul tiled", {{300, 3}, {3, 270}}, u([](auto& x) { return matmul(x[0], x[1]); }),
       [](auto& x) { return gemm_ref(x[0], x[1], false, false); }, -2, 2, false},
      {"matmul_sum", {{7, 5}, {5, 13}, {7, 3}, {3, 13}}, u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3]); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, false), gemm_ref(x[2], x[3], false, false), std::plus<>()); }},
      {"matmul_sum ta", {{5, 7}, {5, 13}, {3, 7}, {3, 13}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3], {.ta = true}); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], true, false), gemm_ref(x[2], x[3], true, false), std::plus<>()); }},
      {"matmul_sum tb", {{7, 5}, {13, 5}, {7, 3}, {13, 3}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3], {.tb = true}); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, true), gemm_ref(x[2], x[3], false, true), std::plus<>()); }},
      {"matmul_sum ta tb", {{5, 7}, {13, 5}, {3, 7}, {13, 3}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3], {.ta = true, .tb = true}); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], true, true), gemm_ref(x[2], x[3], true, true), std::plus<>()); }},
      {"matmul_sum tiled", {{300, 4}, {4, 270}, {300, 2}, {2, 270}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3]); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, false), gemm_ref(x[2], x[3], false, false), std::plus<>()); }, -2, 2,
       false},
      {"affine", {{7, 5}, {5, 13}, row}, u([](auto& x) { return affine(x[0], x[1], x[2]); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, false), x[2], std::plus<>()); }},
      {"affine tb", {{7, 5}, {13, 5}, row}, u([](auto& x) { return affine(x[0], x[1], x[2], true); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, true), x[2], std::plus<>()); }},
      {"affine tiled", {{300, 4}, {4, 270}, {1, 270}}, u([](auto& x) { return affine(x[0], x[1], x[2]); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, false), x[2], std::plus<>()); }, -2, 2, false},
      {"affine_sigmoid", {{7, 5}, {5, 13}, row}, u([](auto& x) { return affine_sigmoid(x[0], x[1], x[2]); }),
       [](auto& x) { return map(zip(gemm_ref(x[0], x[1], false, false), x[2], std::plus<>()), sigm); }},
      {"affine_sigmoid tb", {{7, 5}, {13, 5}, row}, u([](auto& x) { return affine_sigmoid(x[0], x[1], x[2], true); }),
       [](auto& x) { return map(zip(gemm_ref(x[0], x[1], false, true), x[2], std::plus<>()), sigm); }},
      {"affine_sigmoid tiled", {{300, 4}, {4, 270}, {1, 270}},
       u([](auto& x) { return affine_sigmoid(x[0], x[1], x[2]); }),
       [](auto& x) { return map(zip(gemm_ref(x[0], x[1], false, false), x[2], std::plus<>()), sigm); }, -2, 2, false},
      {"transpose", {m}, u([](auto& x) { return transpose(x[0]); }),
       [](auto& x) { return gemm_ref(x[0], Mat{7, 7, [] { std::vector<double> e(49, 0.0); for (int i = 0; i < 7; ++i) e[i * 8] = 1; return e; }()}, true, false); }},
      {"sum all", {m}, u([](auto& x) { return sum(x[0]); }), [](auto& x) { return reduce(x[0], -1, 1.0); }},
      {"sum axis 0", {m}, u([](auto& x) { return sum(x[0], 0); }), [](auto& x) { return reduce(x[0], 0, 1.0); }},
      {"sum axis 1", {m}, u([](auto& x) { return sum(x[0], 1); }), [](auto& x) { return reduce(x[0], 1, 1.0); }},
      {"mean all", {m}, u([](auto& x) { return mean(x[0]); }), [](auto& x) { return reduce(x[0], -1, 1.0 / 91); }},
      {"mean axis 0", {m}, u([](auto& x) { return mean(x[0], 0); }), [](auto& x) { return reduce(x[0], 0, 1.0 / 7); }},
      {"mean axis 1", {m}, u([](auto& x) { return mean(x[0], 1); }), [](auto& x) { return reduce(x[0], 1, 1.0 / 13); }},
      {"softmax", {m}, u([](auto& x) { return softmax(x[0]); }),
       [](auto& x) { return map(log_softmax_ref(x[0]), [](double a) { return std::exp(a); }); }, -3, 3, true, {1e4f, -1e4f}},
      {"log_softmax", {m}, u([](auto& x) { return log_softmax(x[0]); }), [](auto& x) { return log_softmax_ref(x[0]); },
       -3, 3, true, {1e4f, -1e4f}},
      {"bce_logits", {m, m}, u([](auto& x) { return bce_logits(x[0], sigmoid(x[1])); }),
       [](auto& x) {
         Mat t = map(x[1], sigm);
         return scalar(total(zip(x[0], t, [](double a, double b) { return softplus_ref(a) - a * b; })) / 7);
       }, -3, 3, true, {1e4f, -1e4f}},
      {"softmax_xent", {m, m}, u([](auto& x) { return softmax_xent(x[0], softmax(x[1])); }),
       [](auto& x) {
         Mat t = map(log_softmax_ref(x[1]), [](double a) { return std::exp(a); });
         return scalar(-total(zip(log_softmax_ref(x[0]), t, std::multiplies<>())) / 7);
       }, -3, 3, true, {1e4f, -1e4f}},
      {"softmax_xent_grad", {m, m, one}, u([](auto& x) { return apply(SoftmaxXentGrad{}, {x[0], x[1], x[2]}); }),
       [](auto& x) {  // (softmax(x) rowsum(t) - t) g / rows
         const Mat p = map(log_softmax_ref(x[0]), [](double a) { return std::exp(a); });
         const Mat d = zip(zip(p, reduce(x[1], 1, 1.0), std::multiplies<>()), x[1], std::minus<>());
         return zip(d, x[2], [](double a, double g) { return a * g / 7; });
       }, -3, 3, true, {1e4f, -1e4f}},
      {"squared_error", {m, m}, u([](auto& x) { return squared_error(x[0], x[1]); }),
       [](auto& x) { return scalar(total(zip(x[0], x[1], [](double a, double b) { return (a - b) * (a - b); })) / 7); }},
      {"conv2d", {{4, 60}, {3, 18}}, u([](auto& x) { return conv2d(x[0], x[1], kConv); }),
       [](auto& x) { return conv_ref(x[0], x[1]); }},
      {"conv2d_transpose", {{4, 36}, {3, 18}}, u([](auto& x) { return conv2d_transpose(x[0], x[1], kConv); }),
       [](auto& x) { return conv_t_ref(x[0], x[1]); }},
      {"conv2d_filter", {{4, 60}, {4, 36}}, u([](auto& x) { return conv2d_filter(x[0], x[1], kConv); }),
       [](auto& x) { return conv_f_ref(x[0], x[1]); }},
      {"maxpool_softplus", {{3, 48}}, u([](auto& x) { return maxpool_softplus(x[0], kPool); }),
       [](auto& x) { return pool_softplus_ref(x[0]); }, -3, 3, true, {1e4f, -1e4f, 80.0f}},
      {"maxpool_probs", {{3, 48}}, u([](auto& x) { return maxpool_probs(x[0], kPool); }),
       [](auto& x) { return pool_probs_ref(x[0]); }, -3, 3, true, {1e4f, -1e4f, 80.0f}},
      {"maxpool_grad (forward)", {{3, 48}, {3, 12}}, u([](auto& x) { return apply(MaxPoolGrad{kPool}, {x[0], x[1]}); }),
       [](auto& x) {
         const Mat p = pool_probs_ref(x[0]);
         Mat y = p;
         pool_blocks(x[0].rows, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
           for (int64_t u : units) y.v[static_cast<size_t>(r * p.cols + u)] = p.at(r, u) * x[1].at(r, a);
         });
         return y;
       }, -3, 3, false},
      {"maxpool_probs_grad (forward)", {{3, 48}, {3, 48}},
       u([](auto& x) { return apply(MaxPoolProbsGrad{kPool}, {x[0], x[1]}); }),
       [](auto& x) {
         const Mat p = pool_probs_ref(x[0]);
         Mat y = p;
         pool_blocks(x[0].rows, [&](int64_t r, int64_t, const std::vector<int64_t>& units) {
           double dot = 0;
           for (int64_t u : units) dot += p.at(r, u) * x[1].at(r, u);
           for (int64_t u : units) y.v[static_cast<size_t>(r * p.cols + u)] = p.at(r, u) * (x[1].at(r, u) - dot);
         });
         return y;
       }, -3, 3, false},
      {"pool_sum", {{3, 48}}, u([](auto& x) { return pool_sum(x[0], kPool); }),
       [](auto& x) {
         Mat y{x[0].rows, kPool.groups * kPool.blocks(), std::vector<double>(static_cast<size_t>(x[0].rows * 12), 0.0)};
         pool_blocks(x[0].rows, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
           for (int64_t u : units) y.v[static_cast<size_t>(r * y.cols + a)] += x[0].at(r, u);
         });
         return y;
       }},
      {"pool_spread", {{3, 12}}, u([](auto& x) { return pool_spread(x[0], kPool); }),
       [](auto& x) {
         Mat y{x[0].rows, kPool.groups * kPool.plane(), std::vector<double>(static_cast<size_t>(x[0].rows * 48), 0.0)};
         pool_blocks(x[0].rows, [&](int64_t r, int64_t a, const std::vector<int64_t>& units) {
           for (int64_t u : units) y.v[static_cast<size_t>(r * y.cols + u)] = x[0].at(r, a);
         });
         return y;
       }},
      {"slice", {m}, u([](auto& x) { return slice(x[0], 2, 5, 3, 11); }),
       [](auto& x) { return window_ref(x[0], 2, 5, 3, 11); }},
      {"slice_cols (one column)", {m}, u([](auto& x) { return slice_cols(x[0], 12, 13); }),
       [](auto& x) { return window_ref(x[0], 0, 7, 12, 13); }},
      {"slice_rows", {m}, u([](auto& x) { return slice_rows(x[0], 0, 4); }),
       [](auto& x) { return window_ref(x[0], 0, 4, 0, 13); }},
      {"pad", {{3, 4}}, u([](auto& x) { return pad(x[0], {7, 13}, 2, 9); }),
       [](auto& x) { return pad_ref(x[0], 7, 13, 2, 9); }},
      {"concat side by side", {{7, 3}, col, m}, u([](auto& x) { return concat({x[0], x[1], x[2]}); }),
       [](auto& x) { return join_ref(x, 1); }},
      {"concat stacked", {row, {2, 13}, m}, u([](auto& x) { return concat({x[0], x[1], x[2]}, 0); }),
       [](auto& x) { return join_ref(x, 0); }},
      {"concat of seven (joined in runs)", {col, {7, 2}, col, {7, 4}, col, col, {7, 3}},
       u([](auto& x) { return concat(std::span<const Tensor>(x)); }), [](auto& x) { return join_ref(x, 1); }},
      // A unit replaced in every row, the rest kept: one site of a sequential Gibbs sweep.
      {"concat around a replaced column", {m, col}, u([](auto& x) {
         return concat({slice_cols(x[0], 0, 5), sigmoid(x[1]), slice_cols(x[0], 6, 13)});
       }),
       [](auto& x) {
         Mat y = x[0];
         for (int64_t r = 0; r < 7; ++r) y.v[static_cast<size_t>(r * 13 + 5)] = sigm(x[1].at(r, 0));
         return y;
       }},
      {"gp_nll", {{7, 3}, col, {1, 3}}, u([](auto& x) { return gp_nll(scale(x[0], 3.0f), x[1], x[2]); }),
       [](auto& x) { return scalar(gp_nll_ref(map(x[0], [](double a) { return 3 * a; }), x[1], x[2])); }, -0.6f, 0.6f},
      {"gp_nll_grad (forward, features)", {{7, 3}, col, {1, 3}, one},
       u([](auto& x) { return apply(GpNllGrad{0}, {x[0], x[1], x[2], x[3]}); }),
       [](auto& x) { return gp_nll_grad_ref(x, 0); }, -0.6f, 0.6f, false},
      {"gp_nll_grad (forward, targets)", {{7, 3}, col, {1, 3}, one},
       u([](auto& x) { return apply(GpNllGrad{1}, {x[0], x[1], x[2], x[3]}); }),
       [](auto& x) { return gp_nll_grad_ref(x, 1); }, -0.6f, 0.6f, false},
      {"gp_nll_grad (forward, hyper-parameters)", {{7, 3}, col, {1, 3}, one},
       u([](auto& x) { return apply(GpNllGrad{2}, {x[0], x[1], x[2], x[3]}); }),
       [](auto& x) { return gp_nll_grad_ref(x, 2); }, -0.6f, 0.6f, false},
      {"gp_nll_grad (forward, features and hyper-parameters)", {{7, 3}, col, {1, 3}, one},
       u([](auto& x) { return apply(GpNllGrad{3}, {x[0], x[1], x[2], x[3]}); }),
       [](auto& x) { return gp_nll_grad_ref(x, 3); }, -0.6f, 0.6f, false},
      // Labels from sign: -1 or +1 (the inputs are never exactly 0).
      {"gp_class_nll", {{7, 3}, col, {1, 2}},
       u([](auto& x) { return gp_class_nll(scale(x[0], 3.0f), sign(x[1]), x[2]); }),
       [](auto& x) {
         return scalar(gp_class_nll_ref(map(x[0], [](double a) { return 3 * a; }), signs(x[1]), x[2]));
       }, -0.6f, 0.6f},
      // A strong prior (sf from 3.3 to 11): the mode far from 0, where the gradient's term for its move is large.
      {"gp_class_nll (a strong prior)", {{7, 3}, col, {1, 2}},
       u([](auto& x) { return gp_class_nll(scale(x[0], 3.0f), sign(x[1]), scale(x[2], 1.0f, 1.8f)); }),
       [](auto& x) {
         return scalar(gp_class_nll_ref(map(x[0], [](double a) { return 3 * a; }), signs(x[1]),
                                        map(x[2], [](double a) { return a + 1.8; })));
       }, -0.6f, 0.6f},
      {"gp_class_nll_grad (forward, features)", {{7, 3}, col, {1, 2}, one},
       u([](auto& x) { return apply(GpClassNllGrad{0}, {x[0], sign(x[1]), x[2], x[3]}); }),
       [](auto& x) { return gp_class_nll_grad_ref({x[0], signs(x[1]), x[2], x[3]}, 0); }, -0.6f, 0.6f, false},
      {"gp_class_nll_grad (forward, hyper-parameters)", {{7, 3}, col, {1, 2}, one},
       u([](auto& x) { return apply(GpClassNllGrad{2}, {x[0], sign(x[1]), x[2], x[3]}); }),
       [](auto& x) { return gp_class_nll_grad_ref({x[0], signs(x[1]), x[2], x[3]}, 2); }, -0.6f, 0.6f, false},
      {"gp_class_nll_grad (forward, features and hyper-parameters)", {{7, 3}, col, {1, 2}, one},
       u([](auto& x) { return apply(GpClassNllGrad{3}, {x[0], sign(x[1]), x[2], x[3]}); }),
       [](auto& x) { return gp_class_nll_grad_ref({x[0], signs(x[1]), x[2], x[3]}, 3); }, -0.6f, 0.6f, false},
      {"sigmoid_grad (forward)", {m, m}, u([](auto& x) { return apply(SigmoidGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double y, double g) { return g * y * (1 - y); }); }, -2, 2, false},
      {"tanh_grad (forward)", {m, m}, u([](auto& x) { return apply(TanhGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double y, double g) { return g * (1 - y * y); }); }, -2, 2, false},
      {"softplus_grad (forward, column gradient)", {m, col}, u([](auto& x) { return apply(SoftplusGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double a, double g) { return g * sigm(a); }); }, -5, 5, false,
       {1e4f, -1e4f}},
      {"relu_grad (forward)", {m, m}, u([](auto& x) { return apply(ReluGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double a, double g) { return a > 0 ? g : 0.0; }); }, -2, 2, false},
      {"stop_gradient (forward)", {m}, u([](auto& x) { return stop_gradient(x[0]); }), [](auto& x) { return x[0]; },
       -2, 2, false},
      {"broadcast_to scalar", {one}, u([](auto& x) { return broadcast_to(x[0], {7, 13}); }),
       [](auto& x) { return zip(x[0], Mat{7, 13, std::vector<double>(91, 0.0)}, std::plus<>()); }},
      // Rows of 37 columns: the element-wise kernels' vector loop runs (twice at 16 floats a vector) before the tail.
      {"add 7x37", {w, w}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"add 7x37 row", {w, wrow}, u([](auto& x) { return x[0] + x[1]; }), [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"add col and row", {wcol, wrow}, u([](auto& x) { return x[0] + x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::plus<>()); }},
      {"sub 7x37 col-first", {wcol, w}, u([](auto& x) { return x[0] - x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::minus<>()); }},
      {"sub 7x37 scalar-first", {one, w}, u([](auto& x) { return x[0] - x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::minus<>()); }},
      {"mul 7x37", {w, w}, u([](auto& x) { return x[0] * x[1]; }), [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"mul 7x37 scalar", {w, one}, u([](auto& x) { return x[0] * x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"mul col and row", {wrow, wcol}, u([](auto& x) { return x[0] * x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::multiplies<>()); }},
      {"div 7x37", {w, w}, u([](auto& x) { return x[0] / x[1]; }), [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div 7x37 col", {w, wcol}, u([](auto& x) { return x[0] / x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div 7x37 row numerator", {wrow, w}, u([](auto& x) { return x[0] / x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"div 7x37 scalar numerator", {one, w}, u([](auto& x) { return x[0] / x[1]; }),
       [](auto& x) { return zip(x[0], x[1], std::divides<>()); }, 0.5f, 2},
      {"sigmoid_grad (forward, 7x37)", {w, w}, u([](auto& x) { return apply(SigmoidGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double y, double g) { return g * y * (1 - y); }); }, -2, 2, false},
      {"tanh_grad (forward, 7x37)", {w, w}, u([](auto& x) { return apply(TanhGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double y, double g) { return g * (1 - y * y); }); }, -2, 2, false},
      {"relu_grad (forward, 7x37)", {w, w}, u([](auto& x) { return apply(ReluGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double a, double g) { return a > 0 ? g : 0.0; }); }, -2, 2, false},
      {"softplus_grad (forward, 7x37)", {w, w}, u([](auto& x) { return apply(SoftplusGrad{}, {x[0], x[1]}); }),
       [](auto& x) { return zip(x[0], x[1], [](double a, double g) { return g * sigm(a); }); }, -5, 5, false},
      {"sigmoid 7x37", {w}, u([](auto& x) { return sigmoid(x[0]); }), [](auto& x) { return map(x[0], sigm); }, -4, 4},
      // Products of several tiles with transposed operands (each tile's offsets into A' and B').
      {"matmul tiled ta", {{5, 300}, {5, 270}}, u([](auto& x) { return matmul(x[0], x[1], {.ta = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], true, false); }, -2, 2, false},
      {"matmul tiled tb", {{300, 5}, {270, 5}}, u([](auto& x) { return matmul(x[0], x[1], {.tb = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], false, true); }, -2, 2, false},
      {"matmul tiled ta tb", {{5, 300}, {270, 5}}, u([](auto& x) { return matmul(x[0], x[1], {.ta = true, .tb = true}); }),
       [](auto& x) { return gemm_ref(x[0], x[1], true, true); }, -2, 2, false},
      {"matmul_sum tiled ta tb", {{4, 300}, {270, 4}, {2, 300}, {270, 2}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3], {.ta = true, .tb = true}); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], true, true), gemm_ref(x[2], x[3], true, true), std::plus<>()); }, -2, 2,
       false},
      {"matmul_sum tiled ta", {{4, 300}, {4, 270}, {2, 300}, {2, 270}},
       u([](auto& x) { return matmul_sum(x[0], x[1], x[2], x[3], {.ta = true}); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], true, false), gemm_ref(x[2], x[3], true, false), std::plus<>()); }, -2, 2,
       false},
      {"affine tiled tb", {{300, 4}, {270, 4}, {1, 270}}, u([](auto& x) { return affine(x[0], x[1], x[2], true); }),
       [](auto& x) { return zip(gemm_ref(x[0], x[1], false, true), x[2], std::plus<>()); }, -2, 2, false},
      {"affine_sigmoid tiled tb", {{300, 4}, {270, 4}, {1, 270}},
       u([](auto& x) { return affine_sigmoid(x[0], x[1], x[2], true); }),
       [](auto& x) { return map(zip(gemm_ref(x[0], x[1], false, true), x[2], std::plus<>()), sigm); }, -2, 2, false},
      {"transpose 70x45", {{70, 45}}, u([](auto& x) { return transpose(x[0]); }),
       [](auto& x) { return transposed(x[0]); }},
      {"conv2d 5x5 filters", {{3, 180}, {4, 50}}, u([](auto& x) { return conv2d(x[0], x[1], kConv5); }),
       [](auto& x) { return conv_ref(x[0], x[1], kConv5); }},
      {"conv2d_transpose 5x5 filters", {{3, 120}, {4, 50}}, u([](auto& x) { return conv2d_transpose(x[0], x[1], kConv5); }),
       [](auto& x) { return conv_t_ref(x[0], x[1], kConv5); }},
      {"conv2d_filter 5x5 filters", {{3, 180}, {3, 120}}, u([](auto& x) { return conv2d_filter(x[0], x[1], kConv5); }),
       [](auto& x) { return conv_f_ref(x[0], x[1], kConv5); }},
      // Targets that are counts (rows not summing to 1), as the replicated softmax's; 1,500 columns take the
      // kernel's branch for long rows (over 1,024).
      {"softmax_xent (count targets)", {m, m}, u([](auto& x) { return softmax_xent(x[0], x[1]); }),
       [](auto& x) { return scalar(-total(zip(log_softmax_ref(x[0]), x[1], std::multiplies<>())) / 7); }, 0, 3},
      {"softmax_xent (1,500 columns, count targets)", {{3, 1500}, {3, 1500}},
       u([](auto& x) { return softmax_xent(x[0], x[1]); }),
       [](auto& x) { return scalar(-total(zip(log_softmax_ref(x[0]), x[1], std::multiplies<>())) / 3); }, 0, 3, false,
       {}, true, 1e-4},
  };
}

std::vector<float> random_values(Shape s, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(s.size()));
  for (float& x : v) x = d(gen);
  return v;
}

// Builds the case over parameters holding `values`; returns the output.
Tensor build_case(Graph& g, const Case& c, const std::vector<std::vector<float>>& values, std::vector<Tensor>& params) {
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    params.push_back(g.param(fmt::format("x{}", i), c.shapes[i]));
    std::copy(values[i].begin(), values[i].end(), g.value(params.back()).begin());
  }
  return c.build(params);
}

void check_forward(const Case& c, bool with_extremes, bool parallel) {
  std::vector<std::vector<float>> values;
  std::vector<Mat> ref_in;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    values.push_back(random_values(c.shapes[i], c.lo, c.hi, static_cast<uint32_t>(11 + i)));
    if (with_extremes && i == 0)
      for (size_t k = 0; k < c.extreme.size() && k < values[i].size(); ++k) values[i][k * 3 % values[i].size()] = c.extreme[k];
    ref_in.push_back(as_mat(c.shapes[i], values[i]));
  }
  Graph g;
  std::vector<Tensor> params;
  Tensor y = build_case(g, c, values, params);
  Executor ex(g, {.threads = 2, .parallel = parallel});
  ex.run({y});
  Mat want = c.ref(ref_in);
  auto got = ex.value(y);
  REQUIRE(got.size() == want.v.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(std::string(c.name), " element ", i, " got ", got[i], " want ", want.v[i]);
    CHECK(std::isfinite(got[i]) == std::isfinite(want.v[i]));
    if (std::isfinite(want.v[i])) CHECK(std::abs(got[i] - want.v[i]) <= 2e-5 + 2e-5 * std::abs(want.v[i]));
  }
}

}  // namespace

TEST_CASE("ops: forward matches a plain double-precision loop (serial and parallel)") {
  for (const Case& c : cases()) {
    SUBCASE(c.name) {
      check_forward(c, false, false);
      check_forward(c, false, true);
      if (!c.extreme.empty()) check_forward(c, true, true);
    }
  }
}

TEST_CASE("ops: vjp matches finite differences") {
  for (const Case& c : cases()) {
    if (!c.grad) continue;
    SUBCASE(c.name) {
      std::vector<std::vector<float>> values;
      for (size_t i = 0; i < c.shapes.size(); ++i)
        values.push_back(random_values(c.shapes[i], c.lo, c.hi, static_cast<uint32_t>(23 + i)));
      Graph g;
      std::vector<Tensor> params;
      Tensor y = build_case(g, c, values, params);
      // a random projection makes every output element matter differently
      Tensor r = g.constant(y.shape(), random_values(y.shape(), -1, 1, 99));
      Tensor loss = sum(y * r);
      // atol: the mean-reducing ops' gradients are a few 1e-3 per element; 2e-3 let a 40% error through them.
      // at 1e-4 conv2d_filter's float rounding in the differences (~1.7e-4) fails.
      GradCheck chk = check_grad(loss, params, {}, {.eps = 1e-2, .rtol = 1e-2, .atol = 5e-4});
      INFO(std::string(c.name), ": worst ", chk.worst);
      CHECK(chk.ok);
    }
  }
}

// The same gradients, at every entry of every input, against central
// differences of the case's double-precision reference (steps of 1e-6,
// errors near 1e-9), within 1e-6 + 1e-4 of the reference (the float
// gradients' rounding used at most a fifth of that when written): the float
// differences above sample at most 64 entries and cannot see an error of a
// few parts in a thousand in a small entry.
TEST_CASE("ops: vjp matches central differences of the double-precision reference at every entry") {
  for (const Case& c : cases()) {
    if (!c.grad && !c.central) continue;
    SUBCASE(c.name) {
      std::vector<std::vector<float>> values;
      std::vector<Mat> in;
      for (size_t i = 0; i < c.shapes.size(); ++i) {
        values.push_back(random_values(c.shapes[i], c.lo, c.hi, static_cast<uint32_t>(23 + i)));
        in.push_back(as_mat(c.shapes[i], values[i]));
      }
      Graph g;
      std::vector<Tensor> params;
      Tensor y = build_case(g, c, values, params);
      const std::vector<float> r = random_values(y.shape(), -1, 1, 99);
      const std::vector<Tensor> grads = grad(sum(y * g.constant(y.shape(), r)), params);
      Executor ex(g, {.threads = 2});
      ex.run(grads);
      auto projected = [&](const std::vector<Mat>& x) {
        const Mat out = c.ref(x);
        double s = 0;
        for (size_t k = 0; k < out.v.size(); ++k) s += out.v[k] * r[k];
        return s;
      };
      double worst = 0;  // the largest error as a share of its allowance
      std::string where;
      for (size_t p = 0; p < in.size(); ++p) {
        const auto ad = ex.value(grads[p]);
        REQUIRE(ad.size() == in[p].v.size());
        for (size_t j = 0; j < in[p].v.size(); ++j) {
          std::vector<Mat> hi = in, lo = in;
          const double h = c.step * std::max(1.0, std::abs(in[p].v[j]));
          hi[p].v[j] += h;
          lo[p].v[j] -= h;
          const double num = (projected(hi) - projected(lo)) / (2 * h);
          const double share = std::abs(ad[j] - num) / (1e-6 + 1e-4 * std::abs(num));
          if (share > worst) {
            worst = share;
            where = fmt::format("input {} entry {}: autodiff {:.8g}, reference {:.8g}", p, j, ad[j], num);
          }
        }
      }
      INFO(std::string(c.name), ": worst ", where, " (", worst, " of the allowance)");
      CHECK(worst <= 1.0);
      // Asked for one input's gradient alone, an op skips the others' (VjpBuilder::wants): the same values.
      for (size_t p = 0; params.size() > 1 && p < params.size(); ++p) {
        CAPTURE(p);
        const std::vector<Tensor> alone = grad(sum(y * g.constant(y.shape(), r)), {params[p]});
        Executor ex1(g, {.threads = 2});
        ex1.run(alone);
        const auto a = ex1.value(alone[0]), b = ex.value(grads[p]);
        REQUIRE(a.size() == b.size());
        double diff = 0;
        for (size_t j = 0; j < a.size(); ++j) diff = std::max(diff, double(std::abs(a[j] - b[j])) / (1e-6 + std::abs(b[j])));
        CHECK(diff <= 1e-5);
      }
    }
  }
}

namespace {

// The gradients of sum(op(A) op(B) .* R) by the double products: R op(B)' and op(A)' R, stored as A and B are.
std::pair<Mat, Mat> product_vjp_ref(const Mat& a, const Mat& b, const Mat& r, bool ta, bool tb) {
  const Mat da = gemm_ref(r, b, false, !tb), db = gemm_ref(a, r, !ta, false);
  return {ta ? transposed(da) : da, tb ? transposed(db) : db};
}

void check_close(std::span<const float> got, const Mat& want, const std::string& what) {
  REQUIRE(got.size() == want.v.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double share = std::abs(got[i] - want.v[i]) / (1e-4 + 1e-5 * std::abs(want.v[i]));
    if (!(share <= worst)) worst = share, at = i;
  }
  INFO(what, ": worst entry ", at, " of ", got.size(), " at ", worst, " of its allowance (got ", got[at], ", want ",
       want.v[at], ")");
  CHECK(worst <= 1.0);
}

}  // namespace

// The cases above check the VJPs of small products everywhere and of tiled
// products forward only (central differences of a 300 x 270 product are too
// slow). A product is linear in each operand, so its VJP is itself a pair of
// products; here both are compared with double-precision loops at every
// entry, at sizes where the forward product and both gradient products cut
// into several tiles along every axis, for every transpose, with A dense and
// (zero skipping's grid and kernels) mostly zeros.
TEST_CASE("ops: products of several tiles have the VJPs of the double-precision products at every entry") {
  const int64_t m = 270, k = 260, n = 264;
  for (const bool sparse : {false, true})
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        CAPTURE(sparse);
        CAPTURE(ta);
        CAPTURE(tb);
        const Shape sa = ta ? Shape{k, m} : Shape{m, k}, sb = tb ? Shape{n, k} : Shape{k, n};
        std::vector<float> av = random_values(sa, -1, 1, 5), bv = random_values(sb, -1, 1, 6);
        if (sparse)  // about 15% ones, as a batch of sampled binary units
          for (float& x : av) x = x > 0.7f ? 1.0f : 0.0f;
        const std::vector<float> rv = random_values({m, n}, -1, 1, 7);
        Graph g;
        Tensor a = g.param("a", sa), b = g.param("b", sb), bias = g.param("bias", {1, n});
        std::ranges::copy(av, g.value(a).begin());
        std::ranges::copy(bv, g.value(b).begin());
        std::ranges::copy(random_values({1, n}, -1, 1, 8), g.value(bias).begin());
        const Tensor r = g.constant({m, n}, rv);
        const Mat am = as_mat(sa, av), bm = as_mat(sb, bv), rm = as_mat({m, n}, rv);

        const std::vector<Tensor> dm = grad(sum(matmul(a, b, {.ta = ta, .tb = tb}) * r), {a, b});
        // matmul_sum: the second product over the same operands with the roles of the pair kept.
        const std::vector<Tensor> ds = grad(sum(matmul_sum(a, b, a, b, {.ta = ta, .tb = tb}) * r), {a, b});
        Executor ex(g, {.threads = 2});
        ex.run({dm[0], dm[1], ds[0], ds[1]});
        const auto [da, db] = product_vjp_ref(am, bm, rm, ta, tb);
        check_close(ex.value(dm[0]), da, "matmul dA");
        check_close(ex.value(dm[1]), db, "matmul dB");
        check_close(ex.value(ds[0]), map(da, [](double x) { return 2 * x; }), "matmul_sum dA");
        check_close(ex.value(ds[1]), map(db, [](double x) { return 2 * x; }), "matmul_sum dB");

        if (ta) continue;  // affine takes x untransposed
        const auto bias_values = g.value(bias);
        const Mat z = zip(gemm_ref(am, bm, false, tb), as_mat({1, n}, {bias_values.begin(), bias_values.end()}),
                          std::plus<>());
        // affine_sigmoid: R times the sigmoid's slope y (1 - y) is the product's R.
        const Mat rs = zip(rm, z, [](double rr, double zz) { return rr * sigm(zz) * (1 - sigm(zz)); });
        const std::vector<Tensor> dl = grad(sum(affine(a, b, bias, tb) * r), {a, b, bias});
        const std::vector<Tensor> dg = grad(sum(affine_sigmoid(a, b, bias, tb) * r), {a, b, bias});
        Executor ex2(g, {.threads = 2});
        ex2.run({dl[0], dl[1], dl[2], dg[0], dg[1], dg[2]});
        const auto [la, lb] = product_vjp_ref(am, bm, rm, false, tb);
        check_close(ex2.value(dl[0]), la, "affine dx");
        check_close(ex2.value(dl[1]), lb, "affine dW");
        check_close(ex2.value(dl[2]), reduce(rm, 0, 1.0), "affine db");
        const auto [sa2, sb2] = product_vjp_ref(am, bm, rs, false, tb);
        check_close(ex2.value(dg[0]), sa2, "affine_sigmoid dx");
        check_close(ex2.value(dg[1]), sb2, "affine_sigmoid dW");
        check_close(ex2.value(dg[2]), reduce(rs, 0, 1.0), "affine_sigmoid db");
      }
}

namespace {
template <size_t... I>
std::vector<std::string_view> variant_names(std::index_sequence<I...>) {
  return {std::variant_alternative_t<I, OpVariant>::traits.name...};
}
}  // namespace

// An op added to the variant without a case here fails this, unless it is
// listed below with the test that checks it instead.
TEST_CASE("ops: every op of the variant is checked by a case here, or named with the file that checks it") {
  std::set<std::string_view> covered;
  for (const Case& c : cases()) {
    Graph g;
    std::vector<Tensor> params;
    std::vector<std::vector<float>> values;
    for (const Shape& s : c.shapes) values.push_back(random_values(s, c.lo, c.hi, 5));
    const Tensor y = build_case(g, c, values, params);
    if (c.grad || c.central) grad(sum(y), params);  // the gradient helpers its VJP emits are checked with it
    for (NodeId i = 0; i < g.size(); ++i) covered.insert(traits(g.node(i).op).name);
  }
  const std::map<std::string_view, const char*> elsewhere{
      {"input", "every test that feeds a batch (a source: no kernel)"},
      {"bernoulli", "test_rbm.cpp (samples against exact distributions)"},
      {"sigmoid_bernoulli", "test_rbm.cpp"},
      {"categorical", "test_rbm.cpp (softmax units)"},
      {"multinomial", "test_rbm.cpp and test_word_models.cpp (count units)"},
      {"poisson", "test_word_models.cpp (poisson units' samples against their mean)"},
      {"gaussian", "test_rbm.cpp (gaussian units' samples against their mean)"},
      {"maxpool_sample", "test_crbm.cpp"},
      {"maxpool_sample_given", "test_crbm.cpp (against a plain loop over its generator)"},
      {"sgd_update", "test_autodiff.cpp"},
      {"adam_update", "test_autodiff.cpp"},
      {"assign", "test_graph.cpp"},
      {"group", "every trainer's step (autodiff/optim.cpp joins the updates by it)"},
  };
  for (const std::string_view name : variant_names(std::make_index_sequence<std::variant_size_v<OpVariant>>{})) {
    INFO(name);
    CHECK((covered.count(name) > 0 || elsewhere.count(name) > 0));
  }
  for (const auto& [name, where] : elsewhere) {  // the list names only what the cases leave out
    INFO(name, " has a case here: drop it from the list");
    CHECK(covered.count(name) == 0);
  }
}
