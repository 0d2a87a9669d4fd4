#pragma once
// ebm::gemm: our single-precision GEMM (xsimd micro-kernels, packed panels),
// with the kernel chosen once per process from the CPU: AVX-512, AVX2+FMA or
// a portable fallback. Single-threaded: callers cut large products into
// tiles and run the tiles on their own threads.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>

namespace ebm::gemm {

enum class Isa { generic, avx2, avx512 };

// The ISA sgemm() uses: the best one this CPU runs, or the one named by the
// environment variable EBM_GEMM_ISA=generic|avx2|avx512 (read once; an
// unknown or unsupported name is an ebm::Error).
Isa active_isa();
std::string_view isa_name(Isa isa);
// The ISA named "generic", "avx2" or "avx512"; an ebm::Error for any other
// name or one this CPU or build cannot run.
Isa isa_from_name(std::string_view name);
// Whether this build and this CPU can run the kernels of `isa`.
bool isa_supported(Isa isa);

// Pack buffers for one thread's products (about 1.7 MB), allocated once.
// A caller that runs GEMMs on several threads keeps one per thread and
// passes it in, so no product allocates; sgemm() without one uses buffers of
// the calling thread, allocated on that thread's first call.
// Frees the 64-byte aligned float arrays of pack buffers.
struct AlignedDelete {
  void operator()(float* p) const;
};

class Workspace {
 public:
  Workspace();
  float* a() const { return a_.get(); }
  float* b() const { return b_.get(); }
  // A buffer of at least `floats` floats for one output tile, grown on
  // demand (a run allocates only on its first tiles), kept between calls.
  float* tile(int64_t floats);
  // Another such buffer, for an op's own use around its products (the
  // convolutions' unrolled image patches, which it may pass to sgemm as an
  // operand); sgemm never uses it on its own.
  float* scratch(int64_t floats);

