// Autodiff end to end: composite losses against finite differences, the
// optimizers against hand-computed updates, the CD-1 identity, and small
// networks that learn synthetic tasks to near-zero error.

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"

using namespace ebm;

namespace {

void randomize(Graph& g, Tensor p, float sd, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, sd);
  for (float& v : g.value(p)) v = d(gen);
}

// Two interleaved classes in 2-D that no linear model separates:
// label = 1 when x1 * x2 > 0 (XOR of the signs), with a margin.
void xor_data(int n, uint32_t seed, std::vector<float>& x, std::vector<float>& t) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.1f, 1.0f);
  std::bernoulli_distribution sign(0.5);
  for (int i = 0; i < n; ++i) {
    const float a = sign(gen) ? u(gen) : -u(gen), b = sign(gen) ? u(gen) : -u(gen);
    x.insert(x.end(), {a, b});
    const bool pos = a * b > 0;
    t.insert(t.end(), {pos ? 1.0f : 0.0f, pos ? 0.0f : 1.0f});
  }
}

double error_rate(std::span<const float> logits, std::span<const float> t, int classes) {
  int wrong = 0;
  const size_t n = logits.size() / static_cast<size_t>(classes);
  for (size_t i = 0; i < n; ++i) {
    const auto row = logits.subspan(i * classes, static_cast<size_t>(classes));
    const auto want = t.subspan(i * classes, static_cast<size_t>(classes));
    wrong += std::max_element(row.begin(), row.end()) - row.begin() !=
             std::max_element(want.begin(), want.end()) - want.begin();
  }
  return static_cast<double>(wrong) / static_cast<double>(n);
}

}  // namespace

TEST_CASE("autodiff: check_grad passes on a composite loss that reuses values") {
  Graph g;
  Tensor x = g.param("x", {6, 5}), w = g.param("w", {5, 4}), b = g.param("b", {1, 4});
  randomize(g, x, 1.0f, 1);
  randomize(g, w, 0.5f, 2);
  randomize(g, b, 0.5f, 3);
  Tensor h = ebm::tanh(matmul(x, w) + b);       // h used three times below
  Tensor a = softmax(h) * h + square(h);         // diamond + reuse
  Tensor c = affine_sigmoid(x, w, b) / (h * h + 1.0f);
  Tensor loss = mean(a) + mean(sum(c, 0) * g.constant({1, 4}, 0.3f)) + mean(log_softmax(c + a));
  Tensor l2 = loss + sum(x * x) * 0.01f;
  const Tensor wrt[] = {x, w, b};
  GradCheck r = check_grad(l2, wrt);
  INFO(r.worst);
  CHECK(r.ok);
  CHECK(!r.largest.empty());
  const GradCheck braced = check_grad(l2, {x, w, b}, {}, {});  // braced lists, as run() takes them
  CHECK(braced.ok);
  CHECK(braced.entries == r.entries);
}

TEST_CASE("autodiff: a gradient of a gradient is refused, naming the node, not passed a silent zero") {
  Graph g;
  const Tensor w = g.param("w", {1, 1}, 0.5f);
  const Tensor first = grad(sum(sigmoid(w)), {w})[0];  // s (1 - s), through a sigmoid_grad node
  CHECK_THROWS_WITH_AS(grad(sum(first), {w}), doctest::Contains("a sigmoid_grad (a gradient's own node), which has no "
                                                                "gradient rule: a gradient of a gradient is not supported"),
                       Error);
  // Cut on purpose, the same path is a constant: no error, and the gradient of what is left.
  const std::vector<Tensor> cut = grad(sum(stop_gradient(first) * w), {w});
  Executor ex(g, {});
  ex.run({cut[0], first});
  CHECK(ex.value(cut[0])[0] == ex.value(first)[0]);
  // Sampling passes zero by design, and stays allowed.
  CHECK_NOTHROW(grad(sum(bernoulli(sigmoid(w)) * w), {w}));
}

