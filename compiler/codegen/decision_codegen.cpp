#include "codegen/decision_codegen.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>

#include "abi/datapath.h"
#include "codegen/dns_codegen.h"
#include "codegen/http_codegen.h"
#include "codegen/irbuilder_bpf.h"
#include "codegen/port_leaves.h"
#include "features/l4/l4.h"
#include "features/registry/registry.h"

namespace membrane::codegen {

namespace {

// Field indices of the ABI structs as clang lays them out (checked below).
enum InputField {
  kInPeerFlags = 0, kInFamily = 1, kInProto = 2, kInPort = 3, kInAddr = 4,
  kInDns = 5, kInDnsQuery = 7, kInDnsPeer = 8, kInExe = 9
};
enum IdentityField { kIdFlags = 0, kIdIdentity = 1, kIdMoreBits = 2, kIdBits = 3 };

// A matcher returns the deciding rule id, with the top bit set for a deny;
// kDefaultDeny is "no rule matched". The admin tier's matcher returns
// kAdminPass for a `pass` or no match: the ordinary policies decide
// (ids stay below MB_RULE_MAX, so no id has this bit).
constexpr uint32_t kDenyBit = 0x80000000u;
constexpr uint32_t kDefaultDeny = kDenyBit;
constexpr uint32_t kAdminPass = 0x40000000u;
// decision.c's MB_TABLE_FLAGS_WORD: a table entry whose mask tests the
// peer's MB_PEER_* flags, not a word of its bits.
constexpr uint32_t kTableFlagsWord = 0xffffffffu;
static_assert(MB_RULE_MAX <= kAdminPass && MB_RESULT_DNS_LEARN < kAdminPass, "a pass must not look like a rule");

[[noreturn]] void notSupported(const std::string& what) {
  throw std::runtime_error("code generation does not support " + what);
}

void expectStruct(llvm::Type* type, unsigned fields, const char* name) {
  auto* st = llvm::dyn_cast<llvm::StructType>(type);
  if (!st || st->getNumElements() != fields)
    throw std::runtime_error(std::string("datapath skeleton ABI mismatch: struct ") + name +
                             " does not have the layout of runtime/abi/datapath.h");
}

}  // namespace

std::vector<std::string> classExecutables(const ir::EndpointClass& cls) {
  std::set<std::string> all;
  for (const auto* dp : {&cls.ingress, &cls.egress})
    for (const auto& r : dp->rules)
      if (const auto* c = r.condition<ir::ProcessCondition>()) all.insert(c->executables.begin(), c->executables.end());
  if (all.size() > MB_PROCESS_EXE_BITS)
    notSupported(std::to_string(all.size()) + " executables in the process rules of one class (at most " +
                 std::to_string(MB_PROCESS_EXE_BITS) + ")");
  return {all.begin(), all.end()};
}

std::vector<Applicable> applicableFor(const std::vector<const ir::Rule*>& rules, std::optional<uint8_t> p) {
  std::vector<Applicable> out;
  for (const auto* r : rules) {
    Applicable a{r, false, {}};
    bool applies = false;
    if (features::l4::matchesOf(*r).empty()) applies = a.allPorts = true;
    for (const auto& m : features::l4::matchesOf(*r)) {
      if (m.protocol == ir::kAnyProtocol || (p && m.protocol == *p)) {
        applies = true;
        if (m.ports.empty() || m.protocol == ir::kAnyProtocol) a.allPorts = true;
        a.ranges.insert(a.ranges.end(), m.ports.begin(), m.ports.end());
      }
    }
    if (!applies) continue;
    if (a.allPorts) a.ranges.clear();
    // A protocol no rule names has no port dimension worth searching.
    if (!p) a.allPorts = true, a.ranges.clear();
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<uint8_t> namedProtocols(const std::vector<const ir::Rule*>& rules) {
  std::vector<uint8_t> protocols;
  for (const auto* r : rules)
    for (const auto& m : features::l4::matchesOf(*r))
      if (m.protocol != ir::kAnyProtocol) protocols.push_back(m.protocol);
  std::sort(protocols.begin(), protocols.end());
  protocols.erase(std::unique(protocols.begin(), protocols.end()), protocols.end());
  return protocols;
}

PortLeaves portLeaves(const std::vector<Applicable>& rules) {
  // Every range start and every end+1 is a boundary.
  std::vector<uint32_t> bounds = {0};
  for (const auto& a : rules)
    for (const auto& r : a.ranges) {
      bounds.push_back(r.first);
      if (r.last < 65535) bounds.push_back(uint32_t(r.last) + 1);
    }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<std::vector<size_t>> lists(bounds.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].allPorts) {
      for (auto& l : lists) l.push_back(i);
      continue;
    }
    // Only the intervals the rule's ranges cover: touching every interval per
    // rule made this quadratic when each rule has ports of its own.
    for (const auto& r : rules[i].ranges) {
      size_t first = std::lower_bound(bounds.begin(), bounds.end(), uint32_t(r.first)) - bounds.begin();
      for (size_t k = first; k < bounds.size() && bounds[k] <= r.last; ++k)
        if (lists[k].empty() || lists[k].back() != i) lists[k].push_back(i);
    }
  }
  PortLeaves out;
  for (size_t k = 0; k < bounds.size(); ++k) {
    if (!out.lists.empty() && out.lists.back() == lists[k]) continue;
    out.starts.push_back(bounds[k]);
    out.lists.push_back(lists[k]);
  }
  return out;
}

namespace {

class DecisionGenerator {
 public:
  // With `http`, generates request decisions (mb_http_decide_*): each
  // rule's http condition tested against the request. With `executables`
  // (the class's, classExecutables), the socket calls' decision
  // (mb_process_decide_egress): each rule's process condition tested on
  // in->exe, bit i for executables[i]. Without either, packet decisions: an
  // allow whose leaf holds a matching http rule becomes MB_VERDICT_L7 as
  // the evaluator's decide() says, and http deny rules never deny the
  // connection; one only rules with a process condition allow becomes
  // MB_VERDICT_PROCESS (the evaluator's needsProcess).
  DecisionGenerator(llvm::Module& module, const ir::Program& program, const PeerLowering& lowering,
                    const DnsPatterns& dns, const HttpTables* http = nullptr,
                    const std::vector<std::string>* executables = nullptr)
      : module_(module), program_(program), lowering_(lowering), dns_(dns), b_(module.getContext(), module),
        executables_(executables) {
    if (http) request_.emplace(b_, *http);
  }

  DecisionStats stats;

