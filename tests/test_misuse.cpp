// The C++ API's answers to a library user's mistakes (found by an audit of
// about 190 of them): each is an ebm::Error that names what was wrong and
// what was expected, never a crash, a hang, a raw std:: exception or a
// silent wrong value.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "autodiff/check_grad.hpp"
#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "io/batch.hpp"
#include "models/ais.hpp"
#include "models/cd.hpp"
#include "models/checkpoint.hpp"
#include "models/classifier.hpp"
#include "models/dbn.hpp"
#include "models/exact.hpp"
#include "misuse_util.hpp"
#include "models/rbm_fit.hpp"

using namespace ebm;
using namespace ebm::misuse_test;

namespace {

float run_scalar(Graph& g, Tensor t, std::span<const Feed> feeds = {}) {
  Executor ex(g, {.parallel = false});
  const Tensor targets[] = {t};
  ex.run(targets, feeds);
  return ex.scalar(t);
}

}  // namespace

TEST_CASE("misuse: an empty Tensor is named as such wherever it is passed") {
  Graph g;
  const Tensor x = g.input("x", {2, 2});
  const Tensor empty;
  CHECK(has(error_of([&] { (void)empty.shape(); }), "the tensor is empty (a default-made Tensor)"));
  CHECK(has(error_of([&] { sigmoid(empty); }), "sigmoid: the tensor is empty"));
  CHECK(has(error_of([&] { x + empty; }), "the tensor is empty"));  // the second input, checked by the graph
  CHECK(has(error_of([&] { slice_cols(empty, 0, 1); }), "slice_cols: the tensor is empty"));
  CHECK(has(error_of([&] { slice_rows(empty, 0, 1); }), "slice_rows: the tensor is empty"));
  CHECK(has(error_of([&] { (void)(1.0f / empty); }), "operator/: the tensor is empty"));
  const Tensor none[] = {empty};
  CHECK(has(error_of([&] { group(none); }), "group: the tensor is empty"));
  CHECK(has(error_of([&] { g.dump_dot(none); }), "dump_dot: the tensor is empty"));
  CHECK(has(error_of([&] { grad(empty, none); }), "grad (the loss): the tensor is empty"));
  const Tensor w = g.param("w", {2, 2});
  const Tensor loss = sum(x * w), params[] = {w};
  CHECK(has(error_of([&] { grad(loss, none); }), "grad (wrt[0], a tensor to differentiate by): the tensor is empty"));
  const Tensor bad_id[] = {Tensor{&g, -1}};
  CHECK(has(error_of([&] { grad(loss, bad_id); }), "node id -1 is not in its graph"));
  CHECK(has(error_of([&] { sgd(none, params); }), "sgd (parameter 0): the tensor is empty"));
  CHECK(has(error_of([&] { sgd(params, none); }), "sgd (gradient 0): the tensor is empty"));
  const std::vector<NamedTensor> named{{"w", empty}};
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_misuse_{}_empty", ::getpid());
  CHECK(has(error_of([&] { save_checkpoint(dir, "k", named, "{}"); }), "(tensor 'w'): the tensor is empty"));
  CHECK_FALSE(std::filesystem::exists(dir));
  Graph other;
  const Tensor foreign[] = {sigmoid(other.input("y", {2, 2}))};
  CHECK(has(error_of([&] { g.dump_dot(foreign); }), "dump_dot: the tensor 'sigmoid#1' belongs to another graph"));
  // a run names which target is wrong, and how
  Executor ex(g, {.threads = 1});
  const Tensor doubled = x * 2.0f;
  CHECK(has(error_of([&] { ex.run({doubled, empty}, {{x, std::vector<float>(4, 1.0f)}}); }),
            "run: target 1 of 2 is empty (a default-made Tensor)"));
  CHECK(has(error_of([&] { ex.run({foreign[0]}); }), "run: target 0 of 1 ('sigmoid#1') belongs to another graph"));
  const std::vector<Tensor> kept{doubled};  // a container of targets with braced feeds (it did not compile)
  ex.run(kept, {{x, std::vector<float>(4, 1.5f)}});
  CHECK(ex.value(doubled)[3] == 3.0f);
  Optimizer unmade;
  CHECK(has(error_of([&] { (void)unmade.lr(); }), "lr() of an empty Optimizer"));
  CHECK(has(error_of([&] { (void)unmade.momentum(); }), "momentum() of an empty Optimizer"));
  CHECK(has(error_of([&] { unmade.set_lr(0.1f); }), "set_lr() of an empty Optimizer"));
}

