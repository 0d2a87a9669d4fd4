#include "models/checkpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "models/checkpoint_meta.hpp"

namespace ebm {
namespace fs = std::filesystem;

namespace {

constexpr int kFormatVersion = 1;

// The folder a checkpoint path names, as a name a rename can take:
// "out/layer0/" and "out/layer0/." are "out/layer0". with_suffix gives
// "<dir><suffix>", a sibling of the folder: "out/layer0/" gives
// "out/layer0.tmp", not "out/layer0/.tmp" inside a folder not yet made.
fs::path folder_named(const fs::path& dir) {
  fs::path p = dir.lexically_normal();  // "out/c/." and "out/./c/" are "out/c/"
  while (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

fs::path with_suffix(const fs::path& dir, const char* suffix) {
  fs::path p = folder_named(dir);
  p += suffix;
  return p;
}

// Deeper nesting than any manifest of ours has is refused while parsing:
// the recursion of dump() (and of messages that quote a value) would
// otherwise overflow the stack on a damaged file.
constexpr int kMaxJsonDepth = 32;
struct TooDeep {};

// The JSON object `in` holds (text or a stream): anything else is an
// ebm::Error naming the checkpoint at `dir`, `what` was read and, for text
// that is not JSON, the parser's message (without its
// "[json.exception.parse_error.101] " prefix) after `hint`.
// Nesting deeper than `max_depth` is refused (a save's meta_json one level
// less than a manifest, which holds it).
template <typename In>
nlohmann::json json_object(In&& in, const fs::path& dir, std::string_view what, std::string_view hint,
                           int max_depth = kMaxJsonDepth) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(std::forward<In>(in),
                              [max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
                                if (depth > max_depth) throw TooDeep{};
                                return true;
                              });
  } catch (const TooDeep&) {
    throw Error("checkpoint '{}': {} nests arrays or objects more than {} deep; expected at most {} levels{}",
                dir.string(), what, max_depth, max_depth, hint);
  } catch (const nlohmann::json::exception& e) {
    std::string_view why = e.what();
    if (const size_t at = why.find("] "); at != std::string_view::npos) why.remove_prefix(at + 2);
    throw Error("checkpoint '{}': {} is not valid JSON{} ({})", dir.string(), what, hint, why);
  }
  if (!j.is_object())
    throw Error("checkpoint '{}': {} holds {}; expected a JSON object", dir.string(), what, json_excerpt(j));
  return j;
}

// A tensor's name is its file's stem: a name that is a file name (not
// empty, '.' or '..'; no '/', '\\' or NUL).
constexpr size_t kMostNameBytes = 200;

bool is_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos;
}

// A path's status could be read, or it is not there: anything else (no
// permission, an I/O error) is an error naming it, not taken for "none".
void check_status(const fs::path& path, std::error_code ec) {
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
    throw Error("checkpoint '{}': cannot look at it ({}); expected a path this user may read", path.string(),
                ec.message());
}

// Whether `dir` holds a manifest.json; one that is not a regular file is refused.
bool has_manifest(const fs::path& dir) {
  const fs::path file = dir / "manifest.json";
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  check_status(file, ec);
  if (!fs::exists(st)) return false;
  if (!fs::is_regular_file(st))
    throw Error("checkpoint '{}': its manifest.json is not a regular file; expected the JSON file a save writes",
                dir.string());
  return true;
}

void check_not_a_file(const fs::path& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  check_status(dir, ec);
  if (fs::exists(st) && !fs::is_directory(st))
    throw Error("checkpoint '{}': a file, not a folder; expected a checkpoint's folder or nothing at that path (move "
                "the file aside)",
                dir.string());
}

// A save replaces only a checkpoint of its own kind and model: one of
// another kind, or whose meta names another "model" (a fitter's own name,
// saved by the fitters), is refused whole, naming both, as a user's folder
// is (one folder given to two models would lose the first's). A manifest
// that cannot be read is a damaged checkpoint of ours, and goes.
void check_replaces_own(const fs::path& dir, std::string_view kind, const nlohmann::json& meta) {
  for (const fs::path& p : {dir, with_suffix(dir, ".old")}) {
    if (!has_manifest(p)) continue;
    std::ifstream file(p / "manifest.json");
    nlohmann::json saved;
    try {
      saved = json_object(file, p, "manifest.json", "");
    } catch (const Error&) {
      continue;
    }
    if (const auto k = saved.find("kind"); k != saved.end() && k->is_string() && *k != kind)
      throw Error("checkpoint '{}': '{}' holds a checkpoint of a '{}'; this one is of a '{}' (a save replaces it "
                  "whole: give each its own path, or move the folder aside)",
                  dir.string(), p.string(), text_excerpt(k->get<std::string>()), kind);
    const auto m = saved.find("meta");
    if (m == saved.end() || !m->is_object() || !meta.contains("model")) continue;
    if (const auto model = m->find("model"); model != m->end() && model->is_string() && *model != meta.at("model"))
      throw Error("checkpoint '{}': '{}' holds the checkpoint of '{}'; this one is of '{}' (one folder for two "
                  "models? a save replaces it whole: give each its own path, or move the folder aside)",
                  dir.string(), p.string(), text_excerpt(model->get<std::string>()), meta_shown(meta.at("model")));
  }
}

// Loading reads only what a save writes, so a folder with a user's notes
// beside the tensors loads; saving is what refuses it (check_checkpoint_path).
fs::path readable_dir(const fs::path& dir) {
  check_not_a_file(dir);
  if (has_manifest(dir)) return dir;
  const fs::path old = with_suffix(dir, ".old");
  if (has_manifest(old)) return old;
  throw Error("checkpoint '{}': no manifest.json there (nor in '{}')", dir.string(), old.string());
}

}  // namespace

