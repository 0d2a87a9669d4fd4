// ebm::gemm dispatch: picks the ISA once, owns the per-thread pack buffers,
// and handles the products the blocked kernels never see (an empty C, k = 0
// or alpha = 0: then C = beta C).

#include "ops/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <memory>
#include <new>
#include <string>

#include "ops/error.hpp"

namespace ebm::gemm {
namespace {

constexpr std::string_view kAccepted = "generic, avx2, avx512";

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::generic;
}

Isa isa_from_env() {
  const char* env = std::getenv("EBM_GEMM_ISA");
  return env == nullptr || *env == '\0' ? best_isa() : isa_from_name(env);
}

// The calling thread's pack buffers, allocated on its first product.
detail::Workspace thread_workspace() {
  thread_local const Workspace ws;
  return {ws.a(), ws.b()};
}

// C = beta C over m x n (C not read when beta == 0).
void scale(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

// The kernels of one ISA.
struct IsaKernels {
  void (*sgemm)(const detail::Problem&, detail::Workspace);
  int64_t (*pack_b)(const detail::Problem&, float*);
};

IsaKernels kernels(Isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx512:
      return {detail::sgemm_avx512, detail::pack_b_avx512};
    case Isa::avx2:
      return {detail::sgemm_avx2, detail::pack_b_avx2};
#endif
    default:
      return {detail::sgemm_generic, detail::pack_b_generic};
  }
}

// A process-wide on/off switch: on by default, read from its environment
// variable (by `from_name`) on first use unless set before.
struct Switch {
  const char* variable;
  bool (*from_name)(std::string_view);
  std::atomic<int> state{-1};  // 1 or 0 once set or read; -1 before

  void set(bool on) { state.store(on ? 1 : 0, std::memory_order_relaxed); }
  bool get() {
    int on = state.load(std::memory_order_relaxed);
    if (on < 0) {  // first use: the environment's choice, unless set meanwhile
      const char* env = std::getenv(variable);
      int unset = -1;
      state.compare_exchange_strong(unset, env == nullptr || from_name(env) ? 1 : 0, std::memory_order_relaxed);
      on = state.load(std::memory_order_relaxed);
    }
    return on == 1;
  }
};

// "1" or empty true, "0" false, anything else an ebm::Error naming the
// variable and what 0 means.
bool switch_from_name(std::string_view value, const char* variable, const char* off) {
  if (value.empty() || value == "1") return true;
  if (value == "0") return false;
  throw Error("{}={}: expected 0 ({}) or 1 (the default)", variable, value, off);
}

Switch zeros_skipped{"EBM_GEMM_SKIP_ZEROS", skip_zeros_from_name};
Switch write_ahead_on{"EBM_GEMM_WRITE_AHEAD", write_ahead_from_name};
std::atomic<int64_t> lines_claimed{0};  // claimed_lines()

// The kernels store alpha acc + C (beta 1) or alpha acc (beta 0): one
// product per sum, so each element is one fused multiply-add whatever the
// compiler inlines (xsimd's AVX-512 fma is x * y + z, fused by contraction;
// with two products in one sum, either could be the fused one). Any other
// beta scales C first.
void run(Isa isa, detail::Problem p, detail::Workspace w) {
  if (p.beta != 0.0f && p.beta != 1.0f) {
    scale(p.m, p.n, p.beta, p.c, p.ldc);
    p.beta = 1.0f;
  }
  p.skip_zeros = skip_zeros();
  kernels(isa).sgemm(p, w);
}

}  // namespace

struct PackCache::Impl {
  struct Entry {
    bool tb;
    int64_t n, k, ldb;
    const float* b;
    uint32_t tag;
    uint64_t run = 0;  // the run its panels were packed in (0: never)
    int64_t capacity = 0;
    std::unique_ptr<float[], AlignedDelete> data;
    std::mutex m;
  };
  mutable std::mutex m;
  std::deque<Entry> entries;  // never moves an entry
  std::atomic<uint64_t> run{1};
  std::atomic<int64_t> packs{0};
};

PackCache::PackCache() : impl_(std::make_unique<Impl>()) {}
PackCache::~PackCache() = default;

void PackCache::new_run() { impl_->run.fetch_add(1, std::memory_order_relaxed); }