TEST_CASE("autodiff: check_grad divides by the step a large float weight really takes") {
  for (const float w0 : {1.0f, 1e3f, 1e5f}) {  // near 1e5, w0 +- 0.01 rounds to w0 +- 1/128
    CAPTURE(w0);
    Graph g;
    const Tensor w = g.param("w", {1, 3}, w0);
    const GradCheck r = check_grad(sum(w - w0) * 2.0f, {w});  // the gradient is 2 exactly
    INFO(r.worst);
    CHECK(r.ok);
    CHECK(r.max_abs_err < 1e-3);
  }
  Graph g;
  const Tensor w = g.param("w", {1, 1}, 1e9f);  // no float step of 0.01 moves it: unmeasured, so not passed
  CHECK(!check_grad(sum(w), {w}).ok);
}

TEST_CASE("autodiff: check_grad fails a gradient that is wrong, naming the entry of the largest error") {
  // sum(stop_gradient(x) x): autodiff says x, the differences 2 x, so the largest error is at the largest |x|.
  Graph g;
  Tensor x = g.param("x", {1, 5});
  const std::vector<float> values = {0.5f, -3.0f, 1.0f, 2.0f, -0.25f};
  std::ranges::copy(values, g.value(x).begin());
  const Tensor wrt[] = {x};
  const GradCheck r = check_grad(sum(stop_gradient(x) * x), wrt);
  CHECK_FALSE(r.ok);
  CHECK(r.max_abs_err == doctest::Approx(3.0).epsilon(1e-3));
  CHECK(r.largest.starts_with("x[1]: autodiff -3"));
}

TEST_CASE("autodiff: check_grad compares at most max_entries entries a parameter, and names the worst by its allowance") {
  Graph g;
  const Tensor a = g.param("a", {1, 127}, 0.5f), b = g.param("b", {10, 13}, 0.5f), c = g.param("c", {1, 5}, 0.5f);
  const Tensor loss = sum(a * a) + sum(b * b) + sum(c * c);
  const Tensor ab[] = {a, b}, all[] = {a, b, c};
  CHECK(check_grad(loss, ab).entries == 64 + 64);  // 64 of 127 and of 130 (it took all 127 before)
  CHECK(check_grad(loss, all, {}, {.max_entries = 5}).entries == 5 + 5 + 5);
  CHECK(check_grad(loss, all, {}, {.max_entries = 1000}).entries == 127 + 130 + 5);
  // x[0] does not enter the loss (autodiff 0, numeric 0: exact); x[1] = 3 in x^3 has a rounding error far
  // inside its allowance. The worst is x[1]: by error over allowance, not by how far under it (which named x[0]).
  Graph h;
  const Tensor x = h.param("x", {1, 2});
  h.value(x)[1] = 3.0f;
  const Tensor mask = h.constant({1, 2}, std::vector<float>{0.0f, 1.0f}), wrt[] = {x};
  const GradCheck r = check_grad(sum(x * x * x * mask), wrt);
  INFO(r.worst);
  CHECK(r.ok);
  CHECK(r.worst.starts_with("x[1]"));
}

TEST_CASE("autodiff: stop_gradient and sampling pass no gradient, unused parameters get zeros") {
  Graph g;
  Tensor w = g.param("w", {3, 3}, 0.5f), unused = g.param("unused", {2, 2}, 1.0f);
  Tensor cut = sum(stop_gradient(w * 2.0f) * w);   // d/dw = stop_gradient(2w) = 1.0
  Tensor sampled = sum(bernoulli(sigmoid(w)) * w);  // d/dw = the sample itself
  auto g1 = grad(cut + sampled, {w, unused});
  Executor ex(g, {.seed = 3, .parallel = false});
  ex.run({g1[0], g1[1]});
  for (float v : ex.value(g1[0])) CHECK((v == 1.0f || v == 2.0f));
  for (float v : ex.value(g1[1])) CHECK(v == 0.0f);
  Tensor not_scalar = w * 2.0f;
  CHECK_THROWS_WITH_AS(grad(not_scalar, {w}), doctest::Contains("expected a scalar [1, 1]"), Error);
}