 private:
  std::unique_ptr<float[], AlignedDelete> a_, b_, tile_, scratch_;
  int64_t tile_floats_ = 0, scratch_floats_ = 0;
};

// C = alpha op(A) op(B) + beta C, row-major, op(X) = X^T when the flag is
// set; op(A) is m x k, op(B) k x n, C m x n. Same contract as
// cblas_sgemm(CblasRowMajor, ...). With beta == 0, C is only written (it may
// hold NaN). No alignment needed; no allocation after a thread's first call.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The same with the given pack buffers.
void sgemm(Workspace& ws, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The same with the kernels of `isa` (an ebm::Error when unsupported).
void sgemm(Isa isa, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Zero skipping (on by default): an A block at most a third nonzero (36%
// when every nonzero is 1), such as a batch of sampled binary states or of
// MNIST digits, is multiplied by its nonzeros only, in the order the dense
// kernel sums them, so C keeps the dense kernel's bits whenever B is
// finite. Process-wide; turning it off (here, or with the environment
// variable EBM_GEMM_SKIP_ZEROS=0, read on first use; another value than 0
// or 1 is an ebm::Error) serves benchmarks that want the dense rate.
void set_skip_zeros(bool on);
bool skip_zeros();
// EBM_GEMM_SKIP_ZEROS's reading of `value`: "1" or empty true, "0" false,
// anything else an ebm::Error naming the variable and the values it takes.
bool skip_zeros_from_name(std::string_view value);

// Write-ahead (on by default): when the caller will write a tile's worth
// of some matrix as soon as the tile is computed (a fused SGD update of the
// weights whose gradient the tile is), it hands that rectangle to
// WriteAheadScope, and the product claims its cache lines for writing
// (PREFETCHW), a few between micro-kernel calls, so that taking lines the
// other core holds overlaps the arithmetic instead of stalling the update.
// Changes no bit. Process-wide; turning it off (here, or with
// EBM_GEMM_WRITE_AHEAD=0, read on first use; another value than 0 or 1 is
// an ebm::Error) serves the benchmarks' A/B readings.
void set_write_ahead(bool on);
bool write_ahead();
bool write_ahead_from_name(std::string_view value);
// Lines claimed ahead so far in this process, counted per tile (tests and
// benchmarks see that the path ran).
int64_t claimed_lines();

// Micro-kernel calls (of the active ISA) a product of m x n over depth k
// makes: its pace for claiming lines. `listed`: A is mostly zeros (rows
// go four to a call).
int64_t micro_kernel_calls(int64_t m, int64_t n, int64_t k, bool listed);

// A rectangle of memory (`rows` rows of `row_bytes` bytes, `stride` bytes
// apart, anywhere in their cache lines) claimed for writing, line by line:
// each call of step() claims the next ceil(lines / steps) of the lines the
// rows touch, so that about `steps` calls claim them all.
class WriteAhead {
 public:
  WriteAhead(void* base, int64_t rows, int64_t row_bytes, int64_t stride, int64_t steps);
  // The next line to claim (its first byte, 64-aligned), or null once
  // every line has been: the rows in order, each from the line holding its
  // first byte to the one holding its last.
  const char* next() noexcept {
    if (row_ == rows_) return nullptr;
    const uintptr_t line = at_;
    if ((at_ += 64) >= row_end_ && ++row_ < rows_) start_row();
    return reinterpret_cast<const char*>(line);
  }
  void step() noexcept {
    for (int64_t i = 0; i < per_step_; ++i) {
      const char* line = next();
      if (!line) return;
#if defined(__x86_64__)
      asm volatile("prefetchw %0" ::"m"(*line));  // a NOP on the rare x86-64 without it
#else
      __builtin_prefetch(line, 1, 3);
#endif
      ++claimed_;
    }
  }
  bool done() const { return row_ == rows_; }
  int64_t claimed() const { return claimed_; }  // lines claimed so far
  int64_t lines() const { return lines_; }      // lines the rectangle touches (a line two rows share counts twice)

 private:
  void start_row() noexcept {  // addresses as integers: a row's first line may start before the object
    const uintptr_t first = reinterpret_cast<uintptr_t>(base_ + row_ * stride_);
    at_ = first & ~uintptr_t{63};
    row_end_ = first + static_cast<uintptr_t>(row_bytes_);
  }
  const char* base_;
  int64_t rows_, row_bytes_, stride_, per_step_ = 0, lines_ = 0;
  int64_t row_ = 0, claimed_ = 0;
  uintptr_t at_ = 0, row_end_ = 0;
};

// Makes w the calling thread's write-ahead while it lives: the products
// this thread runs meanwhile step it between micro-kernel calls.
// On leaving, adds the lines w claimed to claimed_lines().
class WriteAheadScope {
 public:
  explicit WriteAheadScope(WriteAhead* w);
  ~WriteAheadScope();
  WriteAheadScope(const WriteAheadScope&) = delete;
  WriteAheadScope& operator=(const WriteAheadScope&) = delete;

 private:
  WriteAhead* w_;
  WriteAhead* previous_;
};

// Packed copies of B operands that stay constant while a graph runs: the
// parameters several products read, such as W in every Gibbs step of a
// chain. The panels of one B tile are packed on the first product that
// needs them in a run and reused by every later one; new_run() invalidates
// them all (parameters change between runs). Buffers are kept and reused,
// so nothing is allocated once the shapes have been seen. Thread-safe.
class PackCache {
 public:
  PackCache();
  ~PackCache();
  PackCache(const PackCache&) = delete;
  PackCache& operator=(const PackCache&) = delete;
  void new_run();
  // op(B) of a product with n columns and depth k (B at b, leading
  // dimension ldb), packed for sgemm_packed_b. `tag` tells apart values
  // that share memory at different times of one run (an arena buffer
  // reused): the same b with another tag is another entry.
  const float* packed_b(bool tb, int64_t n, int64_t k, const float* b, int64_t ldb, uint32_t tag = 0);
  int64_t entries() const;  // distinct B tiles seen
  int64_t packs() const;    // times a tile was packed, over all runs

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// sgemm with op(B) given as packed_b(tb, n, k, ...) of a PackCache: no B
// pack. Same bits as sgemm on the same B. ws null: the thread's buffers.
void sgemm_packed_b(Workspace* ws, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* packed_b, float beta, float* c, int64_t ldc);

// How the engine cuts an m x n product into tiles, one single-threaded
// sgemm each: ceil(m / max_rows) x ceil(n / max_cols) near-equal pieces,
// inner row boundaries on multiples of 16 and column boundaries between
// 32-column panels, each tile a near-equal share of them (the widest
// micro-kernel's panel is 32 columns, AVX-512; 16 with AVX2), since a
// part-filled panel costs as much as a full one: 500 columns cut
// 256 | 244 are 8 panels each, where 240 | 260 made one tile 8 panels and
// the other 9 (CD-1 and fine-tuning steps 2% faster, in-process A/B). A
// narrow product (at most 32 columns
// in one tile, a layer of 10 labels say) with 64 rows or more still gets two
// row tiles, so two threads share it; its B panel is small, so packing it
// twice costs little. With sparse_a (op(A) mostly zeros, which zero
// skipping lists block by block), a product of at least 512 rows and at
// most 512 columns is cut in rows only, into as many tiles, so each row
// block is listed once rather than once per column tile: CD-1's weight
// statistics (784 x 500 from sampled states) gave 5-9% faster epochs; with
// a dense A the mixed grid is faster, except in a shallow product: given
// its depth k of at most 256 (a weight gradient's, whose depth is the
// batch), at least 500 rows and at most 2048 columns, a product is cut in
// rows only whatever A holds, each tile then writing whole rows of C. Give
// the depth only when each thread keeps B (k x n) packed across its row
// tiles (the executor's per-thread packs), or every row tile packs all of
// B again. CD-1's dense and fine-tuning's steps about 2% (1-3%) faster,
// their GEMMs alone wired as in the steps about 1% (in-process A/B,
// docs/performance.md). No grid changes a bit of C (each element sums the
// same products in the same order), so the grid may depend on A's values.
struct TileGrid {
  int64_t m, n, rows, cols;  // the product's shape; tiles down and across
  int64_t tiles() const { return rows * cols; }
  // The start of row piece r (r == rows gives m) and of column piece c.
  int64_t row_start(int64_t r) const { return r >= rows ? m : (r * m / rows) / 16 * 16; }
  int64_t col_start(int64_t c) const {  // c of `cols` shares of the ceil(n / 32) panels, rounded to the nearest
    const int64_t panels = (n + 31) / 32;
    return c >= cols ? n : std::min(n, (2 * c * panels + cols) / (2 * cols) * 32);
  }
};
TileGrid tile_grid(int64_t m, int64_t n, int64_t max_rows = 256, int64_t max_cols = 256, bool sparse_a = false,
                   int64_t depth = 0);
// Whether sparse_a can change tile_grid(m, n) (with its default limits and
// the product's depth, 0 when unknown).
bool grid_depends_on_sparsity(int64_t m, int64_t n, int64_t depth = 0);
// The most floats a tile of any grid tile_grid may choose for an m x n
// product holds (its default limits, A sparse or not, any depth): what a
// thread's tile buffer needs for that product.
int64_t max_tile_floats(int64_t m, int64_t n);
// Whether every grid tile_grid may choose for an m x n product (with its
// default limits, A sparse or not, any depth) has one row of tiles, so that
// each tile spans all m rows of its columns.
bool full_row_tiles(int64_t m, int64_t n);
// Whether at most kSparseDensity (33%) of x[0:count) is nonzero: a
// sample of A for tile_grid's sparse_a.
bool mostly_zeros(const float* x, int64_t count);

namespace detail {

// One product, as the ISA kernels receive it (m, n, k > 0).
struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  const float* packed_b = nullptr;  // op(B) already packed by pack_b_<isa>, or null
  bool skip_zeros = false;          // multiply sparse A blocks by their nonzeros only
};

// The pack buffers (64-byte aligned), at least kPackA and kPackB floats.
struct Workspace {
  float* a;
  float* b;
};

// Block limits shared by all ISAs: a packed A block is at most kMc x kKc
// (rows rounded up to the register block), a packed B block kKc x kNc.
constexpr int64_t kKc = 384, kMc = 288, kNc = 768;
constexpr int64_t kPackA = (kMc + 16) * kKc, kPackB = (kNc + 32) * kKc;
// An A block at most this dense is multiplied by its nonzeros only: binary
// (all nonzeros 1, summed by adds) or not (FMAs). Beyond these the lists
// cost more than the dense kernel (measured on the CD-1 and fine-tuning
// shapes). The lists, a depth and a value per nonzero, fit the two halves
// of the A pack buffer with 16 to spare.
constexpr double kSparseDensity = 0.33, kBinaryDensity = 0.36;
static_assert(kBinaryDensity * kMc * kKc + 16 <= kPackA / 2);

// The calling thread's write-ahead (WriteAheadScope), stepped by the
// kernels after each micro-kernel call.
extern thread_local WriteAhead* thread_write_ahead;
inline void step_write_ahead() noexcept {
  if (WriteAhead* w = thread_write_ahead) w->step();
}

void sgemm_generic(const Problem& p, Workspace w);
void sgemm_avx2(const Problem& p, Workspace w);
void sgemm_avx512(const Problem& p, Workspace w);
// Packs op(B) of p as sgemm_<isa> walks it into dst (64-byte aligned) and
// returns the floats written; with dst null, only the count.
int64_t pack_b_generic(const Problem& p, float* dst);
int64_t pack_b_avx2(const Problem& p, float* dst);
int64_t pack_b_avx512(const Problem& p, float* dst);

}  // namespace detail
}  // namespace ebm::gemm
