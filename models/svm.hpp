#pragma once
// Support vector machines with a Gaussian kernel, the classifier the DBN
// era judged features by: Lee et al. (2009) report a CDBN's MNIST features
// through an SVM, Hinton & Salakhutdinov (2006) an SVM on pixels beside
// their fine-tuned DBN.
//
//   k(x, x') = exp(-gamma |x - x'|^2)
//   f(x) = sum_i a_i y_i k(x_i, x) - rho
//
// Each two-class problem is the soft-margin dual
//
//   min_a 1/2 a' Q a - 1' a,  0 <= a_i <= C,  y' a = 0,  Q_ij = y_i y_j k(x_i, x_j),
//
// solved by sequential minimal optimisation: each step moves the pair of
// multipliers chosen by second-order information (Fan, Chen & Lin 2005,
// "working set selection 3"), until the largest violation of the
// optimality conditions is below `tolerance`. Classes are separated one
// against the rest, the prediction being the class of the largest f(x).
//
// The kernel matrix of the n training points is held whole, in float, so
// n is limited to kMaxSvmPoints (all of MNIST's training images: 14.4 GB)
// and by the machine's memory. The callers pass squared distances
// (svm_squared_distances), so that one set of distances serves every gamma
// of a search, or the kernel itself (gaussian_kernel_in_place, then
// KernelSvm::from_kernel), so that one kernel serves every C and nothing
// else of n^2 need be held. Predicting at m points takes their m x n
// distances; the kernel values are made a block of rows at a time.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "io/memory.hpp"  // available_memory_bytes, which check_matrix_fits reads

namespace ebm {

inline constexpr int64_t kMaxSvmPoints = 60'000;

// An ebm::Error unless an m x n float matrix (what: its name) fits in 90%
// of available_memory_bytes(); the message gives both sizes. A check made
// before a long run, so that it stops at the start rather than when the
// matrix is made: a bound that refuses the hopeless, not a promise.
void check_matrix_fits(int64_t m, int64_t n, const char* what);

// The m x n squared Euclidean distances between the rows of a (m x d) and
// of b (n x d), row-major, by one BLAS product; clamped at 0. An
// ebm::Error names a size mismatch or a value that is not finite.
std::vector<float> svm_squared_distances(std::span<const float> a, int64_t m, std::span<const float> b, int64_t n,
                                         int64_t d);
// Turns squared distances into k = exp(-gamma d) where they lie.
void gaussian_kernel_in_place(std::span<float> sq_dists, double gamma);
// The mean of the off-diagonal entries of an n x n distance matrix: 1 over
// it is the default gamma, the scale at which a typical pair is one
// length apart.
double mean_squared_distance(std::span<const float> sq_dists, int64_t n);

struct SvmConfig {
  double c = 10.0;             // the box: each multiplier in [0, C]
  double tolerance = 1e-3;     // stop when max violation (in f's units) is below this
  int64_t max_iterations = 0;  // pair updates per problem; 0: max(10^7, 100 n)
};

// One two-class problem's dual solution.
struct SvmDual {
  std::vector<double> alpha;  // the multipliers a_i, in [0, C]
  double rho = 0.0;           // f(x) = sum_i a_i y_i k(x_i, x) - rho
  int64_t iterations = 0;
  bool converged = false;     // false: max_iterations ran out first
  double objective = 0.0;     // 1/2 a' Q a - 1' a at the solution
};

// Solves the dual for labels y (each +1 or -1) on the n x n kernel matrix
// (row-major, symmetric). An ebm::Error names a bad label, size, C,
// tolerance (positive, finite) or max_iterations (0 or more), and a kernel
// entry that is not finite, a negative diagonal entry or a pair of mirrored
// entries that differ.
SvmDual solve_svm_dual(std::span<const float> kernel, int64_t n, std::span<const int8_t> y, const SvmConfig& config);

// One-against-the-rest Gaussian-kernel SVMs over `classes` labels.
class KernelSvm {
 public:
  // Trains on n points given their n x n squared distances and labels in
  // [0, classes), of two classes at least (an ebm::Error names the one
  // class otherwise; the kernel, of either constructor, must be symmetric
  // with values in [0, 1]); the problems run in parallel on the caller's
  // TBB arena.
  // Holds the kernel beside the distances (2 n^2 floats).
  KernelSvm(std::span<const float> sq_dists, int64_t n, std::span<const uint8_t> labels, int classes, double gamma,
            const SvmConfig& config = {});
  // The same from the n x n kernel matrix made with this gamma
  // (gaussian_kernel_in_place), read in place.
  static KernelSvm from_kernel(std::span<const float> kernel, int64_t n, std::span<const uint8_t> labels, int classes,
                               double gamma, const SvmConfig& config = {});

