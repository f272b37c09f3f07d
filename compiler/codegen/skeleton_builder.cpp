// Build-time tool: compiles the datapath skeleton once, when membranec is
// built, so that no run of membranec compiles it again.
//
//   membrane_skeleton_builder OBJECT BITCODE
//
// OBJECT: the skeleton for the BPF target, as one ELF object: its
// translation units (bpf-templates/endpoint.c, the skb kinds, and msg.c,
// the sk_msg kind: one program context each) compiled apart and linked with
// libbpf's linker, as each class's decision is linked to it later.
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
#include <string>
#include <vector>

#include "codegen/bpf_skeleton.h"
#include "codegen/bpf_target.h"
#include "codegen/object_linker.h"

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
    std::vector<std::string> units;
    for (const char* unit : {"bpf-templates/endpoint.c", "bpf-templates/msg.c"}) {
      auto module = compileSkeleton(context, embeddedTemplates(), unit, &error);
      if (!module) throw std::runtime_error(error);
      module->setDataLayout(target->createDataLayout());
      units.push_back(emitBpf(*module, *target, llvm::CGFT_ObjectFile));
    }
    std::ofstream(argv[1], std::ios::binary | std::ios::trunc) << linkBpfObjects({units[0], units[1]});

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
