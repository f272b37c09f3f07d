// See dns_codegen.h: a class's DNS tables as generated BPF code.
#include "codegen/dns_codegen.h"

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

#include <llvm/IR/Module.h>

#include "abi/datapath.h"
#include "codegen/irbuilder_bpf.h"
#include "features/l4/l4.h"
#include "names/dns.h"

namespace membrane::codegen {

namespace {

// Field indices of struct mb_dns_name as clang lays it out.
enum NameField { kNameLabels = 0, kNameStart = 3, kNameSize = 4, kNameText = 5 };

[[noreturn]] void notSupported(const std::string& what) {
  throw std::runtime_error("code generation does not support " + what);
}

// The patterns' labels from the right, merged where they agree: a node is a
// run of labels some patterns share, so each label is compared once however
// many patterns continue below it.
struct TrieNode {
  uint64_t ends = 0;  // patterns with exactly this many labels, all matched
  std::map<std::string, std::unique_ptr<TrieNode>> children;  // by label (with at most one '*')
};

class DnsGenerator {
 public:
  DnsGenerator(llvm::Module& module, const DnsPatterns& patterns)
      : module_(module), patterns_(patterns), b_(module.getContext(), module) {}

  void features() {
    llvm::GlobalVariable* gv = module_.getGlobalVariable("mb_dns_class_features");
    if (!gv || !gv->hasInitializer() || !gv->getValueType()->isIntegerTy(32))
      throw std::runtime_error("the decision shell does not define mb_dns_class_features as a u32");
    gv->setInitializer(b_.getInt32(patterns_.features()));
  }

  void port() {
    llvm::Function* fn = b_.replaceBody("mb_dns_port");
    if (fn->arg_size() != 2) throw std::runtime_error("the decision shell declares mb_dns_port with the wrong signature");
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx(), "entry", fn));
    llvm::Value* proto = fn->getArg(0);
    llvm::Value* port = fn->getArg(1);
    std::vector<llvm::Value*> any;
    for (const auto& m : patterns_.ports()) {
      std::vector<llvm::Value*> ranges;
      for (const auto& r : m.ports) ranges.push_back(b_.inRange(port, r.first, r.last, 65535));
      if (m.ports.empty()) ranges.push_back(b_.getTrue());
      any.push_back(b_.CreateAnd(b_.CreateICmpEQ(proto, llvm::ConstantInt::get(proto->getType(), m.protocol)),
                                 b_.anyOf(ranges)));
    }
    b_.CreateRet(b_.CreateZExt(b_.anyOf(any), fn->getReturnType()));
  }

  void match() {
    llvm::Function* fn = b_.replaceBody("mb_dns_match");
    if (fn->arg_size() != 1 || !fn->getReturnType()->isIntegerTy(64))
      throw std::runtime_error("the decision shell declares mb_dns_match with the wrong signature");
    name_ = fn->getArg(0);
    auto* st = llvm::dyn_cast<llvm::StructType>(name_->getType()->getPointerElementType());
    if (!st || st->getNumElements() != 6)
      throw std::runtime_error("datapath skeleton ABI mismatch: struct mb_dns_name");
    fn_ = fn;
    auto* entry = llvm::BasicBlock::Create(ctx(), "entry", fn);
    auto* nullArg = llvm::BasicBlock::Create(ctx(), "null.arg", fn);
    auto* body = llvm::BasicBlock::Create(ctx(), "body", fn);
    b_.SetInsertPoint(entry);
    bits_ = b_.CreateAlloca(b_.getInt64Ty(), nullptr, "bits");
    // The verifier treats a global function's pointer argument as possibly NULL.
    b_.CreateCondBr(b_.CreateIsNull(name_), nullArg, body);
    b_.SetInsertPoint(nullArg);
    b_.CreateRet(b_.getInt64(0));

    b_.SetInsertPoint(body);
    TrieNode root;
    uint64_t always = 0;
    const auto& all = patterns_.patterns();
    for (size_t i = 0; i < all.size(); ++i) {
      auto parsed = names::parseDnsPattern(all[i]);
      const auto* p = std::get_if<names::DnsPattern>(&parsed);
      if (!p) throw std::runtime_error("the IR holds an invalid DNS pattern \"" + all[i] + "\"");
      uint64_t bit = uint64_t(1) << i;
      if (p->text == "*") {
        always |= bit;  // every name
        continue;
      }
      TrieNode* node = &root;
      for (auto label = p->labels.rbegin(); label != p->labels.rend(); ++label) {
        auto& child = node->children[*label];
        if (!child) child = std::make_unique<TrieNode>();
        node = child.get();
      }
      node->ends |= bit;
    }
    b_.CreateStore(b_.getInt64(always), bits_);
    labels_ = b_.CreateZExt(b_.loadField(name_, kNameLabels, "labels"), b_.getInt32Ty());
    emitNode(root, 0);
    b_.CreateRet(b_.CreateLoad(b_.getInt64Ty(), bits_, "result"));
  }

