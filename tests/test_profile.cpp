// The scheduler's profiler: the Chrome trace file and the summary table,
// and a product's tiles recorded as its threads' work.

#include <algorithm>
#include <thread>
#include <chrono>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <sched.h>
#include <nlohmann/json.hpp>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"

using namespace ebm;

TEST_CASE("profile: trace file and summary table") {
  Graph g;
  Tensor x = g.param("x", {64, 64});
  fill_uniform(g.value(x), -0.5f, 0.5f, 1, 3);
  Tensor y = sum(sigmoid(matmul(x, x)) + 1.0f);
  Executor ex(g, {.threads = 2, .profile = true});
  int prepared = 0;
  auto prepare = [&] { ++prepared; };
  const Tensor targets[] = {y};
  for (int i = 0; i < 3; ++i) ex.run(targets, {}, prepare);
  CHECK(prepared == 3);
  const std::string summary = ex.profile().summary();
  CHECK(summary.find("alongside") != std::string::npos);  // the work beside the steps is a row of its own
  const std::string tasks = ex.profile().summary(5);  // and the tasks, each with what it reads
  CHECK(tasks.find("task (longest first)") != std::string::npos);
  const size_t row = tasks.find("fused(matmul+sigmoid+scale)", tasks.find("task (longest first)"));
  REQUIRE(row != std::string::npos);
  CHECK(tasks.substr(row, tasks.find('\n', row) - row).find(" x ") != std::string::npos);
  CHECK(summary.find("task (longest first)") == std::string::npos);
  CHECK(summary.find("matmul") != std::string::npos);
  CHECK(summary.find("fused(matmul+sigmoid+scale)") != std::string::npos);  // a GEMM with its epilogue
  CHECK(summary.find("3 runs") != std::string::npos);
  const auto path = std::filesystem::temp_directory_path() / "ebm_test_trace.json";
  ex.profile().write_chrome_trace(path.string());
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"traceEvents\"") != std::string::npos);
  CHECK(text.find("\"name\":\"fused(matmul+sigmoid+scale)\"") != std::string::npos);
  CHECK(text.find("\"about\":\"x\"") != std::string::npos);  // the task names the parameter it reads
  // the sum reads only the product's unnamed output: it is named by what made it
  CHECK(text.find("\"name\":\"sum\",\"cat\":\"task\"") != std::string::npos);
  CHECK(text.find("\"about\":\"from x\"") != std::string::npos);
  CHECK(text.find("\"thread_name\"") != std::string::npos);
  // Per run: 2 task spans, the work beside them and the product's one 64 x 64 tile.
  int spans = 0, pieces = 0;
  for (const Profile::Event& e : ex.profile().recorded()) (e.piece ? pieces : spans) += 1;
  CHECK(spans == 9);
  CHECK(pieces == 3);
}

