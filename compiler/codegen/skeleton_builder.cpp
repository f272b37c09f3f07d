// Build-time tool: compiles the datapath skeleton once, when membranec is
// built, so that no run of membranec compiles it again.
//
//   membrane_skeleton_builder OBJECT BITCODE
//
// OBJECT: bpf-templates/endpoint.c for the BPF target, as an ELF object.
// BITCODE: bpf-templates/decision.c, the decision shell each class clones,
// as LLVM bitcode. Both from the embedded templates (bpf_skeleton.cpp: the
// same in-memory file system and flags, so no machine header is read), with
// the BPF data layout.
#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>

#include <fstream>
#include <iostream>

#include "codegen/bpf_skeleton.h"
#include "codegen/bpf_target.h"

int main(int argc, char** argv) {
  using namespace membrane::codegen;
  if (argc != 3) {
    std::cerr << "usage: membrane_skeleton_builder OBJECT BITCODE\n";
    return 2;
  }
  try {
    llvm::LLVMContext context;
    auto target = createBpfTargetMachine();
    std::string error;
    auto skeleton = compileSkeleton(context, embeddedTemplates(), "bpf-templates/endpoint.c", &error);
    if (!skeleton) throw std::runtime_error(error);
    skeleton->setDataLayout(target->createDataLayout());
    std::ofstream(argv[1], std::ios::binary | std::ios::trunc) << emitBpf(*skeleton, *target, llvm::CGFT_ObjectFile);

    auto shell = compileSkeleton(context, embeddedTemplates(), "bpf-templates/decision.c", &error);
    if (!shell) throw std::runtime_error(error);
    shell->setDataLayout(target->createDataLayout());
    std::error_code ec;
    llvm::raw_fd_ostream out(argv[2], ec);
    if (ec) throw std::runtime_error("cannot write " + std::string(argv[2]) + ": " + ec.message());
    llvm::WriteBitcodeToFile(*shell, out);
  } catch (const std::exception& e) {
    std::cerr << "membrane_skeleton_builder: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
