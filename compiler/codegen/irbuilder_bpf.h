// IRBuilder with the handful of BPF-aware helpers the decision generator
// needs: field access on the ABI structs and the bit/range tests that policy
// rules fold into.
#pragma once

#include <llvm/IR/IRBuilder.h>

namespace membrane::codegen {

class IRBuilderBPF : public llvm::IRBuilder<> {
 public:
  IRBuilderBPF(llvm::LLVMContext& context, llvm::Module& module) : llvm::IRBuilder<>(context), module_(module) {}

  llvm::Module& module() { return module_; }

  // Loads field `index` of the struct `ptr` points to (typed pointers, LLVM 14).
  llvm::Value* loadField(llvm::Value* ptr, unsigned index, const llvm::Twine& name = "");
  // Pointer to field `index` of the struct `ptr` points to.
  llvm::Value* fieldPtr(llvm::Value* ptr, unsigned index, const llvm::Twine& name = "");
  void storeConst(llvm::Value* ptr, unsigned index, uint64_t value);
  void storeField(llvm::Value* ptr, unsigned index, llvm::Value* value);

  // (word & mask) != 0
  llvm::Value* testMask(llvm::Value* word, uint64_t mask);
  // lo <= v && v <= hi, unsigned; folds to one compare where a bound is trivial.
  llvm::Value* inRange(llvm::Value* v, uint64_t lo, uint64_t hi, uint64_t max);
  // OR of conditions; false for none.
  llvm::Value* anyOf(const std::vector<llvm::Value*>& conditions);

  // Empties the decision shell's definition of global function `name` for a
  // generated body. The function keeps its debug info (its BTF is what lets
  // the verifier check it as a global function); generated instructions
  // carry the shell's line. Throws when the shell does not define it.
  llvm::Function* replaceBody(const char* name);

 private:
  llvm::Module& module_;
};

}  // namespace membrane::codegen
