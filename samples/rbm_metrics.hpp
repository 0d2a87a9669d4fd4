#pragma once
// An RBM's per-epoch monitoring as a CSV file, the same columns for
// rbm_mnist's metrics.csv and each of dbn_mnist's pretrain_layerN.csv.

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "models/rbm_fit.hpp"
#include "samples/csv.hpp"

namespace ebm::samples {

class RbmEpochCsv {
 public:
  // append: the run goes on from a checkpoint (rows of earlier epochs kept)
  RbmEpochCsv(const std::string& path, bool append)
      : csv_(path, "epoch,seconds,recon_error,recon_baseline,fe_train,fe_valid,fe_gap,pseudo_ll,diverging", append) {}
  // Six significant digits, so that a deep layer's small errors keep theirs;
  // a pseudo-likelihood not measured (visible units not binary) is left empty.
  void row(const EpochStats& s) {
    csv_.row("{},{:.3f},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{:d}", s.epoch, s.seconds, s.recon_error,
             s.recon_baseline, s.fe_train, s.fe_valid, s.fe_gap,
             std::isnan(s.pseudo_ll) ? std::string() : fmt::format("{:.6g}", s.pseudo_ll), static_cast<int>(s.diverging));
  }
  // A resumed run's file cut back to the `done` epochs its checkpoint holds:
  // the rows of an epoch whose checkpoint a killed run never saved go, and
  // are written again when the run redoes it (the fitter calls back before
  // it saves).
  void keep_rows_through(int done) { csv_.keep_rows_through(done); }
  // A resumed run's note when the checkpoint holds epochs the file has no
  // rows for (a run stopped after saving an epoch's checkpoint, before its
  // row): those rows are gone, and the curves skip them. "" when none are,
  // or when the file was just moved aside (its rows are there, as said).
  std::string missing_rows(int done) const {
    if (done < 1 || !csv_.moved_to().empty()) return "";
    const double last = csv_.last_key();
    if (last >= done) return "";
    const int from = std::isnan(last) ? 1 : static_cast<int>(last) + 1;
    return fmt::format("'{}' has no rows for epoch{} {}{} (a run stopped between saving an epoch's checkpoint and "
                       "writing its row); the checkpoint holds {} epochs, the curves skip the missing ones",
                       csv_.path().string(), from == done ? "" : "s", from, from == done ? "" : fmt::format("..{}", done),
                       done);
  }

 private:
  Csv csv_;
};

}  // namespace ebm::samples
