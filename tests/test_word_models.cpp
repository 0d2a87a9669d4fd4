// Models over word counts: count units (the replicated softmax) and
// constrained Poisson units against brute force, exact log Z and AIS, their
// CD chains, and the autoencoder on word data.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "autodiff/check_grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "models/ais.hpp"
#include "models/autoencoder.hpp"
#include "models/cd.hpp"
#include "models/exact.hpp"
#include "tests/io_test_util.hpp"

using namespace ebm;
using ebm::io_test::error_of;
using ebm::io_test::has;

namespace {

// Every count vector of `n` words summing to d.
void count_vectors(int n, int d, std::vector<float>& cur, std::vector<std::vector<float>>& out) {
  if (static_cast<int>(cur.size()) == n - 1) {
    cur.push_back(static_cast<float>(d));
    out.push_back(cur);
    cur.pop_back();
    return;
  }
  for (int k = 0; k <= d; ++k) {
    cur.push_back(static_cast<float>(k));
    count_vectors(n, d - k, cur, out);
    cur.pop_back();
  }
}

double log_multinomial(const std::vector<float>& v) {
  double s = std::lgamma(std::accumulate(v.begin(), v.end(), 0.0) + 1);
  for (float x : v) s -= std::lgamma(x + 1.0);
  return s;
}

// -log sum_h exp(-E(v, h)) with E = -c.v - D b.h - v'W h (count units; for
// poisson units -b.h, unscaled), by enumerating h.
double brute_free_energy(const Graph& g, const Rbm& r, const std::vector<float>& v) {
  const int64_t nv = r.config.visible, nh = r.config.hidden;
  const auto w = g.value(r.w), b = g.value(r.b), c = g.value(r.c);
  const double d = r.config.visible_unit == Unit::count ? std::accumulate(v.begin(), v.end(), 0.0) : 1.0;
  double cv = 0;
  for (int64_t i = 0; i < nv; ++i) cv += double{c[static_cast<size_t>(i)]} * v[static_cast<size_t>(i)];
  double total = 0;
  for (int64_t h = 0; h < (int64_t{1} << nh); ++h) {
    double e = cv;
    for (int64_t j = 0; j < nh; ++j) {
      if (!(h >> j & 1)) continue;
      e += d * b[static_cast<size_t>(j)];
      for (int64_t i = 0; i < nv; ++i) e += double{v[static_cast<size_t>(i)]} * w[static_cast<size_t>(i * nh + j)];
    }
    total += std::exp(e);
  }
  return -std::log(total);
}

}  // namespace

TEST_CASE("rbm/count: F is the brute-force marginal, and exp(-F) over every count vector sums to Z_D") {
  Graph g;
  Rbm r = Rbm::make(g, "rsm", {.visible = 4, .hidden = 3, .visible_unit = Unit::count, .init_std = 0.5f});
  fill_normal(g.value(r.b), 0.4f, 3, 1);
  fill_normal(g.value(r.c), 0.4f, 3, 2);
  for (int d : {0, 1, 3, 5}) {
    CAPTURE(d);
    std::vector<std::vector<float>> all;
    std::vector<float> cur;
    count_vectors(4, d, cur, all);
    std::vector<float> flat;
    for (const auto& v : all) flat.insert(flat.end(), v.begin(), v.end());
    Tensor v = g.input(fmt::format("v{}", d), {static_cast<int64_t>(all.size()), 4});
    Tensor f = r.free_energy(v);
    Executor ex(g, {.threads = 2});
    ex.run({f}, {{v, flat}});
    const std::vector<double> exact = free_energy_exact(r, flat);
    double z = 0;
    for (size_t k = 0; k < all.size(); ++k) {
      const double brute = brute_free_energy(g, r, all[k]);
      CHECK(ex.value(f)[k] == doctest::Approx(brute).epsilon(1e-5));
      CHECK(exact[k] == doctest::Approx(brute).epsilon(1e-9));
      z += std::exp(log_multinomial(all[k]) - brute);
    }
    CHECK(exact_log_z(r, d) == doctest::Approx(std::log(z)).epsilon(1e-10));
  }
  CHECK(has(error_of([&] { (void)exact_log_z(r, -1); }), "-1 words"));
  CHECK(has(error_of([&] { (void)ais_log_z(r, std::vector<float>(4, 0.0f)); }), "ais_log_z(rbm, bias, words)"));
  CHECK(has(error_of([&] { (void)ais_log_z(r, std::vector<float>(4, 0.0f), 0); }), "0 words; expected at least 1"));
  Rbm binary = Rbm::make(g, "b", {.visible = 4, .hidden = 3});
  CHECK(has(error_of([&] { (void)exact_log_z(binary, 3); }), "for count visible units"));
  CHECK(has(error_of([&] { Rbm::make(g, "h", {.visible = 4, .hidden = 3, .hidden_unit = Unit::count}); }),
            "count units are for the visible layer"));
  CHECK(has(error_of([&] { make_cd_trainer(r, {.method = CdMethod::pcd}); }), "persistent chains of count units"));
  Tensor h = g.input("h", {2, 3});
  CHECK(has(error_of([&] { r.sample_v(h); }), "no number of words given"));
}

