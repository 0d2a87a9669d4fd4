// Gaussian-process classification by Laplace's approximation (ops/gp.hpp,
// models/gp.hpp) and the deep kernel fine-tuned through it
// (models/deep_kernel.hpp, config.classify): Newton's method finds the
// posterior's mode, the approximation equals a plain loop's, the classifier
// learns a boundary no straight line draws and says it does not know far
// from the data, bad labels are named; fine-tuning a net's kernel finds the
// one input that decides the class and resumes exactly. (The op's forward
// and gradient against plain loops and central differences are in test_ops.)

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "models/deep_kernel.hpp"
#include "models/gp.hpp"
#include "tests/op_references.hpp"

using namespace ebm;
using op_ref::Mat;

namespace {

// n points uniform in [-1, 1]^2, labelled +1 inside the circle of radius
// 0.6 and -1 outside, each label flipped with probability `flip`.
void circle_data(int n, double flip, uint32_t seed, std::vector<float>& x, std::vector<float>& y) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1), c(0, 1);
  for (int i = 0; i < n; ++i) {
    const double a = u(gen), b = u(gen);
    x.push_back(static_cast<float>(a));
    x.push_back(static_cast<float>(b));
    const bool inside = a * a + b * b < 0.36;
    y.push_back((inside != (c(gen) < flip)) ? 1.0f : -1.0f);
  }
}

std::string message_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("gp classification: Newton's mode is stationary, and the approximation equals a plain loop's") {
  std::vector<float> x, y;
  circle_data(40, 0.1, 1, x, y);
  const std::vector<double> d = gp::squared_distances(x, 40, 2);
  for (double log_signal : {-1.0, 0.5, 3.0}) {  // sf 0.37 to 20: a weak prior to one whose first steps overshoot
    CAPTURE(log_signal);
    const gp::Laplace p = gp::laplace(d, 40, y, std::log(0.4), log_signal);
    // f^ = K grad log p(y | f^), to rounding
    double gap = 0, scale = 0;
    for (int64_t i = 0; i < 40; ++i) {
      double kg = 0;
      for (int64_t j = 0; j < 40; ++j) kg += p.signal[static_cast<size_t>(i * 40 + j)] * p.grad[static_cast<size_t>(j)];
      gap = std::max(gap, std::abs(kg - p.mode[static_cast<size_t>(i)]));
      scale = std::max(scale, std::abs(p.mode[static_cast<size_t>(i)]));
    }
    CHECK(gap <= 1e-8 * std::max(1.0, scale));
    CHECK(p.newton_steps < 30);
    Mat f{40, 2, std::vector<double>(x.begin(), x.end())}, labels{40, 1, std::vector<double>(y.begin(), y.end())},
        theta{1, 2, {std::log(0.4), log_signal}};
    CHECK(p.nll / 40 == doctest::Approx(op_ref::gp_class_nll_ref(f, labels, theta)).epsilon(1e-9));
    // Started from a nearby theta's approximation: the same mode, in fewer steps.
    const gp::Laplace near = gp::laplace(d, 40, y, std::log(0.42), log_signal + 0.05);
    const gp::Laplace warm = gp::laplace(d, 40, y, std::log(0.4), log_signal, "test", &near);
    CHECK(warm.nll == doctest::Approx(p.nll).epsilon(1e-10));
    for (size_t i = 0; i < 40; ++i) CHECK(warm.mode[i] == doctest::Approx(p.mode[i]).epsilon(1e-7).scale(1.0));
    CHECK(warm.newton_steps < p.newton_steps);
  }
}

