// The scheduler's profiler: the Chrome trace file and the summary table,
// and a product's tiles recorded as its threads' work.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "graph/init.hpp"
#include "ops/gemm.hpp"

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
  CHECK(text.find("\"thread_name\"") != std::string::npos);
  // Per run: 2 task spans, the work beside them and the product's one 64 x 64 tile.
  int spans = 0, pieces = 0;
  for (const Profile::Event& e : ex.profile().recorded()) (e.piece ? pieces : spans) += 1;
  CHECK(spans == 9);
  CHECK(pieces == 3);
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
