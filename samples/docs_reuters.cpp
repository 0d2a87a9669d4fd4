// docs_reuters: document retrieval on the Reuters-21578 newswire stories
// with a deep autoencoder (Hinton & Salakhutdinov 2006, Science, Fig. 4).
// Each story is a bag of its 2000 most frequent words (io/reuters.hpp);
// the first RBM has count visible units (a replicated softmax,
// models/units.hpp; --word-units poisson gives it the constrained Poisson
// units of the hashing papers instead), the top one linear hidden units, so
// the stack maps a story to a real-valued code:
//
//   counts --RBM0--> 500 --RBM1--> 250 --RBM2--> 125 --RBM3--> 10 (linear)    greedy, CD-1
//
// unrolled into an encoder and a decoder (softmax over the words, the
// story's cross-entropy) and fine-tuned by backprop. Each test story then
// asks for the training stories nearest to it by the cosine of the codes,
// and a retrieved story counts when it shares a topic with the query
// (models/retrieval.hpp). Against the same ranking by LSA (the leading
// principal components of log(1 + count), as many as the code) and by the
// full tf-idf vectors.
//
// Semantic hashing (Salakhutdinov & Hinton 2009) beside it: a second stack,
// 2000-500-500-32 by default, whose top RBM has binary hidden units; its
// unrolled net is fine-tuned with Gaussian noise added to the code units'
// input (--hash-noise), which drives the sigmoid code to 0 or 1, and the
// code thresholded at 0.5 is a story's address: stories are retrieved by
// the Hamming distance of their bits; and, as the hashing papers use it,
// by address: the training stories within Hamming distance 0 to 3 of a
// test story, found by probing a hash table of their codes (against a
// linear scan of the codes, timed on the run); and as a filter: each test
// story's --hash-shortlist nearest codes re-ranked by tf-idf.
//
// The 2-D map (the paper's Fig. 4; --map, on in the paper preset): a third
// stack like the retrieval one but ending in 2 linear units, the test
// stories of the six largest topics drawn by their codes beside LSA's
// first two dimensions.
//
// Writes to --output: pretrain/ and finetune/ checkpoints (baseline/ with
// --baseline, for the retrieval stack only), hash/ with the hashing
// stack's, map/ with the map's, per-epoch CSV metrics, retrieval.csv (every method's precision
// and recall at each cutoff), retrieval.svg, hash_lookup.csv and map.svg; prints a summary table and
// key=value result lines. The run shares its options, its pretraining and
// its fine-tuning with the image autoencoders
// (samples/autoencoder_parts.hpp); as there, the fine-tuning keeps the
// epoch of least validation squared error (of the expected counts D p
// against the counts), while it minimises the stories' cross-entropy.
// The report, the lookups and the perplexity are in
// samples/docs_reuters_parts.hpp; this file holds the options and the run.

#include <cmath>
#include <numeric>

#include <fmt/ranges.h>

#include "samples/docs_reuters_parts.hpp"

