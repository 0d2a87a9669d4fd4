#pragma once
// Reading a checkpoint's meta object (models/checkpoint.hpp) as the fitters
// need it: a key that must be there, of the type it must have, or an
// ebm::Error naming the checkpoint, the key and what was expected. For .cpp
// files only (it brings in nlohmann/json).

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "graph/graph.hpp"
#include "ops/error.hpp"

namespace ebm {

// Text for a message, cut to about 80 characters, since a damaged or
// edited file may hold anything.
inline std::string text_excerpt(const std::string& text) {
  return text.size() <= 80 ? text : text.substr(0, 72) + fmt::format("... ({} characters)", text.size());
}

// A JSON value as text for a message, cut as text_excerpt cuts.
inline std::string json_excerpt(const nlohmann::json& v) { return text_excerpt(v.dump()); }

// meta[key] as a count (a non-negative integer) of at most `most`.
inline uint64_t meta_count(const nlohmann::json& meta, const char* key, std::string_view where,
                           uint64_t most = UINT64_MAX) {
  if (!meta.contains(key))
    throw Error("checkpoint '{}': manifest.json's meta has no key '{}'; expected a count", where, key);
  const nlohmann::json& v = meta.at(key);  // parsed text holds counts as unsigned; a json built in C++ may not
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected a count", where, key,
                json_excerpt(v));
  const uint64_t n = v.get<uint64_t>();
  if (n > most)
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected a count of at most {} (a damaged or "
                "edited checkpoint)",
                where, key, n, most);
  return n;
}

// meta[key] as a count of epochs (or steps) that an int holds.
inline int meta_epoch(const nlohmann::json& meta, const char* key, std::string_view where) {
  return static_cast<int>(meta_count(meta, key, where, static_cast<uint64_t>(INT32_MAX)));
}

// meta[key] as a number.
inline double meta_number(const nlohmann::json& meta, const char* key, std::string_view where) {
  if (!meta.contains(key))
    throw Error("checkpoint '{}': manifest.json's meta has no key '{}'; expected a number", where, key);
  if (!meta.at(key).is_number())
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected a number", where, key,
                json_excerpt(meta.at(key)));
  return meta.at(key).get<double>();
}

// The best epoch (or step) so far and its validation error
// (models/best_params.hpp), saved under the keys `at` and `error` by a
// fitter that has done `done` epochs (`unit`: "epochs" or "steps"): one of
// at most `done` (0: none chosen yet) and an error of at least 0.
inline std::pair<int, double> meta_best(const nlohmann::json& meta, const char* at, const char* error, int done,
                                        std::string_view where, std::string_view unit = "epochs") {
  const int best = meta_epoch(meta, at, where);
  const double e = meta_number(meta, error, where);
  if (best > done)
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}, after the {} {} done; expected at most {} "
                "(a damaged or edited checkpoint)",
                where, at, best, done, unit, done);
  if (!(e >= 0))
    throw Error("checkpoint '{}': manifest.json's meta key '{}' is {}; expected an error of at least 0 (a damaged or "
                "edited checkpoint)",
                where, error, e);
  return {best, e};
}

// meta[key] when it is a string, else "" (a key an older version did not write).
inline std::string meta_string(const nlohmann::json& meta, const char* key) {
  const auto at = meta.find(key);
  return at != meta.end() && at->is_string() ? at->get<std::string>() : std::string();
}

// A setting's value as a user would write it (a float without double's digits).
inline std::string meta_shown(const nlohmann::json& v) {
  if (v.is_number_float()) return fmt::format("{}", v.get<float>());
  if (v.is_string()) return text_excerpt(v.get_ref<const std::string&>());
  return json_excerpt(v);
}

// A saved setting and this run's, for a message saying they differ: as a
// user would write them, or as JSON (strings quoted) when their types
// differ, so that "16" and 16 do not read as the same value.
inline std::pair<std::string, std::string> meta_shown_apart(const nlohmann::json& saved, const nlohmann::json& now) {
  const bool same_kind = (saved.is_number() && now.is_number()) || saved.type() == now.type();
  if (same_kind) return {meta_shown(saved), meta_shown(now)};
  return {fmt::format("{} (JSON {})", json_excerpt(saved), saved.type_name()),
          fmt::format("{} (JSON {})", json_excerpt(now), now.type_name())};
}