TEST_CASE("misuse: shapes that are empty, negative or beyond memory's addresses are refused as they are built") {
  Graph g;
  const Tensor x = g.input("x", {1, 1});
  CHECK(has(error_of([&] { broadcast_to(x, {0, 5}); }), "broadcast_to's output: shape [0, 5]; expected positive"));
  CHECK(has(error_of([&] { broadcast_to(x, {-3, 5}); }), "shape [-3, 5]; expected positive"));
  const int64_t big = int64_t{1} << 40;
  CHECK(has(error_of([&] { broadcast_to(x, {big, big}); }), "more floats than memory can address"));
  CHECK(has(error_of([&] { pad(x, {big, big}, 0, 0); }), "more floats than memory can address"));
  // r0 + rows would wrap past INT64_MAX and pass a check written as a sum
  CHECK(has(error_of([&] { pad(g.input("y", {2, 2}), {4, 4}, std::numeric_limits<int64_t>::max() - 1, 0); }),
            "an input that fits in 4 rows and 4 columns"));
  CHECK(has(error_of([&] { g.param("p", {big, big}); }), "param 'p': shape"));  // 2^80 floats wrapped to 0 before
  CHECK(has(error_of([&] { g.input("i", {int64_t{1} << 33, int64_t{1} << 33}); }), "more floats than memory"));
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer aborts on such a request instead of failing it
  // 2^60 bytes: under the addressing limit, but no allocator gives them
  CHECK(has(error_of([&] { g.param("q", {int64_t{1} << 29, int64_t{1} << 29}); }), "which cannot be allocated"));
  // A step whose values cannot be allocated (2^58 bytes here) is said, not a null arena written to.
  Graph h;
  const Tensor in = h.input("in", {int64_t{1} << 28, int64_t{1} << 28});
  const Tensor y = sigmoid(in);
  std::vector<float> four(4);
  const Feed feeds[] = {{in, four}};
  Executor ex(h, {.parallel = false});
  const Tensor targets[] = {y};
  CHECK(has(error_of([&] { ex.run(targets, feeds); }), "which cannot be allocated"));
#endif
  // Values of 2^60 floats each pass one by one, but four of them live at once sum past memory (the
  // arena's byte count wrapped to 0 before, and a zero-byte allocation is not null).
  Graph k;
  const Tensor one = k.input("one", {1, 1});
  const Tensor wide = broadcast_to(one, {int64_t{1} << 30, int64_t{1} << 30});
  const Tensor live[] = {wide, sigmoid(wide), ebm::exp(wide), ebm::tanh(wide)};
  float value = 1.0f;
  const Feed fed[] = {{one, std::span<const float>(&value, 1)}};
  Executor wide_ex(k, {.parallel = false});
  CHECK(has(error_of([&] { wide_ex.run(live, fed); }), "the step's values need more than 2^61 floats"));
}

TEST_CASE("misuse: the executor refuses an input fed twice and a profile beyond its room") {
  Graph g;
  const Tensor x = g.input("x", {1, 2});
  const Tensor s = sum(x);
  std::vector<float> a{1, 2}, b{3, 4};
  const Feed twice[] = {{x, a}, {x, b}};
  CHECK(has(error_of([&] { run_scalar(g, s, twice); }), "run: input 'x' is fed twice; expected one feed per input"));
  CHECK(has(error_of([&] { Executor(g, {.profile = true, .profile_events = size_t{1} << 60}); }),
            "profile_events = 1152921504606846976; expected at most 134217728"));
}

