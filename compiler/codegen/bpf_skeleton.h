// The datapath skeleton (bpf-templates/, embedded at build time) compiled to
// LLVM IR in-process with clang's libraries, once per run. Every class clones
// this module and adds only its generated policy decision.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace membrane::codegen {

using EmbeddedFiles = std::vector<std::pair<std::string_view, std::string_view>>;

// bpf-templates/** and runtime/abi/*.h, paths relative to the repository root.
const EmbeddedFiles& embeddedTemplates();

// Compiles `entry` (e.g. "bpf-templates/endpoint.c") from `files` for the BPF
// target at -O2 with debug info (for BTF). No file outside `files` is read:
// the compile does not depend on the machine's headers. On failure returns
// null and sets `error` to clang's diagnostics.
std::unique_ptr<llvm::Module> compileSkeleton(llvm::LLVMContext& context, const EmbeddedFiles& files,
                                              const std::string& entry, std::string* error);

}  // namespace membrane::codegen
