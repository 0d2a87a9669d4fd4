// The sample programs' shared helpers that keep a user's results: the
// per-epoch CSV files a resumed run appends to.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io_test_util.hpp"
#include "samples/curves.hpp"
#include "samples/rbm_metrics.hpp"

using namespace ebm;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("samples/Csv: a fresh run rewrites the file from its first row, a resumed one appends") {
  const io_test::TempDir dir("csv");
  const fs::path p = dir.path / "m.csv";
  try {
    samples::Csv csv(p, "epoch,loss", false);
    CHECK(slurp(p) == "epoch,loss\n");  // a new file has its header at once: a run stopped now leaves no empty file
    throw Error("stopped");
  } catch (const Error&) {
  }
  CHECK(slurp(p) == "epoch,loss\n");
  {
    samples::Csv csv(p, "epoch,loss", false);
    csv.row("{},{}", 1, 0.5);
  }
  {
    samples::Csv csv(p, "epoch,loss", true);  // resumed: appended
    csv.row("{},{}", 2, 0.25);
  }
  CHECK(slurp(p) == "epoch,loss\n1,0.5\n2,0.25\n");
  {
    samples::Csv csv(p, "epoch,loss", false);  // a fresh run: the old rows stay until its first row...
    CHECK(slurp(p) == "epoch,loss\n1,0.5\n2,0.25\n");
    csv.row("{},{}", 1, 0.75);
    CHECK(slurp(p) == "epoch,loss\n1,0.75\n");  // ...which replaces them
  }
  { samples::Csv csv(p, "epoch,loss", false); }  // a fresh run that trained no epoch
  CHECK(slurp(p) == "epoch,loss\n");
  try {
    samples::Csv csv(p, "epoch,loss", false);
    throw Error("stopped");  // a run stopped by an error before its first row leaves the file alone
  } catch (const Error&) {
  }
  CHECK(slurp(p) == "epoch,loss\n");
  CHECK_THROWS_WITH_AS(samples::Csv(dir.path / "no_such_folder" / "m.csv", "epoch", false),
                       doctest::Contains("cannot open for writing"), Error);
}

TEST_CASE("samples/Csv: resumed under new columns, older rows are kept under the new header or moved aside") {
  const io_test::TempDir dir("csv_columns");
  const fs::path p = dir.path / "m.csv";
  std::ofstream(p) << "epoch,loss\n1,0.5\n2,0.25\n";
  {
    samples::Csv csv(p, "epoch,loss,diverging", true);  // a column added: the old rows get an empty cell
    csv.row("{},{},{}", 3, 0.125, 0);
  }
  CHECK(slurp(p) == "epoch,loss,diverging\n1,0.5,\n2,0.25,\n3,0.125,0\n");
  {
    samples::Csv csv(p, "epoch,error", true);  // a column gone: the file is moved aside, a new one starts
    csv.row("{},{}", 4, 1.5);
  }
  CHECK(slurp(p) == "epoch,error\n4,1.5\n");
  CHECK(slurp(dir.path / "m.csv.old") == "epoch,loss,diverging\n1,0.5,\n2,0.25,\n3,0.125,0\n");
  { samples::Csv csv(p, "epoch,other", true); }  // once more: .old is kept, this one goes to .old.1
  CHECK(slurp(dir.path / "m.csv.old.1") == "epoch,error\n4,1.5\n");
  CHECK(slurp(p) == "epoch,other\n");
  std::ofstream(p, std::ios::trunc).flush();  // left empty by a run stopped early: resumed as fresh
  {
    samples::Csv csv(p, "epoch,other", true);
    csv.row("{},{}", 1, 2);
  }
  CHECK(slurp(p) == "epoch,other\n1,2\n");
}