namespace {

using namespace ebm;
using namespace ebm::samples;

struct HashOptions {
  int64_t bits = 32;
  std::vector<int64_t> hidden{500, 500};
  float noise = 4.0f;
  int64_t shortlist = 100;  // the hash's nearest stories that tf-idf re-ranks
  bool map = false;  // also the 2-D map (--map; the paper preset's default)
  int64_t ais_stories = 0;  // test stories whose log-probability the first RBM gets, by AIS (0: none)
  double ais_scale = 0.1;   // of AIS's 14,500 temperatures
  Unit words = Unit::count;  // the first RBM's visible units: count or poisson (--word-units)
};

constexpr AePreset kQuick{.pretrain_epochs = 10, .finetune_epochs = 10, .finetune_lr_decay = 1.0f};
constexpr AePreset kPaper{.pretrain_epochs = 50, .finetune_epochs = 100, .finetune_lr_decay = 0.98f};

void apply_preset(const CLI::App& app, AeOptions& o, int64_t vocabulary, HashOptions& hash) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (o.preset == "paper" && unset("--map")) hash.map = true;
  if (hash.words == Unit::poisson && hash.ais_stories > 0)
    throw Error("--ais-stories {}: AIS estimates a log Z, and the constrained Poisson model (--word-units poisson) "
                "has none, its conditionals belonging to no joint distribution; expected --ais-stories 0 with it, "
                "or --word-units count",
                hash.ais_stories);
  if (o.preset == "paper" && unset("--ais-stories") && hash.words == Unit::count) hash.ais_stories = 50;
  if (hash.ais_stories == 0 && app.count("--ais-scale") > 0)
    throw Error("--ais-scale: it sets the AIS of --ais-stories, which is 0 here");
  if (hash.ais_stories > 0 && o.hidden.size() < 2)
    throw Error("--ais-stories {}{}: AIS estimates the first RBM's log Z over its binary hidden units, but --hidden "
                "{} makes the first RBM the code's (linear units); expected at least two --hidden layers, or "
                "--ais-stories 0",
                hash.ais_stories, unset("--ais-stories") ? fmt::format(" (the {} preset's)", o.preset) : "",
                fmt::join(o.hidden, ","));
  if (hash.map && o.pretrain_epochs.size() > 1)
    throw Error("--pretrain-epochs: {} values, one per layer of the retrieval stack; the 2-D map's stack is trained "
                "too: give one value for every stack, or --no-map", o.pretrain_epochs.size());
  if (const std::string f = samples::given_flags(app, {"--hash-hidden", "--hash-noise", "--hash-shortlist"});
      hash.bits == 0 && !f.empty())
    throw Error("{}: {} the semantic hashing stack, which --hash-bits 0 leaves out", f,
                f.find(',') == std::string::npos ? "it sets" : "they set");
  if (hash.bits > 0 && o.pretrain_epochs.size() > 1)
    throw Error("--pretrain-epochs: {} values, one per layer of the retrieval stack; the hashing stack has other "
                "layers: give one value for every stack, or --hash-bits 0", o.pretrain_epochs.size());
  if (o.method.starts_with("pcd")) {
    CdConfig parsed;
    parse_cd_method(o.method, parsed);  // a malformed one ("pcd0") is said as such first
    throw Error("--method {}: persistent chains are not supported for {} units (the first RBM's); expected cd1 or "
                "cdK", o.method, to_string(hash.words));
  }
  if (o.preset == "quick") {
    apply_ae_preset(app, o, kQuick);
  } else if (o.preset == "paper") {
    apply_ae_preset(app, o, kPaper);
  } else {
    throw Error("--preset '{}': expected quick or paper", o.preset);
  }
  check_autoencoder_options(app, o, vocabulary, hash.words, "--vocabulary");
}

// A stack beside the retrieval one (the hashing stack, the map's), under
// <output>/<name>: its RBMs pretrained with the retrieval stack's settings
// (one number of epochs for every layer), then unrolled and fine-tuned.
Autoencoder train_side_stack(Graph& g, Executor& ex, const AeOptions& o, const AeTask& t, const std::string& name,
                             std::vector<int64_t> hidden, const std::string& hidden_flag, uint64_t seed_offset,
                             Unit top, float code_noise, Summary& sum) {
  AeOptions s = o;
  s.output = o.output + "/" + name;
  s.hidden = std::move(hidden);
  s.pretrain_epochs.assign(s.hidden.size(), o.pretrain_epochs.front());
  make_output_dir(s.output);
  std::vector<int64_t> layers{t.train.dim};
  layers.insert(layers.end(), s.hidden.begin(), s.hidden.end());
  Dbn dbn = Dbn::make(g, name + "_dbn", {.layers = layers, .seed = o.seed + seed_offset, .visible_unit = t.data_unit,
                                         .top_hidden_unit = top});
  const bool resume = pretrain_stack(dbn, ex, s, t, sum, name, hidden_flag);
  AeTask tuned = t;  // the fine-tuning's flags: the data's, and the noise that shapes the code
  if (code_noise > 0.0f) tuned.run_settings["--hash-noise"] = fmt::format("{:g}", code_noise);
  AutoencoderConfig cfg = autoencoder_config(s, t, layers);
  cfg.linear_code = top == Unit::gaussian;
  cfg.code_noise = code_noise;
  Autoencoder net = Autoencoder::make(g, name, cfg);
  net.init_from(dbn);
  detail::finetune(net, ex, tuned, s, cfg.optimizer == AeOptimizer::adam ? cfg.adam.lr : cfg.sgd.lr, resume,
                   name + "_finetune", sum);
  return net;
}