TEST_CASE("rbm/poisson: F is the brute-force marginal over h, samples have mean D softmax, and log Z is refused") {
  Graph g;
  Rbm r = Rbm::make(g, "cpm", {.visible = 5, .hidden = 4, .visible_unit = Unit::poisson, .init_std = 0.5f});
  fill_normal(g.value(r.b), 0.4f, 4, 1);
  fill_normal(g.value(r.c), 0.4f, 4, 2);
  const std::vector<std::vector<float>> docs{{0, 0, 0, 0, 0}, {1, 0, 2, 0, 0}, {3, 1, 0, 4, 2}, {0, 9, 0, 0, 1}};
  std::vector<float> flat;
  for (const auto& v : docs) flat.insert(flat.end(), v.begin(), v.end());
  Tensor v = g.input("v", {4, 5});
  Tensor f = r.free_energy(v);
  // p(v | h) for a fixed h: every row's rates D softmax(h W' + c), drawn 20,000 times
  const int64_t draws = 20000;
  Tensor h = g.input("h", {draws, 4});
  Tensor d = g.input("d", {draws, 1});
  Tensor mean_v = r.p_v(h, d), sample = r.sample_v(h, d);
  std::vector<float> hv(static_cast<size_t>(draws * 4)), dv(static_cast<size_t>(draws), 30.0f);
  for (size_t i = 0; i < hv.size(); ++i) hv[i] = static_cast<float>(i % 4 == 1 || i % 4 == 2);
  Executor ex(g, {.threads = 2, .seed = 5});
  ex.run({f, mean_v, sample}, {{v, flat}, {h, hv}, {d, dv}});
  const std::vector<double> exact = free_energy_exact(r, flat);
  for (size_t k = 0; k < docs.size(); ++k) {
    CAPTURE(k);
    const double brute = brute_free_energy(g, r, docs[k]);
    CHECK(ex.value(f)[k] == doctest::Approx(brute).epsilon(1e-5));
    CHECK(exact[k] == doctest::Approx(brute).epsilon(1e-9));
  }
  // the rates by hand: D softmax_i(c_i + W_i1 + W_i2)
  std::vector<double> rate(5);
  double norm = 0;
  for (int64_t i = 0; i < 5; ++i) {
    const auto w = g.value(r.w);
    rate[static_cast<size_t>(i)] = std::exp(g.value(r.c)[static_cast<size_t>(i)] + w[static_cast<size_t>(i * 4 + 1)] +
                                            w[static_cast<size_t>(i * 4 + 2)]);
    norm += rate[static_cast<size_t>(i)];
  }
  std::vector<double> total(5, 0.0), row_sum(static_cast<size_t>(draws), 0.0);
  for (int64_t n = 0; n < draws; ++n)
    for (int64_t i = 0; i < 5; ++i) {
      const float x = ex.value(sample)[static_cast<size_t>(n * 5 + i)];
      total[static_cast<size_t>(i)] += x;
      row_sum[static_cast<size_t>(n)] += x;
    }
  for (int64_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    const double want = 30.0 * rate[static_cast<size_t>(i)] / norm;
    CHECK(ex.value(mean_v)[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-5));
    // each count is Poisson, its mean within 4 standard errors
    CHECK(std::abs(total[static_cast<size_t>(i)] / draws - want) < 4 * std::sqrt(want / draws));
  }
  // the counts sum to D on average only: their sum is Poisson(D) too
  const double mean_len = std::accumulate(row_sum.begin(), row_sum.end(), 0.0) / draws;
  double var_len = 0;
  for (double x : row_sum) var_len += (x - mean_len) * (x - mean_len) / draws;
  CHECK(mean_len == doctest::Approx(30.0).epsilon(0.01));
  CHECK(var_len == doctest::Approx(30.0).epsilon(0.05));

  CHECK(has(error_of([&] { (void)exact_log_z(r); }), "belong to no joint distribution"));
  CHECK(has(error_of([&] { (void)ais_log_z(r, std::vector<float>(5, 0.0f)); }), "no log Z to estimate"));
  CHECK(has(error_of([&] { (void)exact_log_z(r, 3); }), "for count visible units"));
  CHECK(has(error_of([&] { (void)ais_log_z(r, std::vector<float>(5, 0.0f), 3); }), "no log Z to estimate"));
  CHECK(has(error_of([&] { Rbm::make(g, "hp", {.visible = 4, .hidden = 3, .hidden_unit = Unit::poisson}); }),
            "poisson units are for the visible layer"));
  CHECK(has(error_of([&] { make_cd_trainer(r, {.method = CdMethod::pcd}); }), "persistent chains of poisson units"));
  Tensor h2 = g.input("h2", {2, 4});
  CHECK(has(error_of([&] { r.sample_v(h2); }), "a sample of poisson units"));
  CHECK(parse_unit("poisson") == Unit::poisson);
  CHECK(has(error_of([&] { (void)parse_unit("poison"); }), "count or poisson"));
}

