// Misuse the earlier audits (tests/test_misuse.cpp, test_misuse_models.cpp)
// noticed and left: NaN in validation rows, evaluation batches beyond
// memory, GP and SVM input no answer can come from, data outside a unit's
// range, exact DBN sums of other units, plots of values too large to place,
// a sparsity target out of range. Each an ebm::Error naming what was wrong,
// and the same call with good input still working.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <string>
#include <vector>

#include "graph/executor.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "io_test_util.hpp"
#include "misuse_util.hpp"
#include "models/autoencoder_fit.hpp"
#include "models/cd.hpp"
#include "models/crbm.hpp"
#include "models/dbn_bound.hpp"
#include "models/deep_kernel.hpp"
#include "models/evaluate.hpp"
#include "models/finetune.hpp"
#include "models/joint_fit.hpp"
#include "models/gp.hpp"
#include "models/logistic_pca.hpp"
#include "models/rbm_fit.hpp"
#include "models/svm.hpp"
#include "ops/gp.hpp"

using namespace ebm;
using namespace ebm::misuse_test;

namespace {

// n rows of d values in [0, 1], none of them the same.
std::vector<float> unit_rows(int64_t n, int64_t d) {
  std::vector<float> v(static_cast<size_t>(n * d));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7 + 3) % 11) / 10.0f;
  return v;
}

std::string text_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("leftovers: NaN in validation rows is named by row and column in the RBM fitter") {
  Graph g;
  const Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3});
  CdTrainer t = make_cd_trainer(r, {.batch = 2});
  Executor ex(g, {.parallel = false});
  std::vector<float> train = unit_rows(8, 4), valid = unit_rows(6, 4);
  RbmFitter good(t, ex, {.epochs = 1, .monitor_images = 8});
  const auto stats = good.fit(matrix_source(train, 4), matrix_source(valid, 4));
  REQUIRE(stats.size() == 1);
  CHECK(std::isfinite(stats[0].fe_gap));
  valid[2 * 4 + 3] = NAN;  // a NaN free-energy gap before
  RbmFitter fit(t, ex, {.epochs = 2, .monitor_images = 8});
  const std::string e = error_of([&] { fit.fit(matrix_source(train, 4), matrix_source(valid, 4)); });
  CHECK(has(e, "fit 'r': validation row 2 holds nan at column 3; expected finite data"));
}

TEST_CASE("leftovers: NaN in validation rows is named by row and column in the autoencoder fitter") {
  Graph g;
  Autoencoder a = Autoencoder::make(g, "ae", {.layers = {4, 3, 2}, .batch = 2});
  Executor ex(g, {.parallel = false});
  AutoencoderFitConfig c;
  c.epochs = 1, c.eval_batch = 3;
  std::vector<float> train = unit_rows(6, 4), valid = unit_rows(5, 4);
  AutoencoderFitter good(a, ex, c);
  const auto epochs = good.fit(matrix_source(train, 4), matrix_source(valid, 4));
  REQUIRE(epochs.size() == 1);
  CHECK(std::isfinite(epochs[0].valid_error));
  valid[1 * 4 + 2] = NAN;  // a NaN validation error before
  c.epochs = 2;
  AutoencoderFitter fit(a, ex, c);
  CHECK(has(error_of([&] { fit.fit(matrix_source(train, 4), matrix_source(valid, 4)); }),
            "fine-tuning 'ae': validation row 1 holds nan at column 2; expected finite data"));
}

TEST_CASE("leftovers: NaN in validation rows is named by row and column in backprop fine-tuning") {
  Graph g;
  Classifier cl = Classifier::make(g, "c", {.layers = {3, 4}, .classes = 2, .batch = 2});
  Executor ex(g, {.parallel = false});
  FinetuneConfig c;
  c.epochs = 1, c.eval_batch = 2;
  std::vector<float> train = unit_rows(4, 3), valid = unit_rows(5, 3);
  const std::vector<uint8_t> labels{0, 1, 0, 1}, valid_labels{1, 0, 1, 0, 1};
  Finetuner good(cl, ex, c);
  const auto epochs = good.fit({matrix_source(train, 3), labels}, {matrix_source(valid, 3), valid_labels});
  REQUIRE(epochs.size() == 1);
  CHECK((epochs[0].valid_error >= 0.0 && epochs[0].valid_error <= 100.0));
  valid[3 * 3 + 0] = NAN;  // counted as class 0 before: a silently wrong error
  const LabelledRows bad{matrix_source(valid, 3), valid_labels};
  Finetuner fit(cl, ex, c);
  CHECK(has(error_of([&] { fit.fit({matrix_source(train, 3), labels}, bad); }),
            "fine-tuning 'c': validation row 3 holds nan at column 0; expected finite data (the validation error is "
            "undefined: their scores are not finite)"));
  CHECK(has(error_of([&] { fit.error(bad); }), "classification_error: the scores of row 3 hold nan"));
}

