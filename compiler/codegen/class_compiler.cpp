#include "codegen/class_compiler.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/IPO/GlobalDCE.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <cstdlib>
#include <string_view>
#include <vector>

#include <stdexcept>

#include "codegen/bpf_target.h"
#include "codegen/decision_codegen.h"
#include "codegen/line_info.h"
#include "codegen/object_linker.h"
#include "codegen/precompiled_skeleton.h"

namespace membrane::codegen {

namespace {

// The shell's helpers that only generated code calls: table matching, the
// port search as data, the HTTP automaton. A global function stays in a
// module whether called or not, and the back end compiled all of them for
// every class: about 600 BPF instructions, more than a 50-rule class's own
// decision, and 70% of its back-end time. A class whose decision calls
// none of them does not carry them; their static callees then go with
// GlobalDCE.
// The kernel reads BTF, never DWARF, and libbpf's linker drops the DWARF
// sections of its inputs; yet the back end writes both when the module has
// debug info. With a "CodeView" module flag and no "Dwarf Version" on a
// non-Windows target, LLVM's AsmPrinter sets up neither CodeView nor DWARF,
// while the module keeps its debug info, so the BPF back end still writes
// BTF and BTF.ext. Linked objects are byte-identical with and without this
// (checked on 1,001 classes); it saves 3-4% of a class's compile time.
void skipDwarf(llvm::Module& module) {
  llvm::NamedMDNode* flags = module.getModuleFlagsMetadata();
  if (!flags) return;
  std::vector<llvm::MDNode*> keep;
  for (llvm::MDNode* flag : flags->operands()) {
    auto* key = llvm::dyn_cast<llvm::MDString>(flag->getOperand(1));
    if (key && key->getString() == "Dwarf Version") continue;
    keep.push_back(flag);
  }
  flags->clearOperands();
  for (llvm::MDNode* flag : keep) flags->addOperand(flag);
  module.addModuleFlag(llvm::Module::Warning, "CodeView", 1);
}

void dropUncalledHelpers(llvm::Module& module) {
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (const char* name : {"mb_table_match", "mb_port_leaf", "mb_http_dfa_run", "mb_http_dfa_word", "mb_peer_word"})
      if (llvm::Function* f = module.getFunction(name); f && !f->isDeclaration() && f->use_empty()) {
        f->eraseFromParent();
        dropped = true;
      }
  }
}

// Whether a class's decision calls any of those helpers: its table-driven
// directions (mb_table_match, and mb_port_leaf past the coded search), its
// http rules (the automaton) and its peer bits past the trie value's
// (mb_peer_word). A class that needs one and is compiled from the lean
// shell fails loudly: generateDecisions finds no helper.
bool callsHelpers(const ir::EndpointClass& cls, const PeerLowering& lowering) {
  if (lowering.bitsPastTrieValue(cls)) return true;
  for (const ir::DirectionPolicy* d : {&cls.ingress, &cls.egress}) {
    if (lowering.usesTable(*d)) return true;
    for (const auto& r : d->rules)
      if (r.condition<ir::HttpCondition>()) return true;
  }
  return false;
}

}  // namespace

ClassCompiler::ClassCompiler() = default;
ClassCompiler::~ClassCompiler() = default;

std::unique_ptr<ClassCompiler> ClassCompiler::create(std::string* error, size_t classesPerContext) {
  std::unique_ptr<ClassCompiler> cc(new ClassCompiler());
  cc->classesPerContext_ = classesPerContext ? classesPerContext : 1;
  cc->target_ = createBpfTargetMachine();
  // Both were compiled when membranec was built (codegen/skeleton_builder.cpp).
  const PrecompiledSkeleton& pre = precompiledSkeleton();
  cc->skeleton_ = std::make_unique<StagedObject>(pre.object);
  cc->skeletonWithoutProcess_ = std::make_unique<StagedObject>(pre.objectWithoutProcess);
  if (!cc->renewContext(error)) return nullptr;
  return cc;
}

bool ClassCompiler::renewContext(std::string* error) {
  leanShell_.reset();  // both before the context that owns them
  decisionShell_.reset();
  context_ = std::make_unique<llvm::LLVMContext>();
  classesInContext_ = 0;
  const PrecompiledSkeleton& pre = precompiledSkeleton();
  auto shell = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(llvm::StringRef(pre.decisionShell.data(), pre.decisionShell.size()), "decision.bc"),
      *context_);
  if (!shell) {
    if (error) *error = "the embedded decision shell does not load: " + llvm::toString(shell.takeError());
    return false;
  }
  decisionShell_ = std::move(*shell);
  // Cloning costs with the size of what is cloned: most classes call none
  // of the helpers, so they start from a shell without them.
  leanShell_ = llvm::CloneModule(*decisionShell_);
  dropUncalledHelpers(*leanShell_);
  return true;
}