TEST_CASE("samples/RbmEpochCsv: one row per epoch, the divergence flag as 0 or 1") {
  const io_test::TempDir dir("rbm_csv");
  const fs::path p = dir.path / "metrics.csv";
  {
    samples::RbmEpochCsv csv(p.string(), false);
    csv.row({.epoch = 1, .seconds = 2.0, .recon_error = 30.0, .fe_train = -100.0, .fe_valid = -99.0, .fe_gap = 1.0,
             .pseudo_ll = -80.0, .recon_baseline = 52.0, .diverging = false});
    csv.row({.epoch = 2, .seconds = 2.5, .recon_error = 90.0, .recon_baseline = 52.0, .diverging = true});
    // a deep layer's small errors keep six digits; a pseudo-likelihood not measured is left empty
    csv.row({.epoch = 3, .seconds = 1.0, .recon_error = 1.234567e-5, .fe_train = -12345.678,
             .pseudo_ll = std::numeric_limits<double>::quiet_NaN(), .recon_baseline = 0.00098765});
  }
  CHECK(slurp(p) ==
        "epoch,seconds,recon_error,recon_baseline,fe_train,fe_valid,fe_gap,pseudo_ll,diverging\n"
        "1,2.000,30,52,-100,-99,1,-80,0\n"
        "2,2.500,90,52,0,0,0,0,1\n"
        "3,1.000,1.23457e-05,0.00098765,-12345.7,0,0,,0\n");
  // Resumed onto a file of other columns: it is moved aside (and said), so its rows are not called lost.
  std::ofstream(p, std::ios::trunc) << "epoch,seconds,foo\n1,2,3\n";
  const samples::RbmEpochCsv moved(p.string(), true);
  CHECK(moved.missing_rows(1).empty());
}

TEST_CASE("samples/read_csv_columns: columns by name, a cell that is no number as NaN, curves drawn from them") {
  const io_test::TempDir dir("curves");
  const fs::path p = dir.path / "metrics.csv";
  std::ofstream(p) << "epoch,recon_error,recon_baseline,fe_valid\n1,30,60,-100\n2,x,60,-110\n3,15\n";
  const samples::CsvColumns c = samples::read_csv_columns(p);
  REQUIRE(c.size() == 4);
  CHECK(c.at("epoch") == std::vector<double>{1, 2, 3});
  CHECK(std::isnan(c.at("recon_error")[1]));
  CHECK(std::isnan(c.at("recon_baseline")[2]));  // a short row
  const io::Series s = samples::csv_series(c, "epoch", "recon_error", "layer 1", "recon_baseline");
  CHECK(s.y[0] == 0.5);
  CHECK(s.label == "layer 1 (1 of 3 not drawn: recon_baseline 0 or missing)");  // the short row
  {  // a baseline of 0 draws nothing, and the legend says why
    const fs::path z = dir.path / "zero.csv";
    std::ofstream(z) << "epoch,recon_error,recon_baseline\n1,0.5,0\n2,0.4,3e-15\n";  // (a constant layer's rounding)
    const io::Series zs = samples::csv_series(samples::read_csv_columns(z), "epoch", "recon_error", "layer 4",
                                              "recon_baseline");
    CHECK(std::isnan(zs.y[0]));
    CHECK(std::isnan(zs.y[1]));
    CHECK(zs.label == "layer 4 (not drawn: recon_baseline 0 or missing)");
  }
  CHECK(samples::csv_series(c, "epoch", "no_such_column", "none").x.empty());
  CHECK(samples::read_csv_columns(dir.path / "missing.csv").empty());
  samples::write_rbm_curves(p, dir.path / "curves.svg", "t", "test subset");
  const std::string svg = slurp(dir.path / "curves.svg");
  CHECK(svg.find("test subset") != std::string::npos);
  CHECK(svg.find("Reconstruction error") != std::string::npos);
  bool warned = false;  // a failure to draw is a warning, not an error
  samples::draw_curves("t", [&] {
    warned = true;
    samples::write_rbm_curves(p, dir.path / "no_such_folder" / "curves.svg", "t");
  });
  CHECK(warned);
}