TEST_CASE("leftovers: an eval_batch beyond memory is refused when the fitter is made") {
  Graph g;
  Executor ex(g, {.parallel = false});
  const int64_t huge = int64_t{1} << 40;  // a raw std::bad_alloc at the first evaluation before
  Autoencoder a = Autoencoder::make(g, "ae", {.layers = {4, 3, 2}, .batch = 2});
  AutoencoderFitConfig ac;
  ac.eval_batch = huge;
  const std::string e = error_of([&] { AutoencoderFitter(a, ex, ac); });
  CHECK(has(e, "fine-tuning 'ae': eval_batch 1099511627776 needs about"));
  CHECK(has(e, "expected a smaller eval_batch"));
  ac.eval_batch = 100;
  AutoencoderFitter fine(a, ex, ac);
  CHECK(fine.epochs_done() == 0);
  Classifier cl = Classifier::make(g, "c", {.layers = {3, 4}, .classes = 2, .batch = 2});
  FinetuneConfig fc;
  fc.eval_batch = huge;
  CHECK(has(error_of([&] { Finetuner(cl, ex, fc); }), "fine-tuning 'c': eval_batch 1099511627776 needs about"));
  fc.eval_batch = 100;
  CHECK(Finetuner(cl, ex, fc).epochs_done() == 0);
  DeepKernel k = DeepKernel::make(g, "dk", {.layers = {6, 5, 3}, .points = 12});
  DeepKernelFitConfig kc;
  kc.eval_batch = huge;
  CHECK(has(error_of([&] { DeepKernelFitter(k, ex, kc); }), "fine-tuning 'dk': eval_batch 1099511627776 needs about"));
  kc.eval_batch = 100;
  CHECK(DeepKernelFitter(k, ex, kc).steps_done() == 0);
  Dbn lower = Dbn::make(g, "d", {.layers = {12, 8}});
  LabelledRbm top = LabelledRbm::make(g, "top", 8, 3, 6, 0.1f, 5);
  JointFitConfig jc;
  jc.batch = 4, jc.eval_batch = huge;
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, jc); }), "joint model: eval_batch 1099511627776 needs about"));
  jc.eval_batch = 0;
  CHECK(has(error_of([&] { JointTrainer(lower, top, ex, jc); }), "joint model: eval_batch 0; expected at least 1"));
  jc.eval_batch = 4;
  JointTrainer fine_joint(lower, top, ex, jc);
  io::ImageSet few{4, 3, 4, std::vector<uint8_t>(48, 100), {0, 1, 2, 0}};
  const double joint_error = fine_joint.error(few, false);
  CHECK((joint_error >= 0.0 && joint_error <= 100.0));
}