TEST_CASE("gp classification: at a large signal sd Newton's method still ends at the mode, as a plain loop's does") {
  // Two separable blobs: the likelihood saturates, Psi goes flat while f^
  // still grows and log det B still moves with it. A rule that stopped on a
  // gap that grew with sf^2 ended 0.3 nats off at sf e^12 and 0.4 at e^14.
  std::mt19937 gen(5);
  std::normal_distribution<double> e(0, 1);
  std::vector<float> x, y;
  for (int i = 0; i < 40; ++i) {
    const float label = i % 2 ? 1.0f : -1.0f;
    x.push_back(static_cast<float>(1.5 * label + 0.5 * e(gen)));
    x.push_back(static_cast<float>(0.5 * e(gen)));
    y.push_back(label);
  }
  const std::vector<double> d = gp::squared_distances(x, 40, 2);
  const Mat f{40, 2, std::vector<double>(x.begin(), x.end())}, labels{40, 1, std::vector<double>(y.begin(), y.end())};
  for (double log_signal : {8.0, 12.0, 14.0}) {
    CAPTURE(log_signal);
    const gp::Laplace p = gp::laplace(d, 40, y, 0.0, log_signal);
    const Mat theta{1, 2, {0.0, log_signal}};
    // (the plain loop's own rounding at sf e^14 is about 1e-5 of the figure)
    CHECK(p.nll / 40 == doctest::Approx(op_ref::gp_class_nll_ref(f, labels, theta)).epsilon(2e-5));
    CHECK(p.last_step <= 1e-4);
  }
}

TEST_CASE("gp classification: Newton's method converges at extreme kernels, on one point, and ignores a warm start that is worse than 0") {
  std::vector<float> x, y;
  circle_data(40, 0.1, 1, x, y);
  const std::vector<double> d = gp::squared_distances(x, 40, 2);
  // Kernels so wide and strong that rounding, not the mode, ends Newton's method.
  for (auto [length, log_signal] : {std::pair{100.0, 9.0}, {100.0, 11.0}, {30.0, 6.0}, {0.01, 4.0}}) {
    CAPTURE(length);
    CAPTURE(log_signal);
    const gp::Laplace p = gp::laplace(d, 40, y, std::log(length), log_signal);
    CHECK(std::isfinite(p.nll));
    CHECK(p.newton_steps < 200);
  }
  // One point: the mode solves f = sf^2 (t - sigmoid(f)).
  const std::vector<double> none{0.0};
  const std::vector<float> plus{1.0f};
  const gp::Laplace one = gp::laplace(none, 1, plus, 0.0, std::log(2.0));
  CHECK(one.mode[0] == doctest::Approx(4.0 * (1.0 - 1.0 / (1.0 + std::exp(-one.mode[0])))).epsilon(1e-10));
  CHECK(one.mode[0] > 0);
  // A warm start from other labels' mode starts lower than f = 0: it is not taken, and the mode is the same.
  std::vector<float> flipped(y);
  for (float& v : flipped) v = -v;
  const gp::Laplace other = gp::laplace(d, 40, flipped, std::log(0.4), 2.0);
  const gp::Laplace cold = gp::laplace(d, 40, y, std::log(0.4), 2.0);
  const gp::Laplace warm = gp::laplace(d, 40, y, std::log(0.4), 2.0, "test", &other);
  CHECK(warm.newton_steps == cold.newton_steps);
  CHECK(warm.nll == cold.nll);
}

