#include "io/reuters.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <numeric>
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
    if (id.empty() || ec != std::errc{} || p != id.data() + id.size())
      throw Error("{}: story {} (at byte {}) has NEWID \"{}\"; expected a number", file.string(), out.size() + 1, pos, id);
    s.topics_yes = attribute(tag, "TOPICS") == "YES";
    s.split = attribute(tag, "LEWISSPLIT");
    const std::string_view body = all.substr(tag_end + 1, end - tag_end - 1);
    const std::string where = fmt::format("{}: story {} (NEWID {}, at byte {})", file.string(), out.size() + 1, id, pos);
    std::string_view topics = element(body, "TOPICS", where);
    for (size_t t = 0; (t = topics.find("<D>", t)) != std::string_view::npos;) {
      const size_t u = topics.find("</D>", t);
      if (u == std::string_view::npos) break;
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

double DocumentSet::length(int64_t row) const {
  const auto a = static_cast<size_t>(start[static_cast<size_t>(row)]), b = static_cast<size_t>(start[static_cast<size_t>(row) + 1]);
  return std::accumulate(count.begin() + static_cast<std::ptrdiff_t>(a), count.begin() + static_cast<std::ptrdiff_t>(b), 0.0);
}

void DocumentSet::fill(std::span<const int64_t> rows, std::span<float> out) const {
  if (out.size() != rows.size() * static_cast<size_t>(vocabulary))
    throw Error("DocumentSet::fill: {} floats; expected {} rows of {} words", out.size(), rows.size(), vocabulary);
  std::fill(out.begin(), out.end(), 0.0f);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t d = rows[r];
    if (d < 0 || d >= size()) throw Error("DocumentSet::fill: row {}; expected a row in [0, {})", d, size());
    for (auto k = start[static_cast<size_t>(d)]; k < start[static_cast<size_t>(d) + 1]; ++k)
      out[r * static_cast<size_t>(vocabulary) + static_cast<size_t>(word[static_cast<size_t>(k)])] =
          count[static_cast<size_t>(k)];
  }
}

DocumentSet DocumentSet::subset(std::span<const int64_t> rows) const {
  DocumentSet s;
  s.vocabulary = vocabulary;
  for (int64_t d : rows) {
    if (d < 0 || d >= size()) throw Error("DocumentSet::subset: row {}; expected a row in [0, {})", d, size());
    const auto a = static_cast<size_t>(start[static_cast<size_t>(d)]), b = static_cast<size_t>(start[static_cast<size_t>(d) + 1]);
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
  int checked = 0;
  for (int f = 0; f <= 21; ++f) {
    const auto path = folder / fmt::format("reut2-{:03d}.sgm", f);
    if (!std::filesystem::exists(path))
      throw Error("{}: missing; expected the 22 files reut2-000.sgm ... reut2-021.sgm of Reuters-21578 in {}",
                  path.string(), folder.string());
    const std::string name = path.filename().string();
    const std::string_view names[] = {name};
    checked += check_sha256sums(folder, names);  // when SHA256SUMS lists it, as ../shared/data's folders do
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
  std::set<std::string> topic_names;
  for (const Kept& k : kept) {
    if (k.train)
      for (const auto& w : k.words) ++freq[w];
    topic_names.insert(k.topics.begin(), k.topics.end());
  }
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
  c.topics.assign(topic_names.begin(), topic_names.end());
  c.train.vocabulary = c.test.vocabulary = config.vocabulary;
  for (const Kept& k : kept) {
    std::map<int32_t, float> counts;
    for (const auto& w : k.words)
      if (auto it = index.find(w); it != index.end()) counts[it->second] += 1.0f;
    if (counts.empty()) {
      ++c.dropped_empty;
      continue;
    }
    DocumentSet& d = k.train ? c.train : c.test;
    for (auto [w, n] : counts) {
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