TEST_CASE("leftovers: GP rmse names a non-finite value and initial lengths skip repeated points") {
  CHECK(has(error_of([] { rmse(std::vector<double>{1.0, NAN}, std::vector<float>{1.0f, 2.0f}); }),
            "rmse: prediction 1 is nan; expected finite values"));  // NaN before
  CHECK(has(error_of([] { rmse(std::vector<double>{1.0, 2.0}, std::vector<float>{INFINITY, 2.0f}); }),
            "rmse: target 0 is inf"));
  CHECK(rmse(std::vector<double>{1.0, 3.0}, std::vector<float>{1.0f, 1.0f}) == doctest::Approx(std::sqrt(2.0)));
  // Four points at 0 and one at 10: 6 of the 10 pairs are 0 apart, so the
  // median of all pairs is 0 and the length fell back to 1, blind to the 10.
  const std::vector<float> x{0, 0, 0, 0, 10}, y{1, -1, 1, -1, 0};
  const std::vector<double> d = gp::squared_distances(x, 5, 1, "test");
  CHECK(initial_hyper(d, 5, y).log_length == doctest::Approx(std::log(10.0)));
  const std::vector<float> same(5, 3.0f);  // every point the same: no scale, length 1
  CHECK(initial_hyper(gp::squared_distances(same, 5, 1, "test"), 5, y).log_length == 0.0);
  CHECK(has(error_of([&] { initial_hyper(std::span(d).first(20), 5, y); }),
            "gp initial_hyper: 20 squared distances for 5 points; expected n x n"));  // read past the end before
  const std::vector<float> nan_y{1, NAN, 1, -1, 0};
  CHECK(has(error_of([&] { initial_hyper(d, 5, nan_y); }), "gp initial_hyper: target element 1 is nan"));
  std::vector<double> bad_d = d;
  bad_d[1] = -4.0;
  CHECK(has(error_of([&] { initial_hyper(bad_d, 5, y); }), "the squared distance of points 0 and 1 is -4"));
  // predictions at NaN features were named already
  const GpRegression gp(x, 5, 1, y, gp::Hyper{.log_length = std::log(10.0), .log_signal = 0.0, .log_noise = -1.0});
  CHECK(has(error_of([&] { gp.predict(std::vector<float>{NAN}, 1); }), "feature element 0 is nan"));
  CHECK(std::isfinite(gp.predict(std::vector<float>{5.0f}, 1)[0]));
}

TEST_CASE("leftovers: an SVM refuses one class, a kernel out of range or asymmetric, and settings that never stop") {
  // four points on a line, classes 0 0 1 1
  const std::vector<float> x{0.0f, 0.5f, 3.0f, 3.5f};
  const std::vector<float> d = svm_squared_distances(x, 4, x, 4, 1);
  const std::vector<uint8_t> one_class(4, 1), two{0, 0, 1, 1};
  CHECK(has(error_of([&] { KernelSvm(d, 4, one_class, 2, 1.0); }),
            "svm: all 4 training labels are class 1; expected at least two classes"));  // 0% error before
  const KernelSvm good(d, 4, two, 2, 1.0);
  CHECK(error_percent(good.predict(d, 4), two) == 0.0);
  std::vector<float> k = d;
  gaussian_kernel_in_place(k, 1.0);
  CHECK(KernelSvm::from_kernel(k, 4, two, 2, 1.0).support_vectors() > 0);
  std::vector<float> negative = k;
  negative[1] = negative[4] = -0.5f;
  CHECK(has(error_of([&] { KernelSvm::from_kernel(negative, 4, two, 2, 1.0); }),
            "svm: kernel entry (0, 1) is -0.5; expected a Gaussian kernel's values, in [0, 1]"));
  std::vector<float> asymmetric = k;
  asymmetric[1 * 4 + 2] = 0.9f;
  CHECK(has(error_of([&] { KernelSvm::from_kernel(asymmetric, 4, two, 2, 1.0); }),
            "svm: kernel entries (1, 2) = 0.9 and (2, 1) ="));
  CHECK(has(error_of([&] { KernelSvm::from_kernel(asymmetric, 4, two, 2, 1.0); }), "expected a symmetric kernel"));
  std::vector<float> negative_d = d;
  negative_d[2 * 4 + 3] = negative_d[3 * 4 + 2] = -1.0f;  // exp(+1): a kernel value beyond 1
  CHECK(has(error_of([&] { KernelSvm(negative_d, 4, two, 2, 1.0); }), "svm: kernel of the squared distances entry (2, 3)"));
  const std::vector<int8_t> y{1, 1, -1, -1};
  CHECK(solve_svm_dual(k, 4, y, {}).converged);
  std::vector<float> general = k;
  general[2 * 4 + 2] = -1.0f;
  CHECK(has(error_of([&] { solve_svm_dual(general, 4, y, {}); }),
            "svm: kernel entry (2, 2) is -1; expected finite values, and a diagonal of 0 or more"));
  general = k;
  general[0 * 4 + 3] = 0.5f;  // (3, 0) is not
  CHECK(has(error_of([&] { solve_svm_dual(general, 4, y, {}); }), "svm: kernel entries (0, 3) = 0.5"));
  // a tolerance no violation goes below ran max_iterations out before; NaN never stopped
  CHECK(has(error_of([&] { solve_svm_dual(k, 4, y, {.tolerance = INFINITY}); }),
            "svm: tolerance inf; expected a positive, finite one"));
  CHECK(has(error_of([&] { KernelSvm(d, 4, two, 2, 1.0, {.tolerance = NAN}); }), "svm: tolerance nan"));
  CHECK(has(error_of([&] { KernelSvm(d, 4, two, 2, 1.0, {.max_iterations = -1}); }),
            "svm: max_iterations -1; expected 0"));  // taken as the default before
  CHECK(solve_svm_dual(k, 4, y, {.max_iterations = 1}).iterations == 1);
}