TEST_CASE("gp classification: the latent's predictive variance is (K^-1 + W)^-1's diagonal at the training points, the prior's far away, and the averaged probability is near the integral") {
  std::vector<float> x, y;
  circle_data(30, 0.1, 3, x, y);
  const int64_t n = 30;
  const std::vector<double> d = gp::squared_distances(x, n, 2);
  const gp::Laplace p = gp::laplace(d, n, y, std::log(0.5), 1.0);
  std::vector<double> var;
  const std::vector<double> mean = gp::predict(p, d, n, &var);
  // Plain: (K^-1 + W)^-1 = K - K (K + W^-1)^-1 K, the inverse by Gauss-Jordan.
  std::vector<double> m(static_cast<size_t>(n * n)), inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) m[static_cast<size_t>(i * n + j)] = p.signal[static_cast<size_t>(i * n + j)];
    m[static_cast<size_t>(i * n + i)] += 1.0 / p.w[static_cast<size_t>(i)];
    inv[static_cast<size_t>(i * n + i)] = 1.0;
  }
  for (int64_t c = 0; c < n; ++c) {  // symmetric positive definite: no pivoting needed
    const double piv = m[static_cast<size_t>(c * n + c)];
    for (int64_t j = 0; j < n; ++j) m[static_cast<size_t>(c * n + j)] /= piv, inv[static_cast<size_t>(c * n + j)] /= piv;
    for (int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double q = m[static_cast<size_t>(r * n + c)];
      for (int64_t j = 0; j < n; ++j) {
        m[static_cast<size_t>(r * n + j)] -= q * m[static_cast<size_t>(c * n + j)];
        inv[static_cast<size_t>(r * n + j)] -= q * inv[static_cast<size_t>(c * n + j)];
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    double kmk = 0;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b)
        kmk += p.signal[static_cast<size_t>(i * n + a)] * inv[static_cast<size_t>(a * n + b)] * p.signal[static_cast<size_t>(b * n + i)];
    CHECK(var[static_cast<size_t>(i)] == doctest::Approx(p.signal[static_cast<size_t>(i * n + i)] - kmk).epsilon(1e-8));
    CHECK(mean[static_cast<size_t>(i)] == doctest::Approx(p.mode[static_cast<size_t>(i)]).epsilon(1e-8));  // k' grad = (K grad)_i
  }
  const std::vector<float> far{50.0f, 50.0f};
  std::vector<double> far_var;
  gp::predict(p, gp::cross_squared_distances(far, 1, x, n, 2), 1, &far_var);
  CHECK(far_var[0] == doctest::Approx(std::exp(2.0)).epsilon(1e-12));
  // MacKay's approximation against the integral of sigmoid(z) N(z; m, v), by the trapezoid rule.
  for (auto [mu, v] : {std::pair{0.0, 1.0}, {1.5, 0.5}, {-2.0, 4.0}, {3.0, 9.0}, {0.7, 25.0}}) {
    double integral = 0;
    const double sd = std::sqrt(v), h = sd / 200;
    for (int k = -4000; k <= 4000; ++k) {
      const double z = mu + k * h, weight = (k == -4000 || k == 4000) ? 0.5 : 1.0;
      integral += weight * h / (1 + std::exp(-z)) * std::exp(-0.5 * (z - mu) * (z - mu) / v) / (sd * std::sqrt(2 * std::numbers::pi));
    }
    CAPTURE(mu);
    CAPTURE(v);
    CHECK(std::abs(gp::class_probability(mu, v) - integral) < 0.02);
  }
}

TEST_CASE("gp classification: it learns a circle's inside from noisy labels, and far from the data it does not know") {
  std::vector<float> x, y, tx, ty;
  circle_data(300, 0.1, 1, x, y);
  circle_data(1000, 0.0, 2, tx, ty);
  const GpClassifier gp(x, 300, 2, y, {.steps = 150});
  const ClassScores learned = class_scores(gp.probability(tx, 1000), ty);
  // The same data with a length scale far too long: the kernel sees one blob, as a straight line would.
  const gp::Hyper blunt{.log_length = std::log(20.0), .log_signal = 0.0};
  const ClassScores wide = class_scores(GpClassifier(x, 300, 2, y, blunt).probability(tx, 1000), ty);
  INFO("learned: ", learned.error_pct, "% (log loss ", learned.log_loss, "), length ", std::exp(gp.hyper().log_length),
       ", signal sd ", std::exp(gp.hyper().log_signal), "; too long a length: ", wide.error_pct, "%");
  CHECK(learned.error_pct < 6.0);  // the boundary is learned (10% of the training labels were flipped)
  CHECK(wide.error_pct > 20.0);    // 28% of the square is inside: the blunt kernel says "outside" nearly everywhere
  CHECK(learned.log_loss < 0.35);  // a coin's is 0.69
  CHECK(gp.nll_per_point() < GpClassifier(x, 300, 2, y, GpFitConfig{.steps = 0}).nll_per_point());
  CHECK(std::isinf(gp.hyper().log_noise));
  // Labels of one class leave nothing to tell apart: refused (the fit would grow sf without end).
  const std::vector<float> ones(300, 1.0f);
  CHECK(message_of([&] { GpClassifier(x, 300, 2, ones); }) ==
        "gp classification: all 300 labels are 1; expected both classes, -1 and +1");
  // Far from every training point the latent's mean is 0 and its variance the prior's: p = 1/2.
  const std::vector<float> far{40.0f, -40.0f, 0.0f, 0.0f};
  const std::vector<double> p = gp.probability(far, 2);
  CHECK(p[0] == doctest::Approx(0.5).epsilon(1e-9));
  CHECK(p[1] > 0.9);  // the circle's centre
}