TEST_CASE("misuse: check_grad refuses settings that check nothing, and a NaN fails it") {
  Graph g;
  const Tensor w = g.param("w", {2, 2}, 1.0f);
  const Tensor cube = sum(w * w * w), wrt[] = {w};
  CHECK(has(error_of([&] { check_grad(cube, wrt, {}, {.eps = 0.0}); }), "expected a finite eps > 0"));
  CHECK(has(error_of([&] { check_grad(cube, wrt, {}, {.eps = std::nan("")}); }), "check_grad: eps nan"));
  CHECK(has(error_of([&] { check_grad(cube, wrt, {}, {.max_entries = 0}); }), "max_entries 0"));
  CHECK(has(error_of([&] { check_grad(cube, wrt, {}, {.rtol = -1.0}); }), "tolerances of at least 0"));
  CHECK(check_grad(cube, wrt).ok);  // the same loss, checkable
  Graph n;
  const Tensor v = n.param("v", {2, 2}, -1.0f);
  const Tensor nan_loss = sum(log(v)), by[] = {v};  // log of negatives: NaN on both sides
  const GradCheck r = check_grad(nan_loss, by);
  CHECK_FALSE(r.ok);  // it said ok = true before: no comparison with a NaN is true
  CHECK(std::isnan(r.max_abs_err));
  CHECK(has(r.worst, "v["));
  Graph z;
  // exp(88.73) overflows a float and exp(88.71) does not: the numeric derivative is inf, autodiff's finite, and
  // inf <= atol + rtol inf held
  const Tensor u = z.param("u", {1, 1}, 88.72f);
  const Tensor inf_loss = sum(ebm::exp(u)), at[] = {u};
  CHECK_FALSE(check_grad(inf_loss, at).ok);
  // beside a passing parameter checked first, the infinite one is still the worst (its ratio inf / inf was NaN,
  // which never ranked, and the passing a[0] was named)
  const Tensor a = z.param("a", {1, 1}, 1.0f), both[] = {a, u};
  const GradCheck mixed = check_grad(inf_loss + sum(a * a), both);
  CHECK_FALSE(mixed.ok);
  CHECK(has(mixed.worst, "u[0]"));
  CHECK(has(error_of([&] { check_grad(cube, wrt, {}, {.atol = INFINITY}); }), "finite tolerances"));
  // wrt that is not a parameter: named, before grad() appends its nodes
  const Tensor x = g.input("x", {2, 2}), by_input[] = {w, x};
  const int64_t nodes = g.size();
  CHECK(has(error_of([&] { check_grad(sum(x * w), by_input); }),
            "check_grad (wrt[1]): 'x' is an input; expected a parameter"));
  CHECK(g.size() == nodes + 2);  // the loss's mul and sum, nothing of grad()'s
  CHECK(has(error_of([&] { (void)g.value(x); }), "value: 'x' is an input, not a parameter or constant"));
  CHECK(has(error_of([&] { (void)(x / 0.0f); }), "scale: y = a x + b of 'x' with a = inf, b = 0; expected finite"));
  CHECK(has(error_of([&] { (void)(x + NAN); }), "with a = 1, b = nan"));
  Graph other;
  const Tensor foreign[] = {other.param("q", {1, 1})};
  CHECK(has(error_of([&] { check_grad(cube, foreign); }), "check_grad (wrt[0]): 'q' belongs to another graph"));
}

