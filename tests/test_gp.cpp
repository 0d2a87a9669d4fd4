// Gaussian-process regression (ops/gp.hpp, models/gp.hpp) and the deep
// kernel learned through it (models/deep_kernel.hpp): a GP recovers a
// smooth function and its noise level, its predictive mean and variance
// behave at and far from the data, bad input is named; the gp_nll op
// equals the regression's likelihood (its forward and gradient against
// plain loops are in test_ops); the deep kernel starts as the DBN's
// recognition pass, its gradient matches finite differences, and
// fine-tuning it finds the one input that matters, resuming exactly.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "autodiff/grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/dbn.hpp"
#include "models/deep_kernel.hpp"
#include "models/gp.hpp"

using namespace ebm;

namespace {

// y = 10 sin(2 x) at n points uniform in [-3, 3], plus N(0, noise^2).
void sine_data(int n, double noise, uint32_t seed, std::vector<float>& x, std::vector<float>& y,
               std::vector<float>& truth) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-3, 3);
  std::normal_distribution<double> e(0, 1);
  for (int i = 0; i < n; ++i) {
    const double xi = u(gen);
    x.push_back(static_cast<float>(xi));
    truth.push_back(static_cast<float>(10 * std::sin(2 * xi)));
    y.push_back(static_cast<float>(truth.back() + noise * e(gen)));
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

TEST_CASE("gp: regression recovers a smooth function and its noise level") {
  std::vector<float> x, y, truth, tx, ty, ttruth;
  sine_data(80, 0.5, 1, x, y, truth);
  sine_data(200, 0.0, 2, tx, ty, ttruth);
  const GpRegression gp(x, 80, 1, y);
  const double err = rmse(gp.predict(tx, 200), ttruth);
  INFO("rmse ", err, " noise sd ", std::exp(gp.hyper().log_noise), " length ", std::exp(gp.hyper().log_length));
  CHECK(err < 0.6);  // the function's sd is 7; the noise's 0.5
  const double noise = std::exp(gp.hyper().log_noise), length = std::exp(gp.hyper().log_length);
  CHECK((noise > 0.35 && noise < 0.7));  // an sd, not its square (0.25) nor twice it
  CHECK((length > 0.2 && length < 1.2));  // sin(2x): about 1/2
  // Learning theta raised the likelihood above its start's.
  const std::vector<double> d = gp::squared_distances(x, 80, 1);
  std::vector<float> centred = y;
  for (float& v : centred) v = static_cast<float>(v - gp.target_mean());
  const GpRegression start(x, 80, 1, y, initial_hyper(d, 80, centred));
  CHECK(gp.nll_per_target() < start.nll_per_target() - 0.5);
  // Without learning, the start's own predictions are far worse.
  CHECK(rmse(start.predict(tx, 200), ttruth) > 2 * err);
}

TEST_CASE("gp: a fit's course records each step's likelihood, and one cut short is said to be still falling") {
  std::vector<float> x, y, truth;
  sine_data(80, 0.5, 1, x, y, truth);
  const GpRegression settled(x, 80, 1, y);  // the default 300 steps
  const std::vector<double>& nll = settled.course().nll;
  REQUIRE(nll.size() == 301);
  CHECK(*std::min_element(nll.begin(), nll.end()) == doctest::Approx(settled.nll_per_target()).epsilon(1e-12));
  CHECK(nll.front() > nll.back() + 0.5);
  INFO("last tenth's fall: ", nll[270] - nll[300]);
  CHECK(settled.course().still_falling().empty());
  const GpRegression cut(x, 80, 1, y, {.steps = 20});  // far from settled: its last 2 steps still fall
  const std::string said = cut.course().still_falling();
  INFO(said);
  CHECK(said.find("its last 2 Adam steps of 20 still lowered the negative log marginal likelihood by") == 0);
  // Given theta, there is no course; nor is there for fewer than 10 steps.
  CHECK(GpRegression(x, 80, 1, y, settled.hyper()).course().nll.empty());
  CHECK(GpRegression(x, 80, 1, y, {.steps = 9}).course().still_falling().empty());
  std::vector<float> labels;
  for (float v : y) labels.push_back(v > 0 ? 1.0f : -1.0f);
  const GpClassifier c(x, 80, 1, labels, {.steps = 20});
  CHECK(c.course().nll.size() == 21);
  CHECK(c.course().nll.front() > c.course().nll.back());
}

TEST_CASE("gp: the predictive mean and variance at the data and far from it") {
  const std::vector<float> x{0.0f, 1.0f, 2.0f}, y{1.0f, -2.0f, 0.5f};
  const gp::Hyper h{.log_length = 0.0, .log_signal = std::log(2.0), .log_noise = std::log(1e-3)};
  const gp::Posterior p = gp::condition(gp::squared_distances(x, 3, 1), 3, y, h);
  const std::vector<float> at{1.0f, 40.0f};
  std::vector<double> var;
  const std::vector<double> mean = gp::predict(p, gp::cross_squared_distances(at, 2, x, 3, 1), 2, &var);
  CHECK(mean[0] == doctest::Approx(-2.0).epsilon(1e-4));  // interpolates its own (nearly noise-free) target
  CHECK(var[0] == doctest::Approx(0.0).epsilon(1e-4).scale(4.0));
  CHECK(mean[1] == doctest::Approx(0.0).scale(1.0));  // far away: the prior's mean and variance
  CHECK(var[1] == doctest::Approx(4.0).epsilon(1e-9));
}

TEST_CASE("gp: bad input is named") {
  const std::vector<float> x{0.0f, 1.0f, std::nanf(""), 3.0f}, y{1.0f, 2.0f, 3.0f, 4.0f};
  CHECK(message_of([&] { GpRegression(x, 4, 1, y); }).find("gp regression: feature element 2 is nan") !=
        std::string::npos);
  CHECK(message_of([&] { GpRegression(std::span(x).first(3), 4, 1, y); }).find("expected 4 x 1 and 4") !=
        std::string::npos);
  // Repeated points and no noise: the jitter keeps K positive definite.
  const std::vector<float> twice{0.0f, 0.0f, 1.0f, 1.0f};
  const GpRegression repeated(twice, 4, 1, y, gp::Hyper{.log_length = 0.0, .log_signal = 0.0, .log_noise = -40.0});
  CHECK(std::isfinite(repeated.nll_per_target()));
  // A signal variance that overflows double is named.
  const std::string singular = message_of([&] {
    GpRegression(twice, 4, 1, y, gp::Hyper{.log_length = 0.0, .log_signal = 400.0, .log_noise = 0.0});
  });
  CHECK(singular.find("gp regression: hyper-parameters (log l, log sf, log sn) = (0, 400, 0) give the variances "
                      "sf^2 = inf") != std::string::npos);
  std::vector<float> bad_y = y;
  bad_y[1] = INFINITY;
  CHECK(message_of([&] { GpRegression(std::vector<float>{0, 1, 2, 3}, 4, 1, bad_y); })
            .find("gp regression: target element 1 is inf") != std::string::npos);
}

TEST_CASE("gp_nll: the op's value is the regression's likelihood per target") {
  std::vector<float> x, y, truth;
  sine_data(30, 0.3, 4, x, y, truth);
  double mean = 0;
  for (float v : y) mean += v / 30.0;
  std::vector<float> centred = y;
  for (float& v : centred) v = static_cast<float>(v - mean);
  const gp::Hyper h{.log_length = -0.3, .log_signal = 2.0, .log_noise = -1.0};
  const GpRegression gp(x, 30, 1, y, h);
  Graph g;
  const Tensor f = g.input("f", {30, 1}), t = g.input("t", {30, 1}), theta = g.param("theta", {1, 3});
  const std::vector<float> th{-0.3f, 2.0f, -1.0f};
  std::copy(th.begin(), th.end(), g.value(theta).begin());
  const Tensor loss = gp_nll(f, t, theta);
  Executor ex(g, {.threads = 2});
  ex.run({loss}, {{f, x}, {t, centred}});
  CHECK(ex.scalar(loss) == doctest::Approx(gp.nll_per_target()).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(gp_nll(f, t, g.param("short", {1, 2})), doctest::Contains("[1, 3]"), Error);
}

TEST_CASE("executor: a run whose op threw leaves the executor fit to run again, with the same results") {
  // gp_nll throws from inside the flow graph when K is not positive
  // definite (here: NaN features); the next run must see a graph reset,
  // not one cancelled half way.
  std::vector<float> x, y, truth;
  sine_data(30, 0.3, 4, x, y, truth);
  Graph g;
  const Tensor f = g.input("f", {30, 1}), t = g.input("t", {30, 1}), theta = g.param("theta", {1, 3});
  const std::vector<float> th{-0.3f, 2.0f, -1.0f};
  std::copy(th.begin(), th.end(), g.value(theta).begin());
  // Beside it a slower branch, both summed: the sum's node counts its
  // inputs, and a cancelled run leaves it holding one.
  const Tensor w = g.param("w", {256, 256});
  fill_normal(g.value(w), 0.1f, 3, 0);
  Tensor side = w;
  for (int i = 0; i < 4; ++i) side = sigmoid(matmul(side, w));
  const Tensor loss = gp_nll(f, t, theta) + sum(side);
  const auto grads = grad(loss, std::vector<Tensor>{theta});
  const Tensor targets[] = {loss, grads[0]};
  Executor ex(g, {.threads = 2}), fresh(g, {.threads = 2});  // fresh never sees a failure
  auto run = [&](Executor& e, const std::vector<float>& features) {
    const Feed feeds[] = {{f, features}, {t, y}};
    e.run(targets, feeds);
    std::vector<float> out{e.scalar(loss)};
    out.insert(out.end(), e.value(grads[0]).begin(), e.value(grads[0]).end());
    return out;
  };
  std::vector<float> bad = x;
  bad[7] = std::nanf("");
  for (int i = 0; i < 5; ++i) {  // other features each time, so a stale value would show
    std::vector<float> good = x;
    for (float& v : good) v *= 1.0f + 0.1f * static_cast<float>(i);
    CHECK_THROWS_AS(run(ex, bad), Error);
    CHECK(run(ex, good) == run(fresh, good));
  }
}

TEST_CASE("gp_nll: the gradient in the features alone, and in theta alone, match finite differences") {
  // (Both together, from one factorization, are checked in test_ops.)
  std::vector<float> x, y, truth;
  sine_data(12, 0.3, 5, x, y, truth);
  for (bool features : {true, false}) {
    Graph g;
    const std::vector<float> th{-0.3f, 1.0f, -0.5f};
    const Tensor f = features ? g.param("f", {12, 1}) : g.constant({12, 1}, x);
    const Tensor theta = features ? g.constant({1, 3}, th) : g.param("theta", {1, 3});
    if (features) std::copy(x.begin(), x.end(), g.value(f).begin());
    else std::copy(th.begin(), th.end(), g.value(theta).begin());
    const Tensor t = g.constant({12, 1}, y);
    const Tensor loss = gp_nll(f, t, theta);
    const Tensor wrt[] = {features ? f : theta};
    const GradCheck chk = check_grad(loss, wrt, {}, {.eps = 1e-2, .rtol = 2e-2, .atol = 2e-3});
    INFO((features ? "features" : "theta"), ": worst ", chk.worst);
    CHECK(chk.ok);
  }
}

TEST_CASE("deep kernel: starts as the DBN's recognition pass, its gradient matches finite differences") {
  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = {6, 5, 3}, .seed = 3});
  for (const Rbm& r : dbn.rbms) {
    fill_normal(g.value(r.w), 0.8f, 5, 1);
    fill_normal(g.value(r.b), 0.5f, 5, 2);
  }
  DeepKernel k = DeepKernel::make(g, "dk", {.layers = {6, 5, 3}, .points = 12});
  k.init_from(dbn);
  k.set_hyper({.log_length = -0.5, .log_signal = 0.5, .log_noise = -1.0});
  std::vector<float> xs(72), ys(12);
  fill_uniform(xs, 0.0f, 1.0f, 7, 1);
  fill_uniform(ys, -1.0f, 1.0f, 7, 2);
  const Tensor up = dbn.up(k.x, 2);
  Executor ex(g, {.threads = 2});
  ex.run({k.features, up}, {{k.x, xs}, {k.y, ys}});
  const auto a = ex.value(k.features);
  const std::vector<float> b(ex.value(up).begin(), ex.value(up).end());
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  std::vector<Tensor> wrt = k.weights();
  wrt.push_back(k.theta);
  const Feed feeds[] = {{k.x, xs}, {k.y, ys}};
  const GradCheck chk = check_grad(k.loss, wrt, feeds, {.eps = 1e-2, .rtol = 2e-2, .atol = 2e-3});
  INFO("worst ", chk.worst);
  CHECK(chk.ok);
  Dbn other = Dbn::make(g, "other", {.layers = {6, 4, 3}, .seed = 3});
  CHECK_THROWS_WITH_AS(k.init_from(other), doctest::Contains("layer 0"), Error);
  // ARD: at its start (log scales 0) the same features and loss; its
  // gradient, the log scales' included, matches finite differences away
  // from the start; and feature d's kernel length is l exp(-ard_d): the
  // loss equals a spherical kernel's on features scaled by hand.
  DeepKernel ka = DeepKernel::make(g, "dka", {.layers = {6, 5, 3}, .points = 12, .ard = true});
  ka.init_from(dbn);
  ka.set_hyper(k.hyper());
  REQUIRE(ka.trained().size() == k.trained().size() + 1);
  const Feed afeeds[] = {{ka.x, xs}, {ka.y, ys}};
  ex.run({ka.features, ka.loss}, afeeds);
  const auto fa = ex.value(ka.features);
  CHECK(std::equal(fa.begin(), fa.end(), b.begin()));
  const float start_loss = ex.scalar(ka.loss);
  ex.run({k.loss}, feeds);
  CHECK(start_loss == ex.scalar(k.loss));
  const std::vector<float> scales{0.7f, -0.4f, 0.2f};
  std::copy(scales.begin(), scales.end(), g.value(ka.ard).begin());
  const GradCheck achk = check_grad(ka.loss, ka.trained(), afeeds, {.eps = 1e-2, .rtol = 2e-2, .atol = 2e-3});
  INFO("worst ", achk.worst);
  CHECK(achk.ok);
  ex.run({ka.loss}, afeeds);
  const float ard_loss = ex.scalar(ka.loss);
  ex.run({up}, feeds);
  std::vector<float> scaled(ex.value(up).begin(), ex.value(up).end());
  for (size_t i = 0; i < scaled.size(); ++i) scaled[i] *= std::exp(scales[i % 3]);
  Graph h;
  const Tensor hf = h.input("f", {12, 3}), hy = h.input("y", {12, 1}), ht = h.param("theta", {1, 3});
  std::copy_n(g.value(ka.theta).begin(), 3, h.value(ht).begin());
  const Tensor by_hand = gp_nll(hf, hy, ht);
  Executor hx(h, {.threads = 1});
  hx.run({by_hand}, {{hf, scaled}, {hy, ys}});
  CHECK(ard_loss == doctest::Approx(hx.scalar(by_hand)).epsilon(1e-5));
}