TEST_CASE("gp fits: a rate that is not finite is refused, and a fit cut short by its theta says so") {
  std::vector<float> x, y;
  circle_data(40, 0.0, 1, x, y);
  CHECK(message_of([&] { GpClassifier(x, 40, 2, y, GpFitConfig{.steps = 3, .lr = INFINITY}); }) ==
        "gp classification: 3 steps at rate inf; expected steps >= 0 and a positive, finite rate");
  CHECK(message_of([&] { GpRegression(x, 40, 2, y, GpFitConfig{.steps = 3, .lr = NAN}); }) ==
        "gp regression: 3 steps at rate nan; expected steps >= 0 and a positive, finite rate");
  // A rate so large that the first step leaves every kernel behind: theta stays the start's, and the fit says why.
  const GpClassifier cut(x, 40, 2, y, GpFitConfig{.steps = 5, .lr = 1e300});
  CHECK(cut.stopped_early().starts_with("Adam step 1 of 5 (rate 1e+300) reached a theta the fit could not use"));
  CHECK(cut.nll_per_point() == doctest::Approx(GpClassifier(x, 40, 2, y, GpFitConfig{.steps = 0}).nll_per_point()));
  const GpRegression rcut(x, 40, 2, y, GpFitConfig{.steps = 5, .lr = 1e300});
  CHECK(rcut.stopped_early().starts_with("Adam step 1 of 5 (rate 1e+300)"));
  CHECK(GpClassifier(x, 40, 2, y, GpFitConfig{.steps = 5}).stopped_early().empty());
  const std::vector<double> d = gp::squared_distances(x, 40, 2);
  CHECK(message_of([&] { initial_hyper(d, 40, std::span(y).first(3)); }) ==
        "gp initial_hyper: 3 targets for 40 points; expected one a point, or none");
}

TEST_CASE("gp classification: bad labels, features and scores are named") {
  std::vector<float> x, y;
  circle_data(10, 0.0, 1, x, y);
  y[3] = 0.0f;
  CHECK(message_of([&] { GpClassifier(x, 10, 2, y); }) ==
        "gp classification: label 3 is 0; expected -1 or +1");
  y[3] = 1.0f;
  x[5] = std::nanf("");
  CHECK(message_of([&] { GpClassifier(x, 10, 2, y); }).find("feature element 5 is nan") != std::string::npos);
  x[5] = 0.5f;
  CHECK(message_of([&] { GpClassifier(x, 9, 2, y); }).find("20 feature values for 9 points of 2") != std::string::npos);
  CHECK(message_of([&] { GpClassifier(x, 10, 2, y, {.log_length = std::nan(""), .log_signal = 0}); })
            .find("expected finite values") != std::string::npos);
  const std::vector<double> probs{0.2, 0.7};
  const std::vector<float> labels{1.0f, 1.0f}, bad{1.0f, 2.0f};
  const ClassScores s = class_scores(probs, labels);
  CHECK(s.error_pct == 50.0);
  CHECK(s.log_loss == doctest::Approx(-(std::log(0.2) + std::log(0.7)) / 2));
  CHECK(message_of([&] { class_scores(probs, bad); }).find("point 1 has probability 0.7 and label 2") !=
        std::string::npos);
  CHECK(message_of([&] { class_scores(probs, std::span<const float>(labels).first(1)); })
            .find("2 probabilities for 1 labels") != std::string::npos);
  // The op refuses labels other than -1 and +1 from inside the flow graph, naming them.
  Graph g;
  const Tensor f = g.input("f", {10, 2}), t = g.input("t", {10, 1}), theta = g.param("theta", {1, 2});
  const Tensor loss = gp_class_nll(f, t, theta);
  CHECK_THROWS_WITH_AS(gp_class_nll(f, t, g.param("three", {1, 3})), doctest::Contains("[1, 2]"), Error);
  Executor ex(g, {.threads = 1});
  y[7] = 0.5f;
  CHECK(message_of([&] { ex.run({loss}, {{f, x}, {t, y}}); }).find("label 7 is 0.5; expected -1 or +1") !=
        std::string::npos);
}

