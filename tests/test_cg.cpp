// Conjugate gradients (autodiff/cg.hpp): conjugacy on a quadratic, the
// Wolfe conditions at every accepted step, a curved valley, steps that
// overflow, the state carried between calls, and refused options.

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autodiff/cg.hpp"
#include "ops/error.hpp"

namespace {

// f(x) = x'Ax/2 - b'x with A = Q diag(eigenvalues) Q' for a random rotation
// Q (Gram-Schmidt of Gaussian columns): eigenvalues 1 .. cond, spread
// geometrically.
struct Quadratic {
  int n;
  std::vector<double> a, b;

  Quadratic(int size, double cond, uint64_t seed) : n(size), a(size_t(size * size)), b(size_t(size)) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> q(size_t(n * n));
    for (double& v : q) v = z(rng);
    for (int j = 0; j < n; ++j) {  // columns of q made orthonormal
      for (int p = 0; p < j; ++p) {
        double d = 0;
        for (int i = 0; i < n; ++i) d += q[size_t(i * n + j)] * q[size_t(i * n + p)];
        for (int i = 0; i < n; ++i) q[size_t(i * n + j)] -= d * q[size_t(i * n + p)];
      }
      double norm = 0;
      for (int i = 0; i < n; ++i) norm += q[size_t(i * n + j)] * q[size_t(i * n + j)];
      for (int i = 0; i < n; ++i) q[size_t(i * n + j)] /= std::sqrt(norm);
    }
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < n; ++k) {
        double s = 0;
        for (int j = 0; j < n; ++j) s += q[size_t(i * n + j)] * std::pow(cond, double(j) / (n - 1)) * q[size_t(k * n + j)];
        a[size_t(i * n + k)] = s;
      }
    for (double& v : b) v = z(rng);
  }
  double operator()(std::span<const float> x, std::span<float> g) const {
    double f = 0;
    for (int i = 0; i < n; ++i) {
      double ax = 0;
      for (int k = 0; k < n; ++k) ax += a[size_t(i * n + k)] * x[size_t(k)];
      g[size_t(i)] = static_cast<float>(ax - b[size_t(i)]);
      f += 0.5 * x[size_t(i)] * ax - b[size_t(i)] * x[size_t(i)];
    }
    return f;
  }
  double grad_norm(std::span<const float> x) const {
    std::vector<float> g(static_cast<size_t>(n));
    (*this)(x, g);
    double s = 0;
    for (float v : g) s += double{v} * v;
    return std::sqrt(s);
  }
};

}  // namespace

TEST_CASE("conjugate gradients solve a quadratic in about n tight line searches, far fewer than steepest descent") {
  const Quadratic q(30, 100.0, 3);
  const ebm::CgOptions tight{.line_searches = 30, .max_evals = 40, .c1 = 1e-4, .c2 = 1e-3};
  std::vector<float> x(30, 0.0f), sd = x;
  const double g_start = q.grad_norm(x);
  const ebm::CgReport r = ebm::minimize_cg(x, q, tight);
  CHECK(r.failures == 0);
  CHECK(r.line_searches == 30);
  CHECK(r.f_end < r.f_start);
  // Exact conjugate directions finish in 30 searches; float rounding and
  // inexact searches leave a little (2e-4 of the gradient seen).
  CHECK(q.grad_norm(x) < 2e-3 * g_start);
  // Steepest descent with the same searches: each call restarts along -g.
  for (int k = 0; k < 30; ++k) ebm::minimize_cg(sd, q, {.line_searches = 1, .max_evals = 40, .c1 = 1e-4, .c2 = 1e-3});
  CHECK(q.grad_norm(x) < 0.05 * q.grad_norm(sd));
}

