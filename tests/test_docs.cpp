// Documents: the Reuters SGML reader and bag-of-words corpus, ranked
// retrieval scores, count units (the replicated softmax) against brute
// force, and the autoencoder on count data.

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <random>

#include <doctest/doctest.h>

#include "autodiff/check_grad.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "io/reuters.hpp"
#include "models/ais.hpp"
#include "models/autoencoder.hpp"
#include "models/cd.hpp"
#include "models/exact.hpp"
#include "models/retrieval.hpp"
#include "tests/io_test_util.hpp"

using namespace ebm;
using ebm::io_test::error_of;
using ebm::io_test::has;
using ebm::io_test::TempDir;
using ebm::io_test::write_bytes;

namespace {

std::string story(int newid, const std::string& topics_attr, const std::string& split,
                  std::vector<std::string> topics, const std::string& title, const std::string& body) {
  std::string t;
  for (const auto& x : topics) t += "<D>" + x + "</D>";
  return fmt::format(
      "<REUTERS TOPICS=\"{}\" LEWISSPLIT=\"{}\" CGISPLIT=\"TRAINING-SET\" OLDID=\"1\" NEWID=\"{}\">\n"
      "<DATE>26-FEB-1987</DATE>\n<TOPICS>{}</TOPICS>\n<PLACES><D>usa</D></PLACES>\n<UNKNOWN>&#5;&#5;C T</UNKNOWN>\n"
      "<TEXT>&#2;\n<TITLE>{}</TITLE>\n<BODY>{}</BODY></TEXT>\n</REUTERS>\n",
      topics_attr, split, newid, t, title, body);
}

// A corpus folder: story i of file f is NEWID 10 f + i.
void write_corpus(const TempDir& dir, int files = 22) {
  for (int f = 0; f < files; ++f) {
    std::string s = "<!DOCTYPE lewis SYSTEM \"lewis.dtd\">\n";
    s += story(10 * f, "YES", "TRAIN", {"grain"}, "GRAIN wheat", "Wheat wheat and corn prices rose.\nReuter\n&#3;");
    s += story(10 * f + 1, "YES", "TEST", {"grain", "corn"}, "Corn", "Corn exports &lt;fell> sharply. Reuter");
    s += story(10 * f + 2, "NO", "TRAIN", {}, "Oil", "Oil oil oil.");            // TOPICS="NO": not ModApte
    s += story(10 * f + 3, "YES", "NOT-USED", {"crude"}, "Oil", "Oil prices."); // not in either split
    s += story(10 * f + 4, "YES", "TRAIN", {}, "Gold", "Gold.");               // no topic
    s += story(10 * f + 5, "YES", "TEST", {"crude"}, "Zinc", "Zinc zinc.");    // no vocabulary word
    write_bytes(dir / fmt::format("reut2-{:03d}.sgm", f), s);
  }
}

}  // namespace

TEST_CASE("docs/words: letters only, lower-cased, two or more, entities and function words dropped") {
  CHECK(io::words_of("The WHEAT&lt;price&#3; rose 5% to x y-z at Reuter") ==
        std::vector<std::string>{"wheat", "price", "rose"});
  CHECK(io::words_of("") .empty());
  CHECK(io::words_of("a\x01\xe9t\xffoil") == std::vector<std::string>{"oil"});  // stray bytes split words
}