  // Replaces the body of the shell's global `name` (i64 (peer*, in*)) with
  // the decision: the packed result of runtime/abi/datapath.h. Generating in
  // place, rather than in functions inlined later, spares the optimizer the
  // inlining of every matcher (most of its time per class).
  void decide(const char* name, const ir::DirectionPolicy& policy) {
    llvm::Function* fn = replaceBody(name);
    if (fn->arg_size() != (request_ ? 3u : 2u) || !fn->getReturnType()->isIntegerTy(64))
      throw std::runtime_error(std::string("the decision shell declares ") + name + " with the wrong signature");
    llvm::Value* peer = fn->getArg(0);
    llvm::Value* in = fn->getArg(1);
    llvm::Value* req = request_ ? fn->getArg(2) : nullptr;
    expectStruct(peer->getType()->getPointerElementType(), 6, "mb_identity");
    expectStruct(in->getType()->getPointerElementType(), 10, "mb_decision_input");

    auto* entry = llvm::BasicBlock::Create(ctx(), "entry", fn);
    b_.SetInsertPoint(entry);
    if (!policy.decides()) {
      b_.CreateRet(b_.getInt64(0));  // open direction: allowed, no rule
      return;
    }
    bool httpRules = false;
    for (const auto& r : policy.rules) httpRules |= r.condition<ir::HttpCondition>() != nullptr;
    if (request_ && !httpRules) {
      // No connection in this direction is handed to the socket layer, so
      // no request is ever asked about: the stand-in's deny.
      b_.CreateRet(b_.getInt64(MB_RESULT_DENY | MB_RESULT_ENFORCED));
      return;
    }
    // The verifier treats a global function's pointer arguments as possibly
    // NULL. NULL is impossible here (the skeleton passes a stack variable and
    // a map value), and would be denied.
    auto* nullArgs = llvm::BasicBlock::Create(ctx(), "null.args", fn);
    auto* body = llvm::BasicBlock::Create(ctx(), "body", fn);
    llvm::Value* anyNull = b_.CreateOr(b_.CreateIsNull(peer), b_.CreateIsNull(in));
    if (req) anyNull = b_.CreateOr(anyNull, b_.CreateIsNull(req));
    b_.CreateCondBr(anyNull, nullArgs, body);
    b_.SetInsertPoint(nullArgs);
    b_.CreateRet(b_.getInt64(MB_RESULT_DENY | MB_RESULT_ENFORCED));
    b_.SetInsertPoint(body);
    if (request_) request_->prepare(req, policy);
    for (const auto* tier : {&policy.admin, &policy.baseline})
      if (size_t tests = foldedTests(*tier); tests > PeerLowering::kFoldedTestLimit)
        notSupported("a tier of " + std::to_string(tier->size()) + " rules needing " + std::to_string(tests) +
                     " rule tests (more than " + std::to_string(PeerLowering::kFoldedTestLimit) +
                     " would not load; tier rules are always folded into code)");
    stats.rules += policy.admin.size() + policy.baseline.size();
    if (!policy.admin.empty()) {
      // The admin tier (docs/language.md, "Tiers"): an allow or deny is the
      // verdict; a pass, or no match, goes on to the ordinary policies.
      llvm::Value* adminCode = emitMatcher("admin", pointers(policy.admin), fn, peer, in, false, nullptr, kAdminPass);
      auto* adminDecided = llvm::BasicBlock::Create(ctx(), "admin.decided", fn);
      auto* ordinary = llvm::BasicBlock::Create(ctx(), "ordinary", fn);
      b_.CreateCondBr(b_.CreateICmpEQ(b_.CreateAnd(adminCode, kAdminPass), b_.getInt32(0)), adminDecided, ordinary);
      b_.SetInsertPoint(adminDecided);
      b_.CreateRet(b_.CreateOr(b_.CreateZExt(adminCode, b_.getInt64Ty()), b_.getInt64(MB_RESULT_ENFORCED)));
      b_.SetInsertPoint(ordinary);
    }

    std::vector<const ir::Rule*> enforcedRules, allRules;
    for (const auto& r : policy.rules) {
      allRules.push_back(&r);
      if (!r.audit) enforcedRules.push_back(&r);
    }
    stats.rules += policy.rules.size();

    bool table = lowering_.usesTable(policy);
    if (table && httpRules)
      notSupported("http rules in a table-driven class (more than " + std::to_string(PeerLowering::kTableRuleThreshold) +
                   " rules in a direction)");
    bool processRules = false;
    for (const auto& r : policy.rules) processRules |= r.condition<ir::ProcessCondition>() != nullptr;
    if (table && processRules)
      notSupported("process rules in a table-driven class (more than " +
                   std::to_string(PeerLowering::kTableRuleThreshold) + " rules in a direction)");
    if (httpRules && processRules)
      notSupported("http and process rules in one direction of a class (their programs share no verdict yet)");
    llvm::Value* code = b_.getInt32(0);  // not enforced: allowed, no rule
    llvm::Value* l7 = nullptr;
    if (policy.enforced)
      code = emitMatcher("enforced", enforcedRules, fn, peer, in, table, &l7, kDefaultDeny);
    else if (policy.baselineDecides() && !policy.baseline.empty())
      // Nothing isolates the direction: the baseline tier's first match
      // decides, and without one the flow is allowed, no rule deciding.
      code = emitMatcher("baseline", pointers(policy.baseline), fn, peer, in, false, nullptr, 0);
    llvm::Value* denied = b_.CreateICmpNE(b_.CreateAnd(code, kDenyBit), b_.getInt32(0), "denied");
    // The matcher's rule id and deny bit sit where the packed result wants them.
    llvm::Value* result = b_.CreateZExt(code, b_.getInt64Ty());
    if (policy.enforced)
      result = b_.CreateOr(result, b_.getInt64(MB_RESULT_ENFORCED));
    else if (!policy.baseline.empty())
      result = b_.CreateSelect(b_.CreateICmpEQ(code, b_.getInt32(0)), result,
                               b_.CreateOr(result, b_.getInt64(MB_RESULT_ENFORCED)));
    if (l7) {
      // Allowed, and the socket layer decides the requests (or, for
      // process rules, the socket calls decided the flow): a verdict of
      // bits 24-27, with bit 31 so code testing only that bit drops it.
      uint64_t verdict = processRules ? MB_VERDICT_PROCESS : MB_VERDICT_L7;
      llvm::Value* inspect = b_.CreateAnd(l7, b_.CreateNot(denied), processRules ? "process" : "l7");
      result = b_.CreateSelect(
          inspect, b_.CreateOr(result, b_.getInt64((verdict << MB_RESULT_VERDICT_SHIFT) | MB_RESULT_DENY)), result);
    }
    llvm::BasicBlock* decided = b_.GetInsertBlock();
    if (!policy.audited) {
      b_.CreateRet(result);
      return;
    }
    // Audit: what would the verdict be with audit policies enforced too?
    auto* auditBlock = llvm::BasicBlock::Create(ctx(), "audit", fn);
    auto* done = llvm::BasicBlock::Create(ctx(), "done", fn);
    b_.CreateCondBr(denied, done, auditBlock);
    b_.SetInsertPoint(auditBlock);
    llvm::Value* auditCode = emitMatcher("audit", allRules, fn, peer, in, table, nullptr, kDefaultDeny);
    llvm::BasicBlock* audited = b_.GetInsertBlock();
    llvm::Value* wouldDeny = b_.CreateICmpNE(b_.CreateAnd(auditCode, kDenyBit), b_.getInt32(0));
    llvm::Value* auditBits = b_.CreateOr(
        b_.CreateShl(b_.CreateZExt(b_.CreateAnd(auditCode, uint32_t(MB_RESULT_RULE_MASK)), b_.getInt64Ty()),
                     MB_RESULT_AUDIT_SHIFT),
        b_.getInt64(MB_RESULT_AUDIT_DENY));
    llvm::Value* withAudit = b_.CreateSelect(wouldDeny, b_.CreateOr(result, auditBits), result);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    auto* phi = b_.CreatePHI(b_.getInt64Ty(), 2);
    phi->addIncoming(result, decided);
    phi->addIncoming(withAudit, audited);
    b_.CreateRet(phi);
  }

