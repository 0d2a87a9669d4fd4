#pragma once
// Text for SVG (XML) files. Here, in the lowest layer, because both SVG
// writers use it: io/plot.cpp's learning curves and graph/profile_svg.cpp's
// timeline, which sit side by side over ops/.

#include <string>
#include <string_view>

namespace ebm {

// `s` with &, <, > and " escaped, and control characters left out (XML 1.0
// holds none of them but tab and line ends, which a one-line label does not
// want either).
inline std::string xml_escaped(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace ebm