const float* PackCache::packed_b(bool tb, int64_t n, int64_t k, const float* b, int64_t ldb, uint32_t tag) {
  if (n <= 0 || k <= 0) return nullptr;  // nothing to pack; sgemm_packed_b does not read it
  Impl& im = *impl_;
  Impl::Entry* e = nullptr;
  {
    std::lock_guard lock(im.m);
    for (Impl::Entry& x : im.entries)
      if (x.b == b && x.tag == tag && x.tb == tb && x.n == n && x.k == k && x.ldb == ldb) {
        e = &x;
        break;
      }
    if (e == nullptr) {
      e = &im.entries.emplace_back();
      e->tb = tb, e->n = n, e->k = k, e->ldb = ldb, e->b = b, e->tag = tag;
    }
  }
  std::lock_guard lock(e->m);
  const uint64_t run = im.run.load(std::memory_order_relaxed);
  if (e->run != run) {
    const Isa isa = active_isa();
    const detail::Problem p{false, tb, 1, n, k, 1.0f, nullptr, k, b, ldb, 0.0f, nullptr, n};
    const auto pack = kernels(isa).pack_b;
    const int64_t size = pack(p, nullptr);
    if (size > e->capacity) {
      e->data.reset(static_cast<float*>(::operator new[](sizeof(float) * size_t(size), std::align_val_t{64})));
      e->capacity = size;
    }
    pack(p, e->data.get());
    e->run = run;
    im.packs.fetch_add(1, std::memory_order_relaxed);
  }
  return e->data.get();
}

int64_t PackCache::entries() const {
  std::lock_guard lock(impl_->m);
  return static_cast<int64_t>(impl_->entries.size());
}

int64_t PackCache::packs() const { return impl_->packs.load(); }

void sgemm_packed_b(Workspace* ws, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* packed_b, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return scale(m, n, beta, c, ldc);
  detail::Problem p{ta, tb, m, n, k, alpha, a, lda, nullptr, 0, beta, c, ldc};
  p.packed_b = packed_b;
  run(active_isa(), p, ws ? detail::Workspace{ws->a(), ws->b()} : thread_workspace());
}

bool skip_zeros_from_name(std::string_view value) {
  return switch_from_name(value, "EBM_GEMM_SKIP_ZEROS", "multiply every A block dense");
}
void set_skip_zeros(bool on) { zeros_skipped.set(on); }
bool skip_zeros() { return zeros_skipped.get(); }

bool write_ahead_from_name(std::string_view value) {
  return switch_from_name(value, "EBM_GEMM_WRITE_AHEAD", "no lines claimed ahead");
}
void set_write_ahead(bool on) { write_ahead_on.set(on); }
bool write_ahead() { return write_ahead_on.get(); }

int64_t micro_kernel_calls(int64_t m, int64_t n, int64_t k, bool listed) {
  const Isa isa = active_isa();
  const int64_t rows = listed ? 4 : isa == Isa::avx512 ? 12 : 6;  // detail::mr_of
  const int64_t cols = isa == Isa::avx512 ? 32 : isa == Isa::avx2 ? 16 : 8;  // two vectors
  const int64_t slabs = (k + detail::kKc - 1) / detail::kKc;
  return std::max<int64_t>(1, (m + rows - 1) / rows * ((n + cols - 1) / cols) * slabs);
}

WriteAhead::WriteAhead(void* base, int64_t rows, int64_t row_bytes, int64_t stride, int64_t steps)
    : base_(static_cast<const char*>(base)),
      rows_(row_bytes > 0 ? std::max<int64_t>(rows, 0) : 0),
      row_bytes_(row_bytes),
      stride_(stride) {
  for (int64_t r = 0; r < rows_; ++r) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(base_ + r * stride_);
    lines_ += static_cast<int64_t>(((first + static_cast<uintptr_t>(row_bytes_) - 1) >> 6) - (first >> 6) + 1);
  }
  per_step_ = (lines_ + std::max<int64_t>(steps, 1) - 1) / std::max<int64_t>(steps, 1);
  if (rows_ > 0) start_row();
}

namespace detail {
thread_local WriteAhead* thread_write_ahead = nullptr;
}  // namespace detail

int64_t claimed_lines() { return lines_claimed.load(std::memory_order_relaxed); }

WriteAheadScope::WriteAheadScope(WriteAhead* w) : w_(w), previous_(detail::thread_write_ahead) {
  detail::thread_write_ahead = w;
}

WriteAheadScope::~WriteAheadScope() {
  detail::thread_write_ahead = previous_;
  if (w_) lines_claimed.fetch_add(w_->claimed(), std::memory_order_relaxed);
}