TEST_CASE("leftovers: LogisticPca encode refuses NaN and values outside [0, 1], as fitting does") {
  const std::vector<float> rows = unit_rows(6, 3);
  const LogisticPca p = fit_logistic_pca(matrix_source(rows, 3), 1, {.sweeps = 2});
  std::vector<float> codes(2);
  std::vector<float> x(rows.begin(), rows.begin() + 6);
  p.encode(x, codes);
  CHECK((std::isfinite(codes[0]) && std::isfinite(codes[1])));
  x[5] = NAN;  // NaN codes before
  CHECK(has(error_of([&] { p.encode(x, codes); }), "logistic pca: encode: row 1 unit 2 is nan; expected values in [0, 1]"));
  x[5] = 1.5f;
  CHECK(has(error_of([&] { p.encode(x, codes); }), "logistic pca: encode: row 1 unit 2 is 1.5"));
  x[5] = -0.25f;
  CHECK(has(error_of([&] { p.encode(x, codes); }), "row 1 unit 2 is -0.25"));
}

TEST_CASE("leftovers: Crbm init_visible_bias names a NaN mean by channel, row and column") {
  Graph g;
  Crbm m = Crbm::make(g, "m", {.visible = {.channels = 2, .height = 3, .width = 4, .size = 2}, .filters = 2, .pool = 1});
  std::vector<float> mean(24, 0.25f);
  m.init_visible_bias(mean);
  CHECK(g.value(m.c)[1] == doctest::Approx(std::log(0.25 / 0.75)));
  mean[12 + 4 + 2] = NAN;  // channel 1, row 1, column 2: a NaN bias before
  CHECK(has(error_of([&] { m.init_visible_bias(mean); }),
            "crbm 'm': init_visible_bias got mean nan for channel 1 row 1 column 2; expected finite means"));
}

TEST_CASE("leftovers: the autoencoder refuses counts below 0 and binary data outside [0, 1]") {
  Graph g;
  Executor ex(g, {.parallel = false});
  AutoencoderFitConfig c;
  c.epochs = 1, c.eval_batch = 3;
  std::vector<float> counts(6 * 4);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<float>(i % 3);
  Autoencoder words = Autoencoder::make(g, "w", {.layers = {4, 3, 2}, .data_unit = Unit::count, .batch = 2});
  CHECK(AutoencoderFitter(words, ex, c).fit(matrix_source(counts, 4), matrix_source(counts, 4)).size() == 1);
  const std::vector<float> good_counts = counts;
  counts[2 * 4 + 1] = -1.0f;  // a loss without a floor before
  CHECK(has(error_of([&] { AutoencoderFitter(words, ex, c).fit(matrix_source(counts, 4), matrix_source(good_counts, 4)); }),
            "fine-tuning 'w': training row 2 holds -1 at column 1; expected whole counts of 0 or more for data_unit count"));
  std::vector<float> pixels = unit_rows(6, 4);
  Autoencoder binary = Autoencoder::make(g, "b", {.layers = {4, 3, 2}, .batch = 2});
  CHECK(AutoencoderFitter(binary, ex, c).fit(matrix_source(pixels, 4), matrix_source(pixels, 4)).size() == 1);
  std::vector<float> valid = unit_rows(5, 4);
  pixels[5 * 4 + 0] = 1.5f;
  CHECK(has(error_of([&] { AutoencoderFitter(binary, ex, c).fit(matrix_source(pixels, 4), matrix_source(valid, 4)); }),
            "fine-tuning 'b': training row 5 holds 1.5 at column 0; expected values in [0, 1] for data_unit binary"));
  pixels[5 * 4 + 0] = 0.5f;
  valid[3 * 4 + 2] = 2.0f;  // a validation error of other data than the net's before
  CHECK(has(error_of([&] { AutoencoderFitter(binary, ex, c).fit(matrix_source(pixels, 4), matrix_source(valid, 4)); }),
            "fine-tuning 'b': validation row 3 holds 2 at column 2; expected values in [0, 1] for data_unit binary"));
  Autoencoder real = Autoencoder::make(g, "r", {.layers = {4, 3, 2}, .data_unit = Unit::gaussian, .batch = 2});
  pixels[5 * 4 + 0] = -1.5f;  // real-valued data takes any finite value
  CHECK(AutoencoderFitter(real, ex, c).fit(matrix_source(pixels, 4), matrix_source(pixels, 4)).size() == 1);
}