TEST_CASE("misuse: sampling ops refuse data they cannot draw from") {
  Graph g;
  const Tensor p = g.input("p", {1, 4}), trials = g.input("t", {1, 1});
  const Tensor counts = sum(multinomial(p, trials));
  std::vector<float> weights{1, 1, 1, 1};
  for (const float t : {std::numeric_limits<float>::infinity(), 1e12f}) {
    const Feed feeds[] = {{p, weights}, {trials, std::span<const float>(&t, 1)}};
    CHECK(has(error_of([&] { run_scalar(g, counts, feeds); }), "multinomial: row 0 asks for"));  // hung before
  }
  const float ten = 10.0f;
  const Feed ok[] = {{p, weights}, {trials, std::span<const float>(&ten, 1)}};
  CHECK(run_scalar(g, counts, ok) == 10.0f);

  const Tensor onehot = sum(categorical(p));
  for (const std::vector<float>& row : {std::vector<float>{0.1f, 0.1f, 0.1f, 0.2f},  // sums to 0.5
                                        std::vector<float>{0.5f, 0.6f, -0.1f, 0.0f}, std::vector<float>(4, NAN)}) {
    const Feed feeds[] = {{p, row}};
    CHECK(has(error_of([&] { run_scalar(g, onehot, feeds); }), "categorical: row 0 holds"));
  }
  std::vector<float> diverged(4, NAN);
  const Feed nan_row[] = {{p, diverged}};
  CHECK(has(error_of([&] { run_scalar(g, onehot, nan_row); }), "has the model diverged?"));
  std::vector<float> dist{0.1f, 0.2f, 0.3f, 0.4f};
  const Feed fine[] = {{p, dist}};
  CHECK(run_scalar(g, onehot, fine) == 1.0f);
  CHECK(has(error_of([&] { assign(g.constant({1, 4}, 1.0f, "ones"), p); }),
            "assign: the target 'ones' (its op: constant) is not a parameter"));  // the constant changed before
  CHECK(has(error_of([&] { assign(g.input("state", {1, 4}), p); }), "the target 'state' (its op: input) is not a parameter"));
  CHECK(has(error_of([&] { gaussian(p, NAN); }), "gaussian: stddev = nan"));
  CHECK(has(error_of([&] { gaussian(p, -1.0f); }), "expected a finite value of at least 0"));
  // A NaN probability (or logit) draws NaN, which the numerics check names, where it drew 0 unseen; a
  // probability outside [0, 1] draws as if clipped.
  const Tensor drawn = bernoulli(p), drawn_logit = sigmoid_bernoulli(p);
  Executor ex(g, {.threads = 1});
  std::vector<float> odd{NAN, 1.5f, -0.5f, 0.5f};
  ex.run({drawn, drawn_logit}, {{p, odd}});
  for (const Tensor t : {drawn, drawn_logit}) {
    CHECK(std::isnan(ex.value(t)[0]));
    for (size_t i = 1; i < 4; ++i) CHECK((ex.value(t)[i] == 0.0f || ex.value(t)[i] == 1.0f));
  }
  CHECK(ex.value(drawn)[1] == 1.0f);
  CHECK(ex.value(drawn)[2] == 0.0f);
  Executor checked(g, {.threads = 1, .check_numerics = true});
  CHECK(has(error_of([&] { checked.run({drawn}, {{p, odd}}); }), "nan"));
}

