// Process, checking (process.h): the body of `with process { ... }` and of
// a policy's `processes { ... }` clause — items `exe "PATH"` separated by
// `,` or `;` — each path held to the node's rule (labels/names.h), every
// problem reported at its token or byte, in the words of the construct.
#include "features/process/process.h"
#include "frontend/lexical.h"
#include "labels/names.h"

namespace membrane::features::process {

std::optional<Checked> check(const ast::Extension& extension, const SourceManager&, DiagnosticEngine& diags) {
  Checked out;
  out.range = extension.range;
  const bool clause = isClause(extension);
  const std::string opening = clause ? "processes {" : "with process {";
  const std::string hint = "name each executable by its absolute path: " + opening + " exe \"/usr/local/bin/api\" }";
  enum class Want { Exe, Path, Separator } want = Want::Exe;
  bool ok = true;
  for (const auto& token : extension.body) {
    bool isString = token.text.size() >= 2 && token.text.front() == '"' && token.text.back() == '"';
    switch (want) {
      case Want::Exe:
        if (token.text != "exe") {
          diags.error(token.range, "expected `exe \"PATH\"` in `" + opening + " ... }`, found `" + token.text + "`",
                      hint);
          return std::nullopt;
        }
        want = Want::Path;
        break;
      case Want::Path: {
        if (!isString) {
          diags.error(token.range, "expected the executable's path as a quoted string after `exe`, found `" +
                                       token.text + "`",
                      hint);
          return std::nullopt;
        }
        std::string path = frontend::unquoteWord(token.text);
        size_t column = 0;
        if (std::string why = labels::executablePathProblem(path, &column); !why.empty()) {
          diags.error(frontend::characterRange(token.range, path, column), "executable \"" + path + "\" " + why,
                      "executables are named by absolute path as the pod sees it, e.g. \"/usr/local/bin/api\" "
                      "(docs/process.md)");
          ok = false;
        } else {
          out.executables.push_back({path, token.range});
        }
        want = Want::Separator;
        break;
      }
      case Want::Separator:
        if (token.text != "," && token.text != ";") {
          diags.error(token.range, "expected `,` or `;` between executables, found `" + token.text + "`", hint);
          return std::nullopt;
        }
        want = Want::Exe;
        break;
    }
  }
  if (extension.body.empty()) {
    diags.error(extension.range, "`" + opening + " }` names no executable",
                std::string(clause ? "name the executables that may connect" : "name the executables the rule lets connect") +
                    ", e.g. " + opening + " exe \"/usr/local/bin/api\" }");
    return std::nullopt;
  }
  if (want == Want::Path) {
    diags.error(extension.body.back().range, "`exe` needs the executable's path", hint);
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace membrane::features::process