TEST_CASE("conjugate gradients descend the Rosenbrock valley, each call lowering f and returning a point it evaluated") {
  // The Rosenbrock valley: f = (1 - x)^2 + 100 (y - x^2)^2, from (-1.2, 1).
  std::vector<std::vector<float>> points;
  std::vector<double> values;
  const ebm::CgObjective rosen = [&](std::span<const float> p, std::span<float> g) {
    const double x = p[0], y = p[1];
    g[0] = static_cast<float>(-2 * (1 - x) - 400 * x * (y - x * x));
    g[1] = static_cast<float>(200 * (y - x * x));
    points.emplace_back(p.begin(), p.end());
    values.push_back((1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x));
    return values.back();
  };
  std::vector<float> x{-1.2f, 1.0f};
  ebm::CgState state;
  double last = 1e300;
  for (int call = 0; call < 40; ++call) {
    if (call == 1) {  // the first call's last accepted step carries over (a failure, at the end, resets it)
      CHECK(state.step > 0);
      CHECK(state.slope < 0);
    }
    points.clear(), values.clear();
    const std::vector<float> start = x;
    const ebm::CgReport r = ebm::minimize_cg(x, rosen, {.line_searches = 5}, &state);
    CHECK(r.evaluations == static_cast<int>(values.size()));
    CHECK(r.f_start == values.front());
    CHECK(r.f_end <= r.f_start);
    CHECK(r.f_end < last + 1e-12);
    last = r.f_end;
    if (r.line_searches > 0) {  // the returned point is one the objective saw, with the reported value
      bool seen = false;
      for (size_t i = 0; i < points.size(); ++i) seen = seen || (points[i] == x && values[i] == r.f_end);
      CHECK(seen);
    } else {
      CHECK(x == start);
    }
  }
  CHECK(std::abs(x[0] - 1.0f) < 2e-3f);
  CHECK(std::abs(x[1] - 1.0f) < 4e-3f);
}

TEST_CASE("a single conjugate-gradient line search accepts only points meeting both Wolfe conditions") {
  // f(t) along one axis: a quartic with its minimum near t = 2.7; the search
  // starts at 0 with slope -4. Each call runs one search; the accepted point
  // must satisfy f(a) <= f(0) + c1 a f'(0) and |f'(a)| <= c2 |f'(0)|.
  const ebm::CgObjective quartic = [](std::span<const float> p, std::span<float> g) {
    const double t = p[0];
    g[0] = static_cast<float>(-4 + 0.2 * t * t * t);
    return -4 * t + 0.05 * t * t * t * t;
  };
  for (double first : {1e-3, 0.5, 2.0, 40.0}) {  // trials far short of, near, and far past the minimum
    CAPTURE(first);
    ebm::CgState state{.step = first / 4, .slope = -16};  // so the first trial along -g = 4 is t = first
    const ebm::CgOptions o{.line_searches = 1, .max_evals = 30, .c1 = 1e-2, .c2 = 0.1};
    std::vector<float> x{0.0f};
    const ebm::CgReport r = ebm::minimize_cg(x, quartic, o, &state);
    REQUIRE(r.line_searches == 1);
    const double t = x[0], f = -4 * t + 0.05 * t * t * t * t, d = -4 + 0.2 * t * t * t;
    CHECK(f <= 0 + o.c1 * t * -4);
    CHECK(std::abs(d) <= o.c2 * 4 + 1e-6);
    CHECK(r.f_end == doctest::Approx(f));
  }
}

TEST_CASE("conjugate gradients back off from steps where the objective overflows") {
  // f = sum x^2 / 2, but NaN once any |x| > 3: the first trial step (a
  // hundred times too long) lands there; the search must come back inside.
  const ebm::CgObjective walled = [](std::span<const float> p, std::span<float> g) {
    double f = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      if (std::abs(p[i]) > 3) return std::nan("");
      g[i] = p[i];
      f += 0.5 * double{p[i]} * p[i];
    }
    return f;
  };
  std::vector<float> x{2.0f, -1.0f, 0.5f};
  ebm::CgState state{.step = 100, .slope = -1};
  const ebm::CgReport r = ebm::minimize_cg(x, walled, {.line_searches = 3}, &state);
  CHECK(r.line_searches >= 1);
  CHECK(r.f_end < 0.01 * r.f_start);
  for (float v : x) CHECK(std::isfinite(v));
}

