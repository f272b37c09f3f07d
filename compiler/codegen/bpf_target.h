// The BPF target as membrane uses it: one place for the triple, CPU version
// and target machine so the skeleton and each class agree.
#pragma once

#include <memory>
#include <string>

#include <llvm/Target/TargetMachine.h>

namespace llvm {
class Module;
}

namespace membrane::codegen {

// v3: 32-bit jumps and ALU ops, supported since Linux 5.1; we need far newer.
inline constexpr const char* kBpfCpu = "v3";
inline constexpr const char* kBpfTriple = "bpf";  // host byte order (bpfel here)

void initializeBpfTarget();
std::unique_ptr<llvm::TargetMachine> createBpfTargetMachine();

// Runs the target's code generation on `module`: an object (ELF) or assembly
// text. Throws std::runtime_error when the target cannot emit that type.
std::string emitBpf(llvm::Module& module, llvm::TargetMachine& target, llvm::CodeGenFileType type);

}  // namespace membrane::codegen