namespace {

// n points of 8 inputs uniform in [0, 1]; the label is +1 in the band
// 1/4 < x_0 < 3/4 and -1 on both sides of it: x_1..x_7 are noise that
// swamps x_0 in a raw distance.
void one_input_classes(int n, uint32_t seed, std::vector<float>& x, std::vector<float>& y) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 8; ++j) x.push_back(u(gen));
    y.push_back(std::abs(x[static_cast<size_t>(i * 8)] - 0.5f) < 0.25f ? 1.0f : -1.0f);
  }
}

}  // namespace

TEST_CASE("deep kernel/classify: fine-tuning finds the input that decides the class, resumes exactly, and refuses a regression's checkpoint") {
  std::vector<float> x, y, tx, ty, vx, vy;
  one_input_classes(80, 1, x, y);
  one_input_classes(300, 2, tx, ty);
  one_input_classes(60, 3, vx, vy);
  const double raw = class_scores(GpClassifier(x, 80, 8, y).probability(tx, 300), ty).error_pct;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_dkc_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto run = [&](int steps, bool resume, bool classify = true) {
    Graph g;
    DeepKernel k = DeepKernel::make(g, "dk", {.layers = {8, 12, 4}, .points = 80, .adam = {.lr = 0.02f},
                                              .hyper_adam = {.lr = 0.02f}, .classify = classify, .init_std = 0.5f});
    Executor ex(g, {.threads = 2, .seed = 1});
    DeepKernelFitter fit(k, ex, {.steps = steps, .eval_every = 25, .eval_batch = 64, .checkpoint = dir, .resume = resume});
    k.set_hyper(classify ? GpClassifier(fit.features(x), 80, 4, y).hyper() : GpRegression(fit.features(x), 80, 4, y).hyper());
    std::vector<DeepKernelEval> evals;
    fit.fit(x, y, vx, vy, [&](const DeepKernelEval& e) { evals.push_back(e); });
    const GpClassifier tuned(fit.features(x), 80, 4, y, k.hyper());
    std::vector<float> p;
    for (Tensor t : k.trained()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::tuple{class_scores(tuned.probability(fit.features(tx), 300), ty).error_pct, evals, p, fit.best_step(), fit.best_valid_score()};
  };
  const auto [tuned, evals, params, best, best_score] = run(200, false);
  INFO("raw inputs ", raw, "% wrong, fine-tuned ", tuned, "% (step ", best, ")");
  CHECK(raw > 20.0);
  CHECK(tuned < 0.5 * raw);
  REQUIRE(evals.size() == 9);  // step 0, then every 25
  CHECK(evals.front().best);   // the start is a candidate, the best so far
  CHECK(evals.back().nll < evals.front().nll - 0.1);
  // It ends at the validation's lowest log loss, which fine-tuning lowered; the error reported beside it.
  double lowest = evals.front().valid_log_loss, lowest_error = evals.front().valid_error;
  for (const DeepKernelEval& e : evals) {
    CHECK((e.valid_error >= 0 && e.valid_error <= 100));
    if (e.valid_log_loss < lowest) lowest = e.valid_log_loss, lowest_error = e.valid_error;
  }
  CHECK(best_score == lowest);
  CHECK(lowest < evals.front().valid_log_loss);
  CHECK(lowest_error < evals.front().valid_error);
  CHECK(std::isinf(evals.back().hyper.log_noise));
  std::filesystem::remove_all(dir);
  run(100, false);
  const auto [rtuned, revals, rparams, rbest, rbest_score] = run(200, true);
  REQUIRE(revals.size() == 4);
  CHECK(revals.front().step == 125);
  CHECK(rparams == params);
  CHECK(rtuned == tuned);
  CHECK(rbest == best);
  CHECK(rbest_score == best_score);
  std::filesystem::remove_all(dir);
  run(25, false, false);  // a regression on the same labels
  CHECK_THROWS_WITH_AS(run(50, true), doctest::Contains("the checkpoint's GP does regression; this run's does classification"),
                       Error);
  std::filesystem::remove_all(dir);
  run(25, false);
  CHECK_THROWS_WITH_AS(run(50, true, false),
                       doctest::Contains("the checkpoint's GP does classification; this run's does regression"), Error);
  std::filesystem::remove_all(dir);
}
