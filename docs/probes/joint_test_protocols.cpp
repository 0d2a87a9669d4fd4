// Probe, not part of the build: the joint model's classification error under
// other test-time protocols than the library's (pixels scaled to [0, 1], the
// recognition pass by probabilities, labels by free energy). The up-down
// model trains on sampled binary pixels, so a grey test image is off its
// training distribution; this asks whether averaging over binarizations
// helps. Columns: scaled (the library's), threshold 0.5, p(y|x) averaged
// over S sampled binarizations, log p(y|x) averaged over them, and p(y|x)
// averaged over S fully stochastic up-passes (hidden states sampled too).
//
// Build from the repository root after scripts/build.sh, then run on a
// saved joint model (suffix ".best" for up-down's validation-chosen
// parameters, "" for the last; set "valid" = training images 50,000-59,999):
//   g++ -std=c++20 -O3 -march=native -I. docs/probes/joint_test_protocols.cpp build/libebm.a
//       -lopenblas -lfmt -ltbb -o /tmp/joint_test_protocols   (one line)
//   /tmp/joint_test_protocols out/dbn_updown_refit120/joint/updown .best valid 20
//   /tmp/joint_test_protocols out/dbn_updown_refit120/joint/refit "" test 20
#include <cblas.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "io/batch.hpp"
#include "io/idx.hpp"
#include "io/npy.hpp"

namespace {

using ebm::io::NpyArray;
constexpr int kLabels = 10;

struct JointModel {  // the recognition weights R, r of the two lower layers and the labelled top RBM
  NpyArray r0, rb0, r1, rb1, w, u, b, d;
};

// y = sigmoid(x R + r) for a batch of `rows` rows.
void up(const std::vector<float>& x, int64_t rows, const NpyArray& r, const NpyArray& bias, std::vector<float>& y) {
  const int64_t in = r.rows, out = r.cols;
  y.assign(static_cast<size_t>(rows * out), 0.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(out), int(in), 1.0f, x.data(), int(in),
              r.data.data(), int(out), 0.0f, y.data(), int(out));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < out; ++j) {
      float& v = y[size_t(i * out + j)];
      v = 1.0f / (1.0f + std::exp(-(v + bias.data[size_t(j)])));
    }
}

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// log p(y = k | pen) by the free energy of each label, [rows, 10].
void label_log_probs(const JointModel& m, const std::vector<float>& pen, int64_t rows, std::vector<double>& out) {
  const int64_t hidden = m.w.cols, visible = m.w.rows;
  std::vector<float> base(size_t(rows * hidden));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(hidden), int(visible), 1.0f, pen.data(),
              int(visible), m.w.data.data(), int(hidden), 0.0f, base.data(), int(hidden));
  out.assign(size_t(rows * kLabels), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    double score[kLabels];
    for (int k = 0; k < kLabels; ++k) {
      double s = m.d.data[size_t(k)];
      for (int64_t j = 0; j < hidden; ++j)
        s += softplus(double(base[size_t(i * hidden + j)]) + m.b.data[size_t(j)] + m.u.data[size_t(k * hidden + j)]);
      score[k] = s;
    }
    const double top = *std::max_element(score, score + kLabels);
    double z = 0;
    for (double s : score) z += std::exp(s - top);
    for (int k = 0; k < kLabels; ++k) out[size_t(i * kLabels + k)] = score[k] - top - std::log(z);
  }
}

int argmax_row(const std::vector<double>& a, int64_t i) {
  const auto row = a.begin() + i * kLabels;
  return int(std::max_element(row, row + kLabels) - row);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [SUFFIX] [valid|test] [S]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1], suffix = argc > 2 ? argv[2] : "", which = argc > 3 ? argv[3] : "valid";
  const int draws = argc > 4 ? std::atoi(argv[4]) : 20;
  auto load = [&](const char* name) { return ebm::io::read_npy(dir + "/" + name + suffix + ".npy"); };
  const JointModel m{load("dbn.rbm0.R"), load("dbn.rbm0.r"), load("dbn.rbm1.R"), load("dbn.rbm1.r"),
                     load("top.W"),      load("top.U"),      load("top.b"),      load("top.d")};
  namespace io = ebm::io;
  const io::ImageSet set = which == "test" ? io::load_mnist("data/mnist", "t10k")
                                           : io::slice(io::load_mnist("data/mnist", "train"), 50000, 10000);
  const int64_t batch = 500, n = set.count;
  std::vector<int64_t> idx(batch);
  std::vector<float> x(size_t(batch * set.dim())), h1, h2;
  std::vector<double> lp, mean_p, mean_logp, mean_p_stochastic;
  int wrong_scaled = 0, wrong_threshold = 0, wrong_mean_p = 0, wrong_mean_logp = 0, wrong_stochastic = 0;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  auto sample = [&](std::vector<float>& h) {
    for (float& v : h) v = uniform(gen) < v ? 1.0f : 0.0f;
  };
  for (int64_t first = 0; first < n; first += batch) {  // 500 divides both sets
    for (int64_t i = 0; i < batch; ++i) idx[size_t(i)] = first + i;
    auto wrong = [&](const std::vector<double>& a) {
      int count = 0;
      for (int64_t i = 0; i < batch; ++i) count += argmax_row(a, i) != set.labels[size_t(first + i)];
      return count;
    };
    auto classify = [&](io::BatchOptions o, bool stochastic) {
      io::fill_batch(set, idx, x, o);
      up(x, batch, m.r0, m.rb0, h1);
      if (stochastic) sample(h1);
      up(h1, batch, m.r1, m.rb1, h2);
      if (stochastic) sample(h2);
      label_log_probs(m, h2, batch, lp);
    };
    classify({.mode = io::Pixels::scaled}, false);
    wrong_scaled += wrong(lp);
    classify({.mode = io::Pixels::threshold}, false);
    wrong_threshold += wrong(lp);
    mean_p.assign(lp.size(), 0.0);
    mean_logp.assign(lp.size(), 0.0);
    mean_p_stochastic.assign(lp.size(), 0.0);
    for (int s = 0; s < draws; ++s) {
      const io::BatchOptions binarized{.mode = io::Pixels::sampled, .seed = 99, .epoch = uint64_t(s)};
      classify(binarized, false);
      for (size_t q = 0; q < lp.size(); ++q) mean_p[q] += std::exp(lp[q]), mean_logp[q] += lp[q];
      classify(binarized, true);
      for (size_t q = 0; q < lp.size(); ++q) mean_p_stochastic[q] += std::exp(lp[q]);
    }
    wrong_mean_p += wrong(mean_p);
    wrong_mean_logp += wrong(mean_logp);
    wrong_stochastic += wrong(mean_p_stochastic);
  }
  auto pct = [&](int w) { return 100.0 * w / double(n); };
  std::printf("%s%s %s, S=%d: scaled %.2f%%, threshold %.2f%%, mean p over binarizations %.2f%%, mean log p %.2f%%, "
              "mean p over stochastic up-passes %.2f%%\n",
              dir.c_str(), suffix.c_str(), which.c_str(), draws, pct(wrong_scaled), pct(wrong_threshold),
              pct(wrong_mean_p), pct(wrong_mean_logp), pct(wrong_stochastic));
}
