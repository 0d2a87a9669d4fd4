#include "io/reuters.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "io/files.hpp"
#include "io/sha256.hpp"
#include "ops/error.hpp"

namespace ebm::io {
namespace {

// English function words, and the sign-off every story ends with.
const std::unordered_set<std::string_view>& stop_words() {
  static const std::unordered_set<std::string_view> words{
      "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at",
      "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
      "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
      "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "if", "in", "into", "is",
      "it", "its", "itself", "just", "me", "might", "more", "most", "must", "my", "myself", "no", "nor", "not", "now",
      "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "said",
      "same", "says", "shall", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs",
      "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
      "until", "up", "upon", "us", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
      "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "reuter", "reuters"};
  return words;
}

// The value of attribute `name` in a start tag, or "" when it has none.
std::string attribute(std::string_view tag, std::string_view name) {
  const std::string key = fmt::format(" {}=\"", name);
  const size_t at = tag.find(key);
  if (at == std::string_view::npos) return {};
  const size_t from = at + key.size(), to = tag.find('"', from);
  return to == std::string_view::npos ? std::string{} : std::string(tag.substr(from, to - from));
}

// Where the first <name> or <name ...> start tag in `s` begins (npos: none).
size_t start_tag(std::string_view s, std::string_view name) {
  const std::string open = fmt::format("<{}", name);
  size_t a = s.find(open);
  while (a != std::string_view::npos && a + open.size() < s.size() && s[a + open.size()] != '>' &&
         s[a + open.size()] != ' ')
    a = s.find(open, a + 1);  // <TEXTURE> is not <TEXT>
  return a;
}

// The content of the first <name ...>...</name> in `s` (the start tag may
// carry attributes), or "" (found = false). A start tag that is never
// closed is an error of the story `where` names.
std::string_view element(std::string_view s, std::string_view name, const std::string& where, bool* found = nullptr) {
  const size_t a = start_tag(s, name);
  const size_t content = a == std::string_view::npos ? a : s.find('>', a);
  const size_t b = content == std::string_view::npos ? content : s.find(fmt::format("</{}>", name), content);
  if (a != std::string_view::npos && b == std::string_view::npos)
    throw Error("{}: <{}> without </{}>; expected each element closed (a damaged file?)", where, name, name);
  if (found) *found = b != std::string_view::npos;
  if (b == std::string_view::npos) return {};
  return s.substr(content + 1, b - content - 1);
}

}  // namespace

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    if (w.size() >= 2 && !stop_words().contains(w)) out.push_back(w);
    w.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '&') {  // an entity: &lt; &amp; &#3; ...
      const size_t semi = text.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 8) {
        flush();
        i = semi;
        continue;
      }
    }
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
      w.push_back(static_cast<char>(ch | 0x20));
    } else {
      flush();
    }
  }
  flush();
  return out;
}

std::vector<NewsStory> read_reuters_sgml(const std::filesystem::path& file) {
  InputFile in = open_input(file, "a Reuters-21578 SGML file (reut2-NNN.sgm)");
  constexpr uint64_t kMostBytes = uint64_t{64} << 20;  // Reuters-21578's files hold at most 1.6 MB
  if (in.size > kMostBytes)
    throw Error("{}: {} bytes; expected a Reuters-21578 SGML file, at most {} MB (the 22 hold 0.6 to 1.6 MB each)",
                file.string(), in.size, kMostBytes >> 20);
  std::string bytes(in.size, '\0');
  if (read_some(in.stream, bytes.data(), in.size) != in.size)
    throw Error("{}: could not read its {} bytes", file.string(), in.size);
  std::vector<NewsStory> out;
  const std::string_view all(bytes);
  size_t pos = 0;
  while ((pos = all.find("<REUTERS", pos)) != std::string_view::npos) {
    const size_t tag_end = all.find('>', pos);
    const size_t end = tag_end == std::string_view::npos ? tag_end : all.find("</REUTERS>", tag_end);
    const std::string_view tag = all.substr(pos, tag_end == std::string_view::npos ? 0 : tag_end - pos);
    const std::string id = attribute(tag, "NEWID");
    if (end == std::string_view::npos)
      throw Error("{}: story {} (at byte {}) has no </REUTERS>; expected a complete file (truncated?)", file.string(),
                  out.size() + 1, pos);
    if (const size_t next = all.find("<REUTERS", tag_end); next < end)
      throw Error("{}: story {} (at byte {}) has no </REUTERS> before the next story's <REUTERS (at byte {}); "
                  "expected each story closed (a damaged file?)",
                  file.string(), out.size() + 1, pos, next);
    NewsStory s;
    const auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), s.newid);
    if (id.empty() || ec != std::errc{} || p != id.data() + id.size() || s.newid < 0)
      throw Error("{}: story {} (at byte {}) has NEWID \"{}\"; expected a number of 0 or more", file.string(),
                  out.size() + 1, pos, id);
    s.topics_yes = attribute(tag, "TOPICS") == "YES";
    s.split = attribute(tag, "LEWISSPLIT");
    const std::string_view body = all.substr(tag_end + 1, end - tag_end - 1);
    const std::string where = fmt::format("{}: story {} (NEWID {}, at byte {})", file.string(), out.size() + 1, id, pos);
    std::string_view topics = element(body, "TOPICS", where);
    for (size_t t = 0; (t = topics.find("<D>", t)) != std::string_view::npos;) {
      const size_t u = topics.find("</D>", t);
      if (u == std::string_view::npos)
        throw Error("{}: <D> without </D> in <TOPICS>; expected each element closed (a damaged file?)", where);
      s.topics.emplace_back(topics.substr(t + 3, u - t - 3));
      t = u;
    }
    bool titled = false, bodied = false;
    const std::string_view title = element(body, "TITLE", where, &titled), text = element(body, "BODY", where, &bodied);
    if (titled || bodied) {
      s.text = fmt::format("{}\n{}", title, text);
    } else {
      s.text = std::string(element(body, "TEXT", where));  // TYPE="UNPROC" or "BRIEF" stories
    }
    out.push_back(std::move(s));
    pos = end;
  }
  if (out.empty()) throw Error("{}: no <REUTERS> story; expected Reuters-21578 SGML", file.string());
  return out;
}