// A checkpoint's path holds a folder, or nothing yet: anything else (a
// user's file of that name) is refused rather than replaced.
namespace {

// The first entry of folder `dir` that a save could not have written (a
// subfolder, or a file other than manifest.json, *.npy and a write's
// *.tmp), described, or "" when there is none: a folder saving may replace.
std::string foreign_entry(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path name = entry.path().filename();
    if (name == "manifest.json") continue;  // (one that is not a file is named when it is read)
    const bool named_ours = name.extension() == ".npy" || name.extension() == ".tmp";
    if (!named_ours) return fmt::format("'{}', which no save writes", name.string());
    if (!entry.is_regular_file(ec))
      return fmt::format("'{}', which is not a regular file (a save writes one there)", name.string());
  }
  check_status(dir, ec);
  return "";
}

}  // namespace

void check_checkpoint_path(const fs::path& dir) {
  check_not_a_file(dir);
  std::error_code ec;
  // Saving replaces the folder and its two siblings whole: one that holds
  // anything else is the user's, and is refused rather than deleted.
  for (const fs::path& p : {dir, with_suffix(dir, ".tmp"), with_suffix(dir, ".old")}) {
    if (!fs::is_directory(p, ec)) continue;
    if (const std::string other = foreign_entry(p); !other.empty())
      throw Error("checkpoint '{}': '{}' is a folder that holds {}; expected a checkpoint's "
                  "folder or nothing there (saving replaces it whole: choose another path, or move the folder aside)",
                  dir.string(), p.string(), other);
  }
}

void check_fitter_checkpoint(const fs::path& dir, bool resume, std::string_view kind, const std::string& model) {
  if (dir.empty()) return;
  check_checkpoint_path(dir);
  if (!resume) check_replaces_own(dir, kind, nlohmann::json{{"model", model}});
}

std::string old_copy_note(const fs::path& dir) {
  const fs::path old = with_suffix(dir, ".old");
  if (has_manifest(dir) || !has_manifest(old)) return "";
  return fmt::format("read from '{}': the run stopped while it saved its next checkpoint, so this is the last whole "
                     "one; the next save puts its copy at '{}'",
                     old.string(), dir.string());
}

bool checkpoint_exists(const fs::path& dir) {
  check_checkpoint_path(dir);
  if (has_manifest(dir) || has_manifest(with_suffix(dir, ".old"))) return true;
  // Saving writes a whole folder and renames it into place, so tensors
  // without a manifest are a damaged checkpoint, not an absent one.
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".npy")
        throw Error("checkpoint '{}': holds {} but no manifest.json; expected both (a damaged checkpoint: move it "
                    "aside to start afresh)",
                    dir.string(), entry.path().filename().string());
  return false;
}