// Idle time is summed by the tasks around each gap, per thread: from a
// run's start to the first work, between works, after the last.
TEST_CASE("profile: waits names the tasks around each thread's idle time") {
  Profile p(64, 2);
  const int32_t a = p.add_task("matmul", 0.0, "w"), b = p.add_task("sum", 0.0);
  for (int64_t run = 0; run < 2; ++run) {  // runs of 10 us: thread 0 waits 2 us between a and b, thread 1 idles
    const int64_t t0 = 1'000'000 + run * 20'000;  // 1 us before a and 7 us after it
    p.record(a, 0, t0, t0 + 4'000);
    p.record(a, 1, t0 + 1'000, t0 + 3'000);
    p.record(b, 0, t0 + 6'000, t0 + 10'000);
    p.add_run(t0, t0 + 10'000);
  }
  const std::string w = p.waits();
  CAPTURE(w);
  CHECK(w.find("threads idle 50.0% of their time over 2 runs") != std::string::npos);
  auto row = [&](const std::string& pair) {
    const size_t at = w.find(pair);
    REQUIRE(at != std::string::npos);
    const size_t start = w.rfind('\n', at) + 1;
    return w.substr(start, at - start);
  };
  CHECK(row("matmul [w] -> the run's end") == "    0.014    35.0%       7.0       2  ");
  CHECK(row("matmul [w] -> sum") == "    0.004    10.0%       2.0       2  ");
  CHECK(row("the run's start -> matmul [w]") == "    0.002     5.0%       1.0       2  ");
  CHECK(w.find("matmul [w] -> the run's end") < w.find("matmul [w] -> sum"));  // the largest first
  CHECK(w.find("sum -> the run's end") == std::string::npos);  // thread 0 worked to the end
  CHECK(p.summary(3).find("where they waited") != std::string::npos);
  CHECK(p.summary().find("where they waited") == std::string::npos);
  CHECK(Profile(4, 2).waits().find("no run") != std::string::npos);
  // Work nested inside a longer piece (a thread waiting in a task picks up another's tile): the gap
  // after both follows the longer one.
  Profile q(16, 1);
  const int32_t outer = q.add_task("outer", 0.0), inner = q.add_task("inner", 0.0), next = q.add_task("next", 0.0);
  q.record(outer, 0, 0, 8'000);
  q.record(inner, 0, 2'000, 3'000);
  q.record(next, 0, 9'000, 10'000);
  q.add_run(0, 10'000);
  CHECK(q.waits().find("outer -> next") != std::string::npos);
  CHECK(q.waits().find("inner -> next") == std::string::npos);
  // A thread with no work in a run is said to be so (a busy machine, or a run too small to share).
  Profile r(16, 2);
  const int32_t only = r.add_task("only", 0.0);
  r.record(only, 0, 0, 6'000);
  r.add_run(0, 10'000);
  CAPTURE(r.waits());
  CHECK(r.waits().find("    0.010    50.0%      10.0       1  (no work in the run: the run's start -> its end)") !=
        std::string::npos);
  CHECK(r.waits().find("only -> the run's end") != std::string::npos);
}

// Tasks of the same op on the same values (an unrolled chain's steps) are
// one row of the task table and of the waits, and a long label widens its
// column rather than pushing the numbers out of line.
TEST_CASE("profile: tasks that cannot be told apart share a row, and long labels keep the columns in line") {
  Profile p(64, 1);
  const std::string long_label = "fused(affine+sigmoid_bernoulli+softplus_grad+sum+more)";
  const int32_t a1 = p.add_task("gibbs", 0.0, "top.W"), a2 = p.add_task("gibbs", 0.0, "top.W"),
                b = p.add_task(long_label, 0.0);
  for (int64_t run = 0; run < 2; ++run) {
    const int64_t t0 = run * 100'000;
    p.record(a1, 0, t0, t0 + 10'000);
    p.record(a2, 0, t0 + 12'000, t0 + 22'000);  // 2 us after a1
    p.record(b, 0, t0 + 24'000, t0 + 30'000);   // 2 us after a2
    p.add_run(t0, t0 + 30'000);
  }
  const std::string s = p.summary(5);
  CAPTURE(s);
  // one task row for both chain steps: 4 calls, 40 us, 10 us a call
  const size_t row = s.find("gibbs", s.find("task (longest first)"));
  REQUIRE(row != std::string::npos);
  const std::string line = s.substr(row, s.find('\n', row) - row);
  CHECK(line.find(" 4 ") != std::string::npos);
  CHECK(line.find("0.040") != std::string::npos);
  CHECK(line.find("10.0") != std::string::npos);
  const size_t table_end = s.find("threads idle");
  CHECK(s.find("\ngibbs ", row) > table_end);  // no second task row
  // the waits: gibbs -> gibbs once (2 gaps), gibbs -> the long label once (2 gaps)
  const std::string w = p.waits();
  CHECK(w.find("      2  gibbs [top.W] -> gibbs [top.W]") != std::string::npos);
  CHECK(w.find("      2  gibbs [top.W] -> " + long_label) != std::string::npos);
  // every line of the op table has its columns where the header has them
  const size_t header = s.find("GFLOP/s");
  const size_t header_start = s.rfind('\n', header) == std::string::npos ? 0 : s.rfind('\n', header) + 1;
  const size_t calls_end = s.find("calls", header_start) + 5 - header_start;
  const size_t op_row = s.find(long_label);
  REQUIRE(op_row != std::string::npos);
  CHECK(s.substr(op_row + calls_end - 1, 1) == "2");  // its calls right-aligned under "calls"
}

// A thread the operating system did not run looks idle to the profile; the
// summary says how long the process's threads waited for a core. Here
// three threads spin on one CPU (the others are left to the rest of the
// suite), so each waits about two thirds of the time.
TEST_CASE("profile: the summary says how long the threads waited for a core") {
  Profile p(16, 2);
  cpu_set_t mine;
  REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mine)) {
      CPU_SET(c, &one);
      break;
    }
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (int i = 0; i < 3; ++i)
    spinners.emplace_back([&] {
      sched_setaffinity(0, sizeof one, &one);
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string s = p.summary();  // while they spin: their waits count (threads alive now)
  stop = true;
  for (std::thread& t : spinners) t.join();
  CAPTURE(s);
  const size_t at = s.find("the process's threads waited ");
  if (at == std::string::npos || s.find("waited 0.000 ms") != std::string::npos) {
    MESSAGE("this system does not count the time threads wait for a core (no schedstat): not checked");
    return;
  }
  const double ms = std::stod(s.substr(at + 29));
  CHECK(ms > 150.0);  // about 600 ms: three threads, 300 ms, one core
  CHECK(s.find("more threads wanted the cores than there were") != std::string::npos);
  CHECK(s.find("of 2 threads' time") != std::string::npos);
  CHECK(Profile(16, 1).summary().find("of 1 thread's time") != std::string::npos);
}

// The pieces a task hands to the threads (GEMM tiles) are recorded on the
// thread that ran them, inside the task's span; the work they add up to is
// what the threads were busy with, never more than threads x wall.
TEST_CASE("profile: a product's tiles are its threads' work") {
  Graph g;
  Tensor a = g.param("a", {512, 300}), b = g.param("b", {300, 520});
  fill_uniform(g.value(a), -1.0f, 1.0f, 1, 1);
  fill_uniform(g.value(b), -1.0f, 1.0f, 1, 2);
  Tensor c = matmul(a, b);
  const gemm::TileGrid grid = gemm::tile_grid(512, 520);
  REQUIRE(grid.tiles() > 2);
  for (bool parallel : {true, false}) {
    CAPTURE(parallel);
    Executor ex(g, {.threads = 2, .parallel = parallel, .profile = true});
    constexpr int kRuns = 4;
    for (int i = 0; i < kRuns; ++i) ex.run({c});
    const Profile& p = ex.profile();
    std::vector<Profile::Event> spans, pieces;
    for (const Profile::Event& e : p.recorded()) (e.piece ? pieces : spans).push_back(e);
    REQUIRE(spans.size() == kRuns);
    CHECK(pieces.size() == static_cast<size_t>(kRuns * grid.tiles()));
    int64_t cells = 0;
    for (const Profile::Event& e : pieces) {
      CHECK(e.work);
      CHECK(e.thread >= 0);
      CHECK(e.thread < p.threads());
      cells += int64_t{e.i1 - e.i0} * (e.j1 - e.j0);
      const bool inside = std::any_of(spans.begin(), spans.end(), [&](const Profile::Event& s) {
        return s.start_ns <= e.start_ns && e.end_ns <= s.end_ns;
      });
      CHECK(inside);
    }
    CHECK(cells == int64_t{kRuns} * 512 * 520);  // the tiles cover the output once per run
    for (const Profile::Event& s : spans) CHECK(!s.work);  // a split task's span is not counted as work
    double tiles_ms = 0;
    for (const Profile::Event& e : pieces) tiles_ms += static_cast<double>(e.end_ns - e.start_ns) * 1e-6;
    CHECK(p.work_ms() == doctest::Approx(tiles_ms));
    CHECK(p.work_ms() <= p.wall_ms() * p.threads() * 1.001);
    CHECK(p.threads() == (parallel ? 2 : 1));
    CHECK(p.summary().find("busy") != std::string::npos);
    CHECK(p.summary().find("not recorded") == std::string::npos);
  }
  // A buffer too small for the runs keeps the first events and says how many it lost.
  Executor small(g, {.threads = 2, .profile = true, .profile_events = 5});
  for (int i = 0; i < 3; ++i) small.run({c});
  CHECK(small.profile().events() == 5);
  CHECK(small.profile().dropped() == static_cast<size_t>(3 * (1 + grid.tiles()) - 5));
  CHECK(small.profile().summary().find("the trace keeps the first 5 events") != std::string::npos);
}

// Kernels that split their work themselves (the convolutions and pooling
// over images, large updates over chunks) record each thread's share as
// pieces, as the GEMMs do their tiles: a profile would otherwise count the
// other thread's part as idle time.
TEST_CASE("profile: a convolution's images and a large update's chunks are their threads' work") {
  const ConvGeometry cg{.channels = 1, .height = 12, .width = 12, .size = 5};
  Graph g;
  Tensor x = g.param("x", {64, cg.image()}), w = g.param("w", {6, cg.filter()}), big = g.param("big", {300, 200});
  fill_uniform(g.value(x), -1.0f, 1.0f, 1, 1);
  fill_uniform(g.value(w), -1.0f, 1.0f, 1, 2);
  Tensor y = conv2d(x, w, cg);
  const Optimizer opt = sgd(std::vector{big}, grad(sum(big) * 0.5f, {big}), {.lr = 0.1f});
  for (bool parallel : {true, false}) {
    CAPTURE(parallel);
    Executor ex(g, {.threads = 2, .parallel = parallel, .profile = true});
    constexpr int kRuns = 3;
    for (int i = 0; i < kRuns; ++i) ex.run({y, opt.step});
    const Profile& p = ex.profile();
    double pieces_ms = 0;
    for (const Profile::Event& e : p.recorded())
      if (e.piece) {
        CHECK(e.work);
        pieces_ms += static_cast<double>(e.end_ns - e.start_ns) * 1e-6;
      }
    // which task each piece belongs to: read from the trace
    const auto path = std::filesystem::temp_directory_path() / "ebm_test_trace_split.json";
    p.write_chrome_trace(path.string());
    std::ifstream f(path);
    const nlohmann::json trace = nlohmann::json::parse(f);
    std::filesystem::remove(path);
    int64_t images = 0, elements = 0;
    for (const auto& e : trace["traceEvents"]) {
      if (e["ph"] != "X" || e["cat"] != "piece") continue;
      const std::string rows = e["args"]["rows"], name = e["name"];
      const int64_t count = std::stoll(rows.substr(rows.find('-') + 1)) - std::stoll(rows.substr(0, rows.find('-')));
      if (name == "conv2d") images += count;
      if (name.find("sgd_update") != std::string::npos) elements += count;
    }
    // in parallel the pieces cover the images and the elements once per run; serial kernels split nothing
    CHECK(images == (parallel ? kRuns * 64 : 0));
    CHECK(elements == (parallel ? kRuns * 60000 : 0));
    if (parallel) CHECK(pieces_ms > 0.0);
    CHECK(p.work_ms() <= p.wall_ms() * p.threads() * 1.001);
  }
  // Their flops: conv2d's 2 B K H'W' C r r, and the same for its two adjoints.
  const std::vector<Shape> in{{64, cg.image()}, {6, cg.filter()}};
  const double want = 2.0 * 64 * 6 * cg.plane() * cg.filter();
  CHECK(flops(Conv2d{cg}, in, Shape{64, 6 * cg.plane()}) == want);
  CHECK(flops(Conv2dTranspose{cg}, std::vector<Shape>{{64, 6 * cg.plane()}, {6, cg.filter()}}, Shape{64, cg.image()}) ==
        want);
  CHECK(flops(Conv2dFilter{cg}, std::vector<Shape>{{64, cg.image()}, {64, 6 * cg.plane()}}, Shape{6, cg.filter()}) ==
        want);
}

TEST_CASE("profile: the trace is valid JSON, with events or without") {
  Graph g;
  Tensor x = g.param("x", {8, 8});
  Tensor y = sum(matmul(x, x));
  for (int runs : {0, 2}) {
    CAPTURE(runs);
    Executor ex(g, {.threads = 2, .profile = true});
    for (int i = 0; i < runs; ++i) ex.run({y});
    const auto path = std::filesystem::temp_directory_path() / "ebm_test_trace_valid.json";
    ex.profile().write_chrome_trace(path.string());
    std::ifstream f(path);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(f));
    REQUIRE(j["traceEvents"].is_array());
    size_t spans = 0;
    for (const auto& e : j["traceEvents"]) spans += e["ph"] == "X";
    CHECK(spans == ex.profile().events());
    CHECK(j["traceEvents"].size() == spans + static_cast<size_t>(ex.profile().threads()));
    std::filesystem::remove(path);
  }
}

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The labels of the timeline's bars (their tooltips: "<label> on ..." or "<label> (...").
std::vector<std::string> bar_labels(const std::string& svg) {
  std::vector<std::string> out;
  for (size_t at = svg.find("<title>"); at != std::string::npos; at = svg.find("<title>", at + 1)) {
    const size_t b = at + 7, e = std::min(svg.find(" on ", b), std::min(svg.find(" (", b), svg.find(", ", b)));
    out.push_back(svg.substr(b, e - b));
  }
  return out;
}

}  // namespace

TEST_CASE("profile: the SVG timeline draws the last runs of the plan that took the most time") {
  Graph g;
  Tensor x = g.param("x", {256, 300}), w = g.param("w", {300, 260});
  fill_uniform(g.value(x), -0.5f, 0.5f, 1, 3);
  fill_uniform(g.value(w), -0.5f, 0.5f, 1, 4);
  const Tensor step = tanh(matmul(x, w)), cheap = softmax(g.param("small", {4, 8}));
  Executor ex(g, {.threads = 2, .profile = true});
  const Tensor steps[] = {step}, cheaps[] = {cheap};
  for (int i = 0; i < 5; ++i) {  // the cheap plan runs as often, and last: not the one drawn
    ex.run(steps);
    ex.run(cheaps);
  }
  const auto path = std::filesystem::temp_directory_path() / "ebm_test_timeline.svg";
  ex.profile().write_svg_timeline(path.string(), 3);
  const std::string svg = read_text(path);
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("3 runs of the plan that took the most time, 2 runs of others between") != std::string::npos);
  CHECK(svg.find("thread 0") != std::string::npos);
  CHECK(svg.find("thread 1") != std::string::npos);
  int products = 0;
  for (const std::string& l : bar_labels(svg)) {
    CHECK((l == "fused(matmul+tanh)" || l == "softmax"));
    products += l == "fused(matmul+tanh)";
  }
  CHECK(products >= 3);  // each run: the product's tiles (with tanh on them)
  const size_t busy = svg.find("busy ");
  REQUIRE(busy != std::string::npos);
  const double pct = std::stod(svg.substr(busy + 5));
  CHECK(pct > 0.0);
  CHECK(pct <= 100.0);
  CHECK_THROWS_AS(ex.profile().write_svg_timeline("/no_such_folder/x.svg"), Error);
  CHECK_THROWS_AS(ex.profile().write_svg_timeline(std::filesystem::temp_directory_path().string()), Error);
}

TEST_CASE("profile: the SVG timeline draws only runs all of whose events were kept, never a plan's first of several") {
  Graph g;
  Tensor x = g.param("x", {256, 300}), w = g.param("w", {300, 260});
  fill_uniform(g.value(x), -0.5f, 0.5f, 1, 3);
  fill_uniform(g.value(w), -0.5f, 0.5f, 1, 4);
  const Tensor steps[] = {tanh(matmul(x, w))};
  const auto path = std::filesystem::temp_directory_path() / "ebm_test_timeline_kept.svg";
  Executor idle(g, {.threads = 2, .profile = true});
  idle.profile().write_svg_timeline(path.string());
  CHECK_THROWS_WITH_AS(idle.profile().write_svg_timeline(path.string(), 0),
                       doctest::Contains("runs = 0; expected at least 1"), Error);  // drew one run before
  // (an empty path wrote '.tmp' and failed its rename, saying "Success")
  CHECK_THROWS_WITH_AS(idle.profile().write_chrome_trace(""), doctest::Contains("profile: an empty path; expected a file"),
                       Error);
  Executor unprofiled(g, {.threads = 2});  // an empty profile would read as "0 runs, busy 0%"
  CHECK_THROWS_WITH_AS(unprofiled.profile(),
                       doctest::Contains("records no profile; expected one made with ExecutorOptions{.profile = true}"),
                       Error);
  CHECK(read_text(path).find("no run recorded") != std::string::npos);
  size_t per_run = 0;  // events a run records
  {
    Executor probe(g, {.threads = 2, .profile = true});
    probe.run(steps);
    per_run = probe.profile().events();
  }
  REQUIRE(per_run > 0);
  // Room for five and a half runs: runs 0-4 kept whole, run 5 in part, the rest dropped.
  Executor small(g, {.threads = 2, .profile = true, .profile_events = 5 * per_run + per_run / 2});
  for (int i = 0; i < 10; ++i) small.run(steps);
  REQUIRE(small.profile().dropped() > 0);
  small.profile().write_svg_timeline(path.string(), 20);
  CHECK(read_text(path).find("4 runs of the plan") != std::string::npos);  // 1-4: not 0, the first of several
  small.profile().write_svg_timeline(path.string(), 2);
  CHECK(read_text(path).find("2 runs of the plan") != std::string::npos);
  Executor none_kept(g, {.threads = 2, .profile = true, .profile_events = per_run / 2});
  none_kept.run(steps);
  none_kept.profile().write_svg_timeline(path.string());
  CHECK(read_text(path).find("no run whose events were all kept") != std::string::npos);
  Executor once(g, {.threads = 2, .profile = true});
  once.run(steps);
  once.profile().write_svg_timeline(path.string());
  CHECK(read_text(path).find("1 run of the plan") != std::string::npos);  // a plan's only run is drawn
}

TEST_CASE("profile: a trace that meets a full disk names the file and the cause, and leaves the file before") {
  Graph g;
  Tensor x = g.param("x", {8, 8});
  Executor ex(g, {.threads = 2, .profile = true});
  ex.run({sum(matmul(x, x))});
  const auto path = std::filesystem::temp_directory_path() / "ebm_test_trace_full.json";
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  std::filesystem::remove(tmp);
  std::ofstream(path) << "the trace before";
  std::filesystem::create_symlink("/dev/full", tmp);  // the write goes to <file>.tmp: onto a disk with no room
  std::string msg;
  try {
    ex.profile().write_chrome_trace(path.string());
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find(fmt::format("profile: failed writing '{}' ({})", path.string(),
                             std::generic_category().message(ENOSPC))) != std::string::npos);
  CHECK(read_text(path) == "the trace before");
  CHECK(!std::filesystem::exists(std::filesystem::symlink_status(tmp)));
  std::filesystem::remove(path);
}
