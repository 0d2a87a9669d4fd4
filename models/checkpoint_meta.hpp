#pragma once
// Reading a checkpoint's meta object (models/checkpoint.hpp) as the fitters
// need it: a key that must be there, of the type it must have, or an
// ebm::Error naming the checkpoint, the key and what was expected. For .cpp
// files only (it brings in nlohmann/json).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ops/error.hpp"

namespace ebm {

// meta[key] as a count (a non-negative integer).
inline uint64_t meta_count(const nlohmann::json& meta, const char* key, std::string_view where) {
  if (!meta.contains(key))
    throw Error("checkpoint '{}': manifest.json's meta has no key '{}'; expected a count", where, key);
  if (!meta.at(key).is_number_unsigned())
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected a count", where, key,
                meta.at(key).dump());
  return meta.at(key).get<uint64_t>();
}

// meta[key] as a number.
inline double meta_number(const nlohmann::json& meta, const char* key, std::string_view where) {
  if (!meta.contains(key))
    throw Error("checkpoint '{}': manifest.json's meta has no key '{}'; expected a number", where, key);
  if (!meta.at(key).is_number())
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected a number", where, key,
                meta.at(key).dump());
  return meta.at(key).get<double>();
}

// A setting's value as a user would write it (a float without double's digits).
inline std::string meta_shown(const nlohmann::json& v) {
  if (v.is_number_float()) return fmt::format("{}", v.get<float>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A resume's checks of the settings a fitter saved with its checkpoint:
// one that must stay the same is refused, naming it and both values; a
// rate that may change is noted; a key the checkpoint lacks (written by an
// older version) is listed in a note as not checked.
class ResumeCheck {
 public:
  ResumeCheck(const nlohmann::json& meta, std::string where) : meta_(meta), where_(std::move(where)) {}
  // meta[key] must equal `now`; `name` says what it is, in words both a
  // library user and a sample's user know ("optimizer"); a sample's own
  // flags go to same_run.
  void same(const char* key, const nlohmann::json& now, std::string_view name) {
    if (!meta_.contains(key)) return unknown_.emplace_back(name), void();
    if (meta_.at(key) != now)
      throw Error("resume from '{}': the checkpoint has {} {}; this run has {}; expected the same, or a fresh run",
                  where_, name, meta_shown(meta_.at(key)), meta_shown(now));
  }
  // The caller's flags (e.g. {"--labelled", "90"}), saved under meta["run"].
  void same_run(const std::map<std::string, std::string>& run) {
    const nlohmann::json saved = meta_.contains("run") ? meta_.at("run") : nlohmann::json::object();
    for (const auto& [flag, value] : run) {
      if (!saved.is_object() || !saved.contains(flag)) {
        unknown_.push_back(flag);
      } else if (saved.at(flag) != value) {
        throw Error("resume from '{}': the checkpoint has {} = {}; this run has {}; expected the same (a resume "
                    "continues the run as it was made)",
                    where_, flag, meta_shown(saved.at(flag)), value);
      }
    }
  }
  // A rate (float) that may change: said when it did.
  void noted(const char* key, float now, std::string_view name) {
    if (!meta_.contains(key)) return unknown_.emplace_back(name), void();
    if (!meta_.at(key).is_number() || static_cast<float>(meta_.at(key).get<double>()) != now)
      notes_.push_back(fmt::format("resumed with {} {:g} (the checkpoint's {})", name, now, meta_shown(meta_.at(key))));
  }
  // The notes, the keys not checked last.
  std::vector<std::string> notes() const {
    std::vector<std::string> out = notes_;
    if (!unknown_.empty())
      out.push_back(fmt::format("the checkpoint does not record {} (it was written by an older version): not checked",
                                fmt::join(unknown_, ", ")));
    return out;
  }

 private:
  const nlohmann::json& meta_;
  std::string where_;
  std::vector<std::string> notes_, unknown_;
};

}  // namespace ebm