TEST_CASE("rbm/poisson: a CD-k chain goes on with each document's length, not its first sample's") {
  Graph g;
  Rbm r = Rbm::make(g, "cpm", {.visible = 6, .hidden = 4, .visible_unit = Unit::poisson, .init_std = 0.5f});
  // CD-3 ending in the mean D softmax: its rows sum to the D the chain carries
  CdTrainer t = make_cd_trainer(r, {.k = 3, .batch = 4, .lr = 0.01f, .mean_field_last = true});
  const std::vector<float> docs{1, 0, 2, 0, 0, 3, 5, 5, 0, 1, 2, 0, 0, 0, 0, 0, 1, 0, 9, 9, 9, 9, 4, 0};
  Executor ex(g, {.threads = 2, .seed = 7});
  for (int step = 0; step < 5; ++step) {
    ex.run({t.negative, t.step}, {{t.v0, docs}});
    for (int64_t n = 0; n < 4; ++n) {
      CAPTURE(step);
      CAPTURE(n);
      const auto row = ex.value(t.negative).subspan(static_cast<size_t>(n * 6), 6);
      const double d = std::accumulate(docs.begin() + n * 6, docs.begin() + (n + 1) * 6, 0.0);
      CHECK(std::accumulate(row.begin(), row.end(), 0.0) == doctest::Approx(d).epsilon(1e-5));
    }
  }
}

TEST_CASE("rbm/count: AIS of log Z_D agrees with exact enumeration within 0.1 nats, short and long documents") {
  Graph g;
  Rbm r = Rbm::make(g, "rsm", {.visible = 40, .hidden = 12, .visible_unit = Unit::count, .init_std = 0.3f});
  fill_normal(g.value(r.b), 0.2f, 5, 1);
  fill_normal(g.value(r.c), 0.8f, 5, 2);
  std::vector<float> mean(40);  // the base model: a unigram model near the RBM's own visible biases
  for (size_t i = 0; i < mean.size(); ++i) mean[i] = std::exp(g.value(r.c)[i] + 0.3f * std::sin(float(i)));
  const std::vector<float> base = word_share_bias(mean);
  for (int64_t d : {3, 30}) {
    const double exact = exact_log_z(r, d);
    const AisResult a = ais_log_z(r, base, d, {.runs = 100, .schedule = {{0.5, 200}, {0.9, 800}, {1.0, 2000}}, .seed = 9});
    CAPTURE(d);
    CAPTURE(a.log_z_base);
    MESSAGE("D = " << d << ": AIS " << a.log_z << ", exact " << exact << ", base " << a.log_z_base);
    CHECK(std::abs(a.log_z - exact) < 0.1);
    CHECK(a.log_z_low <= exact);
    CHECK(exact <= a.log_z_high);
    CHECK(std::abs(a.log_z_base - exact) > 0.5);  // the annealing had something to find
  }
}