// FNV-1a over the bytes of the spans added (each followed by its length),
// shown as 16 hex digits: what a resume compares to know that it goes on
// from the same data (DeepKernelFitter's points) or the same start (a
// fine-tuning's weights as init_from set them; the layers below a DBN's
// layer), without keeping a copy of either.
class Fingerprint {
 public:
  Fingerprint& add(std::span<const float> part) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(part.data());
    for (size_t i = 0; i < part.size_bytes(); ++i) h_ = (h_ ^ bytes[i]) * kPrime;
    h_ = (h_ ^ part.size()) * kPrime;
    return *this;
  }
  uint64_t value() const { return h_; }
  std::string hex() const { return fmt::format("{:016x}", h_); }

 private:
  static constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h_ = 1469598103934665603ull;
};

// The fingerprint of the stored values of `params` (parameters of one graph).
inline std::string params_fingerprint(std::span<const Tensor> params) {
  Fingerprint f;
  for (const Tensor& p : params) f.add(p.graph->value(p));
  return f.hex();
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
    if (meta_.at(key) != now) {
      const auto [saved_text, now_text] = meta_shown_apart(meta_.at(key), now);
      throw Error("resume from '{}': the checkpoint has {} {}; this run has {}; expected the same, or a fresh run",
                  where_, name, saved_text, now_text);
    }
  }
  // The caller's flags (e.g. {"--labelled", "90"}), saved under meta["run"].
  void same_run(const std::map<std::string, std::string>& run) {
    const nlohmann::json saved = meta_.contains("run") ? meta_.at("run") : nlohmann::json::object();
    if (!saved.is_object())
      throw Error("resume from '{}': the checkpoint's run settings are {}; expected an object (a damaged or edited "
                  "checkpoint)",
                  where_, json_excerpt(saved));
    for (const auto& [flag, value] : run) {
      if (!saved.contains(flag)) {
        unknown_.push_back(flag);
      } else if (saved.at(flag) != value) {
        const auto [saved_text, now_text] = meta_shown_apart(saved.at(flag), value);
        throw Error("resume from '{}': the checkpoint has {} = {}; this run has {}; expected the same (a resume "
                    "continues the run as it was made)",
                    where_, flag, saved_text, now_text);
      }
    }
  }
  // meta[key] holds the fingerprint of the parameters the checkpoint's run
  // started from; `now` is this run's, taken before the resume loads:
  // another start means the model it was set from (init_from's stack, the
  // layers below) changed since, or it was set after the fitter, whose
  // constructor resumes, was made. `what` names the parameters, `fitter`
  // the call that resumes.
  // `fitter`, when given, resumes as it is made: weights set after it are
  // the other cause the message names.
  // `cause` says what may have changed.
  void same_start(const char* key, const std::string& now, std::string_view what, std::string_view fitter = {},
                  std::string_view cause = "the model they were set from has changed since (trained further, or "
                                           "another one)") {
    if (!meta_.contains(key)) return unknown_.emplace_back("the fingerprint of its start"), void();
    if (meta_.at(key) != now)
      throw Error("resume from '{}': {} are not those the checkpoint's run started from (fingerprint {}; this run's "
                  "{}); expected the same start: {}{}; move the checkpoint aside to start afresh",
                  where_, what, meta_shown(meta_.at(key)), now, cause,
                  fitter.empty() ? std::string()
                                 : fmt::format(", or they were set after the {} was made (it resumes as it is made: "
                                               "set them first)",
                                               fitter));
  }
  // A rate (float) that may change: said when it did.
  void noted(const char* key, float now, std::string_view name) {
    if (!meta_.contains(key)) return unknown_.emplace_back(name), void();
    if (static_cast<float>(meta_number(meta_, key, where_)) != now)  // (a rate that is not a number: damaged)
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