  void directionEnforced(const ir::EndpointClass& cls) {
    llvm::Function* fn = replaceBody("mb_direction_enforced");
    if (fn->arg_size() != 1)
      throw std::runtime_error("the decision shell declares mb_direction_enforced with the wrong signature");
    auto* entry = llvm::BasicBlock::Create(ctx(), "entry", fn);
    b_.SetInsertPoint(entry);
    llvm::Value* dir = fn->getArg(0);
    auto* retType = llvm::cast<llvm::IntegerType>(fn->getReturnType());
    llvm::Value* isEgress = b_.CreateICmpEQ(dir, llvm::ConstantInt::get(dir->getType(), MB_DIR_EGRESS));
    b_.CreateRet(b_.CreateSelect(isEgress, llvm::ConstantInt::get(retType, cls.egress.restricted() ? 1 : 0),
                                 llvm::ConstantInt::get(retType, cls.ingress.restricted() ? 1 : 0)));
  }

 private:
  llvm::Module& module_;
  const ir::Program& program_;
  const PeerLowering& lowering_;
  const DnsPatterns& dns_;
  IRBuilderBPF b_;
  std::optional<HttpRequestTests> request_;  // request decisions
  const std::vector<std::string>* executables_ = nullptr;  // the socket calls' decision

  llvm::LLVMContext& ctx() { return module_.getContext(); }

  llvm::Function* replaceBody(const char* name) { return b_.replaceBody(name); }

  struct Frame {
    llvm::Function* fn = nullptr;
    llvm::Value* in = nullptr;
    llvm::Value* peer = nullptr;
    llvm::Value* peerFlags = nullptr;
    llvm::Value* port = nullptr;
    llvm::BasicBlock* noMatch = nullptr;  // exits with the matcher's no-match code
    llvm::BasicBlock* exit = nullptr;  // where the code is known
    // Every way out stores its code here: a phi with an incoming value per
    // way out (and LLVM folds every search node that reaches default deny
    // into one) makes SimplifyCFG and CodeGenPrepare quadratic in them, and
    // classes with a port per rule have tens of thousands.
    llvm::AllocaInst* code = nullptr;
    bool table = false;  // leaves go to mb_table_match
    llvm::BasicBlock* tableCallBlock = nullptr;
    llvm::AllocaInst* tableLeafIndex = nullptr;
    std::map<uint32_t, llvm::BasicBlock*> ruleReturn;  // rule id → block exiting with its code
    // By the rules a leaf tests (not their ids: one rule whose named port
    // resolves per destination lowers to several IR rules with one id).
    std::map<std::vector<const ir::Rule*>, llvm::BasicBlock*> leaves;
    std::map<unsigned, llvm::Value*> bitsWords;  // loaded (or looked up) lazily, per leaf
    // Packet decisions: set at a leaf when the connection is the socket
    // layer's (MB_VERDICT_L7), or the socket calls' (MB_VERDICT_PROCESS),
    // should an allow decide it.
    llvm::AllocaInst* l7 = nullptr;
  };

  static std::vector<const ir::Rule*> pointers(const std::vector<ir::Rule>& rules) {
    std::vector<const ir::Rule*> out;
    for (const auto& r : rules) out.push_back(&r);
    return out;
  }

  static size_t foldedTests(const std::vector<ir::Rule>& rules) {
    ir::DirectionPolicy d;
    d.rules = rules;
    return foldedRuleTests(d);
  }

  // Emits the search over `rules` (in verdict order) at the insertion point
  // of `fn`; returns the i32 code (the deciding rule id, with kDenyBit for a
  // deny; kAdminPass for a pass rule; `noMatch` when no rule matches),
  // leaving the insertion point where the code is known.
  // With `l7` (packet decisions), *l7 is set to the i1 "the socket layer
  // decides the requests" (meaningful when the code is an allow).
  llvm::Value* emitMatcher(const std::string& name, const std::vector<const ir::Rule*>& rules, llvm::Function* fn,
                           llvm::Value* peer, llvm::Value* in, bool table, llvm::Value** l7, uint32_t noMatch) {
    Frame f;
    f.fn = fn;
    f.in = in;
    f.table = table;
    f.peer = peer;
    f.peerFlags = b_.loadField(in, kInPeerFlags, "peer.flags");
    llvm::Value* proto = b_.loadField(in, kInProto, "proto");
    f.port = b_.CreateZExt(b_.loadField(in, kInPort, "port"), b_.getInt32Ty(), "port32");
    f.exit = llvm::BasicBlock::Create(ctx(), name + ".decided", fn);
    {
      llvm::IRBuilderBase::InsertPointGuard guard(b_);
      b_.SetInsertPoint(&fn->getEntryBlock(), fn->getEntryBlock().begin());
      f.code = b_.CreateAlloca(b_.getInt32Ty(), nullptr, name + ".code");
      if (l7 && !request_ && !executables_) f.l7 = b_.CreateAlloca(b_.getInt1Ty(), nullptr, name + ".l7");
    }
    if (f.l7) b_.CreateStore(b_.getFalse(), f.l7);
    f.noMatch = llvm::BasicBlock::Create(ctx(), name + ".no.match", fn);
    {
      llvm::IRBuilderBase::InsertPointGuard guard(b_);
      b_.SetInsertPoint(f.noMatch);
      exitWith(f, b_.getInt32(noMatch));
    }

    // Protocols some rule names; every other protocol only meets rules for
    // any protocol.
    std::vector<uint8_t> protocols = namedProtocols(rules);

    auto* otherBlock = llvm::BasicBlock::Create(ctx(), name + ".proto.other", fn);
    auto* sw = b_.CreateSwitch(proto, otherBlock, static_cast<unsigned>(protocols.size()));
    for (uint8_t p : protocols) {
      auto* block = llvm::BasicBlock::Create(ctx(), name + ".proto." + ir::protocolName(p), fn);
      sw->addCase(llvm::ConstantInt::get(llvm::cast<llvm::IntegerType>(proto->getType()), p), block);
      b_.SetInsertPoint(block);
      emitProtocol(f, applicableFor(rules, p));
    }
    b_.SetInsertPoint(otherBlock);
    emitProtocol(f, applicableFor(rules, std::nullopt));
    b_.SetInsertPoint(f.exit);
    if (f.l7) *l7 = b_.CreateLoad(b_.getInt1Ty(), f.l7, name + ".l7.result");
    return b_.CreateLoad(b_.getInt32Ty(), f.code, name + ".result");
  }

  // Ends the current block: the matcher's code is `code`.
  void exitWith(Frame& f, llvm::Value* code) {
    b_.CreateStore(code, f.code);
    b_.CreateBr(f.exit);
  }