TEST_CASE("rbm/count: CD-1 on documents of two topics lowers their exact negative log-likelihood") {
  // 6 words; topic A draws words 0-2, topic B words 3-5 (mostly); 4 to 8 words a document
  const int64_t nv = 6, nh = 4, batch = 20;
  std::mt19937 gen(11);
  std::vector<float> docs;
  for (int n = 0; n < 200; ++n) {
    const int topic = n % 2, len = 4 + static_cast<int>(gen() % 5);
    std::vector<float> v(nv, 0.0f);
    for (int k = 0; k < len; ++k) {
      const bool own = gen() % 10 < 9;
      const int w = static_cast<int>(gen() % 3) + 3 * (own ? topic : 1 - topic);
      v[static_cast<size_t>(w)] += 1;
    }
    docs.insert(docs.end(), v.begin(), v.end());
  }
  Graph g;
  Rbm r = Rbm::make(g, "rsm", {.visible = nv, .hidden = nh, .visible_unit = Unit::count, .init_std = 0.01f});
  auto nll = [&] {  // mean over the documents of -log p(v | D)
    const std::vector<double> f = free_energy_exact(r, docs);
    std::map<int, double> log_z;
    double s = 0;
    for (size_t n = 0; n < f.size(); ++n) {
      const std::vector<float> v(docs.begin() + static_cast<std::ptrdiff_t>(n * nv),
                                 docs.begin() + static_cast<std::ptrdiff_t>((n + 1) * nv));
      const int d = static_cast<int>(std::accumulate(v.begin(), v.end(), 0.0));
      if (!log_z.contains(d)) log_z[d] = exact_log_z(r, d);
      s += f[n] + log_z[d] - log_multinomial(v);
    }
    return s / static_cast<double>(f.size());
  };
  std::vector<float> mean(nv, 0.0f);
  for (size_t k = 0; k < docs.size(); ++k) mean[k % nv] += docs[k] / 200.0f;
  r.init_visible_bias(mean);
  const double before = nll();
  CdTrainer t = make_cd_trainer(r, {.batch = batch, .lr = 0.05f, .momentum = 0.5f, .weight_decay = 0.0f});
  Executor ex(g, {.threads = 2, .seed = 3});
  for (int epoch = 0; epoch < 30; ++epoch)
    for (int64_t b = 0; b < 200 / batch; ++b)
      ex.run({t.step}, {{t.v0, std::span<const float>(docs).subspan(static_cast<size_t>(b * batch * nv),
                                                                     static_cast<size_t>(batch * nv))}});
  const double after = nll();
  MESSAGE("exact NLL per document: " << before << " before, " << after << " after");
  CHECK(after < before - 0.5);  // the topics are learnable: well over half a nat
}

