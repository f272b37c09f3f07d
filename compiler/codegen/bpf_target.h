// The BPF target as membrane uses it: one place for the triple, CPU version
// and target machine so the skeleton and each class agree.
#pragma once

#include <memory>

namespace llvm {
class TargetMachine;
}

namespace membrane::codegen {

// v3: 32-bit jumps and ALU ops, supported since Linux 5.1; we need far newer.
inline constexpr const char* kBpfCpu = "v3";
inline constexpr const char* kBpfTriple = "bpf";  // host byte order (bpfel here)

void initializeBpfTarget();
std::unique_ptr<llvm::TargetMachine> createBpfTargetMachine();

}  // namespace membrane::codegen