TEST_CASE("autodiff: sgd with momentum and weight decay matches the update by hand") {
  Graph g;
  Tensor w = g.param("w", {1, 2}, 1.0f);
  Tensor loss = sum(square(w)) * 0.5f;  // gradient = w
  Optimizer opt = sgd(std::vector{w}, grad(loss, {w}), {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f});
  Executor ex(g, {.threads = 2});
  double wv = 1.0, vel = 0.0;
  for (int i = 0; i < 5; ++i) {
    ex.run({opt.step});
    vel = 0.9 * vel - 0.1 * (wv + 0.01 * wv);
    wv += vel;
    CHECK(g.value(w)[1] == doctest::Approx(wv).epsilon(1e-6));
  }
  opt.set_lr(0.0f);
  ex.run({opt.step});
  vel *= 0.9;
  CHECK(g.value(w)[0] == doctest::Approx(wv + vel).epsilon(1e-6));
}

TEST_CASE("autodiff: adam matches the update by hand") {
  Graph g;
  Tensor w = g.param("w", {1, 1}, 2.0f);
  Tensor loss = sum(square(w));  // gradient = 2w
  Optimizer opt = adam(std::vector{w}, grad(loss, {w}), {.lr = 0.05f});
  Executor ex(g, {.threads = 2});
  double wv = 2.0, m = 0, v = 0;
  for (int t = 1; t <= 10; ++t) {
    ex.run({opt.step});
    const double gr = 2 * wv;
    m = 0.9 * m + 0.1 * gr;
    v = 0.999 * v + 0.001 * gr * gr;
    wv -= 0.05 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    CHECK(g.value(w)[0] == doctest::Approx(wv).epsilon(1e-5));
  }
}

TEST_CASE("autodiff: adam with weight decay and its own betas matches the update by hand") {
  // The decay is added to the gradient before both moments (L2 in the loss, not the decoupled decay of AdamW).
  Graph g;
  Tensor w = g.param("w", {1, 3}, 1.5f);
  Tensor loss = sum(square(w - 0.5f)) * 0.5f;  // gradient = w - 0.5, not proportional to the decay's w
  const float lr = 0.1f, b1 = 0.8f, b2 = 0.99f, eps = 1e-3f, wd = 0.3f;
  Optimizer opt = adam(std::vector{w}, grad(loss, {w}), {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps,
                                                         .weight_decay = wd});
  Executor ex(g, {.threads = 2});
  double wv = 1.5, m = 0, v = 0;
  for (int t = 1; t <= 12; ++t) {
    ex.run({opt.step});
    const double gr = (wv - 0.5) + double(wd) * wv;
    m = double(b1) * m + (1 - double(b1)) * gr;
    v = double(b2) * v + (1 - double(b2)) * gr * gr;
    const double mhat = m / (1 - std::pow(double(b1), t)), vhat = v / (1 - std::pow(double(b2), t));
    wv -= double(lr) * mhat / (std::sqrt(vhat) + double(eps));
    for (int i = 0; i < 3; ++i) CHECK(g.value(w)[i] == doctest::Approx(wv).epsilon(1e-5));
  }
  // Without the decay the same run ends elsewhere: the check above sees the decay term.
  Graph g0;
  Tensor w0 = g0.param("w", {1, 3}, 1.5f);
  Optimizer opt0 = adam(std::vector{w0}, grad(sum(square(w0 - 0.5f)) * 0.5f, {w0}),
                        {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps});
  Executor ex0(g0, {.threads = 2});
  for (int t = 1; t <= 12; ++t) ex0.run({opt0.step});
  CHECK(std::abs(double(g0.value(w0)[0]) - wv) > 1e-2);
}

