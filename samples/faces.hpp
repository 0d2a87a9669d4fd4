#pragma once
// What the face samples share (autoencoder_faces, gp_faces): where the
// Olivetti faces are, loading them, and standardizing their patches.

#include <cmath>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/face_patches.hpp"
#include "io/idx.hpp"
#include "models/data_source.hpp"
#include "ops/error.hpp"

namespace ebm::samples {

// The Olivetti folder: --data if given, else ../shared/data/olivetti as
// seen from the repository or its build folder.
inline std::filesystem::path find_faces(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* p : {"../shared/data/olivetti", "../../shared/data/olivetti", "../../../shared/data/olivetti"})
    if (std::filesystem::exists(p)) return p;
  return "../shared/data/olivetti";
}

// Standardized patches: (patch - mean) * scale, as a data source.
struct Standardize {
  std::vector<float> mean;
  float scale = 1.0f;
};

inline DataSource standardized(std::shared_ptr<const io::FacePatches> p, std::shared_ptr<const Standardize> s) {
  return {p->count(), p->dim(), [p, s](std::span<const int64_t> idx, std::span<float> out, uint64_t) {
            const auto d = static_cast<size_t>(p->dim());
            for (size_t i = 0; i < idx.size(); ++i) {
              const std::span<float> row = out.subspan(i * d, d);
              p->patch(idx[i], row);
              for (size_t k = 0; k < d; ++k) row[k] = (row[k] - s->mean[k]) * s->scale;
            }
          },
          true};
}

// The per-pixel means of the training patches and the one scale that makes
// their average pixel variance 1.
inline Standardize fit_standardize(const io::FacePatches& train) {
  const auto d = static_cast<size_t>(train.dim());
  std::vector<double> sum(d), squares(d);
  std::vector<float> row(d);
  for (int64_t i = 0; i < train.count(); ++i) {
    train.patch(i, row);
    for (size_t k = 0; k < d; ++k) sum[k] += row[k], squares[k] += double{row[k]} * row[k];
  }
  const auto n = static_cast<double>(train.count());
  Standardize s;
  double variance = 0;
  for (size_t k = 0; k < d; ++k) {
    s.mean.push_back(static_cast<float>(sum[k] / n));
    variance += squares[k] / n - (sum[k] / n) * (sum[k] / n);
  }
  variance /= static_cast<double>(d);
  if (!(variance > 0)) throw Error("face patches: the training patches do not vary; nothing to learn");
  s.scale = static_cast<float>(1.0 / std::sqrt(variance));
  return s;
}

// The 400 Olivetti faces of the folder `dir`, checked to be there.
inline io::ImageSet load_faces(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir / "olivetti-faces-idx3-ubyte"))
    throw Error("--data '{}': no olivetti-faces-idx3-ubyte (with olivetti-labels-idx1-ubyte) there; expected the "
                "Olivetti folder, ../shared/data/olivetti", dir.string());
  return io::load_idx_images(dir / "olivetti-faces-idx3-ubyte", dir / "olivetti-labels-idx1-ubyte", 40);  // 40 people
}

}  // namespace ebm::samples