TEST_CASE("leftovers: dbn_exact refuses units other than binary and a partial row") {
  Graph g;
  const Dbn d = Dbn::make(g, "d", {.layers = {4, 3, 2}});
  std::vector<float> v = unit_rows(2, 4);
  for (float& x : v) x = x > 0.5f ? 1.0f : 0.0f;  // binary rows (others are refused: test_misuse_dbn.cpp)
  CHECK(dbn_exact(d, v).size() == 2);
  CHECK(has(error_of([&] { dbn_exact(d, std::span(v).first(6)); }),
            "dbn_exact 'd': 6 values; expected whole rows of 4 visible units"));  // a row dropped before
  const Dbn real = Dbn::make(g, "r", {.layers = {4, 3, 2}, .visible_unit = Unit::gaussian});
  CHECK(has(error_of([&] { dbn_exact(real, v); }),
            "dbn_exact 'r': gaussian visible and binary hidden units in 'r.rbm0'; expected binary units"));
}

TEST_CASE("leftovers: a plot refuses coordinates too large to place, and a PNG grid with nothing finite") {
  const io_test::TempDir dir("leftovers_plot");
  const auto svg = dir.path / "p.svg";
  const io::Panel huge[] = {{"Loss", "epoch", "nats", {{"train", {1, 2, 3}, {1.0, 1e308, -1e308}}}}};
  CHECK(has(error_of([&] { io::write_svg_plot(svg, huge); }),
            "series 'train' of panel 'Loss' has y = 1e+308 at point 1; expected values within +-1e+300"));  // nan coordinates before
  const io::Panel logs[] = {{"Loss", "epoch", "nats", {{"train", {1, 2, 3}, {1.0, 1e308, NAN}}}, true}};
  io::write_svg_plot(svg, logs);  // on a log scale 1e308 is 308; NaN is left out
  CHECK(text_of(svg).find("nan") == std::string::npos);
  const auto png = dir.path / "g.png";
  const std::vector<float> all_nan(12, NAN);
  CHECK(has(error_of([&] { io::write_png_grid(png, all_nan, 2, 2, 3); }),
            "all 12 tile values are NaN or inf (the first is nan); expected some finite values"));  // a grey grid before
  std::vector<float> one_nan_tile(12, 0.5f);
  std::fill(one_nan_tile.begin(), one_nan_tile.begin() + 6, NAN);
  io::write_png_grid(png, one_nan_tile, 2, 2, 3);
  CHECK(std::filesystem::file_size(png) > 0);
}

TEST_CASE("leftovers: a sparsity target outside (0, 1) is refused without a cost too, 0 meaning unset") {
  Graph g;
  const Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3});
  CHECK(has(error_of([&] { make_cd_trainer(r, {.sparsity_target = 1.5f}); }),
            "sparsity_target = 1.5; expected a value in"));  // accepted before
  CHECK(has(error_of([&] { make_cd_trainer(r, {.sparsity_target = -0.1f}); }), "sparsity_target = -0.1"));
  CHECK(has(error_of([&] { make_cd_trainer(r, {.sparsity_target = NAN}); }), "sparsity_target = nan"));
  CHECK(make_cd_trainer(r, {}).step.valid());
  CHECK(make_cd_trainer(r, {.sparsity_target = 0.1f}).step.valid());
}
