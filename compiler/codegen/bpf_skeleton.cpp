#include "codegen/bpf_skeleton.h"

#include <clang/Basic/DiagnosticOptions.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include "codegen/bpf_target.h"

namespace membrane::codegen {

extern const EmbeddedFiles kEmbeddedTemplates;

const EmbeddedFiles& embeddedTemplates() { return kEmbeddedTemplates; }

namespace {
// Where embedded files appear inside clang's virtual file system.
constexpr const char* kRoot = "/membrane/";
}  // namespace

std::unique_ptr<llvm::Module> compileSkeleton(llvm::LLVMContext& context, const EmbeddedFiles& files,
                                              const std::string& entry, std::string* error) {
  initializeBpfTarget();
  auto fs = llvm::makeIntrusiveRefCnt<llvm::vfs::InMemoryFileSystem>();
  for (const auto& [path, text] : files)
    fs->addFile(std::string(kRoot) + std::string(path), 0,
                llvm::MemoryBuffer::getMemBuffer(llvm::StringRef(text.data(), text.size()), path, false));

  std::string entryPath = std::string(kRoot) + entry;
  std::string includeTemplates = std::string("-I") + kRoot + "bpf-templates";
  std::string includeAbi = std::string("-I") + kRoot + "runtime/abi";
  // cc1 arguments, i.e. what `clang -target bpf -O2 -g -nostdinc` passes on.
  std::vector<const char*> args = {
      "-triple", "bpf",  "-target-cpu", kBpfCpu, "-O2", "-debug-info-kind=constructor", "-dwarf-version=5",
      "-nostdsysteminc", "-nobuiltininc", "-fno-common", "-ffreestanding", "-Wall", "-Werror",
      includeTemplates.c_str(), includeAbi.c_str(), "-x", "c", entryPath.c_str()};

  std::string diagText;
  llvm::raw_string_ostream diagStream(diagText);
  auto diagOpts = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  auto* printer = new clang::TextDiagnosticPrinter(diagStream, diagOpts.get());

  clang::CompilerInstance ci;
  ci.createDiagnostics(printer, /*ShouldOwnClient=*/true);
  auto invocation = std::make_shared<clang::CompilerInvocation>();
  if (!clang::CompilerInvocation::CreateFromArgs(*invocation, args, ci.getDiagnostics())) {
    if (error) *error = "invalid skeleton compile arguments: " + diagStream.str();
    return nullptr;
  }
  ci.setInvocation(invocation);
  ci.createFileManager(fs);

  clang::EmitLLVMOnlyAction action(&context);
  if (!ci.ExecuteAction(action)) {
    if (error) *error = "the datapath skeleton failed to compile:\n" + diagStream.str();
    return nullptr;
  }
  return action.takeModule();
}

}  // namespace membrane::codegen
