// Build-time tool: compiles the datapath skeleton once, when membranec is
// built, so that no run of membranec compiles it again.
//
//   membrane_skeleton_builder OBJECT OBJECT_WITHOUT_PROCESS BITCODE DISPATCH
//
// OBJECT: the skeleton for the BPF target, as one ELF object: its
// translation units (bpf-templates/endpoint.c, the skb kinds, and msg.c,
// the sk_msg kind: one program context each) compiled apart and linked with
// libbpf's linker, as each class's decision is linked to it later.
// OBJECT_WITHOUT_PROCESS: the same without the socket-call programs
// (bpf-templates/endpoint_without_process.c), for classes without process
// rules.
// BITCODE: bpf-templates/decision.c, the decision shell each class clones,
// as LLVM bitcode. Both from the embedded templates (bpf_skeleton.cpp: the
// same in-memory file system and flags, so no machine header is read), with
// the BPF data layout.
// DISPATCH: bpf-templates/dispatch.c, the node's dispatchers, which no
// class links: the node loader embeds it (runtime/loader/dispatch.h), as
// the node has no compiler.
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
#include "codegen/line_info.h"
#include "codegen/object_linker.h"

int main(int argc, char** argv) {
  using namespace membrane::codegen;
  if (argc != 5) {
    std::cerr << "usage: membrane_skeleton_builder OBJECT OBJECT_WITHOUT_PROCESS BITCODE DISPATCH\n";
    return 2;
  }
  try {
    llvm::LLVMContext context;
    auto target = createBpfTargetMachine();
    std::string error;
    // Without line info (codegen/line_info.h): the kernel never needs it,
    // and every class object would carry the skeleton's.
    auto compile = [&](const char* unit) {
      auto module = compileSkeleton(context, embeddedTemplates(), unit, &error);
      if (!module) throw std::runtime_error(error);
      module->setDataLayout(target->createDataLayout());
      std::string object = emitBpf(*module, *target, llvm::CGFT_ObjectFile);
      dropLineInfo(object);
      return object;
    };
    std::string msg = compile("bpf-templates/msg.c");
    std::ofstream(argv[1], std::ios::binary | std::ios::trunc)
        << linkBpfObjects({compile("bpf-templates/endpoint.c"), msg});
    std::ofstream(argv[2], std::ios::binary | std::ios::trunc)
        << linkBpfObjects({compile("bpf-templates/endpoint_without_process.c"), msg});
    std::ofstream(argv[4], std::ios::binary | std::ios::trunc) << linkBpfObjects({compile("bpf-templates/dispatch.c")});

    auto shell = compileSkeleton(context, embeddedTemplates(), "bpf-templates/decision.c", &error);
    if (!shell) throw std::runtime_error(error);
    shell->setDataLayout(target->createDataLayout());
    std::error_code ec;
    llvm::raw_fd_ostream out(argv[3], ec);
    if (ec) throw std::runtime_error("cannot write " + std::string(argv[3]) + ": " + ec.message());
    llvm::WriteBitcodeToFile(*shell, out);
  } catch (const std::exception& e) {
    std::cerr << "membrane_skeleton_builder: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