namespace {

// Row d's entries [a, b), after checking that d is a row and that its
// start offsets lie in order inside word and count.
std::pair<size_t, size_t> row_entries(const DocumentSet& s, int64_t d, const char* what) {
  if (d < 0 || d >= s.size()) throw Error("DocumentSet::{}: row {}; expected a row in [0, {})", what, d, s.size());
  const auto i = static_cast<size_t>(d);
  const int64_t a = s.start[i], b = s.start[i + 1];
  if (s.word.size() != s.count.size() || a < 0 || a > b || static_cast<size_t>(b) > s.word.size())
    throw Error("DocumentSet::{}: row {} spans entries [{}, {}) of {} words and {} counts; expected start offsets "
                "in order within them",
                what, d, a, b, s.word.size(), s.count.size());
  return {static_cast<size_t>(a), static_cast<size_t>(b)};
}

// Entry k of row d: a word of the vocabulary and a finite count of 0 or more.
void check_entry(const DocumentSet& s, int64_t d, size_t k, const char* what) {
  const int32_t w = s.word[k];
  const float n = s.count[k];
  if (w < 0 || w >= s.vocabulary || !std::isfinite(n) || n < 0)
    throw Error("DocumentSet::{}: row {} holds word {} with count {}; expected words in [0, {}) (the vocabulary) and "
                "finite counts of 0 or more",
                what, d, w, n, s.vocabulary);
}

}  // namespace

double DocumentSet::length(int64_t row) const {
  const auto [a, b] = row_entries(*this, row, "length");
  double n = 0;
  for (size_t k = a; k < b; ++k) {
    check_entry(*this, row, k, "length");
    n += count[k];
  }
  return n;
}

void DocumentSet::fill(std::span<const int64_t> rows, std::span<float> out) const {
  if (vocabulary < 0 || out.size() != rows.size() * static_cast<size_t>(vocabulary))
    throw Error("DocumentSet::fill: {} floats; expected {} rows of {} words", out.size(), rows.size(), vocabulary);
  std::fill(out.begin(), out.end(), 0.0f);
  // Each entry is checked as it is written: a few compares beside the
  // scattered store, where the rows x vocabulary zeros above dominate.
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto [a, b] = row_entries(*this, rows[r], "fill");
    for (size_t k = a; k < b; ++k) {
      check_entry(*this, rows[r], k, "fill");
      out[r * static_cast<size_t>(vocabulary) + static_cast<size_t>(word[k])] = count[k];
    }
  }
}

DocumentSet DocumentSet::subset(std::span<const int64_t> rows) const {
  if (size() < 0 || topics.size() != static_cast<size_t>(size()) || newid.size() != static_cast<size_t>(size()))
    throw Error("DocumentSet::subset: {} start offsets, {} topic lists and {} NEWIDs; expected one more offset than "
                "rows, and a topic list and a NEWID per row",
                start.size(), topics.size(), newid.size());
  DocumentSet s;
  s.vocabulary = vocabulary;
  for (int64_t d : rows) {
    const auto [a, b] = row_entries(*this, d, "subset");
    for (size_t k = a; k < b; ++k) check_entry(*this, d, k, "subset");
    s.word.insert(s.word.end(), word.begin() + static_cast<std::ptrdiff_t>(a), word.begin() + static_cast<std::ptrdiff_t>(b));
    s.count.insert(s.count.end(), count.begin() + static_cast<std::ptrdiff_t>(a), count.begin() + static_cast<std::ptrdiff_t>(b));
    s.start.push_back(static_cast<int64_t>(s.word.size()));
    s.topics.push_back(topics[static_cast<size_t>(d)]);
    s.newid.push_back(newid[static_cast<size_t>(d)]);
  }
  return s;
}