  void emitProtocol(Frame& f, const std::vector<Applicable>& rules) {
    PortLeaves leaves = portLeaves(rules);
    stats.intervals += leaves.lists.size();
    if (f.table && leaves.lists.size() > lowering_.codedPortSearchLimit) {
      emitDataSearch(f, rules, leaves);
      return;
    }
    emitSearch(f, rules, leaves.starts, leaves.lists, 0, leaves.lists.size());
  }

  // The port search as data: the intervals and their table leaves appended to
  // mb_port_intervals, and one call of mb_port_leaf.
  void emitDataSearch(Frame& f, const std::vector<Applicable>& rules, const PortLeaves& leaves) {
    llvm::Function* search = module_.getFunction("mb_port_leaf");
    if (!search) throw std::runtime_error("the decision shell does not define mb_port_leaf");
    uint32_t first = static_cast<uint32_t>(portIntervals_.size());
    for (size_t k = 0; k < leaves.lists.size(); ++k) {
      uint32_t leaf = kNoPortLeaf;
      if (!leaves.lists[k].empty()) {
        std::vector<const ir::Rule*> chain;
        for (size_t i : leaves.lists[k]) chain.push_back(rules[i].rule);
        leaf = tableLeaf(chain);
        stats.leafRuleTests += chain.size();
        stats.maxLeafRules = std::max(stats.maxLeafRules, chain.size());
      }
      portIntervals_.push_back({leaves.starts[k], leaf});
    }
    stats.dataPortIntervals += leaves.lists.size();
    llvm::Value* leaf = b_.CreateCall(search, {b_.getInt32(first), b_.getInt32(static_cast<uint32_t>(leaves.lists.size())),
                                               f.port});
    auto* found = llvm::BasicBlock::Create(ctx(), "port.leaf", f.fn);
    b_.CreateCondBr(b_.CreateICmpEQ(leaf, b_.getInt32(kNoPortLeaf)), f.noMatch, found);
    b_.SetInsertPoint(found);
    b_.CreateStore(leaf, tableCall(f));
    b_.CreateBr(f.tableCallBlock);
  }

  // Binary search over intervals [lo, hi) by port.
  void emitSearch(Frame& f, const std::vector<Applicable>& rules, const std::vector<uint32_t>& starts,
                  const std::vector<std::vector<size_t>>& lists, size_t lo, size_t hi) {
    if (hi - lo == 1) {
      b_.CreateBr(leaf(f, rules, lists[lo]));
      return;
    }
    size_t mid = lo + (hi - lo) / 2;
    auto* left = llvm::BasicBlock::Create(ctx(), "port.lt." + std::to_string(starts[mid]), f.fn);
    auto* right = llvm::BasicBlock::Create(ctx(), "port.ge." + std::to_string(starts[mid]), f.fn);
    // `port >= start`, not `port < start`: for every unsigned less-than (or
    // greater-than, which it swaps into one), CodeGenPrepare
    // (combineToUSubWithOverflow) walks all users of the port looking for a
    // subtraction, which is quadratic in the search's nodes: tens of
    // thousands when every rule has a port of its own.
    b_.CreateCondBr(b_.CreateICmpUGE(f.port, b_.getInt32(starts[mid])), right, left);
    b_.SetInsertPoint(left);
    emitSearch(f, rules, starts, lists, lo, mid);
    b_.SetInsertPoint(right);
    emitSearch(f, rules, starts, lists, mid, hi);
  }

  llvm::BasicBlock* leaf(Frame& f, const std::vector<Applicable>& rules, const std::vector<size_t>& list) {
    if (list.empty()) return f.noMatch;
    std::vector<const ir::Rule*> key;
    for (size_t i : list) key.push_back(rules[i].rule);
    if (auto it = f.leaves.find(key); it != f.leaves.end()) return it->second;

    llvm::IRBuilderBase::InsertPointGuard guard(b_);
    auto* block = llvm::BasicBlock::Create(ctx(), "leaf", f.fn);
    f.leaves.emplace(key, block);
    stats.leafRuleTests += list.size();
    stats.maxLeafRules = std::max(stats.maxLeafRules, list.size());
    b_.SetInsertPoint(block);
    if (f.table) {
      // Every table leaf joins one call, so the code stays one search plus
      // one call however many leaves there are.
      std::vector<const ir::Rule*> chain;
      for (size_t i : list) chain.push_back(rules[i].rule);
      b_.CreateStore(b_.getInt32(tableLeaf(chain)), tableCall(f));
      b_.CreateBr(f.tableCallBlock);
      return block;
    }
    // Load every bit word the leaf needs here, in a block that dominates all
    // its tests (a word first loaded inside one half would not reach the other).
    f.bitsWords.clear();
    std::vector<const ir::Rule*> chain;
    for (size_t i : list) {
      chain.push_back(rules[i].rule);
      for (const auto& entry : wordsOf(rules[i].rule->peer)) bitsWord(f, entry.first);
    }
    if (f.l7) {
      emitL7(f, chain);
      emitProcess(f, chain);
    }
    emitRuleSearch(f, chain, 0, chain.size());
    return block;
  }

  // Peer conditions merged over several rules: true iff any of them matches.
  struct Combined {
    bool always = false;
    uint32_t flags = 0;
    std::map<unsigned, uint64_t> words;
    std::vector<const ir::CidrMatch*> folded;
    uint64_t dnsPeer = 0;  // bits of in->dns_peer (name peers)
  };

  void combine(Combined& c, const ir::PeerMatch& m) {
    if (m.all) c.always = true;
    c.flags |= entityFlags(m);
    for (const auto& [w, mask] : wordsOf(m)) c.words[w] |= mask;
    for (const auto& cidr : m.cidrs)
      if (!lowering_.cidrBits.count(cidr)) c.folded.push_back(&cidr);
    c.dnsPeer |= dns_.mask(m.dnsNames);
  }

  llvm::Value* combinedTest(Frame& f, const Combined& c) {
    if (c.always) return b_.getTrue();
    std::vector<llvm::Value*> any;
    if (c.flags) any.push_back(b_.testMask(f.peerFlags, c.flags));
    for (const auto& [word, mask] : c.words) any.push_back(b_.testMask(bitsWord(f, word), mask));
    for (const auto* cidr : c.folded) any.push_back(cidrTest(f, *cidr));
    if (c.dnsPeer) any.push_back(b_.testMask(b_.loadField(f.in, kInDnsPeer, "dns.peer"), c.dnsPeer));
    return b_.anyOf(any);
  }

  // The rule matches the connection (peer and dns condition; its http
  // condition holds for a connection, no request read).
  llvm::Value* connectionTest(Frame& f, const ir::Rule& r) {
    Combined c;
    combine(c, r.peer);
    llvm::Value* test = combinedTest(f, c);
    if (const auto* dns = r.condition<ir::DnsCondition>()) test = b_.CreateAnd(test, dnsConditionTest(f, *dns));
    return test;
  }