// The update ops on distinct values at every entry: the gradient (a constant
// G, not w) and w differ, so a swapped term shows; 300 x 200 = 60,000
// values runs in chunks, 7 x 13 in one; the executor serial and parallel;
// three steps, so that the velocity and the moments are not their start.
TEST_CASE("autodiff: sgd, adam and assign equal a double loop at every entry, in chunks or not, serial and parallel") {
  for (const Shape s : {Shape{7, 13}, Shape{300, 200}})
    for (const bool parallel : {false, true}) {
      CAPTURE(s.rows);
      CAPTURE(parallel);
      const size_t n = static_cast<size_t>(s.size());
      std::mt19937 gen(5);
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      std::vector<float> w0(n), gv(n);
      for (size_t i = 0; i < n; ++i) w0[i] = d(gen), gv[i] = d(gen);
      auto worst = [&](std::span<const float> got, const std::vector<double>& want) {
        double e = 0;
        for (size_t i = 0; i < n; ++i) e = std::max(e, std::abs(got[i] - want[i]) / (1e-6 + 1e-5 * std::abs(want[i])));
        return e;
      };
      {  // sgd: vel = momentum vel - lr (g + wd w); w += vel
        Graph g;
        Tensor w = g.param("w", s);
        std::copy(w0.begin(), w0.end(), g.value(w).begin());
        const Optimizer opt = sgd(std::vector{w}, grad(sum(w * g.constant(s, gv)), {w}),
                                  {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f});
        Executor ex(g, {.threads = 2, .parallel = parallel});
        std::vector<double> wd(w0.begin(), w0.end()), vel(n, 0.0);
        for (int step = 1; step <= 3; ++step) {
          ex.run({opt.step});
          for (size_t i = 0; i < n; ++i) {
            vel[i] = 0.9 * vel[i] - 0.1 * (double{gv[i]} + 0.01 * wd[i]);
            wd[i] += vel[i];
          }
          CAPTURE(step);
          CHECK(worst(g.value(w), wd) <= 1.0);
        }
      }
      {  // adam, with the decay added to the gradient before both moments
        Graph g;
        Tensor w = g.param("w", s);
        std::copy(w0.begin(), w0.end(), g.value(w).begin());
        const float lr = 0.1f, b1 = 0.8f, b2 = 0.99f, eps = 1e-3f, decay = 0.3f;
        const Optimizer opt = adam(std::vector{w}, grad(sum(w * g.constant(s, gv)), {w}),
                                   {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = decay});
        Executor ex(g, {.threads = 2, .parallel = parallel});
        std::vector<double> wd(w0.begin(), w0.end()), m(n, 0.0), v(n, 0.0);
        for (int t = 1; t <= 3; ++t) {
          ex.run({opt.step});
          for (size_t i = 0; i < n; ++i) {
            const double gr = double(gv[i]) + double(decay) * wd[i];
            m[i] = double(b1) * m[i] + (1 - double(b1)) * gr;
            v[i] = double(b2) * v[i] + (1 - double(b2)) * gr * gr;
            const double mhat = m[i] / (1 - std::pow(double(b1), t)), vhat = v[i] / (1 - std::pow(double(b2), t));
            wd[i] -= double(lr) * mhat / (std::sqrt(vhat) + double(eps));
          }
          CAPTURE(t);
          CHECK(worst(g.value(w), wd) <= 1.0);
        }
      }
      {  // assign copies its source into the state, value for value
        Graph g;
        Tensor state = g.param("state", s, 0.0f, false);
        const Tensor copy = assign(state, g.constant(s, gv) * 2.0f);
        Executor ex(g, {.threads = 2, .parallel = parallel});
        ex.run({copy});
        std::vector<double> want(n);
        for (size_t i = 0; i < n; ++i) want[i] = 2.0 * gv[i];
        CHECK(worst(g.value(state), want) == 0.0);
      }
    }
}