TEST_CASE("misuse: RBM tools refuse non-finite parameters and settings instead of returning numbers") {
  Graph g;
  const Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3});
  const Tensor v = g.input("v", {2, 4});
  CHECK(has(error_of([&] { r.free_energy(v, g.input("x", {2, 5})); }),
            "free_energy(v, x) got x of shape [2, 5]; expected hidden_input(v)'s [2, 3]"));
  const std::vector<float> base(4, 0.0f);
  const AisConfig short_run{.runs = 10, .schedule = {{1.0, 20}}, .threads = 1};
  g.value(r.w)[5] = NAN;
  CHECK(has(error_of([&] { exact_log_z(r); }), "exact_log_z 'r': r.W holds nan at entry 5"));  // 4.165 before
  CHECK(has(error_of([&] { ais_log_z(r, base, short_run); }), "ais 'r': r.W holds nan"));
  g.value(r.w)[5] = INFINITY;
  CHECK(has(error_of([&] { exact_log_z(r); }), "r.W holds inf"));
  g.value(r.w)[5] = 0.0f;
  CHECK(std::isfinite(exact_log_z(r)));
  const std::vector<float> nan_base{NAN, 0, 0, 0};
  CHECK(has(error_of([&] { ais_log_z(r, nan_base, short_run); }), "the base model's bias holds nan at entry 0"));
  AisConfig huge{.runs = 10, .schedule = {{1.0, 2'000'000'000}}};
  CHECK(has(error_of([&] { ais_log_z(r, base, huge); }), "a schedule of 2000000000 temperatures; expected at most"));
  CHECK(has(error_of([&] { huge.scale_temperatures(NAN); }), "scale_temperatures(nan)"));
  CHECK(has(error_of([&] { Rbm::make(g, "s", {.visible = 4, .hidden = 3, .init_std = NAN}); }),
            "fill_normal: stddev nan"));
  CHECK(has(error_of([&] { Classifier::make(g, "c", {.layers = {4, 3}, .classes = 2, .batch = 2, .glorot_scale = INFINITY}); }),
            "fill_normal: stddev inf"));
  const std::vector<float> nan_mean{0.5f, NAN, 0.5f, 0.5f};
  Rbm copy = r;
  CHECK(has(error_of([&] { copy.init_visible_bias(nan_mean); }), "got mean nan for visible unit 1"));
  CHECK(has(error_of([&] { make_cd_trainer(Rbm{}, {.batch = 2}); }), "make_cd_trainer: an empty Rbm"));
  CHECK(has(error_of([&] { base_rate_bias(base, 0.0f); }), "base_rate_bias: eps = 0"));
  CHECK(has(error_of([&] { word_share_bias(std::vector<float>{1, 2}, 0.0f); }), "word_share_bias: floor = 0"));
}

TEST_CASE("misuse: a DBN names the shape that differs, and a down pass of count units says what it lacks") {
  Graph g;
  const Dbn dbn = Dbn::make(g, "d", {.layers = {4, 3}});
  const Tensor w[] = {g.param("w", {4, 3})}, b[] = {g.param("b", {1, 5})};
  CHECK(has(error_of([&] { copy_recognition_weights(dbn, w, b, "copy"); }),
            "copy: layer 0's bias is [1, 5], the DBN's [1, 3]"));  // it named the equal weight shapes before
  Graph c;
  const Dbn words = Dbn::make(c, "docs", {.layers = {6, 3}, .visible_unit = Unit::count});
  CHECK(has(error_of([&] { words.down(c.input("h", {2, 3}), 1); }), "of count units from 'affine#"));  // '' before
}

TEST_CASE("misuse: a checkpoint refuses at saving what loading would refuse") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ebm_test_misuse_{}_ck", ::getpid());
  Graph g;
  const Tensor a = g.param("a", {2, 2});
  g.value(a)[1] = NAN;
  const std::vector<NamedTensor> with_nan{{"a", a}};
  CHECK(has(error_of([&] { save_checkpoint(dir, "k", with_nan, "{}"); }),
            "tensor 'a' holds nan at entry 1; expected finite values"));
  g.value(a)[1] = 0.0f;
  CHECK(has(error_of([&] { save_checkpoint(dir, "\xff\xfe kind", with_nan, "{}"); }),
            "its manifest cannot be written as JSON"));
  const std::vector<NamedTensor> bad_name{{"a\xff", a}};
  CHECK(has(error_of([&] { save_checkpoint(dir, "k", bad_name, "{}"); }), "expected the kind, the tensors' names"));
  const std::vector<NamedTensor> long_name{{std::string(300, 'n'), a}};
  CHECK(has(error_of([&] { save_checkpoint(dir, "k", long_name, "{}"); }), "(300 bytes); expected at most 200"));
  const std::vector<NamedTensor> computed{{"y", square(a)}};  // a value only a run computes
  CHECK(has(error_of([&] { save_checkpoint(dir, "k", computed, "{}"); }),
            "tensor 'y' is 'square#1', a square; expected a parameter or a constant"));
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(std::filesystem::exists(dir.string() + ".tmp"));
  save_checkpoint(dir, "k", with_nan, "{}");  // the same tensor, finite now
  // A load refused for its second tensor (an op's value, which has no storage) leaves the first as it was.
  const Tensor b = g.param("b", {2, 2}, 7.0f);
  const std::vector<NamedTensor> both{{"a", a}, {"b", b}};
  save_checkpoint(dir, "k", both, "{}");
  g.value(a)[0] = 1.0f;
  const std::vector<NamedTensor> into_op{{"a", a}, {"b", a * 2.0f}};
  CHECK(has(error_of([&] { load_checkpoint(dir, "k", into_op); }), "is a scale, not a parameter or constant"));
  CHECK(g.value(a)[0] == 1.0f);  // not overwritten with the saved 0 before the second was refused
  std::filesystem::remove_all(dir);
}

TEST_CASE("misuse: fill_batch refuses a set whose size overflows, a threshold from 1 up and an unknown mode") {
  io::ImageSet huge;
  huge.count = int64_t{1} << 62, huge.height = 2, huge.width = 2;  // count x 4 wraps to 0 pixels
  std::vector<float> out(4);
  const std::vector<int64_t> far{123456789};
  CHECK(has(error_of([&] { io::fill_batch(huge, far, out); }), "fill_batch: the set has 0 pixels"));
  io::ImageSet one{1, 2, 2, {0, 100, 200, 255}, {0}};
  const std::vector<int64_t> first{0};
  CHECK(has(error_of([&] { io::fill_batch(one, first, out, {.mode = io::Pixels::threshold, .threshold = 2.0f}); }),
            "threshold 2; expected a value in [0, 1)"));
  CHECK(has(error_of([&] { io::fill_batch(one, first, out, {.mode = io::Pixels::threshold, .threshold = NAN}); }),
            "threshold nan"));
  CHECK(has(error_of([&] { io::fill_batch(one, first, out, {.mode = static_cast<io::Pixels>(9)}); }), "pixel mode 9"));
  io::fill_batch(one, first, out, {.mode = io::Pixels::threshold, .threshold = 0.5f});
  CHECK(out == std::vector<float>{0, 0, 1, 1});
}

TEST_CASE("misuse: the RBM fitter names a source without rows to give, and NaN in the data") {
  Graph g;
  const Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3});
  CdTrainer t = make_cd_trainer(r, {.batch = 2});
  Executor ex(g, {.parallel = false});
  RbmFitter fit(t, ex, {.epochs = 1, .monitor_images = 4});
  std::vector<float> data(4 * 8, 1.0f);
  for (size_t i = 0; i < data.size(); i += 3) data[i] = 0.0f;
  const DataSource rows = matrix_source(data, 4);
  const DataSource no_fill{8, 4, {}};
  CHECK(has(error_of([&] { fit.fit(no_fill, rows); }), "the training source has no fill function"));
  CHECK(has(error_of([&] { fit.fit(rows, no_fill); }), "the validation source has no fill function"));
  const DataSource no_rows{0, 4, rows.fill};
  CHECK(has(error_of([&] { fit.fit(rows, no_rows); }), "a validation source of 0 rows; expected at least one"));
  CHECK(has(error_of([&] { fit.fit(no_rows, rows); }), "fit 'r': batches of 2 from a training source of 0 rows"));
  const DataSource one_row{1, 4, rows.fill};
  CHECK(has(error_of([&] { fit.fit(one_row, rows); }), "batches of 2 from a training source of 1 row; expected"));
  const std::vector<float> clean = data;
  data[5] = NAN;
  CHECK(has(error_of([&] { fit.fit(rows, matrix_source(clean, 4)); }),
            "fit 'r': training row 1 holds nan at column 1; expected finite data"));
}