ReutersCorpus load_reuters(const std::filesystem::path& folder, const ReutersConfig& config) {
  if (config.vocabulary < 1)
    throw Error("load_reuters: a vocabulary of {} words; expected at least 1", config.vocabulary);
  struct Kept {
    bool train;
    std::vector<std::string> words, topics;
    int64_t newid;
  };
  std::vector<Kept> kept;
  std::unordered_map<int64_t, int> file_of;  // every story's NEWID, and the file it was in
  std::vector<std::string> files;
  for (int f = 0; f <= 21; ++f) {
    files.push_back(fmt::format("reut2-{:03d}.sgm", f));
    if (!std::filesystem::exists(folder / files.back()))
      throw Error("{}: missing; expected the 22 files reut2-000.sgm ... reut2-021.sgm of Reuters-21578 in {}",
                  (folder / files.back()).string(), folder.string());
  }
  // One call with the 22 names: a list naming only some checks those, and
  // every listed digest is checked before any file is parsed.
  const std::vector<std::string_view> names(files.begin(), files.end());
  const int checked = check_sha256sums(folder, names);
  for (int f = 0; f <= 21; ++f) {
    const auto path = folder / files[static_cast<size_t>(f)];
    for (NewsStory& s : read_reuters_sgml(path)) {
      if (const auto [at, fresh] = file_of.emplace(s.newid, f); !fresh)
        throw Error("{}: story NEWID {} is in reut2-{:03d}.sgm too; expected each story once (a file copied over "
                    "another?)",
                    path.string(), s.newid, at->second);
      if (!s.topics_yes || s.topics.empty() || (s.split != "TRAIN" && s.split != "TEST")) continue;
      kept.push_back({s.split == "TRAIN", words_of(s.text), std::move(s.topics), s.newid});
    }
  }
  for (const bool train : {true, false})
    if (std::none_of(kept.begin(), kept.end(), [&](const Kept& k) { return k.train == train; }))
      throw Error("{}: no {} stories with topics (LEWISSPLIT=\"{}\", TOPICS=\"YES\"); expected ModApte's {} (a "
                  "damaged or edited file?)",
                  folder.string(), train ? "training" : "test", train ? "TRAIN" : "TEST", train ? "training split" : "test set");
  if (config.expected_stories > 0 && static_cast<int64_t>(file_of.size()) != config.expected_stories)
    throw Error("{}: {} stories in the 22 files; expected Reuters-21578's {} (a file cut short between two stories?)",
                folder.string(), file_of.size(), config.expected_stories);
  ReutersCorpus c;
  c.checked_files = checked;
  std::unordered_map<std::string, int64_t> freq;
  for (const Kept& k : kept)
    if (k.train)
      for (const auto& w : k.words) ++freq[w];
  std::vector<std::pair<std::string, int64_t>> ranked(freq.begin(), freq.end());
  std::ranges::sort(ranked, [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (static_cast<int64_t>(ranked.size()) < config.vocabulary)
    throw Error("{}: the training stories have {} distinct words; expected at least the {} of the vocabulary",
                folder.string(), ranked.size(), config.vocabulary);
  std::unordered_map<std::string, int32_t> index;
  for (int64_t i = 0; i < config.vocabulary; ++i) {
    c.words.push_back(ranked[static_cast<size_t>(i)].first);
    index[c.words.back()] = static_cast<int32_t>(i);
  }
  // Each story's counts first: the topics are those of the stories kept.
  std::vector<std::map<int32_t, float>> counts(kept.size());
  std::set<std::string> topic_names;
  for (size_t i = 0; i < kept.size(); ++i) {
    for (const auto& w : kept[i].words)
      if (auto it = index.find(w); it != index.end()) counts[i][it->second] += 1.0f;
    if (counts[i].empty())
      ++c.dropped_empty;
    else
      topic_names.insert(kept[i].topics.begin(), kept[i].topics.end());
  }
  c.topics.assign(topic_names.begin(), topic_names.end());
  c.train.vocabulary = c.test.vocabulary = config.vocabulary;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (counts[i].empty()) continue;
    const Kept& k = kept[i];
    DocumentSet& d = k.train ? c.train : c.test;
    for (auto [w, n] : counts[i]) {
      d.word.push_back(w);
      d.count.push_back(n);
    }
    d.start.push_back(static_cast<int64_t>(d.word.size()));
    std::vector<int32_t> t;
    for (const auto& name : k.topics)
      t.push_back(static_cast<int32_t>(std::ranges::lower_bound(c.topics, name) - c.topics.begin()));
    std::ranges::sort(t);
    t.erase(std::unique(t.begin(), t.end()), t.end());
    d.topics.push_back(std::move(t));
    d.newid.push_back(k.newid);
  }
  return c;
}

}  // namespace ebm::io
