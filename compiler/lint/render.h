// The output formats of `membranec lint` (docs/lint.md, "Output formats").
#pragma once

#include <string>
#include <string_view>

#include "pipeline/pipeline.h"
#include "lint/lint.h"

namespace membrane::lint {

struct RenderOptions {
  bool color = false;        // human
  std::string root;          // sarif, github: paths are made relative to this directory (absolute)
  std::string toolVersion;   // sarif
};

// Clang-style diagnostics with the source line and a caret, then a summary.
std::string renderHuman(const pipeline::Compilation& c, const Result& r, const RenderOptions& o);
// The documented JSON document.
std::string renderJson(const pipeline::Compilation& c, const Result& r, const RenderOptions& o);
// SARIF 2.1.0 as GitHub code scanning accepts it. Suppressed findings are left out.
std::string renderSarif(const pipeline::Compilation& c, const Result& r, const RenderOptions& o);
// GitHub Actions workflow commands (::error / ::warning / ::notice), one a line.
std::string renderGithub(const pipeline::Compilation& c, const Result& r, const RenderOptions& o);
// By name: human, json, sarif, github. "" for an unknown name.
std::string render(std::string_view format, const pipeline::Compilation& c, const Result& r, const RenderOptions& o);

// A path as given on the command line, relative to `root` when it lies
// inside it ("policies/shop/api.policy"), else absolute. Exposed for tests.
std::string relativePath(const std::string& path, const std::string& root);
// Escaping for workflow commands: the message, and property values.
std::string githubEscapeData(std::string_view s);
std::string githubEscapeProperty(std::string_view s);

}  // namespace membrane::lint