TEST_CASE("misuse: the RBM fitter refuses data its visible units cannot take, naming the row and the column") {
  for (const Unit unit : {Unit::binary, Unit::softmax, Unit::count, Unit::gaussian}) {
    CAPTURE(to_string(unit));
    Graph g;
    const Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3, .visible_unit = unit});
    CdTrainer t = make_cd_trainer(r, {.batch = 2});
    Executor ex(g, {.parallel = false});
    std::vector<float> data(4 * 8, 0.0f), valid(4 * 4, 0.0f);
    for (size_t row = 0; row < 8; ++row) data[row * 4 + row % 4] = 1.0f;  // one-hot rows: every unit type takes them
    for (size_t row = 0; row < 4; ++row) valid[row * 4 + row] = 1.0f;
    RbmFitter fine(t, ex, {.epochs = 1, .monitor_images = 4});
    CHECK_NOTHROW(fine.fit(matrix_source(data, 4), matrix_source(valid, 4)));
    const float bad = unit == Unit::count ? -1.0f : 2.0f;  // over 1 for binary and softmax, below 0 for counts
    data[6 * 4 + 2] = bad;
    RbmFitter fit(t, ex, {.epochs = 2, .monitor_images = 4});
    if (unit == Unit::gaussian) {  // any value
      CHECK_NOTHROW(fit.fit(matrix_source(data, 4), matrix_source(valid, 4)));
      continue;
    }
    const std::string e = error_of([&] { fit.fit(matrix_source(data, 4), matrix_source(valid, 4)); });
    CHECK(has(e, fmt::format("fit 'r': training row 6 holds {} at column 2; expected {} for visible_unit {}", bad,
                             unit == Unit::count ? "whole counts of 0 or more" : "values in [0, 1]", to_string(unit))));
    data[6 * 4 + 2] = 0.0f;
    valid[3 * 4 + 1] = bad;
    RbmFitter checked(t, ex, {.epochs = 1, .monitor_images = 4});
    CHECK(has(error_of([&] { checked.fit(matrix_source(data, 4), matrix_source(valid, 4)); }),
              fmt::format("fit 'r': validation row 3 holds {} at column 1", bad)));
    if (unit == Unit::count) {  // a fraction of a word: the chain's samples are whole, so CD would compare unlike rows
      valid[3 * 4 + 1] = 0.0f;
      data[5 * 4 + 1] = 2.5f;
      RbmFitter fractional(t, ex, {.epochs = 1, .monitor_images = 4});
      CHECK(has(error_of([&] { fractional.fit(matrix_source(data, 4), matrix_source(valid, 4)); }),
                "fit 'r': training row 5 holds 2.5 at column 1; expected whole counts of 0 or more for visible_unit "
                "count"));
    }
  }
}

