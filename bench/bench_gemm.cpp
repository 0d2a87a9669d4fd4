// bench_gemm: GFLOP/s of our GEMM (ebm::gemm::sgemm, the ISA it picks) and
// of CBLAS (the system OpenBLAS) on the CD-1 and fine-tuning shapes of the
// 784-500-500-2000-10 net, batch 100, and on 1024^3; 1 and 2 threads.
//
//   ours_1t         one sgemm call
//   ours_tiled_1t   the engine's tile grid (ebm::gemm::tile_grid: at most
//                   256 x 256 per tile, balanced, boundaries on multiples of
//                   16, narrow products in two row tiles) run serially
//   ours_2t         that grid on a 2-thread oneTBB arena (tbb::parallel_for
//                   over the tiles, one single-threaded sgemm per tile), as
//                   ops/linear.cpp's tiled_gemm runs it
//   ours_2t_RxC     the same with other tile limits (rows x cols)
//   openblas_*      cblas_sgemm with openblas_set_num_threads(1 or 2)
//   openblas_avx512_*  the same in a child process run with
//                   OPENBLAS_CORETYPE=SkylakeX (this program re-run with
//                   --avx512-child), OpenBLAS's AVX-512 kernels
//
// Each figure: warm-up, then the median of `rounds` interleaved rounds, each
// the mean over enough calls to last ~10 ms. The machine is shared, so a
// ratio compares figures taken side by side: the child also times ours_1t
// and ours_2t between its OpenBLAS calls, and
// <shape>_ours_vs_openblas_avx512_{1t,2t} divides those paired medians.
// Zero skipping (ops/gemm.hpp), one thread, on CD-1's three shapes with A
// about d nonzero (iid), binary (b: every nonzero 1, as sampled states) or
// not (v: uniform in (0, 1], as scaled pixels):
//   zeros_<shape>_<b|v><d>_vs_dense  time with skipping / time without
//
// Headline last: min_ours_vs_openblas_avx512 over all shapes and both thread
// counts (the target is >= 0.9).
//
// Usage: bench_gemm [--rounds N] [--avx512-child]

#include <cblas.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "bench/timing.hpp"
#include "ops/gemm.hpp"

namespace {

struct Shape {
  int64_t m, n, k;
  bool ta, tb;
  std::string name() const { return fmt::format("{}x{}x{}{}{}", m, n, k, ta ? "_ta" : "", tb ? "_tb" : ""); }
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
};

// CD-1 (v0 W, h0 W', the weight gradient) and the fine-tuning products:
// forward x W, backward dX = dY W^T and dW = X^T dY per layer; then 1024^3.
const std::vector<Shape> kShapes{
    {100, 500, 784, false, false},  {100, 784, 500, false, true},   {784, 500, 100, true, false},
    {100, 500, 500, false, false},  {100, 2000, 500, false, false}, {100, 10, 2000, false, false},
    {100, 500, 500, false, true},   {100, 500, 2000, false, true},  {100, 2000, 10, false, true},
    {500, 500, 100, true, false},   {500, 2000, 100, true, false},  {2000, 10, 100, true, false},
    {1024, 1024, 1024, false, false}};

struct Operands {
  Shape s;
  std::vector<float> a, b, c;
  int64_t lda() const { return s.ta ? s.m : s.k; }
  int64_t ldb() const { return s.tb ? s.k : s.n; }
};

Operands make_operands(const Shape& s, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Operands o{s, std::vector<float>(size_t(s.m * s.k)), std::vector<float>(size_t(s.k * s.n)),
             std::vector<float>(size_t(s.m * s.n))};
  for (float& x : o.a) x = u(rng);
  for (float& x : o.b) x = u(rng);
  return o;
}

struct Grid {
  int64_t rows, cols;  // tile limits
};

// C = op(A) op(B) on the engine's tile grid (ebm::gemm::tile_grid) with the
// given limits: serially, or with tbb::parallel_for on `arena`.
void tiled_sgemm(Operands& o, Grid g, tbb::task_arena* arena) {
  const Shape& s = o.s;
  const ebm::gemm::TileGrid grid = ebm::gemm::tile_grid(s.m, s.n, g.rows, g.cols);
  auto tile = [&](int64_t t) {
    const int64_t i0 = grid.row_start(t / grid.cols), i1 = grid.row_start(t / grid.cols + 1);
    const int64_t j0 = grid.col_start(t % grid.cols), j1 = grid.col_start(t % grid.cols + 1);
    if (i0 == i1 || j0 == j1) return;
    const float* a = s.ta ? o.a.data() + i0 : o.a.data() + i0 * s.k;
    const float* b = s.tb ? o.b.data() + j0 * s.k : o.b.data() + j0;
    ebm::gemm::sgemm(s.ta, s.tb, i1 - i0, j1 - j0, s.k, 1.0f, a, o.lda(), b, o.ldb(), 0.0f,
                     o.c.data() + i0 * s.n + j0, s.n);
  };
  if (arena == nullptr)
    for (int64_t t = 0; t < grid.tiles(); ++t) tile(t);
  else
    arena->execute([&] { tbb::parallel_for(int64_t{0}, grid.tiles(), tile); });
}

void cblas(Operands& o, int threads) {
  const Shape& s = o.s;
  openblas_set_num_threads(threads);
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.m), int(s.n),
              int(s.k), 1.0f, o.a.data(), int(o.lda()), o.b.data(), int(o.ldb()), 0.0f, o.c.data(), int(s.n));
}

