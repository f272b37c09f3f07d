// Helpers shared by the front-end tests: compile policy text in memory and
// read the diagnostics back as one line each, or rendered like the CLI.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "driver/pipeline.h"

namespace membrane::testing {

using Files = std::vector<std::pair<std::string, std::string>>;
using Lines = std::vector<std::string>;

inline std::unique_ptr<driver::Compilation> compile(const Files& files) {
  auto c = std::make_unique<driver::Compilation>();
  driver::runText(files, *c);
  return c;
}

inline std::unique_ptr<driver::Compilation> compile(const std::string& text) { return compile(Files{{"a.policy", text}}); }

inline std::string oneLine(const driver::Compilation& c, const Diagnostic& d) {
  static const char* names[] = {"note", "warning", "error"};
  std::string s = c.sources.describe(d.range.begin) + ": " + names[static_cast<int>(d.severity)] + ": " + d.message;
  if (!d.hint.empty()) s += " | hint: " + d.hint;
  for (const auto& n : d.notes) s += " | note " + c.sources.describe(n.range.begin) + ": " + n.message;
  return s;
}

inline Lines diagnostics(const driver::Compilation& c) {
  Lines out;
  for (const auto& d : c.diags.all()) out.push_back(oneLine(c, d));
  return out;
}

inline std::string rendered(const driver::Compilation& c) {
  std::ostringstream os;
  c.diags.print(os, false);
  return os.str();
}

}  // namespace membrane::testing
