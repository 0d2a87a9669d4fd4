#pragma once
// Helpers of the misuse tests (test_misuse.cpp, test_misuse_models.cpp).

#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "ops/error.hpp"

namespace ebm::misuse_test {

// The ebm::Error message f throws; a case fails when f throws nothing or
// something else (a raw std:: exception is what the fixes removed).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("a raw exception instead of ebm::Error: ", e.what());
  }
  FAIL("no error");
  return "";
}

// Whether text holds part; says what it holds when not.
inline bool has(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return true;
  MESSAGE("missing '", std::string(part), "' in: ", text);
  return false;
}

}  // namespace ebm::misuse_test