TEST_CASE("docs/sgml: stories' attributes, topics and text are read, a broken file is a named error") {
  TempDir dir("reuters_sgml");
  write_bytes(dir / "one.sgm", story(7, "YES", "TRAIN", {"earn", "acq"}, "Title here", "Body text.") +
                                   "<REUTERS TOPICS=\"NO\" LEWISSPLIT=\"TEST\" NEWID=\"8\"><TEXT TYPE=\"BRIEF\">"
                                   "Just text</TEXT></REUTERS>");
  const auto s = io::read_reuters_sgml(dir / "one.sgm");
  REQUIRE(s.size() == 2);
  CHECK(s[0].newid == 7);
  CHECK(s[0].topics_yes);
  CHECK(s[0].split == "TRAIN");
  CHECK(s[0].topics == std::vector<std::string>{"earn", "acq"});
  CHECK(has(s[0].text, "Title here"));
  CHECK(has(s[0].text, "Body text."));
  CHECK(!has(s[0].text, "usa"));  // places are not text
  CHECK(s[1].newid == 8);
  CHECK(!s[1].topics_yes);
  CHECK(s[1].split == "TEST");
  CHECK(s[1].text == "Just text");

  const std::string whole = story(1, "YES", "TRAIN", {"earn"}, "a", "b");
  write_bytes(dir / "cut.sgm", whole + whole.substr(0, whole.size() / 2));
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "cut.sgm"); }), "story 2 (at byte"));
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "cut.sgm"); }), "has no </REUTERS>"));
  write_bytes(dir / "id.sgm", "<REUTERS TOPICS=\"YES\" NEWID=\"12x\"></REUTERS>");
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "id.sgm"); }), "has NEWID \"12x\"; expected a number"));
  write_bytes(dir / "none.sgm", "<html>not reuters</html>");
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "none.sgm"); }), "no <REUTERS> story"));
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "absent.sgm"); }), "absent.sgm"));
  // a story left open inside the file (two would be read as one), an element left open, a file far too large
  std::string merged = whole + whole;
  merged.erase(merged.find("</REUTERS>"), std::string_view("</REUTERS>").size());
  write_bytes(dir / "merged.sgm", merged);
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "merged.sgm"); }),
            "story 1 (at byte 0) has no </REUTERS> before the next story's <REUTERS (at byte"));
  std::string open_body = whole;
  open_body.erase(open_body.find("</BODY>"), std::string_view("</BODY>").size());
  write_bytes(dir / "open_body.sgm", open_body);
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "open_body.sgm"); }),
            "open_body.sgm: story 1 (NEWID 1, at byte 0): <BODY> without </BODY>"));
  std::filesystem::resize_file(dir / "none.sgm", uint64_t{65} << 20);  // sparse: nothing written
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "none.sgm"); }),
            "none.sgm: 68157440 bytes; expected a Reuters-21578 SGML file, at most 64 MB"));
}

TEST_CASE("docs/corpus: the ModApte stories as counts over the most frequent training words") {
  TempDir dir("reuters_corpus");
  write_corpus(dir);
  const io::ReutersCorpus c = io::load_reuters(dir.path, {.vocabulary = 3, .expected_stories = 0});
  // training words: wheat x3, grain x1, corn x1, prices x1, rose x1 per file
  CHECK(c.words == std::vector<std::string>{"wheat", "corn", "grain"});
  CHECK(c.topics == std::vector<std::string>{"corn", "crude", "grain"});
  CHECK(c.train.size() == 22);
  CHECK(c.test.size() == 22);
  CHECK(c.dropped_empty == 22);  // the zinc stories
  CHECK(c.train.newid[3] == 30);
  CHECK(c.test.topics[0] == std::vector<int32_t>{0, 2});
  CHECK(c.train.length(0) == 5.0);
  CHECK(c.test.length(0) == 2.0);  // corn (title), corn (body)
  std::vector<float> dense(2 * 3);
  const int64_t rows[] = {0, 1};
  c.train.fill(rows, dense);
  CHECK(dense == std::vector<float>{3, 1, 1, 3, 1, 1});
  const int64_t pick[] = {5, 2};
  const io::DocumentSet sub = c.test.subset(pick);
  CHECK(sub.size() == 2);
  CHECK(sub.newid == std::vector<int64_t>{51, 21});
  std::vector<float> one(3);
  CHECK(has(error_of([&] { c.train.fill(std::vector<int64_t>{22}, one); }), "row 22"));
  CHECK(has(error_of([&] { io::load_reuters(dir.path, {.vocabulary = 50, .expected_stories = 0}); }),
            "expected at least the 50"));
  // the real corpus's count is checked unless told otherwise, and a story twice is refused either way
  CHECK(has(error_of([&] { io::load_reuters(dir.path, {.vocabulary = 3}); }),
            "stories in the 22 files; expected Reuters-21578's 21578"));
  std::filesystem::copy_file(dir / "reut2-000.sgm", dir / "reut2-001.sgm",
                             std::filesystem::copy_options::overwrite_existing);
  CHECK(has(error_of([&] { io::load_reuters(dir.path, {.vocabulary = 3, .expected_stories = 0}); }),
            "is in reut2-000.sgm too; expected each story once"));
  // a corpus without test stories (or training ones) has nothing to retrieve for
  TempDir train_only("reuters_train_only");
  write_corpus(train_only);
  for (int f = 0; f < 22; ++f) {
    const auto file = train_only / fmt::format("reut2-{:03d}.sgm", f);
    std::ifstream in(file);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (size_t at; (at = text.find("LEWISSPLIT=\"TEST\"")) != std::string::npos;) text.replace(at + 12, 4, "TRAIN");
    write_bytes(file, text);
  }
  CHECK(has(error_of([&] { io::load_reuters(train_only.path, {.vocabulary = 3, .expected_stories = 0}); }),
            "no test stories with topics (LEWISSPLIT=\"TEST\", TOPICS=\"YES\")"));
  TempDir short_dir("reuters_short");
  write_corpus(short_dir, 21);
  CHECK(has(error_of([&] { io::load_reuters(short_dir.path); }), "reut2-021.sgm: missing"));
}

