// Helpers shared by the front-end tests: compile policy text in memory and
// read the diagnostics back as one line each, or rendered like the CLI.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/pipeline.h"

namespace membrane::testing {

using Files = std::vector<std::pair<std::string, std::string>>;
using Lines = std::vector<std::string>;

inline std::unique_ptr<pipeline::Compilation> compile(const Files& files) {
  auto c = std::make_unique<pipeline::Compilation>();
  pipeline::runText(files, *c);
  return c;
}

inline std::unique_ptr<pipeline::Compilation> compile(const std::string& text) { return compile(Files{{"a.policy", text}}); }

inline std::string oneLine(const pipeline::Compilation& c, const Diagnostic& d) {
  static const char* names[] = {"note", "warning", "error"};
  std::string s = c.sources.describe(d.range.begin) + ": " + names[static_cast<int>(d.severity)] + ": " + d.message;
  if (!d.hint.empty()) s += " | hint: " + d.hint;
  for (const auto& n : d.notes) s += " | note " + c.sources.describe(n.range.begin) + ": " + n.message;
  return s;
}

inline Lines diagnostics(const pipeline::Compilation& c) {
  Lines out;
  for (const auto& d : c.diags.all()) out.push_back(oneLine(c, d));
  return out;
}

inline std::string rendered(const pipeline::Compilation& c) {
  std::ostringstream os;
  c.diags.print(os, false);
  return os.str();
}

}  // namespace membrane::testing