namespace {

// n points of y = 3 sin(2 pi x_0); x_1..x_7 are noise that swamps x_0 in a
// distance between raw inputs.
void one_input_data(int n, uint32_t seed, std::vector<float>& x, std::vector<float>& y) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 8; ++j) x.push_back(u(gen));
    y.push_back(static_cast<float>(3 * std::sin(2 * std::numbers::pi * x[static_cast<size_t>(i * 8)])));
  }
}

}  // namespace

TEST_CASE("deep kernel/fit: fine-tuning finds the one input that matters, and a resumed run goes on exactly") {
  std::vector<float> x, y, tx, ty, vx, vy;
  one_input_data(60, 1, x, y);
  one_input_data(200, 2, tx, ty);
  one_input_data(40, 3, vx, vy);
  const double raw = rmse(GpRegression(x, 60, 8, y).predict(tx, 200), ty);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_dk_{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto run = [&](int steps, bool resume, bool validate = false) {
    Graph g;
    DeepKernel k = DeepKernel::make(g, "dk", {.layers = {8, 12, 4}, .points = 60, .adam = {.lr = 0.02f},
                                              .hyper_adam = {.lr = 0.02f}, .init_std = 0.5f});
    Executor ex(g, {.threads = 2, .seed = 1});
    DeepKernelFitter fit(k, ex, {.steps = steps, .eval_every = 25, .eval_batch = 64, .checkpoint = dir, .resume = resume});
    // theta starts where a GP on the random features puts it (a resumed
    // run then loads the checkpoint's)
    k.set_hyper(GpRegression(fit.features(x), 60, 4, y).hyper());
    std::vector<DeepKernelEval> evals;
    fit.fit(x, y, validate ? std::span<const float>(vx) : std::span<const float>(),
            validate ? std::span<const float>(vy) : std::span<const float>(),
            [&](const DeepKernelEval& e) { evals.push_back(e); });
    const GpRegression tuned(fit.features(x), 60, 4, y, k.hyper());
    if (validate) {  // it ends at the best validation step, which is the lowest of those seen
      double lowest = evals.front().valid_error;
      for (const DeepKernelEval& e : evals) lowest = std::min(lowest, e.valid_error);
      CHECK(fit.best_valid_score() == lowest);
      CHECK(rmse(tuned.predict(fit.features(vx), 40), vy) == doctest::Approx(lowest).epsilon(1e-9));
      CHECK(fit.best_step() > 0);
    }
    std::vector<float> p;
    for (Tensor t : k.weights()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::tuple{rmse(tuned.predict(fit.features(tx), 200), ty), evals, p};
  };
  const auto [tuned, evals, params] = run(300, false);
  INFO("raw inputs ", raw, ", fine-tuned ", tuned);
  CHECK(raw > 1.2);  // the function's sd is 2.1
  CHECK(tuned < 0.5 * raw);
  REQUIRE(evals.size() == 13);  // step 0, then every 25
  CHECK(evals.front().step == 0);
  CHECK(evals.back().nll < evals.front().nll - 0.5);
  for (const DeepKernelEval& e : evals) CHECK(e.valid_error == 0.0);
  std::filesystem::remove_all(dir);
  run(100, false);
  const auto [rtuned, revals, rparams] = run(300, true);
  REQUIRE(revals.size() == 8);
  CHECK(revals.front().step == 125);
  CHECK(revals.back().nll == evals.back().nll);
  CHECK(rparams == params);
  CHECK(rtuned == tuned);
  std::filesystem::remove_all(dir);
  const auto [vtuned, vevals, vparams] = run(300, false, true);
  CHECK(vtuned < 0.5 * raw);
  // Validated, stopped at 100 and resumed: the same step is chosen and the
  // same weights end it.
  std::filesystem::remove_all(dir);
  run(100, false, true);
  const auto [rvtuned, rvevals, rvparams] = run(300, true, true);
  CHECK(rvparams == vparams);
  CHECK(rvtuned == vtuned);
  CHECK(rvevals.back().valid_error == vevals.back().valid_error);
  // Resumed on other targets: refused, naming it.
  for (float& v : y) v = -v;
  CHECK_THROWS_WITH_AS(run(300, true, true), doctest::Contains("fitted on other points, targets"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("deep kernel/fit: conjugate gradients find the input that matters too, resume exactly (ARD too), and a run of another optimizer or kernel refuses the checkpoint") {
  std::vector<float> x, y, tx, ty;
  one_input_data(60, 1, x, y);
  one_input_data(200, 2, tx, ty);
  const double raw = rmse(GpRegression(x, 60, 8, y).predict(tx, 200), ty);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_dkcg_{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::vector<std::string> notes;  // the last run's resume notes
  auto run = [&](int steps, bool resume, bool cg = true, bool ard = false, int eval_every = 10) {
    Graph g;
    DeepKernel k =
        DeepKernel::make(g, "dk", {.layers = {8, 12, 4}, .points = 60, .ard = ard, .cg = cg, .init_std = 0.5f});
    Executor ex(g, {.threads = 2, .seed = 1});
    DeepKernelFitter fit(k, ex,
                         {.steps = steps, .eval_every = eval_every, .eval_batch = 64, .checkpoint = dir, .resume = resume});
    k.set_hyper(GpRegression(fit.features(x), 60, 4, y).hyper());
    std::vector<DeepKernelEval> evals;
    fit.fit(x, y, {}, {}, [&](const DeepKernelEval& e) { evals.push_back(e); });
    notes = fit.resume_notes();
    const GpRegression tuned(fit.features(x), 60, 4, y, k.hyper());
    std::vector<float> p;
    for (Tensor t : k.trained()) p.insert(p.end(), g.value(t).begin(), g.value(t).end());
    return std::tuple{rmse(tuned.predict(fit.features(tx), 200), ty), evals, p};
  };
  const auto [tuned, evals, params] = run(60, false);
  INFO("raw inputs ", raw, ", fine-tuned by cg ", tuned);
  CHECK(tuned < 0.5 * raw);
  REQUIRE(evals.size() == 7);  // step 0, then every 10 line searches
  // each evaluation's loss (before its block's last line search) is lower than the one before
  for (size_t i = 1; i < evals.size(); ++i) CHECK(evals[i].nll < evals[i - 1].nll);
  std::filesystem::remove_all(dir);
  run(30, false);
  const auto [rtuned, revals, rparams] = run(60, true);
  REQUIRE(revals.size() == 3);
  CHECK(revals.front().step == 40);
  CHECK(revals.back().nll == evals.back().nll);
  CHECK(rparams == params);
  CHECK(rtuned == tuned);
  CHECK_THROWS_WITH_AS(run(60, true, false), doctest::Contains("the checkpoint's optimizer is cg; this run's is adam"), Error);
  // cg restarts its direction at each evaluation: another interval is another run.
  CHECK_THROWS_WITH_AS(run(70, true, true, false, 5),
                       doctest::Contains("evaluation interval, where cg restarts its direction (DeepKernelFitConfig::"
                                         "eval_every, the samples' --eval-every) 10; this run has 5"),
                       Error);
  // With an ARD kernel: as good, resumed bitwise (its scales included), and
  // a spherical run refuses its checkpoint.
  std::filesystem::remove_all(dir);
  const auto [atuned, aevals, aparams] = run(60, false, true, true);
  INFO("ARD fine-tuned by cg ", atuned);
  CHECK(atuned < 0.5 * raw);
  REQUIRE(aparams.size() == params.size() + 4);
  auto moved = [](const std::vector<float>& p) {  // the last 4: the features' log scales, learned from 0
    return std::any_of(p.end() - 4, p.end(), [](float v) { return v != 0.0f && std::isfinite(v); });
  };
  CHECK(moved(aparams));
  std::filesystem::remove_all(dir);
  run(30, false, true, true);
  const auto [artuned, arevals, arparams] = run(60, true, true, true);
  CHECK(arparams == aparams);
  CHECK(artuned == atuned);
  CHECK_THROWS_WITH_AS(run(60, true, true, false),
                       doctest::Contains("the checkpoint's kernel is ARD (a length scale per feature); this run's is "
                                         "spherical (DeepKernelConfig::ard, gp_faces' --ard)"),
                       Error);
  // Adam learns the log scales too (with theta, by the hyper-parameters'
  // Adam), and an ARD run refuses a spherical checkpoint.
  std::filesystem::remove_all(dir);
  const auto [dtuned, devals, dparams] = run(20, false, false, true);
  CHECK(std::isfinite(dtuned));
  CHECK(moved(dparams));
  std::filesystem::remove_all(dir);
  run(10, false, false, false);
  CHECK_THROWS_WITH_AS(run(20, true, false, true), doctest::Contains("the checkpoint's kernel is spherical"), Error);
  // Adam's steps do not depend on the interval: another one is said, not refused.
  run(20, true, false, false, 5);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == "resumed with evaluation interval (steps) 5 (the checkpoint's 10)");
  std::filesystem::remove_all(dir);
}

TEST_CASE("deep kernel/fit: a NaN in the inputs or targets is named by set, row and column before any step") {
  std::vector<float> x, y;
  one_input_data(60, 1, x, y);
  std::vector<float> vx(x.begin(), x.begin() + 8 * 10), vy(y.begin(), y.begin() + 10);
  auto fit_with = [&](const std::vector<float>& tx, const std::vector<float>& ty, const std::vector<float>& px,
                      const std::vector<float>& py) {
    Graph g;
    DeepKernel k = DeepKernel::make(g, "dk", {.layers = {8, 12, 4}, .points = 60, .init_std = 0.5f});
    Executor ex(g, {.threads = 1, .seed = 1});
    DeepKernelFitter fit(k, ex, {.steps = 2, .eval_every = 1, .eval_batch = 64, .checkpoint = {}});
    fit.fit(tx, ty, px, py);
    return ex.step();
  };
  std::vector<float> bad = x;
  bad[7 * 8 + 2] = NAN;
  CHECK(message_of([&] { fit_with(bad, y, vx, vy); }) ==
        "fine-tuning 'dk': training input row 7 holds nan at column 2; expected finite data");
  std::vector<float> bad_y = vy;
  bad_y[3] = INFINITY;
  CHECK(message_of([&] { fit_with(x, y, vx, bad_y); }) ==
        "fine-tuning 'dk': validation target row 3 holds inf at column 0; expected finite data");
  CHECK(fit_with(x, y, vx, vy) > 0);
  // A hyper-parameter rate so large that theta overflows: the divergence is counted in steps and named by the
  // graph's names too (it read "diverged in epoch 2: 'p0' holds").
  Graph g;
  DeepKernel k = DeepKernel::make(g, "dk", {.layers = {8, 12, 4}, .points = 60, .hyper_adam = {.lr = 100.0f},
                                            .init_std = 0.5f});
  Executor ex(g, {.threads = 1, .seed = 1});
  DeepKernelFitter fit(k, ex, {.steps = 10, .eval_every = 2, .eval_batch = 64, .checkpoint = {}});
  const std::string e = message_of([&] { fit.fit(x, y, {}, {}); });
  INFO(e);
  CHECK(e.find("fine-tuning 'dk': training diverged in step ") != std::string::npos);
  CHECK(e.find("' ('dk.") != std::string::npos);
}

TEST_CASE("gp regression: the predictive variance is small at the training points and the prior's far away") {
  std::vector<float> x, y;
  for (int i = 0; i < 10; ++i) {
    x.push_back(0.1f * static_cast<float>(i));
    y.push_back(std::sin(3.0f * x.back()) + 2.0f);
  }
  const GpRegression gp(x, 10, 1, y, gp::Hyper{.log_length = std::log(0.3), .log_signal = 0.0, .log_noise = std::log(0.01)});
  std::vector<double> var;
  const std::vector<float> at{0.3f, 100.0f};
  const std::vector<double> mean = gp.predict(at, 2, &var);
  REQUIRE(var.size() == 2);
  CHECK(var[0] < 1e-3);                                   // pinned by a target with noise sd 0.01
  CHECK(var[0] > 0.0);
  CHECK(var[1] == doctest::Approx(1.0).epsilon(1e-9));    // sf^2: no training point near
  CHECK(mean[1] == doctest::Approx(gp.target_mean()).epsilon(1e-9));  // the prior's mean
  CHECK(mean[0] == doctest::Approx(std::sin(0.9) + 2.0).epsilon(1e-3));
}