// The stories' 2-D map (the paper's Fig. 4): a third stack ending in 2
// linear units, fine-tuned like the retrieval stack, beside LSA's first two
// dimensions; the test stories of the six largest topics (those with one
// topic only, counted in the legend) drawn in their topic's colour, to map.svg.
void draw_map(Graph& g, Executor& ex, const AeOptions& o, const AeTask& t, const io::ReutersCorpus& corpus,
              Summary& sum) {
  std::vector<int64_t> hidden = o.hidden;
  hidden.back() = 2;
  const Autoencoder net = train_side_stack(g, ex, o, t, "map", hidden, "", 2, Unit::gaussian, 0.0f, sum);
  const Tensor x = g.input("map.x", {500, t.train.dim});
  const Tensor code = net.encode(x);
  const std::vector<float> codes = rows_through(ex, x, code, t.test);
  auto log1 = [](float c, int64_t) { return std::log1p(c); };
  const Pca lsa = fit_pca(transformed(doc_source(corpus.train), log1), 2);
  const std::vector<float> rows = all_rows(transformed(t.test, log1));
  std::vector<float> lsa_codes(static_cast<size_t>(t.test.count * 2));
  lsa.encode(rows, lsa_codes);

  std::vector<int64_t> size(corpus.topics.size(), 0);
  for (const auto& d : corpus.train.topics)
    for (int32_t k : d) ++size[static_cast<size_t>(k)];
  std::vector<int32_t> order(size.size());
  std::iota(order.begin(), order.end(), 0);
  std::ranges::stable_sort(order, [&](int32_t a, int32_t b) { return size[static_cast<size_t>(a)] > size[static_cast<size_t>(b)]; });
  order.resize(std::min<size_t>(6, order.size()));
  io::Panel panels[2] = {{"LSA, the first 2 dimensions", "dimension 1", "dimension 2"},
                         {"Autoencoder, 2-D code", "code 1", "code 2"}};
  for (int32_t k : order)
    for (io::Panel& p : panels) {
      io::Series s{corpus.topics[static_cast<size_t>(k)]};
      s.points_only = true;
      p.series.push_back(std::move(s));
    }
  int64_t drawn = 0;
  for (int64_t d = 0; d < t.test.count; ++d) {
    const auto& topics = corpus.test.topics[static_cast<size_t>(d)];
    if (topics.size() != 1) continue;
    const auto it = std::ranges::find(order, topics.front());
    if (it == order.end()) continue;
    const auto k = static_cast<size_t>(it - order.begin());
    const auto i = static_cast<size_t>(2 * d);
    panels[0].series[k].x.push_back(lsa_codes[i]);
    panels[0].series[k].y.push_back(lsa_codes[i + 1]);
    panels[1].series[k].x.push_back(codes[i]);
    panels[1].series[k].y.push_back(codes[i + 1]);
    ++drawn;
  }
  for (io::Panel& p : panels)  // a topic whose stories mostly carry others too has few points: its count says so
    for (io::Series& s : p.series) s.label += fmt::format(" ({})", s.x.size());
  draw_curves("docs_reuters", [&] {
    io::write_svg_plot(o.output + "/map.svg", panels,
                       fmt::format("docs_reuters: {} test stories of the six largest topics in 2-D", drawn));
  });
  const RetrievalCurve c = cosine_curve(codes, corpus.test.topics, rows_through(ex, x, code, doc_source(corpus.train)),
                                        corpus.train.topics, 2, retrieval_cutoffs(corpus.train.size()));
  result("map_precision_at_15", fmt::format("{:.4f}", c.precision_at(15)));
  sum.add("2-D map (map.svg)", 0.0, fmt::format("{} stories drawn; the 2-D codes' precision at 15: {:.3f}", drawn,
                                               c.precision_at(15)));
}