TEST_CASE("conjugate gradients stop after failed searches and return the start unchanged") {
  // A flat function with a gradient that lies: no step along -g lowers it.
  const ebm::CgObjective liar = [](std::span<const float>, std::span<float> g) {
    for (float& v : g) v = 1.0f;
    return 1.0;
  };
  std::vector<float> x{0.25f, -0.5f};
  // Steepest descent from the default first step failed: a retry would
  // repeat it, so it stops at once.
  ebm::CgReport r = ebm::minimize_cg(x, liar, {.line_searches = 10, .max_evals = 5});
  CHECK(r.failures == 1);
  CHECK(r.line_searches == 0);
  CHECK(r.evaluations == 1 + 5);
  CHECK(x == std::vector<float>{0.25f, -0.5f});
  CHECK(r.f_end == 1.0);
  // From a carried step, the first failure retries from the default step,
  // and the second stops it.
  ebm::CgState state{.step = 0.5, .slope = -2};
  r = ebm::minimize_cg(x, liar, {.line_searches = 10, .max_evals = 5}, &state);
  CHECK(r.failures == 2);
  CHECK(r.evaluations == 1 + 2 * 5);
  CHECK(x == std::vector<float>{0.25f, -0.5f});
  CHECK(state.step == 0);
}

TEST_CASE("conjugate gradients leave x at the best point so far when the objective throws") {
  // f = sum (i + 1) x_i^2, throwing on its fourth evaluation when armed:
  // after the first line search has moved x.
  int calls = 0;
  bool armed = true;
  const ebm::CgObjective fragile = [&](std::span<const float> p, std::span<float> g) {
    if (++calls == 4 && armed) throw std::runtime_error("evaluation failed");
    double f = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      g[i] = 2.0f * static_cast<float>(i + 1) * p[i];
      f += double(i + 1) * p[i] * p[i];
    }
    return f;
  };
  const ebm::CgOptions o{.line_searches = 5, .c2 = 0.9};
  const ebm::CgState start{.step = 0.1, .slope = -56};  // a first trial that meets both conditions
  std::vector<float> x{1.0f, 1.0f, 1.0f};
  ebm::CgState state = start;
  CHECK_THROWS_AS(ebm::minimize_cg(x, fragile, o, &state), std::runtime_error);
  // Unarmed, the searches that ended within the first three evaluations
  // give the point x must be back at: the last accepted one, never a trial.
  armed = false;
  std::vector<float> expected;
  for (int k = 1; k <= 5; ++k) {
    std::vector<float> y{1.0f, 1.0f, 1.0f};
    ebm::CgState s = start;
    ebm::CgOptions ok = o;
    ok.line_searches = k;
    calls = 0;
    if (ebm::minimize_cg(y, fragile, ok, &s).evaluations <= 3) expected = y;
  }
  REQUIRE_FALSE(expected.empty());  // the first search took one trial
  CHECK(expected != std::vector<float>{1.0f, 1.0f, 1.0f});
  CHECK(x == expected);
}

TEST_CASE("conjugate gradients refuse bad options and a non-finite start") {
  const ebm::CgObjective square = [](std::span<const float> p, std::span<float> g) {
    g[0] = p[0];
    return 0.5 * p[0] * p[0];
  };
  std::vector<float> x{1.0f};
  auto message = [&](ebm::CgOptions o) {
    try {
      ebm::minimize_cg(x, square, o);
    } catch (const ebm::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message({.line_searches = 0}).find("line_searches = 0") != std::string::npos);
  CHECK(message({.max_evals = 0}).find("max_evals = 0") != std::string::npos);
  CHECK(message({.c1 = 0.6, .c2 = 0.5}).find("0 < c1 < c2 < 1") != std::string::npos);
  CHECK(message({.c2 = 1.0}).find("0 < c1 < c2 < 1") != std::string::npos);
  CHECK(message({.max_growth = 1.0}).find("max_growth = 1") != std::string::npos);
  CHECK(message({}).empty());
  std::vector<float> bad{std::nanf("")};
  CHECK_THROWS_WITH_AS(ebm::minimize_cg(bad, square), doctest::Contains("at the start"), ebm::Error);
}