TEST_CASE("docs/corpus: the real Reuters-21578 has the ModApte split's 7,775 + 3,019 stories with a topic") {
  const std::filesystem::path dir = std::filesystem::path(EBM_SOURCE_DIR) / "../shared/data/reuters21578";
  if (!std::filesystem::exists(dir / "reut2-000.sgm")) {
    MESSAGE("SKIPPED: Reuters-21578 is not in " << dir.string());
    return;
  }
  const io::ReutersCorpus c = io::load_reuters(dir);
  CHECK(c.train.size() == 7775);  // the published ModApte counts of stories with a topic
  CHECK(c.test.size() == 3019);
  CHECK(c.dropped_empty == 0);
  CHECK(c.checked_files == (std::filesystem::exists(dir / "SHA256SUMS") ? 22 : 0));  // every file against its digest
  CHECK(c.words.size() == 2000);
  for (const auto& t : c.train.topics) CHECK(!t.empty());
}

TEST_CASE("docs/retrieval: precision and recall at each cutoff equal the counts by hand") {
  // database: 4 documents in 2-D; topics 0, 1, {0, 1}, 2
  const std::vector<float> db{1, 0, 0, 1, 1, 1, -1, 0};
  const Topics dbt{{0}, {1}, {0, 1}, {2}};
  // query (1, 0.1) with topic 0: ranks doc 0, doc 2, doc 1, doc 3;
  // relevant: docs 0 and 2. A query with topic 5 has none: skipped.
  const std::vector<float> q{1, 0.1f, 0, 1};
  const Topics qt{{0}, {5}};
  const std::vector<int64_t> cut{1, 2, 3, 4};
  const RetrievalCurve c = cosine_curve(q, qt, db, dbt, 2, cut);
  CHECK(c.queries == 1);
  CHECK(c.skipped == 1);
  CHECK(c.precision == std::vector<double>{1.0, 1.0, 2.0 / 3, 0.5});
  CHECK(c.recall == std::vector<double>{0.5, 1.0, 1.0, 1.0});
  CHECK(c.precision_at(3) == doctest::Approx(2.0 / 3));
  CHECK(has(error_of([&] { (void)c.precision_at(5); }), "no cutoff 5"));
  // Hamming: codes 0b00, 0b11, 0b01, 0b10 from query 0b01 (topic 1): distances 1, 1, 0, 2
  const std::vector<uint64_t> hdb{0b00, 0b11, 0b01, 0b10}, hq{0b01};
  const RetrievalCurve h = hamming_curve(hq, Topics{{1}}, hdb, dbt, cut);  // order: 2, 0, 1, 3
  CHECK(h.precision == std::vector<double>{1.0, 0.5, 2.0 / 3, 0.5});
  CHECK(h.recall == std::vector<double>{0.5, 0.5, 1.0, 1.0});
  CHECK(retrieval_cutoffs(10) == std::vector<int64_t>{1, 3, 7, 10});
  CHECK(retrieval_cutoffs(7) == std::vector<int64_t>{1, 3, 7});
  CHECK(has(error_of([&] { cosine_curve(q, qt, db, dbt, 2, std::vector<int64_t>{2, 2}); }), "increasing cutoffs"));
  CHECK(has(error_of([&] { cosine_curve(q, qt, db, dbt, 3, cut); }), "code values"));
}

