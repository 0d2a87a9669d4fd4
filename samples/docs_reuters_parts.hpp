#pragma once
// docs_reuters's pieces that are not its run: the stories as data sources,
// the retrieval report (table, CSV, curves, result lines), semantic
// hashing as a lookup, and the first RBM's test perplexity by AIS.

#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "io/reuters.hpp"
#include "models/ais.hpp"
#include "models/exact.hpp"
#include "models/retrieval.hpp"
#include "samples/autoencoder_parts.hpp"

namespace ebm::samples {

inline DataSource doc_source(const io::DocumentSet& d) {
  return {d.size(), d.vocabulary,
          [&d](std::span<const int64_t> rows, std::span<float> out, uint64_t) { d.fill(rows, out); }, true};
}

// The same rows with every count c replaced by f(c, word).
template <typename F>
DataSource transformed(const DataSource& s, F f) {
  return {s.count, s.dim, [s, f](std::span<const int64_t> rows, std::span<float> out, uint64_t epoch) {
            s.fill(rows, out, epoch);
            for (size_t k = 0; k < out.size(); ++k) out[k] = f(out[k], static_cast<int64_t>(k % static_cast<size_t>(s.dim)));
          },
          s.concurrent};
}

struct Method {
  std::string key, label;
  RetrievalCurve curve;
};

inline void report(const std::vector<Method>& methods, const AeOptions& o, const std::string& title) {
  const auto& k = methods.front().curve.retrieved;
  fmt::print("\nprecision (share of the retrieved stories that share a topic with the query), mean over {} test "
             "stories\n{:>10}", methods.front().curve.queries, "retrieved");
  for (const Method& m : methods) fmt::print("  {:>12}", m.key);
  fmt::print("\n");
  for (size_t i = 0; i < k.size(); ++i) {
    fmt::print("{:>10}", k[i]);
    for (const Method& m : methods) fmt::print("  {:>12.4f}", m.curve.precision[i]);
    fmt::print("\n");
  }
  Csv csv(o.output + "/retrieval.csv", "method,retrieved,precision,recall", false);
  for (const Method& m : methods)
    for (size_t i = 0; i < k.size(); ++i)
      csv.row("{},{},{:.6f},{:.6f}", m.key, k[i], m.curve.precision[i], m.curve.recall[i]);
  // every query against the whole database: the share of relevant stories
  result("chance_precision", fmt::format("{:.4f}", methods.front().curve.precision.back()));
  for (const Method& m : methods)
    for (int64_t at : {1, 15, 63})
      result(fmt::format("{}_precision_at_{}", m.key, at).c_str(), fmt::format("{:.4f}", m.curve.precision_at(at)));
  std::vector<io::Panel> panels(2);
  panels[0] = {"Precision by documents retrieved", "log2(documents retrieved + 1)", "precision"};
  panels[1] = {"Precision against recall", "recall", "precision"};
  panels[1].log_x = true;  // the short lists, where the methods differ, have recalls under 0.05
  for (const Method& m : methods) {
    io::Series a{m.label}, b{m.label};
    for (size_t i = 0; i < k.size(); ++i) {
      a.x.push_back(std::log2(static_cast<double>(k[i]) + 1.0));
      a.y.push_back(m.curve.precision[i]);
      b.x.push_back(m.curve.recall[i]);
      b.y.push_back(m.curve.precision[i]);
    }
    a.dashed = b.dashed = m.key == "tfidf" || m.key == "lsa";
    panels[0].series.push_back(std::move(a));
    panels[1].series.push_back(std::move(b));
  }
  draw_curves("docs_reuters", [&] { io::write_svg_plot(o.output + "/retrieval.svg", panels, title); });
}

// Semantic hashing as a lookup: each test story's Hamming ball of radius
// 0 .. 3 probed in a hash table of the training stories' codes, against a
// linear scan of all their codes for the same stories, timed on this run.
inline void ball_lookups(const std::vector<uint64_t>& queries, const std::vector<uint64_t>& database, int bits,
                         const Topics& qt, const Topics& dt, const std::string& output) {
  const HammingIndex index(database, bits);
  const int max_radius = std::min(3, bits);
  const std::vector<BallScore> scores = hamming_ball_scores(index, queries, qt, dt, max_radius);
  fmt::print("\nsemantic hashing as a lookup: the training stories within Hamming distance r of each test story's "
             "{} bits\n{:>6}  {:>8}  {:>10}  {:>9}  {:>7}  {:>11}  {:>12}  {:>10}\n",
             bits, "radius", "probes", "retrieved", "precision", "recall", "none found", "lookup us/q", "scan us/q");
  Csv csv(output + "/hash_lookup.csv", "radius,probes,retrieved,precision,recall,empty,lookup_us,scan_us", false);
  std::vector<int64_t> found;
  double probes = 0, ring = 1;
  for (const BallScore& b : scores) {
    if (b.radius > 0) ring = ring * (bits - b.radius + 1) / b.radius;
    probes += ring;
    auto timed = [&](auto&& fn) {  // microseconds per query (the sum of what fn finds keeps its work alive)
      const auto t0 = std::chrono::steady_clock::now();
      volatile size_t total = 0;
      for (uint64_t q : queries) total = total + fn(q);
      const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      return us / static_cast<double>(std::max<size_t>(queries.size(), 1));
    };
    const double lookup = timed([&](uint64_t q) { index.lookup(q, b.radius, found); return found.size(); });
    const double scan = timed([&](uint64_t q) {
      found.clear();
      for (size_t d = 0; d < database.size(); ++d)
        if (std::popcount(database[d] ^ q) <= b.radius) found.push_back(static_cast<int64_t>(d));
      return found.size();
    });
    std::vector<std::pair<int, int64_t>> near;  // each query's lookup against its scan, nearest first
    for (size_t q = 0; q < queries.size(); ++q) {
      near.clear();
      for (size_t d = 0; d < database.size(); ++d)
        if (const int h = std::popcount(database[d] ^ queries[q]); h <= b.radius) near.push_back({h, static_cast<int64_t>(d)});
      std::ranges::sort(near);
      index.lookup(queries[q], b.radius, found);
      if (!std::ranges::equal(found, near, {}, {}, [](const auto& p) { return p.second; }))
        throw Error("semantic hashing: test story {}'s lookup at radius {} differs from its scan; expected the same "
                    "stories in the same order", q, b.radius);
    }
    fmt::print("{:>6}  {:>8.0f}  {:>10.1f}  {:>9.4f}  {:>7.4f}  {:>11}  {:>12.2f}  {:>10.2f}\n", b.radius, probes,
               b.retrieved, b.precision, b.recall, b.empty, lookup, scan);
    csv.row("{},{:.0f},{:.3f},{:.6f},{:.6f},{},{:.3f},{:.3f}", b.radius, probes, b.retrieved, b.precision, b.recall,
            b.empty, lookup, scan);
    result(fmt::format("hash_ball{}_precision", b.radius).c_str(), fmt::format("{:.4f}", b.precision));
    result(fmt::format("hash_ball{}_retrieved", b.radius).c_str(), fmt::format("{:.1f}", b.retrieved));
  }
}

// The first RBM (count units) as a model of the words: the log-probability
// of the word sequences of `stories` test stories drawn at random (seed 1),
// log p(w_1 .. w_D | D) = -F(v) - log Z_D (Z_D normalises over ordered
// sequences; the bag of counts would add log(D! / prod v_i!)), with log
// Z_D by AIS for each length D among them; beside it the unigram model of
// the training words (AIS's base model), exact. Printed as perplexities
// per word over all the stories, exp(-sum log p / sum D), as LDA papers
// report them (the replicated-softmax paper averages each story's own),
// the RBM's with the range of AIS's interval (ais_interval_sd standard
// errors: a 99.73% Student t interval over its runs).
inline void word_perplexity(const Rbm& r, const AeTask& t, const io::DocumentSet& test, int64_t stories, double ais_scale,
                            int threads, Summary& sum) {
  std::vector<int64_t> rows(static_cast<size_t>(test.size()));
  std::iota(rows.begin(), rows.end(), 0);
  std::mt19937_64 gen(1);
  std::shuffle(rows.begin(), rows.end(), gen);
  rows.resize(static_cast<size_t>(std::min<int64_t>(stories, test.size())));
  std::vector<float> v(rows.size() * static_cast<size_t>(test.vocabulary));
  test.fill(rows, v);
  const std::vector<double> f = free_energy_exact(r, v);
  const std::vector<float> base = word_share_bias(t.data_means);
  std::map<int64_t, AisResult> z;
  for (int64_t d : rows) z[static_cast<int64_t>(test.length(d))];
  AisConfig cfg{.runs = 100, .seed = 1, .threads = threads};
  cfg.scale_temperatures(ais_scale);
  warn_if_few_temperatures("docs_reuters", cfg.temperatures());
  Progress bar(fmt::format("AIS of the count RBM at {} story lengths", z.size()), static_cast<int>(z.size()));
  int done = 0;
  for (auto& [d, res] : z) {
    res = ais_log_z(r, base, d, cfg);
    bar.update(++done, fmt::format("D = {}: log Z {:.2f}", d, res.log_z));
  }
  double words = 0, lp = 0, lp_low = 0, lp_high = 0, unigram = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const std::span<const float> vk(v.data() + k * static_cast<size_t>(test.vocabulary), static_cast<size_t>(test.vocabulary));
    const double d = test.length(rows[k]);
    double av = 0;
    for (size_t i = 0; i < vk.size(); ++i) av += double{base[i]} * vk[i];
    const AisResult& a = z.at(static_cast<int64_t>(d));
    words += d;
    lp += -f[k] - a.log_z;
    lp_low += -f[k] - a.log_z_high;  // a higher log Z: a lower probability
    lp_high += -f[k] - a.log_z_low;
    unigram += av;  // sum_i exp(base_i) = 1: the unigram model needs no normaliser
  }
  const double ppl = std::exp(-lp / words), uni = std::exp(-unigram / words);
  const std::string low = std::isfinite(lp_high) ? fmt::format("{:.1f}", std::exp(-lp_high / words))
                                                 : std::string("unbounded below: an AIS run's weights too spread");
  fmt::print("test perplexity per word over {} stories ({} words): count RBM {:.1f} (AIS's 99.73% interval: {} .. {:.1f}), "
             "unigram model {:.1f}\n",
             rows.size(), words, ppl, low, std::exp(-lp_low / words), uni);
  result("rbm_test_perplexity", fmt::format("{:.1f}", ppl));
  result("unigram_test_perplexity", fmt::format("{:.1f}", uni));
  sum.add("AIS: test perplexity", bar.seconds(),
          fmt::format("count RBM {:.1f}, unigram {:.1f} ({} stories)", ppl, uni, rows.size()));
}

}  // namespace ebm::samples
