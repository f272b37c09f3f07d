// See irbuilder_bpf.h.
#include "codegen/irbuilder_bpf.h"

#include <stdexcept>
#include <string>

#include <llvm/IR/DebugInfoMetadata.h>
#include <llvm/IR/Module.h>

namespace membrane::codegen {

llvm::Value* IRBuilderBPF::fieldPtr(llvm::Value* ptr, unsigned index, const llvm::Twine& name) {
  llvm::Type* structType = ptr->getType()->getPointerElementType();
  return CreateStructGEP(structType, ptr, index, name);
}

llvm::Value* IRBuilderBPF::loadField(llvm::Value* ptr, unsigned index, const llvm::Twine& name) {
  llvm::Value* field = fieldPtr(ptr, index, name + ".ptr");
  return CreateLoad(field->getType()->getPointerElementType(), field, name);
}

void IRBuilderBPF::storeConst(llvm::Value* ptr, unsigned index, uint64_t value) {
  llvm::Value* field = fieldPtr(ptr, index);
  CreateStore(llvm::ConstantInt::get(field->getType()->getPointerElementType(), value), field);
}

void IRBuilderBPF::storeField(llvm::Value* ptr, unsigned index, llvm::Value* value) {
  llvm::Value* field = fieldPtr(ptr, index);
  CreateStore(CreateZExtOrTrunc(value, field->getType()->getPointerElementType()), field);
}

llvm::Value* IRBuilderBPF::testMask(llvm::Value* word, uint64_t mask) {
  auto* type = llvm::cast<llvm::IntegerType>(word->getType());
  return CreateICmpNE(CreateAnd(word, llvm::ConstantInt::get(type, mask)), llvm::ConstantInt::get(type, 0));
}

llvm::Value* IRBuilderBPF::inRange(llvm::Value* v, uint64_t lo, uint64_t hi, uint64_t max) {
  auto* type = llvm::cast<llvm::IntegerType>(v->getType());
  if (lo == 0 && hi >= max) return getTrue();
  if (lo == hi) return CreateICmpEQ(v, llvm::ConstantInt::get(type, lo));
  if (lo == 0) return CreateICmpULE(v, llvm::ConstantInt::get(type, hi));
  if (hi >= max) return CreateICmpUGE(v, llvm::ConstantInt::get(type, lo));
  // v - lo <= hi - lo: one compare instead of two.
  return CreateICmpULE(CreateSub(v, llvm::ConstantInt::get(type, lo)), llvm::ConstantInt::get(type, hi - lo));
}

llvm::Value* IRBuilderBPF::anyOf(const std::vector<llvm::Value*>& conditions) {
  if (conditions.empty()) return getFalse();
  llvm::Value* acc = conditions.front();
  for (size_t i = 1; i < conditions.size(); ++i) acc = CreateOr(acc, conditions[i]);
  return acc;
}

llvm::Function* IRBuilderBPF::replaceBody(const char* name) {
  llvm::Function* fn = module_.getFunction(name);
  if (!fn || fn->isDeclaration()) throw std::runtime_error(std::string("the decision shell does not define ") + name);
  llvm::DISubprogram* sp = fn->getSubprogram();
  llvm::GlobalValue::LinkageTypes linkage = fn->getLinkage();
  fn->deleteBody();
  fn->setLinkage(linkage);
  fn->setSubprogram(sp);
  SetCurrentDebugLocation(sp ? llvm::DebugLoc(llvm::DILocation::get(Context, sp->getLine(), 0, sp)) : llvm::DebugLoc());
  return fn;
}

}  // namespace membrane::codegen
