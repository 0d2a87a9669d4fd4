#pragma once
// The Reuters-21578 newswire stories (Distribution 1.0, SGML) as bags of
// words, for document retrieval.
//
// Reading: each <REUTERS ...> element of reut2-000.sgm ... reut2-021.sgm
// gives a story: its NEWID, TOPICS and LEWISSPLIT attributes, the <D>
// entries of its <TOPICS>, and its text (<TITLE> and <BODY>; the whole
// <TEXT> for stories without them, such as TYPE="UNPROC"). The files are
// Latin-1; only ASCII letters make words, so accented letters and stray
// control bytes split words like any other non-letter.
//
// Words: runs of ASCII letters, lower-cased, at least two long, with
// character entities (&lt; &#3; ...) skipped, and without the English
// function words of a fixed list (io/reuters.cpp) and the sign-off
// "reuter". No stemming. The vocabulary is the `vocabulary` most frequent
// words over the training stories (ties in alphabetical order).
//
// The ModApte split: stories with TOPICS="YES" and at least one topic,
// LEWISSPLIT="TRAIN" for training and "TEST" for testing: 7,775 and 3,019
// stories. Stories left with no vocabulary word would be dropped and
// counted (none are at 2000 words).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace ebm::io {

struct NewsStory {
  int64_t newid = 0;
  bool topics_yes = false;    // TOPICS="YES"
  std::string split;          // LEWISSPLIT: TRAIN, TEST or NOT-USED
  std::vector<std::string> topics;
  std::string text;           // title and body
};

// The stories of one SGML file; a file that is not Reuters SGML, is cut
// short inside a story, leaves an element open (a <D> of <TOPICS> too) or
// has a NEWID that is not a number of 0 or more, is an ebm::Error naming
// it and the story.
std::vector<NewsStory> read_reuters_sgml(const std::filesystem::path& file);

// The words of a text, as described above.
std::vector<std::string> words_of(std::string_view text);

// Documents as sparse rows of word counts, with their topics. A set built
// by hand is checked row by row as length, fill and subset read it: a row
// outside the set, start offsets out of order or past `word` (or `count`,
// of another size), a word outside [0, vocabulary) and a count that is
// negative or not finite are ebm::Errors naming the row (and subset wants
// a topic list and a NEWID per row).
struct DocumentSet {
  int64_t vocabulary = 0;
  std::vector<int64_t> start{0};            // row i's entries are [start[i], start[i + 1])
  std::vector<int32_t> word;                // vocabulary index
  std::vector<float> count;                 // its count in the document
  std::vector<std::vector<int32_t>> topics; // topic indices (ReutersCorpus::topics)
  std::vector<int64_t> newid;

  int64_t size() const { return static_cast<int64_t>(start.size()) - 1; }
  double length(int64_t row) const;  // D, the row's number of words
  // Rows `rows` as dense counts into out (rows.size() x vocabulary floats).
  void fill(std::span<const int64_t> rows, std::span<float> out) const;
  // The rows `rows` as a set of their own (in that order).
  DocumentSet subset(std::span<const int64_t> rows) const;
};

struct ReutersConfig {
  int64_t vocabulary = 2000;
  // Stories the 22 files hold in all (Reuters-21578's 21,578), checked so
  // that a file cut between two stories is an error; 0: not checked (a
  // made-up corpus). A NEWID seen twice (a file copied over another) is an
  // error either way.
  int64_t expected_stories = 21578;
};

struct ReutersCorpus {
  std::vector<std::string> words;   // the vocabulary, most frequent first
  std::vector<std::string> topics;  // every topic of the stories in train and test (not the dropped), sorted
  DocumentSet train, test;          // ModApte
  int64_t dropped_empty = 0;        // ModApte stories with no vocabulary word
  int checked_files = 0;            // files whose SHA-256 matched the folder's SHA256SUMS
};

// Reads reut2-000.sgm ... reut2-021.sgm from `folder` (each must be there).
// When the folder holds a SHA256SUMS list (../shared/data's does), each
// of the 22 it lists is checked against its digest (those it does not
// list are not; a list naming none of them is refused), all before any
// file is parsed: a damaged copy is an ebm::Error naming the file.
ReutersCorpus load_reuters(const std::filesystem::path& folder, const ReutersConfig& config = {});

}  // namespace ebm::io
