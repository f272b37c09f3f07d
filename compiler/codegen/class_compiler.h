// Turns one endpoint class into a BPF ELF object, all in memory:
//  - once per run: compile the datapath skeleton (bpf-templates/endpoint.c) to
//    an object, and the decision shell (bpf-templates/decision.c) to IR;
//  - per class: clone the shell, generate the class's decision into it,
//    optimize and emit that small module, and link it with the skeleton.
#pragma once

#include <memory>
#include <string>

#include "codegen/decision_codegen.h"
#include "ir/ir.h"

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace membrane::codegen {

struct EmitOptions {
  bool llvmIr = false;   // keep the class decision's optimized LLVM IR text
  bool assembly = false; // keep the class decision's BPF assembly text
};

struct ClassObject {
  uint32_t classId = 0;
  std::string elf;       // the BPF object file
  std::string llvmIr;    // with EmitOptions::llvmIr
  std::string assembly;  // with EmitOptions::assembly
  DecisionStats stats;
};

class ClassCompiler {
 public:
  // Compiles the embedded skeleton once. Null (and `error` set) on failure.
  static std::unique_ptr<ClassCompiler> create(std::string* error);
  ~ClassCompiler();

  // Throws std::runtime_error when the class cannot be lowered.
  ClassObject compile(const ir::Program& program, const ir::EndpointClass& cls, const PeerLowering& lowering,
                      const EmitOptions& options);

 private:
  ClassCompiler();
  std::unique_ptr<llvm::LLVMContext> context_;
  std::string skeletonObject_;                    // the datapath, for classes with process rules
  std::string skeletonWithoutProcess_;            // and for the others (no socket-call programs)
  std::unique_ptr<llvm::Module> decisionShell_;   // cloned per class
  std::unique_ptr<llvm::TargetMachine> target_;
};

}  // namespace membrane::codegen