struct Figure {
  Figure(std::string n, std::function<void()> f) : name(std::move(n)), call(std::move(f)) {}
  std::string name;
  std::function<void()> call;
  int calls = 1;
  std::vector<double> seconds;
};

// GFLOP/s of each figure: warm-up (which also sizes the calls per sample),
// then `rounds` interleaved samples; returns name -> median GFLOP/s.
std::map<std::string, double> measure(std::vector<Figure>& figs, double flops, int rounds) {
  for (Figure& f : figs) {
    const auto t0 = bench::Clock::now();
    int n = 0;
    bench::warm_up([&] { f.call(), ++n; }, 0.03);
    f.calls = std::max(1, int(0.01 * n / bench::seconds_since(t0)));
  }
  for (int r = 0; r < rounds; ++r)
    for (Figure& f : figs) f.seconds.push_back(bench::time_per_call(f.call, f.calls));
  std::map<std::string, double> out;
  for (Figure& f : figs) out[f.name] = flops / bench::median(f.seconds) * 1e-9;
  return out;
}

// This program re-run with OPENBLAS_CORETYPE=SkylakeX --avx512-child; its
// key=value lines. None on a CPU (or OS) without AVX-512, where no child is
// started: OpenBLAS's SkylakeX kernels would stop it with an illegal
// instruction.
std::map<std::string, double> run_avx512_child(int rounds) {
  if (!ebm::gemm::isa_supported(ebm::gemm::Isa::avx512)) {
    bench::print_comment("this CPU (or OS) does not run AVX-512: no OpenBLAS AVX-512 child");
    return {};
  }
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = fmt::format("OPENBLAS_CORETYPE=SkylakeX '{}' --avx512-child --rounds {}", exe, rounds);
  std::map<std::string, double> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    const char* eq = std::strchr(line, '=');
    if (line[0] == '#') bench::print_comment(fmt::format("child: {}", std::string_view(line + 2).substr(0, std::strlen(line + 2) - 1)));
    if (line[0] != '#' && eq != nullptr) out[std::string(line, size_t(eq - line))] = std::atof(eq + 1);
  }
  pclose(p);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bench::command_line(argc, argv,
                      "bench_gemm: GFLOP/s of ebm::gemm and of OpenBLAS on the CD-1 and fine-tuning shapes and "
                      "1024^3, 1 and 2 threads. --rounds N sets the rounds (9).", {"--rounds=", "--avx512-child"});
  bool child = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--avx512-child") == 0) child = true;
  }
  const int rounds = static_cast<int>(bench::int_flag(argc, argv, "--rounds", 9, 1, 10000));
  std::mt19937 rng(3);
  tbb::task_arena arena(2);
  const Grid engine{256, 256};
  if (child) {  // OpenBLAS on this process's core, with ours between its calls
    bench::print_comment(fmt::format("openblas core: {}", openblas_get_corename()));
    for (const Shape& s : kShapes) {
      Operands o = make_operands(s, rng);
      std::vector<Figure> figs{{"openblas_1t", [&] { cblas(o, 1); }},
                               {"ours_1t", [&] { ebm::gemm::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.a.data(), o.lda(), o.b.data(), o.ldb(), 0.0f, o.c.data(), s.n); }},
                               {"openblas_2t", [&] { cblas(o, 2); }},
                               {"ours_2t", [&] { tiled_sgemm(o, engine, &arena); }}};
      for (const auto& [name, g] : measure(figs, s.flops(), rounds)) bench::print_value(s.name() + "_" + name, g, 1);
    }
    return 0;
  }
  const std::map<std::string, double> avx512 = run_avx512_child(rounds);
  bench::print_comment(fmt::format("ours: ebm::gemm isa {}; openblas core (default): {}",
                                   ebm::gemm::isa_name(ebm::gemm::active_isa()), openblas_get_corename()));
  const std::vector<Grid> others{{128, 256}, {256, 128}, {128, 128}, {64, 256}};
  double min_ratio = 1e30;
  std::map<std::string, std::vector<double>> grid_ratio;  // other grid / engine grid, 2 threads
  for (const Shape& s : kShapes) {
    Operands o = make_operands(s, rng);
    std::vector<Figure> figs{{"ours_1t", [&] { ebm::gemm::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.a.data(), o.lda(), o.b.data(), o.ldb(), 0.0f, o.c.data(), s.n); }},
                             {"ours_tiled_1t", [&] { tiled_sgemm(o, engine, nullptr); }},
                             {"ours_2t", [&] { tiled_sgemm(o, engine, &arena); }},
                             {"openblas_1t", [&] { cblas(o, 1); }},
                             {"openblas_2t", [&] { cblas(o, 2); }}};
    for (const Grid& g : others)
      figs.push_back({fmt::format("ours_2t_{}x{}", g.rows, g.cols), [&o, g, &arena] { tiled_sgemm(o, g, &arena); }});
    const std::map<std::string, double> r = measure(figs, s.flops(), rounds);
    for (const Figure& f : figs) bench::print_value(fmt::format("{}_{}_gflops", s.name(), f.name), r.at(f.name), 1);
    for (const Grid& g : others)
      grid_ratio[fmt::format("{}x{}", g.rows, g.cols)].push_back(r.at(fmt::format("ours_2t_{}x{}", g.rows, g.cols)) / r.at("ours_2t"));
    for (int t : {1, 2}) {
      const auto ref = avx512.find(fmt::format("{}_openblas_{}t", s.name(), t));
      const auto ours = avx512.find(fmt::format("{}_ours_{}t", s.name(), t));
      if (ref == avx512.end() || ours == avx512.end()) continue;
      bench::print_value(fmt::format("{}_openblas_avx512_{}t_gflops", s.name(), t), ref->second, 1);
      bench::print_value(fmt::format("{}_ours_beside_avx512_{}t_gflops", s.name(), t), ours->second, 1);
      const double ratio = ours->second / ref->second;
      bench::print_value(fmt::format("{}_ours_vs_openblas_avx512_{}t", s.name(), t), ratio);
      min_ratio = std::min(min_ratio, ratio);
    }
  }
  for (const Shape& s : {kShapes[0], kShapes[1], kShapes[2]})
    for (const auto& [binary, density] :
         {std::pair{true, 0.13}, {true, 0.3}, {true, 0.4}, {false, 0.19}, {false, 0.3}}) {
      Operands o = make_operands(s, rng);
      std::uniform_real_distribution<float> u(0.0f, 1.0f);
      for (float& x : o.a) x = u(rng) >= density ? 0.0f : binary ? 1.0f : 1.0f - u(rng);
      auto product = [&](bool skip) {
        ebm::gemm::set_skip_zeros(skip);
        ebm::gemm::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.a.data(), o.lda(), o.b.data(), o.ldb(), 0.0f,
                         o.c.data(), s.n);
      };
      std::vector<Figure> figs{{"skip", [&] { product(true); }}, {"dense", [&] { product(false); }}};
      const std::map<std::string, double> r = measure(figs, s.flops(), rounds);
      bench::print_value(fmt::format("zeros_{}_{}{}_vs_dense", s.name(), binary ? "b" : "v", density),
                         r.at("dense") / r.at("skip"));
    }
  ebm::gemm::set_skip_zeros(true);
  for (const auto& [grid, ratios] : grid_ratio)
    bench::print_value(fmt::format("grid_{}_vs_256x256_2t_median", grid), bench::median(ratios));
  if (avx512.empty()) bench::print_comment("the OPENBLAS_CORETYPE=SkylakeX child gave no figures");
  bench::print_other_load();
  bench::print_value("min_ours_vs_openblas_avx512", avx512.empty() ? 0.0 : min_ratio);
}
