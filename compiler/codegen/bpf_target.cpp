#include "codegen/bpf_target.h"

#include <llvm/ADT/SmallVector.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>

#include <mutex>
#include <stdexcept>

namespace membrane::codegen {

void initializeBpfTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeBPFTargetInfo();
    LLVMInitializeBPFTarget();
    LLVMInitializeBPFTargetMC();
    LLVMInitializeBPFAsmPrinter();
  });
}

std::unique_ptr<llvm::TargetMachine> createBpfTargetMachine() {
  initializeBpfTarget();
  std::string error;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(kBpfTriple, error);
  if (!target) throw std::runtime_error("BPF target unavailable in this LLVM: " + error);
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      kBpfTriple, kBpfCpu, "", options, llvm::Reloc::PIC_, llvm::None, llvm::CodeGenOpt::Aggressive));
}

std::string emitBpf(llvm::Module& module, llvm::TargetMachine& target, llvm::CodeGenFileType type) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream out(buffer);
  llvm::legacy::PassManager pm;
  if (target.addPassesToEmitFile(pm, out, nullptr, type))
    throw std::runtime_error("the BPF target cannot emit this file type");
  pm.run(module);
  return std::string(buffer.begin(), buffer.end());
}

}  // namespace membrane::codegen
