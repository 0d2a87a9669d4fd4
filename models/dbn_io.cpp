// save_dbn / load_dbn: a whole stack as one checkpoint.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/checkpoint.hpp"
#include "models/dbn.hpp"

namespace ebm {
namespace {

// W0, b0, c0, W1, ...: every layer's parameters under names the manifest lists.
std::vector<NamedTensor> dbn_tensors(const Dbn& dbn) {
  std::vector<NamedTensor> out;
  for (size_t l = 0; l < dbn.rbms.size(); ++l) {
    const Rbm& r = dbn.rbms[l];
    out.push_back({fmt::format("W{}", l), r.w});
    out.push_back({fmt::format("b{}", l), r.b});
    out.push_back({fmt::format("c{}", l), r.c});
  }
  return out;
}

// The layer sizes and each layer's unit types: what a DBN loaded into must share.
nlohmann::json dbn_shape(const Dbn& dbn) {
  nlohmann::json layers = nlohmann::json::array(), units = nlohmann::json::array();
  for (const Rbm& r : dbn.rbms) {
    if (layers.empty()) layers.push_back(r.config.visible);
    layers.push_back(r.config.hidden);
    units.push_back({to_string(r.config.visible_unit), to_string(r.config.hidden_unit)});
  }
  return {{"layers", layers}, {"units", units}};
}

void check_made(const Dbn& dbn, const char* what) {
  if (dbn.graph == nullptr || dbn.rbms.empty())
    throw Error("{}: an empty Dbn (default-made); expected one Dbn::make built", what);
}

}  // namespace

void save_dbn(const Dbn& dbn, const std::filesystem::path& dir) {
  check_made(dbn, "save_dbn");
  save_checkpoint(dir, "dbn", dbn_tensors(dbn), dbn_shape(dbn).dump());
}

void load_dbn(Dbn& dbn, const std::filesystem::path& dir) {
  check_made(dbn, "load_dbn");
  const nlohmann::json want = dbn_shape(dbn);
  load_checkpoint(dir, "dbn", dbn_tensors(dbn), [&](const std::string& meta) {
    const nlohmann::json got = nlohmann::json::parse(meta, nullptr, false);
    for (const char* key : {"layers", "units"})
      if (got.is_discarded() || !got.contains(key) || got[key] != want[key])
        throw Error("load_dbn '{}': the checkpoint's {} are {}; this DBN's are {}", dir.string(), key,
                    got.is_discarded() || !got.contains(key) ? std::string("missing") : got[key].dump(),
                    want[key].dump());
  });
}

}  // namespace ebm