 private:
  llvm::Module& module_;
  const DnsPatterns& patterns_;
  IRBuilderBPF b_;
  llvm::Function* fn_ = nullptr;
  llvm::Value* name_ = nullptr;
  llvm::Value* labels_ = nullptr;
  llvm::AllocaInst* bits_ = nullptr;

  llvm::LLVMContext& ctx() { return module_.getContext(); }

  // At the insertion point the name's labels [0, depth) from the right have
  // matched the path to `node`; leaves the insertion point after it.
  void emitNode(const TrieNode& node, unsigned depth) {
    if (node.ends) {
      llvm::Value* bits = b_.CreateLoad(b_.getInt64Ty(), bits_);
      llvm::Value* exact = b_.CreateICmpEQ(labels_, b_.getInt32(depth));
      b_.CreateStore(b_.CreateSelect(exact, b_.CreateOr(bits, b_.getInt64(node.ends)), bits), bits_);
    }
    if (node.children.empty()) return;
    if (depth >= MB_DNS_LABELS_MAX) notSupported("a DNS pattern with more than " + std::to_string(MB_DNS_LABELS_MAX) + " labels");
    auto* load = llvm::BasicBlock::Create(ctx(), "label." + std::to_string(depth), fn_);
    auto* after = llvm::BasicBlock::Create(ctx(), "after." + std::to_string(depth), fn_);
    b_.CreateCondBr(b_.CreateICmpUGT(labels_, b_.getInt32(depth)), load, after);
    b_.SetInsertPoint(load);
    llvm::Value* start = labelField(kNameStart, depth, "start");
    llvm::Value* size = labelField(kNameSize, depth, "size");
    for (const auto& [label, child] : node.children) {
      auto* bytes = llvm::BasicBlock::Create(ctx(), "bytes." + std::to_string(depth), fn_);
      auto* matched = llvm::BasicBlock::Create(ctx(), "matched." + std::to_string(depth), fn_);
      auto* next = llvm::BasicBlock::Create(ctx(), "next." + std::to_string(depth), fn_);
      size_t star = label.find('*');
      std::string prefix = star == std::string::npos ? label : label.substr(0, star);
      std::string suffix = star == std::string::npos ? "" : label.substr(star + 1);
      llvm::Value* sizeOk = star == std::string::npos
                                ? b_.CreateICmpEQ(size, b_.getInt32(static_cast<uint32_t>(label.size())))
                                : b_.CreateICmpUGE(size, b_.getInt32(static_cast<uint32_t>(
                                                             std::max<size_t>(1, prefix.size() + suffix.size()))));
      b_.CreateCondBr(sizeOk, bytes, next);
      b_.SetInsertPoint(bytes);
      std::vector<llvm::Value*> equal;
      for (size_t j = 0; j < prefix.size(); ++j)
        equal.push_back(byteIs(b_.CreateAdd(start, b_.getInt32(static_cast<uint32_t>(j))), prefix[j]));
      if (!suffix.empty()) {
        llvm::Value* tail = b_.CreateSub(b_.CreateAdd(start, size), b_.getInt32(static_cast<uint32_t>(suffix.size())));
        for (size_t j = 0; j < suffix.size(); ++j)
          equal.push_back(byteIs(b_.CreateAdd(tail, b_.getInt32(static_cast<uint32_t>(j))), suffix[j]));
      }
      llvm::Value* all = b_.getTrue();
      for (auto* e : equal) all = b_.CreateAnd(all, e);
      b_.CreateCondBr(all, matched, next);
      b_.SetInsertPoint(matched);
      emitNode(*child, depth + 1);
      b_.CreateBr(next);
      b_.SetInsertPoint(next);
    }
    b_.CreateBr(after);
    b_.SetInsertPoint(after);
  }