  // f for every class at m points, from their m x n squared distances to
  // the training points: m x classes, row-major.
  std::vector<float> decisions(std::span<const float> cross_sq_dists, int64_t m) const;
  // The class of the largest f at each of the m points.
  std::vector<uint8_t> predict(std::span<const float> cross_sq_dists, int64_t m) const;

  int classes() const { return classes_; }
  double gamma() const { return gamma_; }
  const SvmDual& problem(int c) const { return duals_[static_cast<size_t>(c)]; }
  // Training points with a nonzero multiplier in some class's problem.
  int64_t support_vectors() const;

 private:
  KernelSvm() = default;
  // Checks the training problem's sizes, labels and gamma, and keeps them.
  void init(int64_t entries, int64_t n, std::span<const uint8_t> labels, int classes, double gamma);
  void train(std::span<const float> kernel, std::span<const uint8_t> labels, const SvmConfig& config);
  int64_t n_ = 0;
  int classes_ = 0;
  double gamma_ = 0.0;
  std::vector<SvmDual> duals_;
  std::vector<float> coef_;  // classes x n: a_i y_i
};

// Percent of predictions that differ from the labels.
double error_percent(std::span<const uint8_t> predicted, std::span<const uint8_t> labels);

// The classes predicted for `count` rows (count x d, row-major) by an SVM
// trained on the n rows `train` (n x d): their distances to the training
// rows made a block of rows at a time (the same bits as all at once), so
// that no count x n matrix is held.
std::vector<uint8_t> predict_rows(const KernelSvm& svm, std::span<const float> train, int64_t n,
                                  std::span<const float> rows, int64_t count, int64_t d);

// A grid search of Gaussian-kernel SVMs, the validation rows choosing: every
// C of `c` with every width of `gamma`, a multiple of the unit 1 / (the mean
// squared distance between the training rows), so that 1 is the scale at
// which a typical pair is one length apart.
struct SvmSearchConfig {
  std::vector<double> c{1.0, 10.0};
  std::vector<double> gamma{1.0};  // multiples of the unit
  int classes = 10;
  // Keep the training rows' distances (and the validation rows' to them)
  // beside the kernel: one set of distances for every width, 2 n^2 +
  // n_valid n floats. False: only the n x n kernel is held, the distances
  // made again for each width and the validation rows' a block at a time.
  bool keep_distances = true;
  SvmConfig svm{};  // the solver's tolerance and iterations (its c is each of `c` in turn)
};
// One pair of the grid, as it was tried.
struct SvmTrial {
  double c = 0, gamma_multiple = 0, gamma = 0;
  double valid_error = 0;      // % of the validation rows misclassified
  int64_t support_vectors = 0;
  int64_t iterations = 0;      // summed over the classes' problems
  bool converged = true;       // every problem's
  double seconds = 0;          // training and validating it
};
struct SvmSearch {
  KernelSvm svm;               // the chosen pair's, trained on every training row
  SvmTrial chosen;             // the lowest validation error (the first tried of equals)
  double unit = 0;             // 1 / the mean squared distance between the training rows
};
// Trains the grid on the n training rows (n x d) with their labels, one
// kernel matrix per width serving every C; on_trial sees each pair as it
// ends. An ebm::Error names an empty grid, mismatched sizes, or training
// rows that are all the same (no unit).
SvmSearch svm_search(std::span<const float> train, int64_t n, std::span<const uint8_t> labels,
                     std::span<const float> valid, int64_t n_valid, std::span<const uint8_t> valid_labels, int64_t d,
                     const SvmSearchConfig& config, const std::function<void(const SvmTrial&)>& on_trial = {});

}  // namespace ebm
