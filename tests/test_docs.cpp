// Documents: the Reuters SGML reader and bag-of-words corpus, ranked
// retrieval scores and the Hamming index. The models over word counts are
// in tests/test_word_models.cpp.

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <doctest/doctest.h>

#include "io/reuters.hpp"
#include "io/sha256.hpp"
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
  write_bytes(dir / "minus.sgm", "<REUTERS TOPICS=\"YES\" NEWID=\"-3\"></REUTERS>");
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "minus.sgm"); }),
            "has NEWID \"-3\"; expected a number of 0 or more"));
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
  std::string open_d = whole;  // a topic cut short was dropped, the story read without it
  open_d.erase(open_d.find("</D>"), std::string_view("</D>").size());
  write_bytes(dir / "open_d.sgm", open_d);
  CHECK(has(error_of([&] { io::read_reuters_sgml(dir / "open_d.sgm"); }),
            "open_d.sgm: story 1 (NEWID 1, at byte 0): <D> without </D> in <TOPICS>"));
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
  CHECK(c.topics == std::vector<std::string>{"corn", "grain"});  // crude's ModApte stories (zinc) are dropped
  CHECK(c.train.size() == 22);
  CHECK(c.test.size() == 22);
  CHECK(c.dropped_empty == 22);  // the zinc stories
  CHECK(c.train.newid[3] == 30);
  CHECK(c.test.topics[0] == std::vector<int32_t>{0, 1});
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

TEST_CASE("docs/corpus: a SHA256SUMS listing some of the files checks those, every digest before any parsing") {
  TempDir dir("reuters_sums");
  write_corpus(dir);
  std::string sums;
  for (int f : {3, 17})
    sums += fmt::format("{}  reut2-{:03d}.sgm\n", io::file_sha256(dir / fmt::format("reut2-{:03d}.sgm", f)), f);
  write_bytes(dir / "SHA256SUMS", sums);
  CHECK(io::load_reuters(dir.path, {.vocabulary = 3, .expected_stories = 0}).checked_files == 2);
  // a wrong digest of the last file is named even though the first cannot be parsed
  write_bytes(dir / "SHA256SUMS", sums + std::string(64, '0') + "  reut2-021.sgm\n");
  write_bytes(dir / "reut2-000.sgm", "not reuters");
  CHECK(has(error_of([&] { io::load_reuters(dir.path, {.vocabulary = 3, .expected_stories = 0}); }),
            "reut2-021.sgm: SHA-256 "));
  write_bytes(dir / "SHA256SUMS", std::string(64, '0') + "  other.sgm\n");  // a list for other files
  CHECK(has(error_of([&] { io::load_reuters(dir.path, {.vocabulary = 3, .expected_stories = 0}); }),
            "lists none of reut2-000.sgm, reut2-001.sgm"));
}

TEST_CASE("docs/corpus: a hand-built DocumentSet is checked where it is read, not written past its rows") {
  io::DocumentSet d;
  d.vocabulary = 4;
  d.word = {1, 3, 0};  // row 0: words 1 and 3; row 1: word 0
  d.count = {2, 7, 1};
  d.start = {0, 2, 3};
  d.topics = {{0}, {1}};
  d.newid = {10, 11};
  std::vector<float> two(2 * 4);
  d.fill(std::vector<int64_t>{0, 1}, two);
  CHECK(two == std::vector<float>{0, 2, 0, 7, 1, 0, 0, 0});
  CHECK(d.length(1) == 1.0);
  auto fill_error = [&](const io::DocumentSet& s) {
    return error_of([&] { s.fill(std::vector<int64_t>{0, 1}, two); });
  };
  io::DocumentSet bad = d;
  bad.word[1] = 4;  // would have written into row 1's first count
  CHECK(has(fill_error(bad), "row 0 holds word 4 with count 7; expected words in [0, 4)"));
  bad.word[1] = -1;
  CHECK(has(fill_error(bad), "row 0 holds word -1"));
  bad = d;
  bad.count[2] = -3;
  CHECK(has(fill_error(bad), "row 1 holds word 0 with count -3; expected words in [0, 4) (the vocabulary) and finite "
                             "counts of 0 or more"));
  bad.count[2] = std::nanf("");
  CHECK(has(fill_error(bad), "with count nan"));
  bad = d;
  bad.start = {0, 2, 5};  // past the entries
  CHECK(has(fill_error(bad), "row 1 spans entries [2, 5) of 3 words and 3 counts"));
  CHECK(has(error_of([&] { (void)bad.length(1); }), "DocumentSet::length: row 1 spans entries [2, 5)"));
  bad = d;
  bad.count[0] = -2;  // the row's length would have been 5
  CHECK(has(error_of([&] { (void)bad.length(0); }), "DocumentSet::length: row 0 holds word 1 with count -2"));
  CHECK(has(error_of([&] { (void)bad.subset(std::vector<int64_t>{0}); }), "DocumentSet::subset: row 0 holds word 1"));
  bad = d;
  bad.start = {0, 2, 1};
  CHECK(has(error_of([&] { (void)bad.subset(std::vector<int64_t>{1}); }),
            "DocumentSet::subset: row 1 spans entries [2, 1)"));
  CHECK(has(error_of([&] { (void)d.length(2); }), "DocumentSet::length: row 2; expected a row in [0, 2)"));
  CHECK(has(error_of([&] { (void)d.length(-1); }), "row -1"));
  bad = d;
  bad.topics.clear();
  bad.newid.clear();
  CHECK(has(error_of([&] { (void)bad.subset(std::vector<int64_t>{0}); }),
            "DocumentSet::subset: 3 start offsets, 0 topic lists and 0 NEWIDs; expected one more offset than rows"));
  CHECK(d.subset(std::vector<int64_t>{1}).newid == std::vector<int64_t>{11});
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
  CHECK(has(error_of([&] { cosine_curve(q, qt, {}, {}, 2, retrieval_cutoffs(0)); }),
            "retrieval: an empty database (0 documents); expected at least one document"));
  CHECK(has(error_of([&] { hamming_curve(hq, Topics{{1}}, {}, {}, retrieval_cutoffs(0)); }), "an empty database"));
}

