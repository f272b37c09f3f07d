// The datapath skeleton as membranec was built with it: bpf-templates/
// endpoint.c compiled to a BPF object and bpf-templates/decision.c (the
// decision shell) to LLVM bitcode, by skeleton_builder at build time and
// embedded in the binary. Nothing of the skeleton is compiled at run time.
#pragma once

#include <string_view>

namespace membrane::codegen {

struct PrecompiledSkeleton {
  std::string_view object;         // the skeleton, an ELF object for the BPF target
  std::string_view objectWithoutProcess;  // the same without the socket-call programs
  std::string_view decisionShell;  // LLVM bitcode, with the BPF data layout
};

const PrecompiledSkeleton& precompiledSkeleton();

}  // namespace membrane::codegen
