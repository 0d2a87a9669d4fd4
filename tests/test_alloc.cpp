// Counts every heap allocation (malloc, calloc, realloc, the aligned
// allocators, operator new in all its forms) made by this process while a
// compiled training step runs: after its first run, a step must allocate
// nothing. The C allocation functions are interposed here; operator new,
// aligned or not, reaches them through libstdc++, and so do the executor's
// arena (std::aligned_alloc) and the GEMM packing buffers (aligned new[]).

#include <atomic>
#include <cerrno>
#include <new>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <sys/resource.h>

#include "autodiff/grad.hpp"
#include "autodiff/optim.hpp"
#include "graph/executor.hpp"
#include "graph/functions.hpp"
#include "models/crbm.hpp"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<long> g_allocations{0};
void* volatile g_sink = nullptr;
}

extern "C" void* malloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t s) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
extern "C" void* realloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
extern "C" void* aligned_alloc(size_t alignment, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
extern "C" void* memalign(size_t alignment, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
extern "C" int posix_memalign(void** p, size_t alignment, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  *p = __libc_memalign(alignment, n);
  return *p == nullptr && n != 0 ? ENOMEM : 0;
}

using namespace ebm;

namespace {

long allocations_during(const std::function<void()>& f) {
  const long before = g_allocations.load();
  f();
  return g_allocations.load() - before;
}

}  // namespace

TEST_CASE("alloc: the counter sees allocations") {
  const long n = allocations_during([] {
    std::vector<float>* v = new std::vector<float>(1000);
    delete v;
  });
  CHECK(n >= 1);
  // the allocators the executor's arena and the GEMM packs use (each
  // pointer escapes, so the compiler cannot drop a pair)
  int rc = -1;
  const long aligned = allocations_during([&rc] {
    void* p = std::aligned_alloc(64, 4096);
    g_sink = p;
    std::free(p);
    void* q = ::operator new[](sizeof(float) * 1000, std::align_val_t{64});
    g_sink = q;
    ::operator delete[](q, std::align_val_t{64});
    void* r = nullptr;
    rc = posix_memalign(&r, 64, 256);
    g_sink = r;
    std::free(r);
  });
  CHECK(rc == 0);
  CHECK(aligned == 3);
}

TEST_CASE("alloc: a training step allocates nothing after its first run") {
  for (bool parallel : {false, true}) {
    CAPTURE(parallel);
    Graph g;
    Tensor x = g.input("x", {32, 20});
    Tensor t = g.input("t", {32, 5});
    Tensor w1 = g.param("w1", {20, 16}, 0.05f), b1 = g.param("b1", {1, 16});
    Tensor w2 = g.param("w2", {16, 5}, -0.05f), b2 = g.param("b2", {1, 5});
    Tensor h = affine_sigmoid(x, w1, b1);
    Tensor loss = softmax_xent(matmul(h, w2) + b2, t);
    Tensor hs = bernoulli(h);  // a sampling node too
    auto params = g.params();
    Optimizer opt = adam(params, grad(loss, params), {});
    std::vector<float> xs(32 * 20, 0.5f), ts(32 * 5, 0.2f);
    const Tensor targets[] = {loss, hs, opt.step};
    const Feed feeds[] = {{x, xs}, {t, ts}};
    Executor ex(g, {.threads = 2, .parallel = parallel, .profile = true});
    ex.run(targets, feeds);  // compiles
    const long n = allocations_during([&] {
      for (int i = 0; i < 50; ++i) ex.run(targets, feeds);
    });
    CHECK(n == 0);
    CHECK(ex.profile().runs() == 51);
  }
}

TEST_CASE("alloc: a convolutional RBM's CD step allocates nothing after its first run") {
  for (bool parallel : {false, true}) {
    CAPTURE(parallel);
    Graph g;
    const Crbm m = Crbm::make(g, "crbm", {.visible = {.channels = 1, .height = 8, .width = 8, .size = 3}, .filters = 3,
                                          .pool = 2, .init_std = 0.3f});
    const Tensor v = g.input("v", {16, 64});
    const ContrastiveDivergence cd = contrastive_divergence(m, v, 1, false, {.lr = 0.01f});
    std::vector<float> xs(16 * 64, 0.0f);
    for (size_t i = 0; i < xs.size(); i += 3) xs[i] = 1.0f;
    const Feed feeds[] = {{v, xs}};
    const Tensor targets[] = {cd.step};
    Executor ex(g, {.threads = 2, .parallel = parallel});
    ex.run(targets, feeds);  // compiles
    ex.run(targets, feeds);  // (each thread's buffers grow on its first product)
    const long n = allocations_during([&] {
      for (int i = 0; i < 20; ++i) ex.run(targets, feeds);
    });
    CHECK(n == 0);
  }
}

#if defined(__GLIBC__)
// A worker thread allocating, touching and freeing 16 MB of temporaries, as
// a GP op does each call: with glibc's defaults its heap gives the pages
// back as the blocks are freed, and each round touches about 4,096 fresh
// ones (a throwaway probe on this machine); with retain_freed_memory the
// rounds after the first reuse them.
TEST_CASE("alloc: retain_freed_memory lets a thread's large temporaries reuse their pages") {
  CHECK_FALSE(retain_freed_memory(-1));
  REQUIRE(retain_freed_memory());
  long first = 0, later = 0;
  std::thread worker([&] {
    for (int round = 0; round < 4; ++round) {
      rusage u{};
      getrusage(RUSAGE_THREAD, &u);
      const long before = u.ru_minflt;
      {
        std::vector<double> a(1 << 20), b(1 << 20);
        std::memset(a.data(), 1, a.size() * sizeof(double));
        std::memset(b.data(), 1, b.size() * sizeof(double));
      }
      getrusage(RUSAGE_THREAD, &u);
      (round == 0 ? first : later) += u.ru_minflt - before;
    }
  });
  worker.join();
  CHECK(first > 0);           // 16 MB of new pages: 4,096 first touches of 4 KB pages (fewer if huge)
  CHECK(later * 10 < first);  // three more rounds: next to nothing new
}
#endif