TEST_CASE("docs/retrieval: topic indices up to 2^31 - 1 cost their number, not their size, and query blocks agree") {
  std::mt19937 rng(7);
  const int64_t nq = 300, nd = 300, dim = 5;
  std::normal_distribution<float> z(0.0f, 1.0f);
  std::vector<float> protos(6 * dim);
  for (auto& v : protos) v = z(rng);
  // Codes drawn from six directions and zero (ties) or at random, topics among five.
  auto codes = [&](int64_t rows) {
    std::vector<float> x(static_cast<size_t>(rows * dim));
    for (int64_t r = 0; r < rows; ++r) {
      const auto p = rng() % 9;
      for (int64_t j = 0; j < dim; ++j)
        x[size_t(r * dim + j)] = p < 6 ? protos[size_t(int64_t(p) * dim + j)] : p == 6 ? 0.0f : z(rng);
    }
    return x;
  };
  auto topics = [&](int64_t rows) {
    Topics t(static_cast<size_t>(rows));
    for (auto& s : t) {
      for (int k = 0; k < 3; ++k)
        if (rng() % 2) s.push_back(static_cast<int32_t>(rng() % 5));
      std::ranges::sort(s);
      s.erase(std::unique(s.begin(), s.end()), s.end());
    }
    return t;
  };
  const std::vector<float> xq = codes(nq), xd = codes(nd);
  const Topics tq = topics(nq), td = topics(nd);
  const std::vector<int64_t> cuts = retrieval_cutoffs(nd);
  const RetrievalCurve base = cosine_curve(xq, tq, xd, td, dim, cuts);
  CHECK(base.queries > 150);
  // The same topics renamed k -> 500,000,000 k + 7 (masks sized by the largest index wanted 75 GB each here).
  auto far = [](Topics t) {
    for (auto& s : t)
      for (auto& k : s) k = 500'000'000 * k + 7;
    return t;
  };
  const RetrievalCurve renamed = cosine_curve(xq, far(tq), xd, far(td), dim, cuts);
  CHECK(renamed.precision == base.precision);
  CHECK(renamed.recall == base.recall);
  CHECK(renamed.queries == base.queries);
  std::vector<uint64_t> hq(nq), hd(nd);
  for (auto& c : hq) c = rng() & 0x3f;
  for (auto& c : hd) c = rng() & 0x3f;
  CHECK(hamming_curve(hq, far(tq), hd, far(td), cuts).precision == hamming_curve(hq, tq, hd, td, cuts).precision);
  const HammingIndex index(hd, 6);
  const auto balls = hamming_ball_scores(index, hq, tq, td, 2);
  const auto far_balls = hamming_ball_scores(index, hq, far(tq), far(td), 2);
  for (size_t r = 0; r < balls.size(); ++r) CHECK(far_balls[r].recall == balls[r].recall);
  // Similarities a block of queries at a time (as for query sets whose whole matrix would not fit): the same curve.
  for (int64_t block : {int64_t{1}, int64_t{7}, nq - 1, nq, 5 * nq}) {
    CAPTURE(block);
    const RetrievalCurve b = cosine_curve_in_blocks(xq, tq, xd, td, dim, cuts, block);
    CHECK(b.precision == base.precision);
    CHECK(b.recall == base.recall);
    CHECK(b.skipped == base.skipped);
  }
  CHECK(has(error_of([&] { cosine_curve_in_blocks(xq, tq, xd, td, dim, cuts, 0); }), "blocks of 0 queries"));
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