  // name->start[depth] or name->size[depth], as i32.
  llvm::Value* labelField(unsigned field, unsigned depth, const char* what) {
    llvm::Value* array = b_.fieldPtr(name_, field);
    llvm::Value* ptr = b_.CreateConstInBoundsGEP2_32(array->getType()->getPointerElementType(), array, 0, depth);
    return b_.CreateZExt(b_.CreateLoad(b_.getInt8Ty(), ptr, std::string(what) + "." + std::to_string(depth)),
                         b_.getInt32Ty());
  }

  // name->text[offset & (MB_DNS_NAME_BYTES - 1)] == c: the mask is what
  // bounds the load for the verifier (labels stay inside the text anyway).
  llvm::Value* byteIs(llvm::Value* offset, char c) {
    llvm::Value* text = b_.fieldPtr(name_, kNameText);
    llvm::Value* index = b_.CreateAnd(offset, b_.getInt32(MB_DNS_NAME_BYTES - 1));
    llvm::Value* ptr = b_.CreateInBoundsGEP(text->getType()->getPointerElementType(), text, {b_.getInt32(0), index});
    return b_.CreateICmpEQ(b_.CreateLoad(b_.getInt8Ty(), ptr), b_.getInt8(static_cast<uint8_t>(c)));
  }
};

}  // namespace

DnsPatterns::DnsPatterns(const ir::EndpointClass& cls) {
  for (const auto& r : cls.ingress.rules)
    if (!r.peer.dnsNames.empty() || r.condition<ir::DnsCondition>())
      notSupported("DNS names on ingress rule " + std::to_string(r.id));
  std::map<uint8_t, std::vector<ir::PortRange>> ports;
  for (const auto& r : cls.egress.rules) {
    if (!r.peer.dnsNames.empty()) features_ |= MB_DNS_F_NAMES;
    patterns_.insert(patterns_.end(), r.peer.dnsNames.begin(), r.peer.dnsNames.end());
    if (const auto* c = r.condition<ir::DnsCondition>()) {
      features_ |= MB_DNS_F_QUERIES;
      patterns_.insert(patterns_.end(), c->names.begin(), c->names.end());
      for (const auto& m : features::l4::matchesOf(r)) {
        if (m.protocol != ir::kTCP && m.protocol != ir::kUDP)
          notSupported("a dns condition on protocol " + ir::protocolName(m.protocol));
        auto& list = ports[m.protocol];
        if (m.ports.empty()) list.push_back({1, 65535});
        list.insert(list.end(), m.ports.begin(), m.ports.end());
      }
    }
  }
  std::sort(patterns_.begin(), patterns_.end());
  patterns_.erase(std::unique(patterns_.begin(), patterns_.end()), patterns_.end());
  if (patterns_.size() > kMax)
    throw std::runtime_error("class " + std::to_string(cls.id) + " has " + std::to_string(patterns_.size()) +
                             " DNS names and patterns; the datapath matches at most " + std::to_string(kMax) +
                             " per class");
  for (auto& [protocol, ranges] : ports) ports_.push_back({protocol, features::l4::normalizeRanges(ranges)});
}

uint64_t DnsPatterns::mask(const std::vector<std::string>& names) const {
  uint64_t out = 0;
  for (const auto& n : names) {
    auto it = std::lower_bound(patterns_.begin(), patterns_.end(), n);
    if (it == patterns_.end() || *it != n) throw std::logic_error("DNS pattern \"" + n + "\" is not in its class's table");
    out |= uint64_t(1) << (it - patterns_.begin());
  }
  return out;
}

void generateDnsTables(llvm::Module& module, const DnsPatterns& patterns) {
  DnsGenerator gen(module, patterns);
  gen.features();
  gen.port();
  gen.match();
}

}  // namespace membrane::codegen
