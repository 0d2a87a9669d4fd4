#pragma once
// Ranked document retrieval, as the document experiments of Hinton &
// Salakhutdinov (2006) and Salakhutdinov & Hinton (2009) score it: each
// query document ranks the database documents by the cosine similarity of
// their codes, computed in float (documents at the same float similarity,
// such as equal codes, keep database order; codes pointing the same way at
// different lengths may differ in the last bits and rank either way), and
// a retrieved document is relevant when it shares a topic with the query.
// At each cutoff K the precision is the relevant share of the first K, the
// recall the share of the query's relevant documents found among them,
// both averaged over the queries that have a relevant document in the
// database.
//
// Topic indices are any numbers of 0 or more (their sets are compared, not
// sized by the largest). An empty database, cutoffs that are not
// increasing within [1, the database] and mismatched sizes are
// ebm::Errors. The cosine similarities are computed for blocks of queries
// of at most 256 MB at a time, so a query set too large for its whole
// matrix is ranked in pieces: the same result but where BLAS rounds a
// product's last bit otherwise for another block size and two documents
// were that close (a near tie, ranked either way).
//
// Semantic hashing ranks by the Hamming distance of binary codes instead
// (ties by database order): the same scores with `hamming_curve`.

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace ebm {

using Topics = std::vector<std::vector<int32_t>>;  // per document, sorted topic indices

struct RetrievalCurve {
  std::vector<int64_t> retrieved;  // the cutoffs K
  std::vector<double> precision;   // at each K
  std::vector<double> recall;      // at each K
  int64_t queries = 0;             // those with a relevant document (averaged over)
  int64_t skipped = 0;             // those without

  double precision_at(int64_t k) const;  // at a cutoff in `retrieved` (else an ebm::Error)
};

// 1, 3, 7, 15, ... (2^i - 1) below `database`, then `database` itself.
std::vector<int64_t> retrieval_cutoffs(int64_t database);

// Codes are row-major [rows, dim]; a zero code is at similarity 0 to all.
RetrievalCurve cosine_curve(std::span<const float> queries, const Topics& query_topics,
                            std::span<const float> database, const Topics& database_topics, int64_t dim,
                            std::span<const int64_t> cutoffs);
// The same, its similarities computed `block` queries at a time (the one
// above takes blocks of at most 256 MiB); another block gives the same
// curve up to near ties (see above).
RetrievalCurve cosine_curve_in_blocks(std::span<const float> queries, const Topics& query_topics,
                                      std::span<const float> database, const Topics& database_topics, int64_t dim,
                                      std::span<const int64_t> cutoffs, int64_t block);

// Binary codes of up to 64 bits, one word per document.
RetrievalCurve hamming_curve(std::span<const uint64_t> queries, const Topics& query_topics,
                             std::span<const uint64_t> database, const Topics& database_topics,
                             std::span<const int64_t> cutoffs);

// Semantic hashing as a filter (Salakhutdinov & Hinton 2009 re-rank what
// the hash finds by tf-idf): each query's `shortlist` nearest documents by
// Hamming distance (ties by database order) re-ranked by the cosine
// similarity of other codes, `query_vectors` and `database_vectors` ([rows,
// dim], tf-idf vectors say; ties keep the Hamming order), the rest left in
// Hamming order behind them. An ebm::Error names a shortlist outside
// [1, the database] or mismatched sizes.
RetrievalCurve hamming_shortlist_curve(std::span<const uint64_t> queries, const Topics& query_topics,
                                       std::span<const uint64_t> database, const Topics& database_topics,
                                       int64_t shortlist, std::span<const float> query_vectors,
                                       std::span<const float> database_vectors, int64_t dim,
                                       std::span<const int64_t> cutoffs);

// Semantic hashing's lookup: the database's binary codes are addresses in
// a hash table, and a query takes every document whose code lies within
// Hamming distance `radius` of its own by probing each address of that
// ball (sum over r <= radius of C(bits, r) probes), in a time that does
// not grow with the database.
class HammingIndex {
 public:
  // Codes of `bits` bits (1 to 64; higher bits must be 0).
  HammingIndex(std::span<const uint64_t> codes, int bits);
  int bits() const { return bits_; }
  int64_t size() const { return size_; }
  // The documents within `radius` of `code` into out (cleared first),
  // nearest first, then in database order.
  void lookup(uint64_t code, int radius, std::vector<int64_t>& out) const;

 private:
  int bits_;
  int64_t size_ = 0;
  std::unordered_map<uint64_t, std::vector<int64_t>> table_;
};

// Each query's Hamming ball of radius r = 0 .. max_radius looked up in
// `index`: the mean number retrieved and how many queries retrieved none
// (over all queries); the precision (the relevant share of what a query
// retrieved) over the queries with a relevant document that retrieved
// any (0 at a radius where none did); the recall over the queries with a
// relevant document.
struct BallScore {
  int radius = 0;
  double retrieved = 0, precision = 0, recall = 0;
  int64_t empty = 0;
};
std::vector<BallScore> hamming_ball_scores(const HammingIndex& index, std::span<const uint64_t> queries,
                                           const Topics& query_topics, const Topics& database_topics,
                                           int max_radius);

}  // namespace ebm
