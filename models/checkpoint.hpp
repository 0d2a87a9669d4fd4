#pragma once
// Checkpoints: a directory holding one NumPy .npy file per tensor and a
// manifest.json:
//   { "format_version": 1, "kind": "...", "tensors": { name: [rows, cols] },
//     "meta": { ...the model's config, epoch, RNG state... } }
// so numpy can read every tensor. The directory is written as "<dir>.tmp"
// and renamed into place (the previous copy briefly kept as "<dir>.old"),
// so a crash never leaves a half-written checkpoint; load falls back to
// "<dir>.old" when a crash hit between the two renames, and the next save
// keeps that "<dir>.old" until its own copy is in place. A save that fails
// (a full disk, a read-only folder) is an ebm::Error naming the checkpoint
// and the cause, and leaves the checkpoint saved before as it was.

#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include "graph/graph.hpp"

namespace ebm {

struct NamedTensor {
  std::string name;  // file stem: <name>.npy
  Tensor tensor;     // a parameter (its stored value is saved / restored)
};

// meta_json: a JSON object as text.
void save_checkpoint(const std::filesystem::path& dir, std::string_view kind, std::span<const NamedTensor> tensors,
                     const std::string& meta_json);

// Restores every tensor; checks the format version, the kind, the names and
// the shapes, naming what differs. Returns the meta object as JSON text.
// `check`, when given, sees the meta object before any tensor is read and
// may throw to refuse the checkpoint. Every tensor is read and checked
// before the first is copied into the model, so a refused or damaged
// checkpoint leaves the model as it was.
std::string load_checkpoint(const std::filesystem::path& dir, std::string_view kind,
                            std::span<const NamedTensor> tensors,
                            const std::function<void(const std::string& meta_json)>& check = {});

// Reads the checkpoint at `dir` (or its ".old" copy) whole, without a
// model: its manifest (format version, kind) and every tensor it lists,
// each of its listed shape and finite; an ebm::Error names what is
// damaged, as load_checkpoint would. A run checks with it, before any
// work, the checkpoints it will resume only when their phase comes.
void check_checkpoint_files(const std::filesystem::path& dir, std::string_view kind);

// The meta object alone (format version and kind checked), as JSON text.
// Every error (a missing or wrongly typed manifest key among them) is an
// ebm::Error naming the checkpoint's folder and what was expected.
std::string checkpoint_meta(const std::filesystem::path& dir, std::string_view kind);

// Whether a checkpoint was saved at `dir` (or its ".old" copy). A file, not
// a folder, at that path is refused rather than taken for none, and
// tensors without a manifest are refused as a damaged checkpoint.
bool checkpoint_exists(const std::filesystem::path& dir);

// A resumed run's note when loading `dir` reads its ".old" copy (the run
// was killed between a save's two renames), naming both; "" otherwise.
std::string old_copy_note(const std::filesystem::path& dir);

// Throws, naming the path, when a file (not a folder) stands where a
// checkpoint's folder would go: the fitters check it when they are made,
// so that a run is refused at its start, not at its first save.
void check_checkpoint_path(const std::filesystem::path& dir);
// What a fitter checks as it is made, of its checkpoint folder `dir`
// (empty: none): check_checkpoint_path; and for a fresh run (not
// `resume`), which will save over it, a checkpoint there of another kind,
// or whose meta names another model, refused now rather than at the first
// save (a resume's load names such a checkpoint instead).
void check_fitter_checkpoint(const std::filesystem::path& dir, bool resume, std::string_view kind,
                             const std::string& model);

// Throws, naming the first tensor of `tensors` that holds NaN or Inf and how
// many of its values do, when training diverged: `who` (e.g. "fit 'rbm'")
// after `epoch` (`unit` says what counts: "epoch", or "step" for a fitter
// that counts steps); a tensor whose checkpoint name is not its graph name
// is named both ways. The fitters call it at the end of each epoch, before
// its checkpoint, so the last checkpoint saved stays the last finite one.
// `rate` names the rate in the cure the message suggests ("a smaller
// <rate> usually cures it"): a sample's flag and value, "--data-lr (now 1)".
void check_finite(std::span<const NamedTensor> tensors, std::string_view who, int epoch,
                  std::string_view unit = "epoch", std::string_view rate = "learning rate");

// Where a fitter's run started: the fingerprint of the parameters it
// trains as its first epoch found them (a fine-tuning's weights as
// init_from set them from a pretrained stack), saved with each checkpoint
// (meta "start"), so that a resume can tell a start that changed (a stack
// trained further since, or weights set after the fitter resumed them).
// The fitter compares this run's parameters before the resume loads with
// the checkpoint's record (ResumeCheck::same_start), then calls resumed;
// each fit calls at_fit first.
class StartRecord {
 public:
  // After a resume loaded `params`: `saved` the checkpoint's record ("" for
  // one an older version wrote), `before` this run's parameters' before it.
  void resumed(std::span<const Tensor> params, const std::string& saved, const std::string& before);
  // At a fit's start: parameters changed since the resume loaded them are
  // refused (`who`: "fine-tuning 'c'", `fitter`: "Finetuner", `where`: the
  // checkpoint); a run with no epoch done records its start.
  void at_fit(std::span<const Tensor> params, int epochs_done, std::string_view who, std::string_view fitter,
              const std::filesystem::path& where);
  const std::string& start() const { return start_; }

 private:
  std::string start_, loaded_;
};

// check_finite's `rate` for a fitter whose config names the flag that set
// its rate (lr_name, "--data-lr"): "--data-lr (now 1)"; with none, "learning
// rate".
std::string rate_named(std::string_view lr_name, double lr);
// " or <name> (now wd: ...)" when a weight decay of wd at rate lr takes half
// of each weight a step or more, so that it runs away by itself, and is
// the larger of the two (else the rate is the one to blame); "" otherwise.
// name empty: "the weight decay".
std::string decay_named(std::string_view name, double lr, double wd);

}  // namespace ebm