  // The evaluator's inspectsHttp at this leaf: some http rule matches, and
  // an http deny rule matches or no rule without an http condition allows.
  void emitL7(Frame& f, const std::vector<const ir::Rule*>& chain) {
    std::vector<llvm::Value*> http, httpDeny, plainAllow;
    for (const auto* r : chain) {
      bool isHttp = r->condition<ir::HttpCondition>() != nullptr;
      if (!isHttp && r->action != ir::Action::Allow) continue;
      llvm::Value* t = connectionTest(f, *r);
      if (isHttp) http.push_back(t);
      if (isHttp && r->action == ir::Action::Deny) httpDeny.push_back(t);
      if (!isHttp) plainAllow.push_back(t);
    }
    if (http.empty()) return;
    b_.CreateStore(b_.CreateAnd(b_.anyOf(http), b_.CreateOr(b_.anyOf(httpDeny), b_.CreateNot(b_.anyOf(plainAllow)))),
                   f.l7);
  }

  // The evaluator's needsProcess at this leaf (on a packet): some rule with
  // a process condition allows, and no allow rule without one does. (A
  // leaf's deny decides before this counts: decide() masks it with the
  // deny bit.) Classes mixing http and process rules in a direction are
  // refused, so a leaf sets f.l7 for at most one of the two.
  void emitProcess(Frame& f, const std::vector<const ir::Rule*>& chain) {
    std::vector<llvm::Value*> process, processFree;
    for (const auto* r : chain) {
      if (r->action != ir::Action::Allow) continue;
      llvm::Value* t = connectionTest(f, *r);
      (r->condition<ir::ProcessCondition>() ? process : processFree).push_back(t);
    }
    if (process.empty()) return;
    b_.CreateStore(b_.CreateAnd(b_.anyOf(process), b_.CreateNot(b_.anyOf(processFree))), f.l7);
  }

  // A rule's process condition on a call: some bit of its executables is
  // among in->exe's (the calling executable's, lib/process.h).
  llvm::Value* processConditionTest(Frame& f, const ir::ProcessCondition& c) {
    uint64_t mask = 0;
    for (const auto& path : c.executables) {
      auto it = std::lower_bound(executables_->begin(), executables_->end(), path);
      if (it == executables_->end() || *it != path)
        throw std::runtime_error("the class's executables do not list " + path);
      mask |= uint64_t(1) << (it - executables_->begin());
    }
    return b_.testMask(b_.loadField(f.in, kInExe, "exe"), mask);
  }

  // A rule's dns condition (features/dns/evaluate.cpp): no DNS message
  // (TCP set-up), or a readable query whose name matches.
  llvm::Value* dnsConditionTest(Frame& f, const ir::DnsCondition& c) {
    llvm::Value* kind = b_.loadField(f.in, kInDns, "dns");
    llvm::Value* none = b_.CreateICmpEQ(kind, b_.getInt8(MB_DNS_MSG_NONE));
    llvm::Value* query = b_.CreateICmpEQ(kind, b_.getInt8(MB_DNS_MSG_QUERY));
    llvm::Value* named = b_.testMask(b_.loadField(f.in, kInDnsQuery, "dns.query"), dns_.mask(c.names));
    return b_.CreateOr(none, b_.CreateAnd(query, named));
  }

  // First matching rule among chain[lo, hi), in order. Short runs are a
  // chain of tests; long runs split in halves, each guarded by the OR of its
  // rules' peer conditions — exact, so the first half whose guard holds
  // contains the first match, and the path is log(n) guards long.
  void emitRuleSearch(Frame& f, const std::vector<const ir::Rule*>& chain, size_t lo, size_t hi) {
    constexpr size_t kChain = 4;
    size_t foldedInRange = 0, dnsConditions = 0;
    for (size_t i = lo; i < hi; ++i) {
      for (const auto& c : chain[i]->peer.cidrs) foldedInRange += !lowering_.cidrBits.count(c);
      dnsConditions += chain[i]->condition<ir::DnsCondition>() != nullptr;
      dnsConditions += chain[i]->condition<ir::HttpCondition>() != nullptr;
      dnsConditions += executables_ && chain[i]->condition<ir::ProcessCondition>() != nullptr;
    }
    // Guards over folded CIDRs repeat their compares at every level: keep
    // such runs linear (there are few of them, by the fold limit). Guards
    // test peers only, so they are exact only where nothing but the peer
    // decides: runs with dns conditions are linear too.
    if (hi - lo <= kChain || foldedInRange > 0 || dnsConditions > 0) {
      for (size_t i = lo; i < hi; ++i) {
        const auto* http = chain[i]->condition<ir::HttpCondition>();
        // On a connection an http deny rule denies nothing (emitL7 counts it).
        if (http && !request_ && chain[i]->action == ir::Action::Deny) continue;
        auto* next = llvm::BasicBlock::Create(ctx(), "next", f.fn);
        Combined c;
        combine(c, chain[i]->peer);
        llvm::BasicBlock* matched = ruleReturn(f, *chain[i]);
        const auto* dns = chain[i]->condition<ir::DnsCondition>();
        const auto* process = executables_ ? chain[i]->condition<ir::ProcessCondition>() : nullptr;
        if (dns || (http && request_) || process) {
          auto* peerMatched = llvm::BasicBlock::Create(ctx(), "peer.matched", f.fn);
          b_.CreateCondBr(combinedTest(f, c), peerMatched, next);
          b_.SetInsertPoint(peerMatched);
          llvm::Value* test = dns ? dnsConditionTest(f, *dns) : b_.getTrue();
          if (http && request_) test = b_.CreateAnd(test, request_->condition(*http));
          if (process) test = b_.CreateAnd(test, processConditionTest(f, *process));
          b_.CreateCondBr(test, matched, next);
        } else {
          b_.CreateCondBr(combinedTest(f, c), matched, next);
        }
        b_.SetInsertPoint(next);
      }
      b_.CreateBr(f.noMatch);
      return;
    }
    size_t mid = lo + (hi - lo) / 2;
    Combined left;
    for (size_t i = lo; i < mid; ++i) combine(left, chain[i]->peer);
    ++stats.searchNodes;
    auto* leftBlock = llvm::BasicBlock::Create(ctx(), "rules.lo", f.fn);
    auto* rightBlock = llvm::BasicBlock::Create(ctx(), "rules.hi", f.fn);
    b_.CreateCondBr(combinedTest(f, left), leftBlock, rightBlock);
    // The bit words were loaded in this block, which dominates both halves.
    b_.SetInsertPoint(leftBlock);
    emitRuleSearch(f, chain, lo, mid);
    b_.SetInsertPoint(rightBlock);
    emitRuleSearch(f, chain, mid, hi);
  }

  // ---- tables -------------------------------------------------------------

  struct TableEntry {
    uint64_t mask;
    uint32_t code;
    uint32_t word;
  };
  struct TableLeaf {
    uint32_t first = 0, count = 0;
  };
  std::vector<TableLeaf> tableLeaves_;
  std::vector<TableEntry> tableEntries_;
  struct PortInterval {
    uint32_t start, leaf;
  };
  static constexpr uint32_t kNoPortLeaf = 0xffffffffu;  // decision.c's MB_PORT_NO_LEAF
  std::vector<PortInterval> portIntervals_;
  std::map<std::vector<const ir::Rule*>, uint32_t> tableLeafByRules_;