TEST_CASE("docs/hashing: a Hamming shortlist re-ranked by cosine, by hand and against the plain rankings") {
  // The hand example above: Hamming order 2, 0, 1, 3 from query 0b01 (topic 1). Vectors that put doc 1 first:
  // a shortlist of 2 (docs 2, 0) re-ranked puts 2 before 0 by cosine; of 3 (docs 2, 0, 1), 1 first.
  const Topics dbt{{0}, {1}, {0, 1}, {2}};
  const std::vector<uint64_t> hdb{0b00, 0b11, 0b01, 0b10}, hq{0b01};
  const std::vector<float> vq{0, 1}, vdb{1, 0, 0, 1, 1, 1, 0, 1};  // cosines to the query: 0, 1, 0.71, 1
  const std::vector<int64_t> cut{1, 2, 3, 4};
  const RetrievalCurve two = hamming_shortlist_curve(hq, Topics{{1}}, hdb, dbt, 2, vq, vdb, 2, cut);  // 2, 0, 1, 3
  CHECK(two.precision == std::vector<double>{1.0, 0.5, 2.0 / 3, 0.5});
  const RetrievalCurve three = hamming_shortlist_curve(hq, Topics{{1}}, hdb, dbt, 3, vq, vdb, 2, cut);  // 1, 2, 0, 3
  CHECK(three.precision == std::vector<double>{1.0, 1.0, 2.0 / 3, 0.5});
  CHECK(three.recall == std::vector<double>{0.5, 1.0, 1.0, 1.0});
  // Ties in cosine keep the Hamming order, not the database's: codes put doc 3 before doc 1 (distances 0, 1),
  // both at cosine 1 beside docs 0 and 2 at 0; doc 3 alone is relevant (topic 2).
  const std::vector<uint64_t> tie_db{0b11, 0b01, 0b11, 0b00}, tie_q{0b00};
  const std::vector<float> tie_v{1, 0, 0, 1, 1, 0, 0, 1};  // docs 1 and 3 along the query (0, 1)
  const RetrievalCurve tie = hamming_shortlist_curve(tie_q, Topics{{2}}, tie_db, dbt, 4, vq, tie_v, 2, cut);
  CHECK(tie.precision == std::vector<double>{1.0, 0.5, 1.0 / 3, 0.25});
  // Random codes and vectors (no ties in cosine): the whole database as the shortlist ranks by cosine alone;
  // at cutoffs from the shortlist's size on, the documents are the Hamming ranking's, only reordered.
  std::mt19937 rng(3);
  const int64_t nq = 40, nd = 300, dim = 6;
  std::vector<uint64_t> cq(nq), cd(nd);
  for (auto& c : cq) c = rng() & 0xff;
  for (auto& c : cd) c = rng() & 0xff;
  std::normal_distribution<float> z(0.0f, 1.0f);
  std::vector<float> xq(nq * dim), xd(nd * dim);
  for (auto& v : xq) v = z(rng);
  for (auto& v : xd) v = z(rng);
  Topics tq(nq), td(nd);
  for (auto& t : tq) t = {static_cast<int32_t>(rng() % 5)};
  for (auto& t : td) t = {static_cast<int32_t>(rng() % 5)};
  const std::vector<int64_t> cuts = retrieval_cutoffs(nd);  // 1, 3, ..., 255, 300
  const RetrievalCurve all = hamming_shortlist_curve(cq, tq, cd, td, nd, xq, xd, dim, cuts);
  const RetrievalCurve cos = cosine_curve(xq, tq, xd, td, dim, cuts);
  for (size_t i = 0; i < cuts.size(); ++i) CHECK(all.precision[i] == doctest::Approx(cos.precision[i]).epsilon(1e-12));
  const RetrievalCurve ham = hamming_curve(cq, tq, cd, td, cuts);
  const RetrievalCurve some = hamming_shortlist_curve(cq, tq, cd, td, 31, xq, xd, dim, cuts);
  for (size_t i = 0; i < cuts.size(); ++i)
    if (cuts[i] >= 31) CHECK(some.precision[i] == ham.precision[i]);
  // At cutoff 1, each query's best cosine among its 31 nearest codes, found by brute force.
  double first = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<int64_t> order(nd);
    std::iota(order.begin(), order.end(), int64_t{0});
    std::ranges::stable_sort(order, [&](int64_t a, int64_t b) {
      return std::popcount(cd[size_t(a)] ^ cq[size_t(i)]) < std::popcount(cd[size_t(b)] ^ cq[size_t(i)]);
    });
    auto cosine = [&](int64_t d) {
      double dot = 0, na = 0, nb = 0;
      for (int64_t j = 0; j < dim; ++j) {
        const double a = xq[size_t(i * dim + j)], b = xd[size_t(d * dim + j)];
        dot += a * b, na += a * a, nb += b * b;
      }
      return dot / std::sqrt(na * nb);
    };
    int64_t best = order[0];
    for (int64_t k = 1; k < 31; ++k)
      if (cosine(order[size_t(k)]) > cosine(best)) best = order[size_t(k)];
    const bool any = std::ranges::any_of(td, [&](const auto& t) { return t == tq[size_t(i)]; });
    if (!any) continue;
    ++counted;
    first += td[size_t(best)] == tq[size_t(i)] ? 1.0 : 0.0;
  }
  CHECK(some.queries == counted);
  CHECK(some.precision[0] == doctest::Approx(first / static_cast<double>(counted)));
  CHECK(has(error_of([&] { hamming_shortlist_curve(hq, Topics{{1}}, hdb, dbt, 0, vq, vdb, 2, cut); }), "0 documents"));
  CHECK(has(error_of([&] { hamming_shortlist_curve(hq, Topics{{1}}, hdb, dbt, 2, vq, vdb, 3, cut); }),
            "vector values"));
}