TEST_CASE("autodiff: optimizers refuse hyper-parameters out of range, naming them") {
  Graph g;
  Tensor w = g.param("w", {1, 2}, 1.0f);
  const std::vector<Tensor> ws{w}, gs = grad(sum(square(w)), {w});
  CHECK_THROWS_WITH_AS(sgd(ws, gs, {.momentum = 1.0f}), doctest::Contains("sgd: momentum = 1; expected a value in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(sgd(ws, gs, {.lr = -0.1f}), doctest::Contains("lr = -0.1; expected a finite value of at least 0"), Error);
  CHECK_THROWS_WITH_AS(sgd(ws, gs, {.weight_decay = std::nanf("")}), doctest::Contains("weight_decay = nan"), Error);
  CHECK_THROWS_WITH_AS(adam(ws, gs, {.beta2 = 1.5f}), doctest::Contains("adam: beta2 = 1.5"), Error);
  CHECK_THROWS_WITH_AS(adam(ws, gs, {.eps = 0.0f}), doctest::Contains("adam: eps = 0"), Error);
  Optimizer opt = sgd(ws, gs, {.lr = 0.1f, .momentum = 0.5f});
  CHECK_THROWS_WITH_AS(opt.set_lr(std::numeric_limits<float>::infinity()), doctest::Contains("learning rate = inf"), Error);
  CHECK_THROWS_WITH_AS(opt.set_momentum(-0.5f), doctest::Contains("momentum = -0.5"), Error);
  CHECK(opt.lr() == 0.1f);  // a refused value changes nothing
  CHECK_THROWS_WITH_AS(opt.set_weight_decay(-1.0f), doctest::Contains("weight decay = -1"), Error);
  opt.set_weight_decay(0.01f);
  CHECK(opt.weight_decay() == 0.01f);
  Optimizer ad = adam(ws, gs, {.weight_decay = 0.02f});  // its rows hold the decay elsewhere
  CHECK(ad.weight_decay() == 0.02f);
  ad.set_weight_decay(0.03f);
  CHECK(ad.weight_decay() == 0.03f);
  CHECK(ad.momentum() == 0.9f);  // beta1, untouched
  CHECK_THROWS_WITH_AS(Executor(g, {.threads = -1}), doctest::Contains("threads = -1"), Error);
  CHECK_THROWS_WITH_AS(Executor(g, {.threads = 100000}), doctest::Contains("threads = 100000; expected 0 (every core) to"),
                       Error);
}

TEST_CASE("autodiff: optimizers refuse a parameter listed twice, one from another graph, or none") {
  Graph g, other;
  Tensor w = g.param("w", {1, 2}, 1.0f), b = g.param("b", {1, 2}, 1.0f), u = other.param("u", {1, 2}, 1.0f);
  const Tensor loss = sum(square(w)) + sum(square(b));
  const std::vector<Tensor> gw = grad(loss, {w, b});
  const std::vector<Tensor> twice{w, b, w}, twice_grads{gw[0], gw[1], gw[0]};
  CHECK_THROWS_WITH_AS(sgd(twice, twice_grads, {}), doctest::Contains("sgd: 'w' is listed twice"), Error);
  CHECK_THROWS_WITH_AS(adam(twice, twice_grads, {}), doctest::Contains("adam: 'w' is listed twice"), Error);
  const std::vector<Tensor> mixed{w, u}, mixed_grads{gw[0], gw[1]};
  CHECK_THROWS_WITH_AS(sgd(mixed, mixed_grads, {}), doctest::Contains("sgd: parameter 1 is in another graph"), Error);
  CHECK_THROWS_WITH_AS(sgd(std::vector<Tensor>{}, std::vector<Tensor>{}, {}),
                       doctest::Contains("sgd: no parameters given"), Error);
}

// The engine's first idea: with F(v) = -c.v - sum_j softplus(b_j + W_j.v),
// d/dW [mean F(v0) - mean F(stop_gradient(vk))] = -(v0' p(h|v0) - vk' p(h|vk)) / B.
TEST_CASE("autodiff: the gradient of the CD-1 free-energy loss equals the textbook update") {
  const int64_t batch = 10, nv = 12, nh = 7;
  Graph g;
  Tensor v0 = g.input("v0", {batch, nv});
  Tensor w = g.param("W", {nv, nh}), b = g.param("b", {1, nh}), c = g.param("c", {1, nv});
  randomize(g, w, 0.3f, 4);
  randomize(g, b, 0.3f, 5);
  randomize(g, c, 0.3f, 6);
  auto free_energy = [&](Tensor v) { return -(sum(v * c, 1) + sum(softplus(matmul(v, w) + b), 1)); };
  Tensor h0 = sigmoid_bernoulli(matmul(v0, w) + b);
  Tensor vk = stop_gradient(bernoulli(affine_sigmoid(h0, w, c, true)));
  Tensor cd = mean(free_energy(v0)) - mean(free_energy(vk));
  auto grads = grad(cd, {w, b, c});
  Tensor ph0 = sigmoid(matmul(v0, w) + b), phk = sigmoid(matmul(vk, w) + b);
  Tensor dw_book = (matmul(vk, phk, {.ta = true}) - matmul(v0, ph0, {.ta = true})) / static_cast<float>(batch);
  Tensor db_book = (sum(phk, 0) - sum(ph0, 0)) / static_cast<float>(batch);
  Tensor dc_book = (sum(vk, 0) - sum(v0, 0)) / static_cast<float>(batch);
  std::vector<float> data(static_cast<size_t>(batch * nv));
  for (size_t i = 0; i < data.size(); ++i) data[i] = (i * 7 % 3 == 0) ? 1.0f : 0.0f;
  Executor ex(g, {.threads = 2, .seed = 11});
  ex.run({grads[0], grads[1], grads[2], dw_book, db_book, dc_book}, {{v0, data}});
  const std::pair<Tensor, Tensor> pairs[] = {{grads[0], dw_book}, {grads[1], db_book}, {grads[2], dc_book}};
  for (auto [auto_g, book] : pairs) {
    auto a = ex.value(auto_g), bk = ex.value(book);
    REQUIRE(a.size() == bk.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(bk[i]).epsilon(1e-5).scale(1e-5));
  }
}

TEST_CASE("autodiff: logistic regression learns a separable task to zero error") {
  Graph g;
  Tensor x = g.input("x", {200, 2}), t = g.input("t", {200, 2});
  Tensor w = g.param("w", {2, 2}), b = g.param("b", {1, 2});
  Tensor logits = matmul(x, w) + b;
  Tensor loss = softmax_xent(logits, t);
  Optimizer opt = sgd(std::vector{w, b}, grad(loss, {w, b}), {.lr = 0.5f, .momentum = 0.9f});
  std::vector<float> xs, ts;
  std::mt19937 gen(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int i = 0; i < 200; ++i) {
    const float a = d(gen), c = d(gen), s = a + 2 * c + (a + 2 * c > 0 ? 0.3f : -0.3f);
    xs.insert(xs.end(), {a, c + (s > 0 ? 0.15f : -0.15f)});
    ts.insert(ts.end(), {s > 0 ? 1.0f : 0.0f, s > 0 ? 0.0f : 1.0f});
  }
  Executor ex(g, {.threads = 2});
  for (int i = 0; i < 300; ++i) ex.run({opt.step}, {{x, xs}, {t, ts}});
  ex.run({logits, loss}, {{x, xs}, {t, ts}});
  CHECK(error_rate(ex.value(logits), ts, 2) == 0.0);
  CHECK(ex.scalar(loss) < 0.1f);
}

TEST_CASE("autodiff: a 2-hidden-layer MLP learns XOR of signs to near-zero error") {
  Graph g;
  const int64_t n = 256;
  Tensor x = g.input("x", {n, 2}), t = g.input("t", {n, 2});
  Tensor w1 = g.param("w1", {2, 32}), b1 = g.param("b1", {1, 32});
  Tensor w2 = g.param("w2", {32, 32}), b2 = g.param("b2", {1, 32});
  Tensor w3 = g.param("w3", {32, 2}), b3 = g.param("b3", {1, 2});
  randomize(g, w1, 1.0f, 7);
  randomize(g, w2, 0.3f, 8);
  randomize(g, w3, 0.3f, 9);
  Tensor logits = matmul(affine_sigmoid(ebm::tanh(matmul(x, w1) + b1), w2, b2), w3) + b3;
  Tensor loss = softmax_xent(logits, t);
  auto params = g.params();
  Optimizer opt = adam(params, grad(loss, params), {.lr = 0.02f});
  std::vector<float> xs, ts, xv, tv;
  xor_data(static_cast<int>(n), 1, xs, ts);
  xor_data(static_cast<int>(n), 2, xv, tv);
  Executor ex(g, {.threads = 2});
  for (int i = 0; i < 600; ++i) ex.run({opt.step}, {{x, xs}, {t, ts}});
  ex.run({logits}, {{x, xs}, {t, ts}});
  CHECK(error_rate(ex.value(logits), ts, 2) <= 0.01);
  ex.run({logits}, {{x, xv}, {t, tv}});
  CHECK(error_rate(ex.value(logits), tv, 2) <= 0.03);
}