  // The block that calls mb_table_match with the leaf index of whichever
  // leaf branched to it, and the stack slot where each leaf leaves its index
  // (a slot rather than a phi, as for the code: Frame::code).
  llvm::AllocaInst* tableCall(Frame& f) {
    if (f.tableLeafIndex) return f.tableLeafIndex;
    llvm::Function* match = module_.getFunction("mb_table_match");
    if (!match) throw std::runtime_error("the decision shell does not define mb_table_match");
    llvm::IRBuilderBase::InsertPointGuard guard(b_);
    b_.SetInsertPoint(&f.fn->getEntryBlock(), f.fn->getEntryBlock().begin());
    f.tableLeafIndex = b_.CreateAlloca(b_.getInt32Ty(), nullptr, "leaf.index");
    f.tableCallBlock = llvm::BasicBlock::Create(ctx(), "table.match", f.fn);
    b_.SetInsertPoint(f.tableCallBlock);
    exitWith(f, b_.CreateCall(match, {f.peer, f.peerFlags, b_.CreateLoad(b_.getInt32Ty(), f.tableLeafIndex)}));
    return f.tableLeafIndex;
  }

  uint32_t tableLeaf(const std::vector<const ir::Rule*>& chain) {
    if (auto it = tableLeafByRules_.find(chain); it != tableLeafByRules_.end()) return it->second;
    TableLeaf leaf;
    leaf.first = static_cast<uint32_t>(tableEntries_.size());
    for (const auto* r : chain) {
      uint32_t code = r->id | (r->action == ir::Action::Deny ? kDenyBit : 0);
      if (r->id >= MB_RULE_MAX) notSupported("more than " + std::to_string(MB_RULE_MAX - 1) + " rules");
      for (const auto& c : r->peer.cidrs)
        if (!lowering_.cidrBits.count(c)) notSupported("a folded CIDR in a table-driven class");
      if (r->condition<ir::HttpCondition>())
        notSupported("http rules in a table-driven class (more than " +
                     std::to_string(PeerLowering::kTableRuleThreshold) + " rules in a direction)");
      if (!r->peer.dnsNames.empty() || r->condition<ir::DnsCondition>())
        notSupported("DNS rules in a table-driven class (more than " +
                     std::to_string(PeerLowering::kTableRuleThreshold) + " rules in a direction)");
      uint64_t flags = r->peer.all ? (MB_PEER_WORLD | MB_PEER_HOST | MB_PEER_ENDPOINT) : entityFlags(r->peer);
      if (flags) tableEntries_.push_back({flags, code, kTableFlagsWord});
      for (const auto& [word, mask] : wordsOf(r->peer)) tableEntries_.push_back({mask, code, word});
    }
    leaf.count = static_cast<uint32_t>(tableEntries_.size()) - leaf.first;
    if (leaf.count > 4096) notSupported("more than 4096 rule entries at one port of one class");
    uint32_t index = static_cast<uint32_t>(tableLeaves_.size());
    tableLeaves_.push_back(leaf);
    tableLeafByRules_.emplace(chain, index);
    return index;
  }

 public:
  // Defines the tables the shell declares (a zero leaf when no leaf used one).
  void defineTables() {
    stats.tableLeaves = tableLeaves_.size();
    stats.tableEntries = tableEntries_.size();
    if (tableLeaves_.empty()) tableLeaves_.push_back({});
    if (tableEntries_.empty()) tableEntries_.push_back({0, kDefaultDeny, 0});

    auto structOf = [&](const char* global) -> llvm::StructType* {
      llvm::GlobalVariable* gv = module_.getGlobalVariable(global);
      if (!gv) throw std::runtime_error(std::string("the decision shell does not declare ") + global);
      auto* arr = llvm::dyn_cast<llvm::ArrayType>(gv->getValueType());
      auto* st = arr ? llvm::dyn_cast<llvm::StructType>(arr->getElementType()) : nullptr;
      if (!st) throw std::runtime_error(std::string("the decision shell declares ") + global + " with the wrong type");
      return st;
    };
    llvm::StructType* leafType = structOf("mb_table_leaves");
    llvm::StructType* entryType = structOf("mb_table_entries");
    expectStruct(leafType, 2, "mb_table_leaf");
    expectStruct(entryType, 3, "mb_table_entry");

    std::vector<llvm::Constant*> leaves;
    for (const auto& l : tableLeaves_)
      leaves.push_back(llvm::ConstantStruct::get(leafType, {b_.getInt32(l.first), b_.getInt32(l.count)}));
    std::vector<llvm::Constant*> entries;
    for (const auto& e : tableEntries_)
      entries.push_back(llvm::ConstantStruct::get(entryType, {b_.getInt64(e.mask), b_.getInt32(e.code), b_.getInt32(e.word)}));
    define("mb_table_leaves", llvm::ConstantArray::get(llvm::ArrayType::get(leafType, leaves.size()), leaves));
    define("mb_table_entries", llvm::ConstantArray::get(llvm::ArrayType::get(entryType, entries.size()), entries));
    define("mb_table_leaf_count", b_.getInt32(static_cast<uint32_t>(tableLeaves_.size())));
    define("mb_table_entry_count", b_.getInt32(static_cast<uint32_t>(tableEntries_.size())));

    defineDenseVerdicts();

    if (portIntervals_.empty()) portIntervals_.push_back({0, kNoPortLeaf});
    llvm::StructType* intervalType = structOf("mb_port_intervals");
    expectStruct(intervalType, 2, "mb_port_interval");
    std::vector<llvm::Constant*> intervals;
    for (const auto& i : portIntervals_)
      intervals.push_back(llvm::ConstantStruct::get(intervalType, {b_.getInt32(i.start), b_.getInt32(i.leaf)}));
    define("mb_port_intervals", llvm::ConstantArray::get(llvm::ArrayType::get(intervalType, intervals.size()), intervals));
    define("mb_port_interval_count", b_.getInt32(static_cast<uint32_t>(portIntervals_.size())));
  }

 private:
  // Past these the class keeps scanning: the work to build the verdicts
  // (known sets × table entries, each tested once per set) and their size
  // (leaves × columns, 2 bytes each).
  static constexpr size_t kDenseWorkLimit = size_t(1) << 27;
  static constexpr size_t kDenseCellLimit = size_t(1) << 21;

  // 1 + the position in leaf `leaf` of the first entry that hits peer set
  // `set`, or 0: what mb_table_match's scan finds for a peer of that set.
  uint16_t firstHit(const TableLeaf& leaf, const identity::TrieEntry& set) const {
    for (uint32_t k = 0; k < leaf.count; ++k) {
      const TableEntry& e = tableEntries_[leaf.first + k];
      uint64_t word = 0;
      if (e.word == kTableFlagsWord) {
        word = set.value.flags;
      } else if (e.word < MB_PEER_WORDS) {
        word = set.value.bits[e.word];
      } else if (auto it = set.more.find(e.word); it != set.more.end()) {
        word = it->second;
      }
      if (word & e.mask) return static_cast<uint16_t>(k + 1);
    }
    return 0;
  }

