// Generates a class's policy decision as LLVM IR, every rule folded in as
// constants: a switch on the protocol, a binary search over the elementary
// port intervals the rules distinguish, and at each leaf the few rules that
// apply there, tested in verdict order (deny rules, then allow rules). The
// path per packet grows with log(rules), not with rules.
//
// Replaces, in a module cloned from the decision shell (bpf-templates/
// decision.c), the bodies of the global functions the skeleton calls; the
// first two return the packed result of runtime/abi/datapath.h:
//   u64 mb_decide_ingress(const struct mb_identity*, const struct mb_decision_input*)
//   u64 mb_decide_egress(...)
//   int mb_direction_enforced(int direction)
// A connection an http rule covers gets MB_VERDICT_L7 as the evaluator's
// decide() says (docs/http.md). The same generator, in request mode, writes
// the class's request decisions (mb_http_decide_*, http_codegen.h), which
// test each rule's http condition on the request.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "identity/identity_table.h"
#include "ir/ir.h"

namespace llvm {
class Module;
}

namespace membrane::codegen {

// Where a class's rules live: folded into code (fastest, for the usual few
// dozen rules) or as data in .rodata scanned by bpf-templates/decision.c's
// mb_table_match (compact, and within verifier and 16-bit jump-offset limits
// at 10,000 rules and beyond). Auto picks tables past kTableRuleThreshold
// rules in a direction, or when folded code would need more than
// kFoldedTestLimit rule tests across its port leaves.
enum class DecisionMode { Auto, Folded, Table };

// Program-wide choices about where peer tests live. Few CIDRs are folded into
// code as immediates; past a limit, or when any class uses tables (which hold
// only bit masks), every CIDR becomes a bit in the identity trie after the
// selector bits, so a peer test is always a few AND masks.
struct PeerLowering {
  std::map<ir::CidrMatch, uint32_t> cidrBits;  // empty: all CIDRs folded
  DecisionMode mode = DecisionMode::Auto;

  static constexpr size_t kTableRuleThreshold = 256;
  static constexpr size_t kFoldedTestLimit = 4000;
  // A table-driven matcher searches a protocol's ports in code up to this
  // many intervals, past it in data (decision.c's mb_port_leaf): a code
  // search of tens of thousands of nodes costs the compiler (LLVM's back end
  // is superlinear in it) and the verifier (every path) more than it saves.
  static constexpr size_t kCodedPortSearchLimit = 2048;
  size_t codedPortSearchLimit = kCodedPortSearchLimit;
  // Throws for --decision folded when folded code would be too large to load.
  bool usesTable(const ir::DirectionPolicy& d) const;

  static constexpr size_t kDefaultFoldLimit = 16;
  // Selectors take bits 0..S-1, lowered CIDRs the bits after them. Bits past
  // MB_PEER_BITS are looked up in mb_more_peer_bits (bitsPastTrieValue), so
  // there is no ceiling. Tables hold only bit masks, so any table use lowers
  // every CIDR.
  static PeerLowering choose(const ir::Program& program, size_t foldLimit = kDefaultFoldLimit,
                             DecisionMode mode = DecisionMode::Auto,
                             size_t codedPortSearchLimit = kCodedPortSearchLimit);
  size_t bitCount(const ir::Program& program) const { return program.selectors.size() + cidrBits.size(); }
  // The peer bits a match tests: its selectors', and its CIDRs' where they
  // are lowered (folded CIDRs are compares, not bits).
  std::vector<uint32_t> bitsOf(const ir::PeerMatch& m) const;
  // Whether some rule of the class tests a bit past MB_PEER_BITS (and so
  // its decision calls the shell's mb_peer_word).
  bool bitsPastTrieValue(const ir::EndpointClass& cls) const;

  // The peer sets the compiler knows of (the manifest's peerSets, in its
  // order: an identity trie entry of each), from which table-driven classes
  // build their verdicts by peer set (decision.c, mb_dense_cells). Empty
  // when no class is table-driven. peerSetsDigest stands for them in a
  // table-driven class's cache key.
  std::vector<identity::TrieEntry> peerSets;
  std::string peerSetsDigest;
};

// The executables of a class's process rules, sorted and unique: bit i of
// mb_decision_input.exe and of mb_process_exe's values is executables[i],
// and the manifest lists them in that order. Throws past
// MB_PROCESS_EXE_BITS.
std::vector<std::string> classExecutables(const ir::EndpointClass& cls);

// Rule tests folded code needs for a direction: the sum over the elementary
// port leaves of the rules that apply there.
size_t foldedRuleTests(const ir::DirectionPolicy& d);

// How the compiler lowered a class; reported in the manifest (`lowering`).
struct DecisionStats {
  size_t rules = 0;           // rules in both directions
  size_t intervals = 0;       // leaves of the port search trees (after merging)
  size_t leafRuleTests = 0;   // rule tests placed in leaves, summed
  size_t maxLeafRules = 0;    // longest rule chain in any leaf
  size_t foldedCidrs = 0;     // CIDR tests emitted as immediates
  size_t searchNodes = 0;     // rule-search tree nodes in long leaves
  size_t tableLeaves = 0;     // leaves handed to the table matcher
  size_t tableEntries = 0;    // (rule, word) entries in the tables
  size_t dataPortIntervals = 0;  // intervals searched as data (mb_port_leaf), not code
  size_t morePeerWords = 0;   // words of peer bits looked up (mb_peer_word), not loaded
  size_t denseColumns = 0;    // distinct columns of the verdicts by peer set (0: none, tables scan)
};

// Throws std::runtime_error when the shell's declarations do not match the
// ABI this generator was written for, or when a construct cannot be lowered
// (fail closed: never emit a decision that is wrong).
DecisionStats generateDecisions(llvm::Module& module, const ir::Program& program, const ir::EndpointClass& cls,
                                const PeerLowering& lowering);

}  // namespace membrane::codegen
