#pragma once
// What the samples remove of an earlier run's output so that no --resume
// takes it for this run's: checkpoint folders (only those holding nothing
// but what a save writes), a run's own files by name, and the stack's
// checkpoints in the order they build on each other (Lineage).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ops/error.hpp"

namespace ebm::samples {

// Removes `path` (a file, or an empty folder); an ebm::Error says why it
// could not be.
inline void remove_earlier_output(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::remove(path, ec) && ec)
    throw Error("'{}', an earlier run's, cannot be removed ({}); expected to remove it, so that no later run takes it "
                "for this one's",
                path.string(), ec.message());
}

// Removes the regular file `path`, if there is one (anything else of that
// name stays).
inline void remove_output_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::symlink_status(path, ec).type() == std::filesystem::file_type::regular)
    remove_earlier_output(path);
}

// Removes the checkpoint saved at `dir` and its ".tmp" and ".old" siblings
// (models/checkpoint.hpp): each such folder whose entries are all files a
// save writes (manifest.json, *.npy, *.tmp). A folder holding anything
// else is the user's and stays (a save there refuses it, naming it).
inline void remove_checkpoint(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  for (const fs::path& p : {dir, fs::path(dir.string() + ".tmp"), fs::path(dir.string() + ".old")}) {
    std::error_code ec;
    if (fs::symlink_status(p, ec).type() != fs::file_type::directory) continue;
    std::vector<fs::path> files;
    bool ours = true;
    for (auto it = fs::directory_iterator(p, ec); !ec && ours && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path name = it->path().filename();
      ours = it->symlink_status(ec).type() == fs::file_type::regular &&
             (name == "manifest.json" || name.extension() == ".npy" || name.extension() == ".tmp");
      files.push_back(it->path());
    }
    if (!ours || ec) continue;
    for (const fs::path& f : files) remove_earlier_output(f);
    remove_earlier_output(p);
  }
}

// Whether `name` is "<prefix><digits>"; the digits in *n.
inline bool numbered(std::string_view name, std::string_view prefix, int64_t* n) {
  if (!name.starts_with(prefix) || name.size() == prefix.size() || name.size() - prefix.size() > 9) return false;
  *n = 0;
  for (const char c : name.substr(prefix.size())) {
    if (c < '0' || c > '9') return false;
    *n = *n * 10 + (c - '0');
  }
  return true;
}

// The names in folder `dir` without their last extension ("layer0" for
// layer0, layer0.old and layer0.tmp; "pretrain_layer1" for its .csv), each
// once; none when there is no such folder.
inline std::vector<std::string> entry_stems(const std::filesystem::path& dir) {
  std::vector<std::string> stems;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    stems.push_back(it->path().stem().string());
  std::sort(stems.begin(), stems.end());
  stems.erase(std::unique(stems.begin(), stems.end()), stems.end());
  return stems;
}

// Removes the checkpoints of a stack's layers numbered `from` and up
// (<dir>/layer<n>, its .tmp and .old), whatever the stack's depth was.
inline void remove_layer_checkpoints(const std::filesystem::path& dir, int64_t from) {
  int64_t n = 0;
  for (const std::string& name : entry_stems(dir))
    if (numbered(name, "layer", &n) && n >= from) remove_checkpoint(dir / name);
}

// Each checkpoint of a sample's run learns from the ones before it (a
// layer from those below, fine-tuning from the stack); a resume takes a
// checkpoint only while those below it were resumed whole. A phase that
// trains again feeds new values to every later one, so their checkpoints
// go before it trains, not when they would have been overwritten: a run
// killed in between must not leave them for the next --resume. A fresh
// run removes every checkpoint of its phases first, for the same reason.
// `built_on` names those later checkpoints, relative to --output.
struct Lineage {
  std::filesystem::path output;
  std::vector<std::string> built_on;  // checkpoints learning from the stack (fine-tuning, ...)
  std::vector<std::string> own = {};  // checkpoints of the run that do not (a random-start baseline)

  // Before layer `l` of the stack under <output>/pretrain trains.
  void layer_trains(int l) const {
    remove_layer_checkpoints(output / "pretrain", l + 1);
    for (const std::string& c : built_on) remove_checkpoint(output / c);
  }
  // A fresh run, before anything trains.
  void fresh() const {
    remove_layer_checkpoints(output / "pretrain", 0);
    for (const std::string& c : built_on) remove_checkpoint(output / c);
    for (const std::string& c : own) remove_checkpoint(output / c);
  }
};

}  // namespace ebm::samples