  // Defines mb_dense_*: the verdict of every known peer set, and of the
  // identity of addresses outside the trie, at every leaf (decision.c).
  // Columns are the distinct verdict vectors over the leaves, so sets this
  // class tells apart nowhere share one.
  void defineDenseVerdicts() {
    std::vector<uint16_t> columnOf, cells;
    size_t width = 0;
    // The known sets, then the identity of addresses outside the trie.
    std::vector<identity::TrieEntry> sets = lowering_.peerSets;
    identity::TrieEntry world;
    world.value.flags = MB_PEER_WORLD;
    sets.push_back(world);
    size_t leaves = stats.tableLeaves;
    if (leaves > 0 && sets.size() * tableEntries_.size() <= kDenseWorkLimit) {
      std::map<std::vector<uint16_t>, uint16_t> columns;
      std::vector<const std::vector<uint16_t>*> byColumn;
      bool fits = true;
      for (const auto& set : sets) {
        std::vector<uint16_t> column(leaves);
        for (size_t l = 0; l < leaves; ++l) column[l] = firstHit(tableLeaves_[l], set);
        auto [it, fresh] = columns.emplace(std::move(column), static_cast<uint16_t>(byColumn.size()));
        if (fresh) {
          if (byColumn.size() >= 0xffff || (byColumn.size() + 1) * leaves > kDenseCellLimit) {
            fits = false;
            break;
          }
          byColumn.push_back(&it->first);
        }
        columnOf.push_back(it->second);
      }
      if (fits) {
        width = byColumn.size();
        cells.resize(leaves * width);
        for (size_t c = 0; c < width; ++c)
          for (size_t l = 0; l < leaves; ++l) cells[l * width + c] = (*byColumn[c])[l];
      } else {
        columnOf.clear();
      }
    }
    stats.denseColumns = width;
    uint16_t worldColumn = columnOf.empty() ? 0 : columnOf.back();
    if (!columnOf.empty()) columnOf.pop_back();
    size_t setCount = columnOf.size();
    if (columnOf.empty()) columnOf.push_back(0);
    if (cells.empty()) cells.push_back(0);
    auto u16s = [&](const std::vector<uint16_t>& v) {
      return llvm::ConstantDataArray::get(ctx(), llvm::ArrayRef<uint16_t>(v.data(), v.size()));
    };
    define("mb_dense_columns", u16s(columnOf));
    define("mb_dense_set_count", b_.getInt32(static_cast<uint32_t>(setCount)));
    define("mb_dense_cells", u16s(cells));
    define("mb_dense_cell_count", b_.getInt32(static_cast<uint32_t>(width ? cells.size() : 0)));
    define("mb_dense_width", b_.getInt32(static_cast<uint32_t>(width)));
    define("mb_dense_world_column", b_.getInt32(worldColumn));
  }

  // Replaces the shell's extern declaration `name` with a constant definition.
  void define(const char* name, llvm::Constant* init) {
    llvm::GlobalVariable* decl = module_.getGlobalVariable(name);
    if (!decl) throw std::runtime_error(std::string("the decision shell does not declare ") + name);
    auto* def = new llvm::GlobalVariable(module_, init->getType(), /*isConstant=*/true,
                                         llvm::GlobalValue::InternalLinkage, init, std::string(name) + ".def");
    def->setAlignment(llvm::MaybeAlign(8));
    decl->replaceAllUsesWith(llvm::ConstantExpr::getBitCast(def, decl->getType()));
    decl->eraseFromParent();
    def->setName(name);
  }

  static uint32_t entityFlags(const ir::PeerMatch& m) {
    return (m.world ? MB_PEER_WORLD : 0) | (m.host ? MB_PEER_HOST : 0) |
           (m.cluster ? (MB_PEER_ENDPOINT | MB_PEER_HOST) : 0);
  }

  std::map<unsigned, uint64_t> wordsOf(const ir::PeerMatch& m) const {
    std::map<unsigned, uint64_t> words;
    for (uint32_t bit : lowering_.bitsOf(m)) words[bit / 64] |= uint64_t(1) << (bit % 64);
    return words;
  }

  llvm::BasicBlock* ruleReturn(Frame& f, const ir::Rule& rule) {
    if (auto it = f.ruleReturn.find(rule.id); it != f.ruleReturn.end()) return it->second;
    if (rule.id >= MB_RULE_MAX) notSupported("more than " + std::to_string(MB_RULE_MAX - 1) + " rules");
    llvm::IRBuilderBase::InsertPointGuard guard(b_);
    auto* block = llvm::BasicBlock::Create(ctx(), "rule." + std::to_string(rule.id), f.fn);
    b_.SetInsertPoint(block);
    // An allow by a rule with a dns condition also says: learn from the answer.
    // (Not for a request: it has no answer to learn from.)
    uint32_t learn = !request_ && rule.action == ir::Action::Allow && rule.condition<ir::DnsCondition>()
                         ? uint32_t(MB_RESULT_DNS_LEARN)
                         : 0;
    uint32_t code = rule.action == ir::Action::Pass ? kAdminPass
                                                   : rule.id | (rule.action == ir::Action::Deny ? kDenyBit : 0) | learn;
    exitWith(f, b_.getInt32(code));
    f.ruleReturn.emplace(rule.id, block);
    return block;
  }

  // Word `word` of the peer's bits: a load from its trie value for the first
  // MB_PEER_WORDS, past them a call of the shell's mb_peer_word (a lookup in
  // mb_more_peer_bits).
  llvm::Value* bitsWord(Frame& f, unsigned word) {
    llvm::Value*& loaded = f.bitsWords[word];
    if (loaded) return loaded;
    if (word < MB_PEER_WORDS) {
      llvm::Value* bits = b_.fieldPtr(f.peer, kIdBits, "bits");
      llvm::Value* ptr = b_.CreateConstInBoundsGEP2_32(bits->getType()->getPointerElementType(), bits, 0, word);
      loaded = b_.CreateLoad(b_.getInt64Ty(), ptr, "bits." + std::to_string(word));
      return loaded;
    }
    llvm::Function* lookup = module_.getFunction("mb_peer_word");
    if (!lookup) throw std::runtime_error("the decision shell does not define mb_peer_word");
    ++stats.morePeerWords;
    loaded = b_.CreateCall(lookup, {b_.loadField(f.peer, kIdMoreBits, "more.bits"), b_.getInt32(word)},
                           "bits." + std::to_string(word));
    return loaded;
  }

  // The peer address in prefix `p`, compared as 32-bit words in the byte
  // order the BPF target loads them (little-endian here).
  llvm::Value* prefixTest(Frame& f, const net::Prefix& p) {
    ++stats.foldedCidrs;
    uint8_t family = p.family() == net::Family::V4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
    std::vector<llvm::Value*> all = {b_.CreateICmpEQ(b_.loadField(f.in, kInFamily), b_.getInt8(family))};
    llvm::Value* addr = b_.fieldPtr(f.in, kInAddr, "addr");
    llvm::Value* words = b_.CreateBitCast(addr, b_.getInt32Ty()->getPointerTo());
    for (unsigned w = 0; w * 32 < p.length; ++w) {
      uint32_t mask = 0, value = 0;
      for (unsigned byte = 0; byte < 4; ++byte) {
        unsigned bitStart = (w * 4 + byte) * 8;
        uint8_t m = 0;
        if (p.length >= bitStart + 8) m = 0xff;
        else if (p.length > bitStart) m = static_cast<uint8_t>(0xff << (8 - (p.length - bitStart)));
        mask |= uint32_t(m) << (8 * byte);
        value |= uint32_t(p.addr.bytes[w * 4 + byte] & m) << (8 * byte);
      }
      llvm::Value* ptr = b_.CreateConstInBoundsGEP1_32(b_.getInt32Ty(), words, w);
      auto* load = b_.CreateAlignedLoad(b_.getInt32Ty(), ptr, llvm::MaybeAlign(1));
      all.push_back(b_.CreateICmpEQ(b_.CreateAnd(load, b_.getInt32(mask)), b_.getInt32(value)));
    }
    llvm::Value* acc = all.front();
    for (size_t i = 1; i < all.size(); ++i) acc = b_.CreateAnd(acc, all[i]);
    return acc;
  }

