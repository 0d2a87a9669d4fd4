#pragma once
// Ranked document retrieval, as the document experiments of Hinton &
// Salakhutdinov (2006) and Salakhutdinov & Hinton (2009) score it: each
// query document ranks the database documents by the cosine similarity of
// their codes (ties by database order), and a retrieved document is
// relevant when it shares a topic with the query. At each cutoff K the
// precision is the relevant share of the first K, the recall the share of
// the query's relevant documents found among them, both averaged over the
// queries that have a relevant document in the database.
//
// Semantic hashing ranks by the Hamming distance of binary codes instead
// (ties by database order): the same scores with `hamming_curve`.

#include <cstdint>
#include <span>
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

// Binary codes of up to 64 bits, one word per document.
RetrievalCurve hamming_curve(std::span<const uint64_t> queries, const Topics& query_topics,
                             std::span<const uint64_t> database, const Topics& database_topics,
                             std::span<const int64_t> cutoffs);

}  // namespace ebm
