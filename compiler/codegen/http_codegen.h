// Generates a class's HTTP tables and request decisions (runtime/abi/
// datapath.h "The socket layer and HTTP", docs/http.md "Request decision")
// in the module cloned from the decision shell (bpf-templates/decision.c):
//   mb_http_class_features, mb_http_header_names, mb_http_header_count
//   mb_http_dfa_*          one DFA over bytes for the class's path patterns
//                          and host patterns (HttpAutomaton), walked by the
//                          shell's mb_http_dfa_run, its states' pattern bits
//                          read by mb_http_dfa_word
//   mb_http_decide_*       the packet decision's port and peer search
//                          (decision_codegen.cpp, request mode) with each
//                          rule's http condition folded into compares:
//                          method as constants, path and host as pattern
//                          bits, headers as the request's seen/repeated bits
//                          and value compares.
// HttpTables is the one numbering (patterns, header names) the decision and
// the tables share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace llvm {
class Module;
class Value;
}  // namespace llvm

namespace membrane::codegen {

class IRBuilderBPF;

// A DFA over request bytes: state 0 is dead (no pattern can match any
// more), starts[0] reads paths, starts[1] hosts. Built from path patterns
// (names/http.h: '*' within a segment, a final "/**") and host patterns
// (names/dns.h: '*' within a label, "*" every name) by subset construction.
struct HttpAutomaton {
  static constexpr size_t kMaxStates = 65535;  // u16 state numbers
  uint8_t byteClass[256] = {};
  uint32_t classes = 1;
  uint32_t starts[2] = {0, 0};
  std::vector<uint16_t> next;    // [state * classes + class]
  std::vector<uint16_t> accept;  // [state] → row
  std::vector<uint64_t> bits;    // [row * words + word]
  uint32_t words = 1;
  size_t states() const { return accept.size(); }

  // Bits 0..paths-1 are the path patterns, then the host patterns. Throws
  // std::runtime_error (naming `what`) past kMaxStates.
  static HttpAutomaton build(const std::vector<std::string>& pathPatterns,
                             const std::vector<std::string>& hostPatterns, const std::string& what);
  // The bits of the patterns `bytes` matches, starting at starts[which]: a
  // reference walk for tests (the datapath's is decision.c's mb_http_dfa_run).
  std::vector<uint64_t> run(int which, const std::string& bytes) const;
};

// Every path pattern, host pattern and header name of a class's http
// conditions, numbered in sorted order.
class HttpTables {
 public:
  // Throws std::runtime_error naming the class and its rules when they name
  // more than MB_HTTP_HEADERS_MAX distinct headers, or when the automaton
  // would be too large.
  explicit HttpTables(const ir::EndpointClass& cls);

  uint32_t pathBit(const std::string& pattern) const;
  uint32_t hostBit(const std::string& pattern) const;  // after the path patterns
  uint32_t headerIndex(const std::string& lowerName) const;
  const std::vector<std::string>& paths() const { return paths_; }
  const std::vector<std::string>& hosts() const { return hosts_; }
  const std::vector<std::string>& headers() const { return headers_; }
  const HttpAutomaton& automaton() const { return automaton_; }
  uint32_t features() const { return features_; }  // MB_HTTP_F_*

 private:
  std::vector<std::string> paths_, hosts_, headers_;
  HttpAutomaton automaton_;
  uint32_t features_ = 0;
};

// The TCP ports some http rule of a direction covers (the manifest's
// classes[].l7.http), as sorted, disjoint ranges.
std::vector<ir::PortRange> httpPorts(const ir::DirectionPolicy& direction);

// Defines the class's header table, features and automaton in `module`.
void generateHttpTables(llvm::Module& module, const HttpTables& tables);

// Emits a request's tests for the request decision: `prepare` at the top of
// the body (loads and automaton walks for every test the direction's rules
// need, so they dominate every rule test), then `condition` per rule.
class HttpRequestTests {
 public:
  HttpRequestTests(IRBuilderBPF& b, const HttpTables& tables) : b_(b), tables_(tables) {}
  void prepare(llvm::Value* request, const ir::DirectionPolicy& direction);
  // i1: the request matches the condition (one of its items).
  llvm::Value* condition(const ir::HttpCondition& c);

 private:
  IRBuilderBPF& b_;
  const HttpTables& tables_;
  llvm::Value* req_ = nullptr;
  std::vector<llvm::Value*> pathWords_, hostWords_;
  llvm::Value* methodWords_[2] = {nullptr, nullptr};
  llvm::Value* methodLen_ = nullptr;
  llvm::Value* seen_ = nullptr;
  llvm::Value* repeated_ = nullptr;

  llvm::Value* bit(const std::vector<llvm::Value*>& words, uint32_t bit);
  // The conjuncts (i1) a request must meet for the method / the header.
  std::vector<llvm::Value*> method(const std::string& m);
  std::vector<llvm::Value*> header(const ir::HttpHeaderMatch& h);
};

}  // namespace membrane::codegen
