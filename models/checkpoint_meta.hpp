#pragma once
// Reading a checkpoint's meta object (models/checkpoint.hpp) as the fitters
// need it: a key that must be there, of the type it must have, or an
// ebm::Error naming the checkpoint, the key and what was expected. For .cpp
// files only (it brings in nlohmann/json).

#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace ebm
