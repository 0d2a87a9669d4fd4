#include "models/retrieval.hpp"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include <tbb/parallel_for.h>

#include "ops/error.hpp"

namespace ebm {
namespace {

// Topic sets as bit masks, `words` 64-bit words each.
struct Masks {
  size_t words = 1;
  std::vector<uint64_t> bits;
  bool meet(const Masks& o, size_t a, size_t b) const {
    for (size_t w = 0; w < words; ++w)
      if (bits[a * words + w] & o.bits[b * words + w]) return true;
    return false;
  }
};

// The query and database topic sets as masks over the topics that occur
// in either, numbered densely: a topic index of 2e9 costs a bit, not 2e9.
std::pair<Masks, Masks> topic_masks(const Topics& queries, const Topics& database) {
  std::vector<int32_t> seen;
  for (const Topics* t : {&queries, &database})
    for (const auto& d : *t)
      for (int32_t k : d) {
        if (k < 0) throw Error("retrieval: topic index {}; expected indices of at least 0", k);
        seen.push_back(k);
      }
  std::ranges::sort(seen);
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  const size_t words = seen.size() / 64 + 1;
  auto masks = [&](const Topics& t) {
    Masks m{words, std::vector<uint64_t>(t.size() * words, 0)};
    for (size_t d = 0; d < t.size(); ++d)
      for (int32_t k : t[d]) {
        const auto bit = static_cast<size_t>(std::ranges::lower_bound(seen, k) - seen.begin());
        m.bits[d * words + bit / 64] |= uint64_t{1} << (bit % 64);
      }
    return m;
  };
  return {masks(queries), masks(database)};
}

void check_cutoffs(std::span<const int64_t> cutoffs, int64_t database) {
  if (database < 1)
    throw Error("retrieval: an empty database (0 documents); expected at least one document to rank for the queries");
  if (cutoffs.empty()) throw Error("retrieval: no cutoffs; expected at least one number of documents to retrieve");
  for (size_t i = 0; i < cutoffs.size(); ++i)
    if (cutoffs[i] < 1 || cutoffs[i] > database || (i > 0 && cutoffs[i] <= cutoffs[i - 1]))
      throw Error("retrieval: cutoff {}; expected increasing cutoffs in [1, {}] (the database)", cutoffs[i], database);
}

// Scores each query's ranking (`rank(q, order)` fills the database order
// for query q) at the cutoffs, `block` queries at a time: `prepare(a, b)`
// readies queries [a, b) for rank before they are ranked.
template <typename Prepare, typename Rank>
RetrievalCurve score_blocks(size_t nq, const Topics& qt, const Topics& dt, std::span<const int64_t> cutoffs,
                            size_t block, Prepare prepare, Rank rank) {
  const auto [qm, dm] = topic_masks(qt, dt);
  const size_t nd = dt.size(), nc = cutoffs.size();
  std::vector<double> prec(nq * nc, 0.0), rec(nq * nc, 0.0);
  std::vector<char> used(nq, 0);
  for (size_t from = 0; from < nq; from += block) {
    const size_t to = std::min(nq, from + block);
    prepare(from, to);
    tbb::parallel_for(from, to, [&](size_t q) {
      std::vector<int64_t> order(nd);
      rank(q, order);
      int64_t relevant = 0;
      for (size_t d = 0; d < nd; ++d) relevant += qm.meet(dm, q, d);
      if (relevant == 0) return;
      used[q] = 1;
      int64_t found = 0;
      size_t at = 0;
      for (size_t c = 0; c < nc; ++c) {
        for (; at < static_cast<size_t>(cutoffs[c]); ++at) found += qm.meet(dm, q, static_cast<size_t>(order[at]));
        prec[q * nc + c] = static_cast<double>(found) / static_cast<double>(cutoffs[c]);
        rec[q * nc + c] = static_cast<double>(found) / static_cast<double>(relevant);
      }
    });
  }
  RetrievalCurve out{{cutoffs.begin(), cutoffs.end()}, std::vector<double>(nc, 0.0), std::vector<double>(nc, 0.0)};
  for (size_t q = 0; q < nq; ++q) {  // in query order: the same sums whatever the threads did
    if (!used[q]) {
      ++out.skipped;
      continue;
    }
    ++out.queries;
    for (size_t c = 0; c < nc; ++c) {
      out.precision[c] += prec[q * nc + c];
      out.recall[c] += rec[q * nc + c];
    }
  }
  for (size_t c = 0; c < nc; ++c) {
    out.precision[c] /= static_cast<double>(std::max<int64_t>(out.queries, 1));
    out.recall[c] /= static_cast<double>(std::max<int64_t>(out.queries, 1));
  }
  return out;
}

template <typename Rank>
RetrievalCurve score(size_t nq, const Topics& qt, const Topics& dt, std::span<const int64_t> cutoffs, Rank rank) {
  return score_blocks(nq, qt, dt, cutoffs, std::max<size_t>(nq, 1), [](size_t, size_t) {}, rank);
}

std::vector<float> unit_rows(std::span<const float> x, int64_t dim, const char* what) {
  for (size_t k = 0; k < x.size(); ++k)
    if (!std::isfinite(x[k]))
      throw Error("cosine retrieval: the {} codes hold {} at row {}; expected finite codes", what, x[k],
                  k / static_cast<size_t>(dim));
  std::vector<float> u(x.begin(), x.end());
  for (size_t r = 0; r < u.size() / static_cast<size_t>(dim); ++r) {
    float* p = u.data() + r * static_cast<size_t>(dim);
    double n = 0;
    for (int64_t j = 0; j < dim; ++j) n += double{p[j]} * p[j];
    const double s = n > 0 ? 1.0 / std::sqrt(n) : 0.0;
    for (int64_t j = 0; j < dim; ++j) p[j] = static_cast<float>(p[j] * s);
  }
  return u;
}

}  // namespace

double RetrievalCurve::precision_at(int64_t k) const {
  for (size_t i = 0; i < retrieved.size(); ++i)
    if (retrieved[i] == k) return precision[i];
  throw Error("retrieval curve: no cutoff {}; it has {} cutoffs from {} to {}", k, retrieved.size(),
              retrieved.empty() ? 0 : retrieved.front(), retrieved.empty() ? 0 : retrieved.back());
}

std::vector<int64_t> retrieval_cutoffs(int64_t database) {
  std::vector<int64_t> c;
  for (int64_t k = 1; k < database; k = 2 * k + 1) c.push_back(k);
  if (database > 0) c.push_back(database);
  return c;
}

RetrievalCurve cosine_curve(std::span<const float> queries, const Topics& query_topics,
                            std::span<const float> database, const Topics& database_topics, int64_t dim,
                            std::span<const int64_t> cutoffs) {
  // Similarities in blocks of at most kBlockBytes (Reuters-21578's 3,019
  // x 7,775 are 94 MB: one block), so that many queries fit in memory.
  constexpr size_t kBlockBytes = size_t{256} << 20;
  const size_t per_query = std::max<size_t>(database_topics.size(), 1) * sizeof(float);
  return cosine_curve_in_blocks(queries, query_topics, database, database_topics, dim, cutoffs,
                                static_cast<int64_t>(std::max<size_t>(kBlockBytes / per_query, 1)));
}

RetrievalCurve cosine_curve_in_blocks(std::span<const float> queries, const Topics& query_topics,
                                      std::span<const float> database, const Topics& database_topics, int64_t dim,
                                      std::span<const int64_t> cutoffs, int64_t block) {
  if (block < 1) throw Error("cosine retrieval: blocks of {} queries; expected at least 1", block);
  if (dim < 1) throw Error("cosine retrieval: codes of {} numbers; expected at least 1", dim);
  const auto d = static_cast<size_t>(dim);
  if (queries.size() != query_topics.size() * d || database.size() != database_topics.size() * d)
    throw Error("cosine retrieval: {} and {} code values; expected {} queries and {} documents of {} numbers each",
                queries.size(), database.size(), query_topics.size(), database_topics.size(), dim);
  const auto nd = static_cast<int64_t>(database_topics.size());
  check_cutoffs(cutoffs, nd);
  const std::vector<float> q = unit_rows(queries, dim, "query"), db = unit_rows(database, dim, "database");
  const size_t nq = query_topics.size(), rows = std::min(nq, static_cast<size_t>(block));
  std::vector<float> sim(rows * static_cast<size_t>(nd));  // a block's similarities, one GEMM
  size_t first = 0;                                        // the block's first query
  auto gemm = [&](size_t from, size_t to) {
    first = from;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(to - from), static_cast<int>(nd),
                static_cast<int>(dim), 1.0f, q.data() + from * d, static_cast<int>(dim), db.data(),
                static_cast<int>(dim), 0.0f, sim.data(), static_cast<int>(nd));
  };
  return score_blocks(nq, query_topics, database_topics, cutoffs, std::max<size_t>(rows, 1), gemm,
                      [&](size_t i, std::vector<int64_t>& order) {
                        const float* s = sim.data() + (i - first) * static_cast<size_t>(nd);
                        std::iota(order.begin(), order.end(), 0);
                        std::ranges::stable_sort(order, [s](int64_t a, int64_t b) { return s[a] > s[b]; });
                      });
}