TEST_CASE("autoencoder/count and poisson: loss and reconstructions equal a plain loop, the gradient finite differences") {
  for (const Unit unit : {Unit::count, Unit::poisson}) {
    CAPTURE(to_string(unit));
    Graph g;
    Autoencoder a = Autoencoder::make(g, "ae", {.layers = {7, 5, 3}, .data_unit = unit, .batch = 4,
                                                .init_std = 0.3f});
    for (size_t l = 0; l < 2; ++l) {  // biases away from 0, so that each one's place in the net is checked
      fill_normal(g.value(a.be[l]), 0.3f, 7, 2 * l);
      fill_normal(g.value(a.bd[l]), 0.3f, 7, 2 * l + 1);
    }
    std::vector<float> x{2, 0, 1, 0, 0, 3, 1, 0, 0, 0, 4, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 5};
    const Feed feeds[] = {{a.x, x}};
    const GradCheck c = check_grad(a.loss, a.params(), feeds, {.eps = 1e-2, .rtol = 2e-2, .atol = 5e-3});
    INFO(c.worst);
    CHECK(c.ok);
    Tensor r = a.reconstruct(a.x);
    Executor ex(g, {.threads = 2});
    ex.run({r, a.loss}, feeds);
    // In double: h = sigmoid(x We0 + D be0) (poisson: + be0), code = h We1 + be1 (linear),
    // g = sigmoid(code Wd1' + bd1), p = softmax(g Wd0' + bd0); reconstruction
    // D p, loss the rows' mean of -x . log p.
    auto w = [&g](Tensor t, int64_t i, int64_t j) {
      return double{g.value(t)[static_cast<size_t>(i * t.shape().cols + j)]};
    };
    auto bias = [&g](Tensor t, int64_t j) { return double{g.value(t)[static_cast<size_t>(j)]}; };
    auto sig = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
    double loss = 0;
    for (int64_t row = 0; row < 4; ++row) {
      const float* xr = x.data() + row * 7;
      const double d = std::accumulate(xr, xr + 7, 0.0);
      std::vector<double> h(5), code(3), gh(5), out(7);
      for (int64_t j = 0; j < 5; ++j) {
        double z = (unit == Unit::count ? d : 1.0) * bias(a.be[0], j);
        for (int64_t i = 0; i < 7; ++i) z += xr[i] * w(a.we[0], i, j);
        h[static_cast<size_t>(j)] = sig(z);
      }
      for (int64_t j = 0; j < 3; ++j) {
        double z = bias(a.be[1], j);
        for (int64_t i = 0; i < 5; ++i) z += h[static_cast<size_t>(i)] * w(a.we[1], i, j);
        code[static_cast<size_t>(j)] = z;
      }
      for (int64_t i = 0; i < 5; ++i) {
        double z = bias(a.bd[1], i);
        for (int64_t j = 0; j < 3; ++j) z += code[static_cast<size_t>(j)] * w(a.wd[1], i, j);
        gh[static_cast<size_t>(i)] = sig(z);
      }
      for (int64_t i = 0; i < 7; ++i) {
        double z = bias(a.bd[0], i);
        for (int64_t j = 0; j < 5; ++j) z += gh[static_cast<size_t>(j)] * w(a.wd[0], i, j);
        out[static_cast<size_t>(i)] = z;
      }
      const double top = *std::max_element(out.begin(), out.end());
      double norm = 0;
      for (double o : out) norm += std::exp(o - top);
      for (int64_t i = 0; i < 7; ++i) {
        const double log_p = out[static_cast<size_t>(i)] - top - std::log(norm);
        loss -= xr[i] * log_p / 4.0;
        INFO("row ", row, ", word ", i);
        CHECK(ex.value(r)[static_cast<size_t>(row * 7 + i)] == doctest::Approx(d * std::exp(log_p)).epsilon(1e-5));
      }
    }
    CHECK(ex.value(a.loss)[0] == doctest::Approx(loss).epsilon(1e-5));
  }
}

TEST_CASE("autoencoder/code noise: training sees it, encode() does not, and autodiff treats it as a constant") {
  Graph g;
  const AutoencoderConfig noisy{.layers = {7, 5, 3}, .data_unit = Unit::count, .linear_code = false, .batch = 4,
                                .init_std = 0.3f, .code_noise = 2.0f};
  AutoencoderConfig clean_cfg = noisy;
  clean_cfg.code_noise = 0.0f;
  Autoencoder a = Autoencoder::make(g, "n", noisy), c = Autoencoder::make(g, "c", clean_cfg);
  const auto pa = a.params(), pc = c.params();
  for (size_t i = 0; i < pa.size(); ++i) std::ranges::copy(g.value(pa[i]), g.value(pc[i]).begin());
  std::vector<float> x{2, 0, 1, 0, 0, 3, 1, 0, 0, 0, 4, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 5};
  const Tensor ea = a.encode(a.x), ec = c.encode(c.x);
  Executor ex(g, {.threads = 2, .seed = 5});
  ex.run({ea, ec, a.loss, c.loss}, {{a.x, x}, {c.x, x}});
  CHECK(std::ranges::equal(ex.value(ea), ex.value(ec)));
  const float noisy0 = ex.scalar(a.loss), clean = ex.scalar(c.loss);
  CHECK(noisy0 != clean);
  ex.run({a.loss, c.loss}, {{a.x, x}, {c.x, x}});  // the next step draws new noise
  CHECK(ex.scalar(a.loss) != noisy0);
  CHECK(ex.scalar(c.loss) == clean);
  const Feed feeds[] = {{a.x, x}};
  const GradCheck r = check_grad(a.loss, pa, feeds, {.eps = 1e-2, .rtol = 2e-2, .atol = 5e-3});
  INFO(r.worst);
  CHECK(r.ok);
  CHECK(has(error_of([&] { Autoencoder::make(g, "bad", {.code_noise = -1.0f}); }), "code noise -1"));
}