int run(const AeOptions& o, int64_t vocabulary, int64_t validation, const HashOptions& hash) {
  const std::filesystem::path dir = o.data.empty() ? std::string("../shared/data/reuters21578") : o.data;
  const io::ReutersCorpus corpus = io::load_reuters(dir, {.vocabulary = vocabulary});
  const int64_t n_train = corpus.train.size();
  if (validation < 1 || validation >= n_train)
    throw Error("--validation {}: expected 1 .. {} (of the {} training stories)", validation, n_train - 1, n_train);
  std::vector<int64_t> fit_rows(static_cast<size_t>(n_train - validation)), valid_rows(static_cast<size_t>(validation));
  std::iota(fit_rows.begin(), fit_rows.end(), 0);
  std::iota(valid_rows.begin(), valid_rows.end(), n_train - validation);
  const io::DocumentSet fit_set = corpus.train.subset(fit_rows), valid_set = corpus.train.subset(valid_rows);

  AeTask t;
  t.program = "docs_reuters";
  t.data_name = "stories";
  t.width_flag = "--vocabulary";
  t.unit_flag = "--word-units";
  t.run_settings = {{"--vocabulary", std::to_string(vocabulary)}, {"--validation", std::to_string(validation)},
                    {"--word-units", std::string(to_string(hash.words))}};
  t.train = doc_source(fit_set);
  t.valid = doc_source(valid_set);
  t.test = doc_source(corpus.test);
  t.data_unit = hash.words;
  t.data_means = source_means(t.train, t.train.count, 500);
  t.data_lr = 0.001f;
  t.finetune_lr_sgd = 1e-4f;
  t.finetune_lr_adam = 1e-3f;

  std::vector<int64_t> layers{vocabulary};
  layers.insert(layers.end(), o.hidden.begin(), o.hidden.end());
  const std::string title =
      fmt::format("docs_reuters: {} autoencoder on Reuters-21578, preset {}", detail::layer_string(layers), o.preset);
  check_batches(o, t);
  // Counts beyond the sets are refused, not cut down to them (a shortlist of every story re-ranks them all: tf-idf's
  // own figures under the hash's name).
  if (hash.bits > 0 && hash.shortlist > corpus.train.size())
    throw Error("--hash-shortlist {}: more than the {} training stories the hash retrieves from; expected at most {}",
                hash.shortlist, corpus.train.size(), corpus.train.size());
  if (hash.ais_stories > corpus.test.size())
    throw Error("--ais-stories {}: more than the {} test stories; expected at most {}", hash.ais_stories,
                corpus.test.size(), corpus.test.size());
  make_output_dir(o.output);
  check_file_folder("--profile", o.profile);
  fmt::print("{}\n{} training / {} validation / {} test stories (ModApte, {} left out with no vocabulary word), {} "
             "topics; {:.1f} words a story; {}\n",
             title, t.train.count, t.valid.count, t.test.count, corpus.dropped_empty, corpus.topics.size(),
             std::accumulate(t.data_means.begin(), t.data_means.end(), 0.0),
             corpus.checked_files > 0 ? fmt::format("{} files checked against {}/SHA256SUMS", corpus.checked_files,
                                                    dir.string())
                                      : fmt::format("no SHA256SUMS in {} to check the files by", dir.string()));
  Summary sum;
  const DataSource database = doc_source(corpus.train);  // every training story is retrieved from
  const std::vector<int64_t> cutoffs = retrieval_cutoffs(database.count);
  std::vector<Method> methods;

  Graph g;
  Dbn dbn = Dbn::make(g, "dbn", {.layers = layers, .seed = o.seed, .visible_unit = t.data_unit,
                                 .top_hidden_unit = Unit::gaussian});
  Executor ex(g, {.threads = o.threads, .seed = o.seed, .profile = !o.profile.empty(),
                  .profile_events = static_cast<size_t>(o.profile_events)});
  // (the executor runs BLAS on one thread from here on: its arena owns them)

  std::vector<float> tfidf_test, tfidf_database;  // kept for re-ranking the hash's shortlists
  {  // tf-idf on the whole vocabulary, and LSA with as many dimensions as the code
    Progress bar("tf-idf and LSA baselines", 2, false, true);  // unlike steps: no ETA
    std::vector<double> df(static_cast<size_t>(vocabulary), 0.0);
    for (size_t k = 0; k < corpus.train.word.size(); ++k) df[static_cast<size_t>(corpus.train.word[k])] += 1.0;
    std::vector<float> idf;
    for (double d : df) idf.push_back(static_cast<float>(std::log(static_cast<double>(database.count) / std::max(d, 1.0))));
    auto tfidf = [&idf](float c, int64_t w) { return c * idf[static_cast<size_t>(w)]; };
    tfidf_test = all_rows(transformed(t.test, tfidf));
    tfidf_database = all_rows(transformed(database, tfidf));
    methods.push_back({"tfidf", fmt::format("tf-idf, {} words", vocabulary),
                       cosine_curve(tfidf_test, corpus.test.topics, tfidf_database, corpus.train.topics, vocabulary,
                                    cutoffs)});
    if (hash.bits == 0 || hash.shortlist == 0) {  // no re-ranking: not kept
      std::vector<float>().swap(tfidf_test);
      std::vector<float>().swap(tfidf_database);
    }
    bar.update(1, fmt::format("precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
    auto log1 = [](float c, int64_t) { return std::log1p(c); };
    const Pca lsa = fit_pca(transformed(database, log1), o.hidden.back());
    auto codes = [&lsa](const DataSource& s) {
      const std::vector<float> x = all_rows(s);
      std::vector<float> c(static_cast<size_t>(s.count * lsa.k()));
      lsa.encode(x, c);
      return c;
    };
    methods.push_back({"lsa", fmt::format("LSA, {} dims", lsa.k()),
                       cosine_curve(codes(transformed(t.test, log1)), corpus.test.topics,
                                    codes(transformed(database, log1)), corpus.train.topics, lsa.k(), cutoffs)});
    bar.update(2, fmt::format("LSA precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
    sum.add("tf-idf and LSA", bar.seconds(),
            fmt::format("precision at 15: tf-idf {:.3f}, LSA {:.3f}", methods[0].curve.precision_at(15),
                        methods[1].curve.precision_at(15)));
  }

  samples::say_if_nothing_to_resume("docs_reuters", o.resume, o.output);
  if (!o.resume)  // the side stacks' checkpoints too, before anything trains (pretrain_stack removes the main one's)
    for (const std::string side : {"hash", "map"})
      Lineage{.output = o.output + "/" + side, .built_on = {side + "_finetune"}}.fresh();
  const bool resume = pretrain_stack(dbn, ex, o, t, sum);
  if (hash.ais_stories > 0)
    word_perplexity(dbn.rbms.front(), t, corpus.test, hash.ais_stories, hash.ais_scale, o.threads, sum);

  AutoencoderConfig cfg = autoencoder_config(o, t, layers);
  const float lr = cfg.optimizer == AeOptimizer::adam ? cfg.adam.lr : cfg.sgd.lr;
  const Tensor x = g.input("codes.x", {500, vocabulary});
  auto code_curve = [&](const Autoencoder& a) {
    const Tensor code = a.encode(x);
    return cosine_curve(rows_through(ex, x, code, t.test), corpus.test.topics, rows_through(ex, x, code, database),
                        corpus.train.topics, o.hidden.back(), cutoffs);
  };
  Autoencoder net = Autoencoder::make(g, "ae", cfg);
  net.init_from(dbn);
  methods.push_back({"unrolled", "RBM stack, before fine-tuning", code_curve(net)});
  sum.add("unrolled, before fine-tuning", 0.0,
          fmt::format("precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
  detail::finetune(net, ex, t, o, lr, resume, "finetune", sum);
  methods.push_back({"autoencoder", "autoencoder, fine-tuned", code_curve(net)});
  sum.add("fine-tuned codes", 0.0, fmt::format("precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
  if (o.baseline) {
    cfg.seed = o.seed + 200;
    Autoencoder scratch = Autoencoder::make(g, "baseline", cfg);
    detail::finetune(scratch, ex, t, o, lr, o.resume, "baseline", sum);
    methods.push_back({"baseline", "autoencoder, random start", code_curve(scratch)});
    sum.add("random-start codes", 0.0, fmt::format("precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
  }
  if (hash.bits > 0) {  // semantic hashing: a second stack whose sigmoid code is thresholded to bits
    std::vector<int64_t> hidden = hash.hidden;
    hidden.push_back(hash.bits);
    const Autoencoder hnet = train_side_stack(g, ex, o, t, "hash", hidden, "--hash-hidden or --hash-bits", 1, Unit::binary,
                                         hash.noise, sum);
    const Tensor code = hnet.encode(x);
    auto bits = [&](const DataSource& s) {
      const std::vector<float> c = rows_through(ex, x, code, s);
      std::vector<uint64_t> out(static_cast<size_t>(s.count), 0);
      for (size_t k = 0; k < c.size(); ++k)
        if (c[k] > 0.5f) out[k / static_cast<size_t>(hash.bits)] |= uint64_t{1} << (k % static_cast<size_t>(hash.bits));
      return out;
    };
    const std::vector<uint64_t> qb = bits(t.test), db = bits(database);
    methods.push_back({"hash", fmt::format("semantic hashing, {} bits", hash.bits),
                       hamming_curve(qb, corpus.test.topics, db, corpus.train.topics, cutoffs)});
    const double hash_at_15 = methods.back().curve.precision_at(15);
    if (hash.shortlist > 0) {  // the hash as a filter: its nearest stories re-ranked by tf-idf
      const int64_t s = std::min(hash.shortlist, database.count);
      methods.push_back({"hash_tfidf", fmt::format("semantic hashing, {} bits, nearest {} by tf-idf", hash.bits, s),
                         hamming_shortlist_curve(qb, corpus.test.topics, db, corpus.train.topics, s, tfidf_test,
                                                 tfidf_database, vocabulary, cutoffs)});
    }
    ball_lookups(qb, db, static_cast<int>(hash.bits), corpus.test.topics, corpus.train.topics, o.output);
    // how binary the code came out: the share of code units within 0.1 of 0 or 1
    const std::vector<float> c = rows_through(ex, x, code, t.test);
    const auto near = std::ranges::count_if(c, [](float v) { return v < 0.1f || v > 0.9f; });
    result("hash_code_near_binary", fmt::format("{:.4f}", static_cast<double>(near) / static_cast<double>(c.size())));
    sum.add("semantic hashing codes", 0.0,
            fmt::format("precision at 15: {:.3f}; {:.1f}% of code units within 0.1 of 0 or 1",
                        hash_at_15, 100.0 * static_cast<double>(near) / static_cast<double>(c.size())));
    if (hash.shortlist > 0)
      sum.add(fmt::format("nearest {} re-ranked by tf-idf", std::min(hash.shortlist, database.count)), 0.0,
              fmt::format("precision at 15: {:.3f}", methods.back().curve.precision_at(15)));
  }
  if (hash.map) draw_map(g, ex, o, t, corpus, sum);
  report(methods, o, title);
  return finish(sum, ex, o.profile);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Document retrieval on Reuters-21578: a deep autoencoder from an RBM stack over the words (a "
               "replicated softmax, or the constrained Poisson model), against LSA and tf-idf"};
  AeOptions o;
  o.output = "out/docs_reuters";
  o.hidden = {500, 250, 125, 10};
  o.optimizer = "adam";  // sgd: a rate that moves the stories' cross-entropy (hundreds of nats) at all barely does
  int64_t vocabulary = 2000, validation = 1000;
  HashOptions hash;
  add_autoencoder_options(app, o, "Reuters-21578 SGML files (default: ../shared/data/reuters21578)",
                          "adam 0.001, sgd 0.0001", Unit::count);
  app.add_option("--vocabulary", vocabulary, "the most frequent training words kept")->capture_default_str()
      ->check(samples::kPositive);
  app.add_option("--validation", validation, "last N training stories held out to choose the epoch")
      ->capture_default_str()->check(samples::kPositive);
  app.add_option("--hash-bits", hash.bits, "semantic hashing: bits of the binary code (0: no hashing stack)")
      ->capture_default_str()->check(samples::whole_number_check(0, 64));
  app.add_option("--hash-hidden", hash.hidden, "semantic hashing: the hidden layers below the code")
      ->capture_default_str()->delimiter(',')->check(samples::kPositive);
  app.add_option("--hash-shortlist", hash.shortlist,
                 "semantic hashing as a filter: each query's N nearest stories by Hamming distance re-ranked by "
                 "tf-idf (0: not scored)")
      ->capture_default_str()->check(samples::kNonNegative);
  app.add_flag("--map,!--no-map", hash.map,
               "also train a 2-D code and draw the test stories by topic beside LSA's 2-D (map.svg; on in the paper "
               "preset, --no-map leaves it out)");
  app.add_option("--ais-stories", hash.ais_stories,
                 "test stories whose log-probability under the first RBM AIS estimates (0: none; default: 50 in the "
                 "paper preset)")
      ->check(samples::kNonNegative);
  app.add_option("--ais-scale", hash.ais_scale, "AIS's temperatures as a share of the paper's 14,500")
      ->capture_default_str()->check(samples::kAisScale);
  std::string word_units = "count";
  app.add_option("--word-units", word_units,
                 "the first RBM's visible units: count (a replicated softmax) or poisson (the constrained Poisson "
                 "model of the semantic hashing paper)")
      ->capture_default_str()->check(CLI::IsMember({"count", "poisson"}));
  app.add_option("--hash-noise", hash.noise,
                 "semantic hashing: standard deviation of the noise added to the code units' input in fine-tuning")
      ->capture_default_str()->check(samples::kNonNegative);
  show_ae_presets(app, kQuick, kPaper);
  return run_main(app, argc, argv, "docs_reuters", [&] {
    hash.words = parse_unit(word_units);
    apply_preset(app, o, vocabulary, hash);
    return samples::on_threads(o.threads, [&] { return run(o, vocabulary, validation, hash); });
  });
}