namespace {

void save_checkpoint_files(const fs::path& dir, const fs::path& tmp, std::string_view kind,
                           std::span<const NamedTensor> tensors, nlohmann::json meta) {
  const fs::path old = with_suffix(dir, ".old");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  nlohmann::json m;
  m["format_version"] = kFormatVersion;
  m["kind"] = kind;
  m["meta"] = std::move(meta);
  for (const NamedTensor& t : tensors) {
    const Shape s = t.tensor.shape();
    try {
      io::write_npy(tmp / (t.name + ".npy"), s.rows, s.cols, t.tensor.graph->value(t.tensor));
    } catch (const Error& e) {  // a full disk, an I/O error: the file named by write_npy's message
      throw Error("checkpoint '{}': cannot write it ({}); expected a writable folder on a disk with room (the "
                  "checkpoint saved before, if any, is kept)",
                  dir.string(), e.what());
    }
    m["tensors"][t.name] = {s.rows, s.cols};
  }
  std::string text;
  try {
    text = m.dump(2);
  } catch (const nlohmann::json::exception& e) {  // a kind, name or meta string that is not UTF-8
    throw Error("checkpoint '{}': its manifest cannot be written as JSON ({}); expected the kind, the tensors' names "
                "and the meta's strings in UTF-8",
                dir.string(), e.what());
  }
  {
    errno = 0;
    std::ofstream f(tmp / "manifest.json");
    f << text << '\n';
    f.close();  // a full disk shows on the last flush
    if (!f)
      throw Error("checkpoint '{}': cannot write it ({}: writing manifest.json failed: {}); expected a writable folder "
                  "on a disk with room (the checkpoint saved before, if any, is kept)",
                  dir.string(), tmp.string(), io_failure_cause());
  }
  // At every moment <dir> or <dir>.old holds a whole checkpoint, which
  // loading finds: <dir> becomes <dir>.old only when it holds one (else it
  // is a folder a save never finished and goes), and an existing <dir>.old
  // is the last whole checkpoint when <dir> holds none (a run killed between
  // the two renames below): it is kept until the new one is in place.
  if (fs::exists(dir)) {
    if (has_manifest(dir)) {
      fs::remove_all(old);
      fs::rename(dir, old);
    } else {
      fs::remove_all(dir);
    }
  }
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

}  // namespace

void save_checkpoint(const fs::path& where, std::string_view kind, std::span<const NamedTensor> tensors,
                     const std::string& meta_json) {
  const fs::path dir = folder_named(where);
  // Everything that can be refused is, before anything is written.
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].name;  // the file name.npy, inside the checkpoint's folder
    if (!is_file_name(name))
      throw Error("checkpoint '{}': a tensor named '{}'; expected a name that is a file name (no '/', '\\' or NUL, "
                  "not empty, '.' or '..')", dir.string(), name);
    if (name.size() > kMostNameBytes)  // name.npy.tmp must fit a file name's 255 bytes
      throw Error("checkpoint '{}': a tensor named '{}...' ({} bytes); expected at most {} bytes", dir.string(),
                  name.substr(0, 40), name.size(), kMostNameBytes);
    const Node& n = checked_node(tensors[i].tensor, fmt::format("checkpoint '{}' (tensor '{}')", dir.string(), name));
    if (!std::holds_alternative<Param>(n.op) && !std::holds_alternative<Constant>(n.op))
      throw Error("checkpoint '{}': tensor '{}' is '{}', a {}; expected a parameter or a constant (a stored value: "
                  "a computed one lives only in an executor's run)",
                  dir.string(), name, tensors[i].tensor.graph->label(tensors[i].tensor.id), ebm::name(n.op));
    const std::span<const float> v = tensors[i].tensor.graph->value(tensors[i].tensor);
    if (const auto bad = std::ranges::find_if(v, [](float x) { return !std::isfinite(x); }); bad != v.end())
      throw Error("checkpoint '{}': tensor '{}' holds {} at entry {}; expected finite values (loading refuses a "
                  "checkpoint that holds them as damaged)",
                  dir.string(), name, *bad, bad - v.begin());
    for (size_t j = 0; j < i; ++j)  // one file per name: a repeated name would overwrite a tensor
      if (name == tensors[j].name)
        throw Error("checkpoint '{}': two tensors named '{}'; expected distinct names", dir.string(), name);
  }
  nlohmann::json meta = json_object(meta_json, dir, "its meta_json", "", kMaxJsonDepth - 1);
  check_checkpoint_path(dir);
  check_replaces_own(dir, kind, meta);
  // A write that fails part way leaves no <dir>.tmp behind; the checkpoint
  // it would have replaced stays readable (in <dir>.old, which loading
  // reads, if the failure came between the two renames).
  const fs::path tmp = with_suffix(dir, ".tmp");
  auto discard = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  try {
    save_checkpoint_files(dir, tmp, kind, tensors, std::move(meta));
  } catch (const fs::filesystem_error& e) {  // a folder in the way, no permission, a full disk
    discard();
    throw Error("checkpoint '{}': cannot write it ({}{}{}); expected a writable folder on a disk with room (the "
                "checkpoint saved before, if any, is kept)",
                dir.string(), e.path1().string(), e.path1().empty() ? "" : ": ", e.code().message());
  } catch (...) {
    discard();
    throw;
  }
}