  llvm::Value* cidrTest(Frame& f, const ir::CidrMatch& c) {
    llvm::Value* in = prefixTest(f, c.prefix);
    for (const auto& e : c.except) in = b_.CreateAnd(in, b_.CreateNot(prefixTest(f, e)));
    return in;
  }
};

}  // namespace

size_t foldedRuleTests(const ir::DirectionPolicy& d) {
  std::vector<const ir::Rule*> rules;
  for (const auto& r : d.rules) rules.push_back(&r);
  size_t tests = 0;
  auto count = [&](std::optional<uint8_t> p) {
    for (const auto& l : portLeaves(applicableFor(rules, p)).lists) tests += l.size();
  };
  for (uint8_t p : namedProtocols(rules)) count(p);
  count(std::nullopt);
  return d.audited ? 2 * tests : tests;  // an audited direction has two matchers
}

bool PeerLowering::usesTable(const ir::DirectionPolicy& d) const {
  if (mode == DecisionMode::Table) return true;
  if (mode == DecisionMode::Auto) {
    // Tables hold peers only: a direction with http rules stays folded while
    // its code fits (past that, generating its decision fails, naming it).
    bool http = std::any_of(d.rules.begin(), d.rules.end(),
                            [](const ir::Rule& r) { return r.condition<ir::HttpCondition>() != nullptr; });
    if (http) {
      if (size_t tests = foldedRuleTests(d); tests > kFoldedTestLimit)
        notSupported("a direction with http rules needing " + std::to_string(tests) + " rule tests (more than " +
                     std::to_string(kFoldedTestLimit) + " would not load, and table-driven classes hold no http rules)");
      return false;
    }
    return d.rules.size() > kTableRuleThreshold || foldedRuleTests(d) > kFoldedTestLimit;
  }
  size_t tests = foldedRuleTests(d);
  if (tests > kFoldedTestLimit)
    notSupported("folding " + std::to_string(tests) + " rule tests into code (more than " +
                 std::to_string(kFoldedTestLimit) + " would not load); use --decision auto or table");
  return false;
}

std::vector<uint32_t> PeerLowering::bitsOf(const ir::PeerMatch& m) const {
  std::vector<uint32_t> bits = m.selectorBits;
  for (const auto& c : m.cidrs)
    if (auto it = cidrBits.find(c); it != cidrBits.end()) bits.push_back(it->second);
  return bits;
}

bool PeerLowering::bitsPastTrieValue(const ir::EndpointClass& cls) const {
  bool past = false;
  for (const auto* dp : {&cls.ingress, &cls.egress})
    dp->forEachRule([&](const ir::Rule& r) {
      for (uint32_t bit : bitsOf(r.peer)) past |= bit >= MB_PEER_BITS;
    });
  return past;
}

PeerLowering PeerLowering::choose(const ir::Program& program, size_t foldLimit, DecisionMode mode,
                                  size_t codedPortSearchLimit) {
  std::set<ir::CidrMatch> cidrs;
  PeerLowering out;
  out.mode = mode;
  out.codedPortSearchLimit = codedPortSearchLimit;
  bool tables = false;
  for (const auto& cls : program.classes)
    for (const auto* dp : {&cls.ingress, &cls.egress}) {
      tables |= out.usesTable(*dp);
      dp->forEachRule([&](const ir::Rule& r) { cidrs.insert(r.peer.cidrs.begin(), r.peer.cidrs.end()); });
    }
  if (cidrs.size() > foldLimit || (tables && !cidrs.empty())) {
    uint32_t next = static_cast<uint32_t>(program.selectors.size());
    for (const auto& c : cidrs) out.cidrBits.emplace(c, next++);
  }
  return out;
}

DecisionStats generateDecisions(llvm::Module& module, const ir::Program& program, const ir::EndpointClass& cls,
                                const PeerLowering& lowering) {
  if (!llvm::sys::IsLittleEndianHost) notSupported("big-endian hosts (CIDR constants assume bpfel)");
  // Decisions test L4, DNS, HTTP and process conditions (packet decisions
  // give an http rule's connection to the socket layer and a process rule's
  // flow to the socket calls; request and call decisions test them). Any other kind reaching here slipped past the pipeline's
  // enforceability check: fail rather than generate a rule without its
  // condition.
  // Tier rules are matched by peer and ports alone (the checker refuses
  // any other condition on them): the admin and baseline matchers test no
  // request, name or executable.
  for (const auto* dp : {&cls.ingress, &cls.egress}) {
    for (const auto& r : dp->rules)
      for (const auto& c : r.conditions)
        if (!std::holds_alternative<ir::L4Condition>(c) && !std::holds_alternative<ir::DnsCondition>(c) &&
            !std::holds_alternative<ir::HttpCondition>(c) && !std::holds_alternative<ir::ProcessCondition>(c))
          notSupported("rule " + std::to_string(r.id) + "'s " + features::kindName(c) + " condition in a packet program");
    for (const auto* tier : {&dp->admin, &dp->baseline})
      for (const auto& r : *tier) {
        for (const auto& c : r.conditions)
          if (!std::holds_alternative<ir::L4Condition>(c))
            notSupported("tier rule " + std::to_string(r.id) + "'s " + features::kindName(c) + " condition");
        if (!r.peer.dnsNames.empty()) notSupported("tier rule " + std::to_string(r.id) + "'s dns peer");
      }
  }
  DnsPatterns dns(cls);
  generateDnsTables(module, dns);
  DecisionGenerator gen(module, program, lowering, dns);
  gen.decide("mb_decide_ingress", cls.ingress);
  gen.decide("mb_decide_egress", cls.egress);
  gen.directionEnforced(cls);
  gen.defineTables();
  // The request decisions (http_codegen.h) reuse the packet decision's port
  // and peer search, with each rule's http condition tested on the request.
  HttpTables http(cls);
  generateHttpTables(module, http);
  DecisionGenerator requests(module, program, lowering, dns, &http);
  requests.decide("mb_http_decide_ingress", cls.ingress);
  requests.decide("mb_http_decide_egress", cls.egress);
  // The socket calls' decision: the egress rules with each process
  // condition tested on the calling executable (only egress rules have one).
  std::vector<std::string> executables = classExecutables(cls);
  if (!executables.empty()) {
    DecisionGenerator calls(module, program, lowering, dns, nullptr, &executables);
    calls.decide("mb_process_decide_egress", cls.egress);
  }
  return gen.stats;
}

}  // namespace membrane::codegen