TEST_CASE("misuse: init_visible_bias starts each unit type where its own data's means put it") {
  const std::vector<float> means{0.25f, 0.5f, 0.125f, 0.0625f};  // summing to 0.9375: a share is not the mean
  for (const Unit unit : {Unit::binary, Unit::softmax, Unit::count, Unit::gaussian, Unit::rectified}) {
    CAPTURE(to_string(unit));
    Graph g;
    Rbm r = Rbm::make(g, "r", {.visible = 4, .hidden = 3, .visible_unit = unit});
    r.init_visible_bias(means);
    const auto c = g.value(r.c);
    for (size_t i = 0; i < 4; ++i) {
      const double want = unit == Unit::binary                                 ? std::log(means[i] / (1.0 - means[i]))
                          : unit == Unit::gaussian || unit == Unit::rectified ? means[i]  // was log-odds: -1.1 for 0.25
                                                                                : std::log(means[i] / 0.9375);  // shares
      CHECK(c[i] == doctest::Approx(want).epsilon(1e-5));
    }
  }
  // Means a unit cannot have were clipped to a bias that said nothing of the data (bytes not scaled: 6.9).
  Graph g;
  Rbm binary = Rbm::make(g, "b", {.visible = 4, .hidden = 3});
  CHECK(has(error_of([&] { binary.init_visible_bias(std::vector<float>{0.5f, 255.0f, 0.5f, 0.5f}); }),
            "rbm 'b': init_visible_bias got mean 255 for visible unit 1; expected means in [0, 1] for binary visible "
            "units (data scaled to [0, 1])"));
  Rbm words = Rbm::make(g, "w", {.visible = 4, .hidden = 3, .visible_unit = Unit::count});
  CHECK(has(error_of([&] { words.init_visible_bias(std::vector<float>{0.5f, 1.0f, -2.0f, 3.0f}); }),
            "got mean -2 for visible unit 2; expected means of 0 or more for count visible units"));
}