namespace {

// The manifest of the checkpoint at `dir`, checked for format version and
// kind, with its other keys of the right types: "tensors" an object of
// [rows, cols] pairs, each named as a file and with its .npy beside the
// manifest, "meta" an object.
nlohmann::json read_manifest(const fs::path& dir, std::string_view kind) {
  std::ifstream file(dir / "manifest.json");
  if (!file) throw Error("checkpoint '{}': cannot open its manifest.json; expected a file this user may read", dir.string());
  nlohmann::json m = json_object(file, dir, "manifest.json", ", cut short or edited?");
  // The value of `key`, which `ok` says is of the type `expected` describes.
  const auto field = [&](const char* key, bool (*ok)(const nlohmann::json&), const char* expected) {
    if (!m.contains(key))
      throw Error("checkpoint '{}': manifest.json has no key '{}'; expected {}", dir.string(), key, expected);
    if (!ok(m[key]))
      throw Error("checkpoint '{}': manifest.json's '{}' is {}; expected {}", dir.string(), key, json_excerpt(m[key]),
                  expected);
    return m[key];
  };
  const nlohmann::json version =
      field("format_version", [](const nlohmann::json& j) { return j.is_number_integer(); }, "an integer");
  if (version != kFormatVersion)
    throw Error("checkpoint '{}': format_version {}; expected {}", dir.string(), json_excerpt(version), kFormatVersion);
  const auto made =
      field("kind", [](const nlohmann::json& j) { return j.is_string(); }, "a string naming the model kind")
          .get<std::string>();
  if (made != kind)
    throw Error("checkpoint '{}': holds a '{}'; expected a '{}'", dir.string(), made.substr(0, 80), kind);
  const nlohmann::json tensors = field("tensors", [](const nlohmann::json& j) { return j.is_object(); },
                                       "an object of tensor names and [rows, cols] shapes");
  for (const auto& [name, shape] : tensors.items()) {
    const bool pair = shape.is_array() && shape.size() == 2 && shape[0].is_number_unsigned() &&
                      shape[1].is_number_unsigned();
    if (!pair)
      throw Error("checkpoint '{}': manifest.json gives tensor '{}' the shape {}; expected [rows, cols]", dir.string(),
                  name, json_excerpt(shape));
    // A save writes every tensor it lists, each named as a file: a listed file that is gone is a damaged checkpoint.
    if (!is_file_name(name))
      throw Error("checkpoint '{}': manifest.json lists a tensor named '{}'; expected a name that is a file name (a "
                  "damaged or edited checkpoint)",
                  dir.string(), name.substr(0, 80));
    std::error_code ec;
    if (!fs::is_regular_file(dir / (name + ".npy"), ec))
      throw Error("checkpoint '{}': manifest.json lists tensor '{}', but there is no file {}.npy beside it; expected "
                  "every listed tensor's file (a damaged checkpoint)",
                  dir.string(), name.substr(0, 80), name.substr(0, 80));
  }
  field("meta", [](const nlohmann::json& j) { return j.is_object(); },
        "an object (the model's configuration, epoch, RNG state)");
  return m;
}

}  // namespace

std::string checkpoint_meta(const fs::path& where, std::string_view kind) {
  return read_manifest(readable_dir(where), kind)["meta"].dump();
}

void check_checkpoint_files(const fs::path& where, std::string_view kind) {
  const fs::path dir = readable_dir(where);
  const nlohmann::json m = read_manifest(dir, kind);
  for (const auto& [name, listed] : m.at("tensors").items()) {
    const io::NpyArray a = io::read_npy(dir / (name + ".npy"));
    if (listed[0].get<int64_t>() != a.rows || listed[1].get<int64_t>() != a.cols)
      throw Error("checkpoint '{}': manifest.json lists tensor '{}' as {}, but {}.npy holds [{}, {}]; expected the "
                  "same shape",
                  dir.string(), name, listed.dump(), name, a.rows, a.cols);
    if (const auto bad = std::count_if(a.data.begin(), a.data.end(), [](float x) { return !std::isfinite(x); });
        bad > 0)
      throw Error("checkpoint '{}': {}.npy holds {} NaN or Inf values of {}; expected finite values (checkpoints are "
                  "saved only when finite: the file is damaged)",
                  dir.string(), name, bad, a.data.size());
  }
}