TileGrid tile_grid(int64_t m, int64_t n, int64_t max_rows, int64_t max_cols, bool sparse_a, int64_t depth) {
  const int64_t cols = (n + max_cols - 1) / max_cols;
  const bool narrow = cols == 1 && n <= 32 && m >= 64;
  const int64_t rows = std::max((m + max_rows - 1) / max_rows, narrow ? int64_t{2} : int64_t{1});
  const bool shallow = depth > 0 && depth <= 256 && m >= 500 && n <= 2048;
  if (cols > 1 && (shallow || (sparse_a && m >= 512 && n <= 512))) return {m, n, rows * cols, 1};
  return {m, n, rows, cols};
}

bool grid_depends_on_sparsity(int64_t m, int64_t n, int64_t depth) {
  return tile_grid(m, n, 256, 256, false, depth).rows != tile_grid(m, n, 256, 256, true, depth).rows;
}

int64_t max_tile_floats(int64_t m, int64_t n) {
  int64_t most = 0;
  for (const bool sparse : {false, true})
    for (const int64_t depth : {int64_t{0}, int64_t{1}}) {  // depth 1: the shallow products' grids too
      const TileGrid g = tile_grid(m, n, 256, 256, sparse, depth);
      int64_t rows = 0, cols = 0;
      for (int64_t r = 0; r < g.rows; ++r) rows = std::max(rows, g.row_start(r + 1) - g.row_start(r));
      for (int64_t c = 0; c < g.cols; ++c) cols = std::max(cols, g.col_start(c + 1) - g.col_start(c));
      most = std::max(most, rows * cols);
    }
  return most;
}

bool full_row_tiles(int64_t m, int64_t n) {
  for (const bool sparse : {false, true})
    for (const int64_t depth : {int64_t{0}, int64_t{1}})  // depth 1: the shallow products' grids too
      if (tile_grid(m, n, 256, 256, sparse, depth).rows != 1) return false;
  return true;
}

bool mostly_zeros(const float* x, int64_t count) {
  int64_t nonzero = 0;
  for (int64_t i = 0; i < count; ++i) nonzero += x[i] != 0.0f;
  return static_cast<double>(nonzero) <= detail::kSparseDensity * static_cast<double>(count);
}

void AlignedDelete::operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }

Workspace::Workspace()
    : a_(static_cast<float*>(::operator new[](sizeof(float) * size_t(detail::kPackA), std::align_val_t{64}))),
      b_(static_cast<float*>(::operator new[](sizeof(float) * size_t(detail::kPackB), std::align_val_t{64}))) {}

float* Workspace::tile(int64_t floats) {
  if (floats > tile_floats_) {
    tile_.reset(static_cast<float*>(::operator new[](sizeof(float) * size_t(floats), std::align_val_t{64})));
    tile_floats_ = floats;
  }
  return tile_.get();
}

float* Workspace::scratch(int64_t floats) {
  if (floats > scratch_floats_) {
    scratch_.reset(static_cast<float*>(::operator new[](sizeof(float) * size_t(floats), std::align_val_t{64})));
    scratch_floats_ = floats;
  }
  return scratch_.get();
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::generic:
      return true;
#if defined(__x86_64__)
    case Isa::avx2:
      return __builtin_cpu_supports("x86-64-v3");
    case Isa::avx512:
      return __builtin_cpu_supports("x86-64-v4");
#endif
    default:
      return false;
  }
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    default:
      return "generic";
  }
}

Isa isa_from_name(std::string_view name) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (name != isa_name(isa)) continue;
    if (!isa_supported(isa))
      throw Error("EBM_GEMM_ISA={}: this CPU or build cannot run it; expected a supported one of {}", name, kAccepted);
    return isa;
  }
  throw Error("EBM_GEMM_ISA={}: unknown instruction set; expected one of {}", name, kAccepted);
}

Isa active_isa() {
  static const Isa isa = isa_from_env();
  return isa;
}

void sgemm(Isa isa, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!isa_supported(isa)) throw Error("gemm: instruction set {} is not supported by this CPU or build", isa_name(isa));
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return scale(m, n, beta, c, ldc);
  const detail::Problem p{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  run(isa, p, thread_workspace());
}

void sgemm(Workspace& ws, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return scale(m, n, beta, c, ldc);
  run(active_isa(), {ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}, {ws.a(), ws.b()});
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(active_isa(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace ebm::gemm