TEST_CASE("docs/hashing: a Hamming ball's lookup finds what a scan finds, nearest first, its scores by hand") {
  std::mt19937_64 gen(3);
  std::vector<uint64_t> codes;
  for (int d = 0; d < 300; ++d) codes.push_back(gen() & 0xfff);  // 12 bits: many neighbours
  const HammingIndex index(codes, 12);
  std::vector<int64_t> got;
  for (uint64_t q : {uint64_t{0}, uint64_t{0xabc}, codes[17]})
    for (int r = 0; r <= 3; ++r) {
      index.lookup(q, r, got);
      std::vector<std::pair<int, int64_t>> want;  // (distance, row)
      for (size_t d = 0; d < codes.size(); ++d)
        if (std::popcount(codes[d] ^ q) <= r) want.push_back({std::popcount(codes[d] ^ q), static_cast<int64_t>(d)});
      std::ranges::sort(want);
      std::vector<int64_t> rows;
      for (auto [dist, row] : want) rows.push_back(row);
      CAPTURE(q);
      CAPTURE(r);
      CHECK(got == rows);
    }
  // database 0b00 {0}, 0b11 {1}, 0b01 {0, 1}, 0b10 {2}; queries 0b01 {1} and 0b00 {5}
  const std::vector<uint64_t> db{0b00, 0b11, 0b01, 0b10}, q{0b01, 0b00};
  const HammingIndex small(db, 2);
  const auto s = hamming_ball_scores(small, q, Topics{{1}, {5}}, Topics{{0}, {1}, {0, 1}, {2}}, 1);
  REQUIRE(s.size() == 2);
  CHECK(s[0].retrieved == 1.0);   // each finds its own address: rows 2 and 0
  CHECK(s[0].precision == 1.0);   // 1 of 1; the second query has no relevant document: not counted
  CHECK(s[0].recall == 0.5);      // the first query: 1 of its 2 relevant
  CHECK(s[0].empty == 0);
  CHECK(s[1].retrieved == 3.0);   // radius 1: rows 2, 0, 1 and rows 0, 2, 3
  CHECK(s[1].precision == doctest::Approx(2.0 / 3));
  CHECK(s[1].recall == 1.0);
  // 3 bits, database 0b000 {0}, 0b011 {0}, 0b111 {1}; queries 0b001 {0} and 0b100 {0}, radius 0 finds nothing
  // for either; radius 1: 0b000 for the first (and 0b011), 0b000 for the second
  const HammingIndex three(std::vector<uint64_t>{0b000, 0b011, 0b111}, 3);
  const auto t = hamming_ball_scores(three, std::vector<uint64_t>{0b001, 0b100}, Topics{{0}, {0}},
                                     Topics{{0}, {0}, {1}}, 1);
  CHECK(t[0].empty == 2);
  CHECK(t[0].precision == 0.0);  // no query found any: nothing to average
  CHECK(t[0].retrieved == 0.0);
  CHECK(t[1].empty == 0);
  CHECK(t[1].retrieved == 1.5);  // rows 0, 1 and row 0
  CHECK(t[1].precision == 1.0);
  CHECK(t[1].recall == doctest::Approx((1.0 + 0.5) / 2));
  const auto u = hamming_ball_scores(three, std::vector<uint64_t>{0b001, 0b110}, Topics{{0}, {0}},
                                     Topics{{0}, {0}, {1}}, 1);  // 0b110 finds 0b111 only: precision 0
  CHECK(u[1].precision == doctest::Approx((1.0 + 0.0) / 2));
  CHECK(has(error_of([&] { three.lookup(0b1000, 0, got); }), "has bits above the index's 3"));
  CHECK(has(error_of([&] { (void)hamming_ball_scores(three, {}, {}, Topics{{0}, {0}, {1}}, -1); }), "radius up to -1"));
  CHECK(has(error_of([&] { small.lookup(0, 3, got); }), "radius 3; expected 0 to the code's 2 bits"));
  CHECK(has(error_of([&] { HammingIndex(std::vector<uint64_t>{0b100}, 2); }), "has bits above its 2"));
  CHECK(has(error_of([&] { HammingIndex(db, 65); }), "65 bits"));
}

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