namespace {

void check_codes(std::span<const uint64_t> queries, const Topics& query_topics, std::span<const uint64_t> database,
                 const Topics& database_topics) {
  if (queries.size() != query_topics.size() || database.size() != database_topics.size())
    throw Error("hamming retrieval: {} and {} codes; expected one per query ({}) and per document ({})",
                queries.size(), database.size(), query_topics.size(), database_topics.size());
}

// The database in order of Hamming distance to `query`: a counting sort by
// distance (0..64), stable, so ties stay in database order.
void hamming_order(uint64_t query, std::span<const uint64_t> database, std::vector<int64_t>& order) {
  std::vector<int64_t> start(66, 0);
  for (uint64_t c : database) ++start[static_cast<size_t>(std::popcount(c ^ query)) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  for (size_t d = 0; d < database.size(); ++d)
    order[static_cast<size_t>(start[static_cast<size_t>(std::popcount(database[d] ^ query))]++)] =
        static_cast<int64_t>(d);
}

}  // namespace

RetrievalCurve hamming_curve(std::span<const uint64_t> queries, const Topics& query_topics,
                             std::span<const uint64_t> database, const Topics& database_topics,
                             std::span<const int64_t> cutoffs) {
  check_codes(queries, query_topics, database, database_topics);
  check_cutoffs(cutoffs, static_cast<int64_t>(database.size()));
  return score(queries.size(), query_topics, database_topics, cutoffs, [&](size_t i, std::vector<int64_t>& order) {
    hamming_order(queries[i], database, order);
  });
}

RetrievalCurve hamming_shortlist_curve(std::span<const uint64_t> queries, const Topics& query_topics,
                                       std::span<const uint64_t> database, const Topics& database_topics,
                                       int64_t shortlist, std::span<const float> query_vectors,
                                       std::span<const float> database_vectors, int64_t dim,
                                       std::span<const int64_t> cutoffs) {
  check_codes(queries, query_topics, database, database_topics);
  const auto nd = static_cast<int64_t>(database.size());
  check_cutoffs(cutoffs, nd);
  if (shortlist < 1 || shortlist > nd)
    throw Error("hamming shortlist: {} documents; expected 1 to the database's {}", shortlist, nd);
  if (dim < 1 || query_vectors.size() != queries.size() * static_cast<size_t>(dim) ||
      database_vectors.size() != database.size() * static_cast<size_t>(dim))
    throw Error("hamming shortlist: {} and {} vector values; expected {} queries and {} documents of {} numbers each",
                query_vectors.size(), database_vectors.size(), queries.size(), database.size(), dim);
  const std::vector<float> q = unit_rows(query_vectors, dim, "query");
  const std::vector<float> db = unit_rows(database_vectors, dim, "database");
  const auto d = static_cast<size_t>(dim), s = static_cast<size_t>(shortlist);
  return score(queries.size(), query_topics, database_topics, cutoffs, [&](size_t i, std::vector<int64_t>& order) {
    hamming_order(queries[i], database, order);
    std::vector<float> sim(s);
    for (size_t k = 0; k < s; ++k) {
      const float* a = q.data() + i * d;
      const float* b = db.data() + static_cast<size_t>(order[k]) * d;
      double dot = 0;
      for (size_t j = 0; j < d; ++j) dot += double{a[j]} * b[j];
      sim[k] = static_cast<float>(dot);
    }
    std::vector<size_t> by(s);
    std::iota(by.begin(), by.end(), size_t{0});
    std::ranges::stable_sort(by, [&](size_t a, size_t b) { return sim[a] > sim[b]; });
    std::vector<int64_t> head(s);
    for (size_t k = 0; k < s; ++k) head[k] = order[by[k]];
    std::ranges::copy(head, order.begin());
  });
}

HammingIndex::HammingIndex(std::span<const uint64_t> codes, int bits) : bits_(bits) {
  if (bits < 1 || bits > 64) throw Error("hamming index: codes of {} bits; expected 1 to 64", bits);
  for (size_t d = 0; d < codes.size(); ++d) {
    if (bits < 64 && codes[d] >> bits)
      throw Error("hamming index: code {:#x} of document {} has bits above its {}; expected them 0", codes[d], d, bits);
    table_[codes[d]].push_back(static_cast<int64_t>(d));
  }
  size_ = static_cast<int64_t>(codes.size());
}

void HammingIndex::lookup(uint64_t code, int radius, std::vector<int64_t>& out) const {
  if (radius < 0 || radius > bits_)
    throw Error("hamming index: radius {}; expected 0 to the code's {} bits", radius, bits_);
  if (bits_ < 64 && code >> bits_)
    throw Error("hamming index: query code {:#x} has bits above the index's {}; expected them 0", code, bits_);
  out.clear();
  // A ball with more addresses than the table holds is found faster, and
  // the same, by measuring each address in the table: C(64, 32) probes
  // would never end.
  double probes = 0, ring_size = 1;  // sum over r of C(bits, r)
  for (int r = 0; r <= radius; ++r, ring_size = ring_size * (bits_ - r + 1) / r) probes += ring_size;
  if (probes > static_cast<double>(table_.size())) {
    std::vector<std::vector<int64_t>> rings(static_cast<size_t>(radius) + 1);
    for (const auto& [addr, docs] : table_)
      if (const int d = std::popcount(addr ^ code); d <= radius)
        rings[static_cast<size_t>(d)].insert(rings[static_cast<size_t>(d)].end(), docs.begin(), docs.end());
    for (std::vector<int64_t>& ring : rings) {
      std::ranges::sort(ring);
      out.insert(out.end(), ring.begin(), ring.end());
    }
    return;
  }
  // Ring by ring: every address at distance r, its flipped bits in
  // increasing order; a ring's documents then sorted into database order.
  std::vector<int> flips;
  for (int r = 0; r <= radius; ++r) {
    const size_t ring = out.size();
    auto visit = [&](auto&& self, int from, uint64_t addr) -> void {
      if (static_cast<int>(flips.size()) == r) {
        if (auto it = table_.find(addr); it != table_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
      for (int b = from; b < bits_ - (r - static_cast<int>(flips.size()) - 1); ++b) {
        flips.push_back(b);
        self(self, b + 1, addr ^ (uint64_t{1} << b));
        flips.pop_back();
      }
    };
    visit(visit, 0, code);
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(ring), out.end());
  }
}

std::vector<BallScore> hamming_ball_scores(const HammingIndex& index, std::span<const uint64_t> queries,
                                           const Topics& query_topics, const Topics& database_topics,
                                           int max_radius) {
  if (queries.size() != query_topics.size() || static_cast<int64_t>(database_topics.size()) != index.size())
    throw Error("hamming ball: {} query codes and {} database topic sets; expected one per query ({}) and per "
                "indexed document ({})",
                queries.size(), database_topics.size(), query_topics.size(), index.size());
  if (max_radius < 0 || max_radius > index.bits())
    throw Error("hamming ball: radius up to {}; expected 0 to the code's {} bits", max_radius, index.bits());
  const auto [qm, dm] = topic_masks(query_topics, database_topics);
  std::vector<BallScore> out;
  std::vector<int64_t> relevant(queries.size(), 0);
  for (size_t q = 0; q < queries.size(); ++q)
    for (size_t d = 0; d < database_topics.size(); ++d) relevant[q] += qm.meet(dm, q, d);
  std::vector<int64_t> found;
  for (int r = 0; r <= max_radius; ++r) {
    BallScore s{.radius = r};
    int64_t with_any = 0, with_relevant = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      index.lookup(queries[q], r, found);
      int64_t hits = 0;
      for (int64_t d : found) hits += qm.meet(dm, q, static_cast<size_t>(d));
      s.retrieved += static_cast<double>(found.size());
      if (found.empty()) ++s.empty;
      if (relevant[q] == 0) continue;  // as the ranked curves: only queries with a relevant document count
      if (!found.empty()) s.precision += static_cast<double>(hits) / static_cast<double>(found.size()), ++with_any;
      s.recall += static_cast<double>(hits) / static_cast<double>(relevant[q]), ++with_relevant;
    }
    s.retrieved /= static_cast<double>(std::max<size_t>(queries.size(), 1));
    s.precision /= static_cast<double>(std::max<int64_t>(with_any, 1));
    s.recall /= static_cast<double>(std::max<int64_t>(with_relevant, 1));
    out.push_back(s);
  }
  return out;
}

}  // namespace ebm