std::string load_checkpoint(const fs::path& where, std::string_view kind, std::span<const NamedTensor> tensors,
                            const std::function<void(const std::string& meta_json)>& check) {
  const fs::path dir = readable_dir(where);
  const nlohmann::json m = read_manifest(dir, kind);
  const std::string meta = m.at("meta").dump();
  if (check) check(meta);
  // Every tensor read and checked first; the model is touched only when all passed.
  std::vector<io::NpyArray> read;
  std::vector<std::span<float>> into;  // each tensor's stored value: a parameter or constant, checked before any copy
  read.reserve(tensors.size());
  for (const NamedTensor& t : tensors) {
    checked_node(t.tensor, fmt::format("checkpoint '{}' (tensor '{}')", dir.string(), t.name));
    into.push_back(t.tensor.graph->value(t.tensor));
    const Shape want = t.tensor.shape();
    if (!m.at("tensors").contains(t.name))
      throw Error("checkpoint '{}': has no tensor '{}' (expected shape {})", dir.string(), t.name, want);
    io::NpyArray a = io::read_npy(dir / (t.name + ".npy"));
    if (a.rows != want.rows || a.cols != want.cols)
      throw Error("checkpoint '{}': tensor '{}' has shape [{}, {}]; the model expects {}", dir.string(), t.name, a.rows,
                  a.cols, want);
    const nlohmann::json& listed = m.at("tensors").at(t.name);
    if (listed[0].get<int64_t>() != a.rows || listed[1].get<int64_t>() != a.cols)
      throw Error("checkpoint '{}': manifest.json lists tensor '{}' as {}, but {}.npy holds [{}, {}]; expected the "
                  "same shape",
                  dir.string(), t.name, listed.dump(), t.name, a.rows, a.cols);
    const auto bad = std::count_if(a.data.begin(), a.data.end(), [](float x) { return !std::isfinite(x); });
    if (bad > 0)
      throw Error("checkpoint '{}': {}.npy holds {} NaN or Inf values of {}; expected finite values (checkpoints are "
                  "saved only when finite: the file is damaged)",
                  dir.string(), t.name, bad, a.data.size());
    read.push_back(std::move(a));
  }
  for (size_t i = 0; i < tensors.size(); ++i) std::ranges::copy(read[i].data, into[i].begin());
  return meta;
}

void StartRecord::resumed(std::span<const Tensor> params, const std::string& saved, const std::string& before) {
  start_ = saved.empty() ? before : saved;
  loaded_ = params_fingerprint(params);
}

void StartRecord::at_fit(std::span<const Tensor> params, int epochs_done, std::string_view who,
                         std::string_view fitter, const fs::path& where) {
  if (!loaded_.empty() && params_fingerprint(params) != loaded_)
    throw Error("{}: its weights changed after the {} resumed them from '{}' (set by init_from after the {} was "
                "made?); expected them as the checkpoint left them: set the start before making the {}, which "
                "resumes as it is made",
                who, fitter, where.string(), fitter, fitter);
  loaded_.clear();
  if (epochs_done == 0) start_ = params_fingerprint(params);
}

std::string decay_named(std::string_view name, double lr, double wd) {
  if (!(lr * wd >= 0.5) || wd < lr) return {};  // (a rate far too large, and a usual decay: the rate's fault)
  return fmt::format(" or {} (now {:g}: with the rate, each step subtracts {:g} times each weight)",
                     name.empty() ? std::string_view("the weight decay") : name, wd, lr * wd);
}

std::string rate_named(std::string_view lr_name, double lr) {
  return lr_name.empty() ? std::string("learning rate") : fmt::format("{} (now {:g})", lr_name, lr);
}

void check_finite(std::span<const NamedTensor> tensors, std::string_view who, int epoch, std::string_view unit,
                  std::string_view rate) {
  for (const NamedTensor& t : tensors) {
    const std::span<const float> v = t.tensor.graph->value(t.tensor);
    const auto bad = std::count_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
    if (bad == 0) continue;
    const std::string& label = t.tensor.graph->label(t.tensor.id);
    throw Error("{}: training diverged in {} {}: '{}'{} holds {} NaN or Inf values of {}; expected finite values "
                "(a smaller {} usually cures it)",
                who, unit, epoch, t.name, label == t.name ? std::string() : fmt::format(" ('{}')", label), bad,
                v.size(), rate);
  }
}

}  // namespace ebm
