// Turns one endpoint class into a BPF ELF object, all in memory:
//  - once per run: load the datapath skeleton (bpf-templates/endpoint.c, an
//    object) and the decision shell (bpf-templates/decision.c, bitcode), both
//    compiled when membranec was built (precompiled_skeleton.h);
//  - per class: clone the shell, generate the class's decision into it,
//    optimize and emit that small module, and link it with the skeleton.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "codegen/decision_codegen.h"
#include "codegen/object_linker.h"
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

struct CachedObjectFile;  // class_cache.h

struct ClassObject {
  uint32_t classId = 0;
  std::string elf;       // the BPF object file
  // Or, for a class read from the cache (class_cache.h) and handed to
  // CompileOptions::onObject, the verified entry itself, open, for
  // ArtifactStaging to link into the output rather than copy.
  std::shared_ptr<const CachedObjectFile> cached;
  std::string llvmIr;    // with EmitOptions::llvmIr
  std::string assembly;  // with EmitOptions::assembly
  DecisionStats stats;
};

class ClassCompiler {
 public:
  // An LLVMContext keeps every constant and type made in it until it is
  // destroyed, so one context for a whole compile grows with the classes
  // (about 45 KB each) and its uniquing tables slow every class down. A
  // fresh context (and shell) every this many classes bounds both; the
  // output does not depend on it (tested).
  static constexpr size_t kClassesPerContext = 32;

  // Loads the embedded skeleton and decision shell. Null (and `error` set)
  // on failure.
  static std::unique_ptr<ClassCompiler> create(std::string* error, size_t classesPerContext = kClassesPerContext);
  ~ClassCompiler();

  // Throws std::runtime_error when the class cannot be lowered.
  ClassObject compile(const ir::Program& program, const ir::EndpointClass& cls, const PeerLowering& lowering,
                      const EmitOptions& options);

 private:
  ClassCompiler();
  // A new context with the decision shell parsed into it; false (and
  // `error` set) when the shell does not load.
  bool renewContext(std::string* error);
  size_t classesPerContext_ = kClassesPerContext;
  size_t classesInContext_ = 0;
  std::unique_ptr<llvm::LLVMContext> context_;
  std::unique_ptr<StagedObject> skeleton_;                // the datapath, for classes with process rules
  std::unique_ptr<StagedObject> skeletonWithoutProcess_;  // and for the others (no socket-call programs)
  std::unique_ptr<llvm::Module> decisionShell_;   // cloned per class that uses tables or http rules
  std::unique_ptr<llvm::Module> leanShell_;       // the same without their helpers, for every other class
  std::unique_ptr<llvm::TargetMachine> target_;
};

}  // namespace membrane::codegen