namespace {

// The decision shell arrives optimized by clang (-O2), and the generator
// writes the decision straight into the shell's functions as a compact
// search, so all that is left is merging the loads and blocks generation
// repeats. For a 50-rule class the full -O2 module pipeline gave 546 BPF
// instructions in 229M host instructions of compile work, this gives 563 in
// 95M (callgrind); MEMBRANE_FULL_O2=1 brings the full pipeline back.
void optimize(llvm::Module& module, llvm::TargetMachine& target) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&target);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  if (const char* full = std::getenv("MEMBRANE_FULL_O2"); full && std::string_view(full) == "1") {
    pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(module, mam);
    return;
  }
  llvm::ModulePassManager mpm;
  llvm::FunctionPassManager fpm;
  fpm.addPass(llvm::EarlyCSEPass());
  fpm.addPass(llvm::SimplifyCFGPass());
  mpm.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(fpm)));
  mpm.addPass(llvm::GlobalDCEPass());
  mpm.run(module, mam);
}

}  // namespace

ClassObject ClassCompiler::compile(const ir::Program& program, const ir::EndpointClass& cls,
                                   const PeerLowering& lowering, const EmitOptions& options) {
  if (classesInContext_++ == classesPerContext_) {
    std::string error;
    // The shell loaded at create(), so it loads again; if not, say so.
    if (!renewContext(&error)) throw std::runtime_error("internal error: " + error);
    classesInContext_ = 1;
  }
  std::unique_ptr<llvm::Module> module = llvm::CloneModule(callsHelpers(cls, lowering) ? *decisionShell_ : *leanShell_);
  module->setModuleIdentifier("class-" + std::to_string(cls.id));
  ClassObject out;
  out.classId = cls.id;
  out.stats = generateDecisions(*module, program, cls, lowering);
  dropUncalledHelpers(*module);
  skipDwarf(*module);

  std::string problems;
  llvm::raw_string_ostream problemStream(problems);
  if (llvm::verifyModule(*module, &problemStream))
    throw std::runtime_error("internal error: generated IR for class " + std::to_string(cls.id) +
                             " is invalid:\n" + problemStream.str());
  optimize(*module, *target_);
  if (options.llvmIr) {
    // A header a reviewer can read the IR against: what the class is, and
    // every rule the decision folds in, with where it was written.
    std::string header = "; membrane class " + std::to_string(cls.id) + ": ";
    for (size_t i = 0; i < cls.endpoints.size(); ++i) header += (i ? ", " : "") + cls.endpoints[i];
    header += "\n; matchers return the deciding rule id, | 0x80000000 for a deny (0x80000000 alone: default deny);"
              " admin matchers return 0x40000000 for a pass or no match\n";
    for (const auto* dir : {&cls.ingress, &cls.egress}) {
      bool ingress = dir == &cls.ingress;
      header += std::string("; ") + (ingress ? "ingress" : "egress") + ": " +
                (dir->enforced ? "default deny" : "open") + (dir->audited ? ", audited" : "") + "\n";
      dir->forEachRule([&](const ir::Rule& r) {
        auto info = program.rules.find(r.id);
        if (info == program.rules.end()) return;
        header += ";   rule " + std::to_string(r.id) + (r.audit ? " (audit)" : "") + ": " + info->second.text + "   [" +
                  info->second.location + "]\n";
      });
    }
    llvm::raw_string_ostream irStream(out.llvmIr);
    irStream << header << "\n";
    module->print(irStream, nullptr);
  }
  if (options.assembly) {
    // Codegen passes may tweak the IR: emit the assembly from a copy so the
    // object comes from the same input.
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(*module);
    out.assembly = emitBpf(*copy, *target_, llvm::CGFT_AssemblyFile);
  }
  std::string decision = emitBpf(*module, *target_, llvm::CGFT_ObjectFile);
  dropLineInfo(decision);  // as the skeleton's (line_info.h)
  // The manifest lists the socket-call programs only for classes with
  // process rules (artifact_writer.cpp); the others' objects leave them out.
  bool process = !classExecutables(cls).empty();
  out.elf = linkBpfObjects(process ? *skeleton_ : *skeletonWithoutProcess_, decision);
  return out;
}

}  // namespace membrane::codegen
