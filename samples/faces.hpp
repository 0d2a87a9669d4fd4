#pragma once
// What the face samples share (autoencoder_faces, gp_faces): where the
// Olivetti faces are, loading them, and standardizing their patches.

#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/face_patches.hpp"
#include "io/idx.hpp"
#include "io/sha256.hpp"
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

// The 400 Olivetti faces of the folder `dir`, checked to be there and to
// be the Olivetti set: 64 x 64 images, ten of each of the 40 people (the
// samples' splits by person and their patch geometry assume both).
inline io::ImageSet load_faces(const std::filesystem::path& dir) {
  const std::filesystem::path images = dir / "olivetti-faces-idx3-ubyte";
  if (!std::filesystem::exists(images))
    throw Error("--data '{}': no olivetti-faces-idx3-ubyte (with olivetti-labels-idx1-ubyte) there; expected the "
                "Olivetti folder, ../shared/data/olivetti", dir.string());
  const std::string_view names[] = {"olivetti-faces-idx3-ubyte", "olivetti-labels-idx1-ubyte"};
  io::check_sha256sums(dir, names);  // when the folder lists their digests, as ../shared/data/olivetti does
  io::ImageSet faces = io::load_idx_images(images, dir / "olivetti-labels-idx1-ubyte", 40);  // 40 people
  if (faces.count != 400 || faces.height != 64 || faces.width != 64)
    throw Error("{}: {} images of {} x {} pixels; expected the Olivetti faces' 400 of 64 x 64", images.string(),
                faces.count, faces.height, faces.width);
  std::array<int, 40> per_person{};
  for (uint8_t person : faces.labels) ++per_person[person];
  for (size_t p = 0; p < per_person.size(); ++p)
    if (per_person[p] != 10)
      throw Error("{}: person {} has {} images; expected ten of each of the 40 people", (dir / "olivetti-labels-idx1-ubyte").string(),
                  p, per_person[p]);
  return faces;
}

}  // namespace ebm::samples
