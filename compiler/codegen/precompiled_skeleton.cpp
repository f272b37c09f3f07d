// See precompiled_skeleton.h; the bytes are in the generated
// embedded_skeleton.cpp (cmake/EmbedFiles.cmake).
#include "codegen/precompiled_skeleton.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace membrane::codegen {

extern const std::vector<std::pair<std::string_view, std::string_view>> kPrecompiledSkeleton;

const PrecompiledSkeleton& precompiledSkeleton() {
  static const PrecompiledSkeleton skeleton = [] {
    PrecompiledSkeleton s;
    for (const auto& [name, bytes] : kPrecompiledSkeleton) {
      if (name == "skeleton.o") s.object = bytes;
      if (name == "skeleton-without-process.o") s.objectWithoutProcess = bytes;
      if (name == "decision.bc") s.decisionShell = bytes;
    }
    if (s.object.empty() || s.objectWithoutProcess.empty() || s.decisionShell.empty())
      throw std::logic_error("membranec was built without its precompiled datapath skeleton");
    return s;
  }();
  return skeleton;
}

}  // namespace membrane::codegen
