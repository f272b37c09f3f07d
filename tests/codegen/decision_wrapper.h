// The decisions' test harness, shared by the differential tests that ask a
// compiled class's generated decisions directly (http_differential_test.cpp,
// process_differential_test.cpp): http_wrapper.c linked with the class and
// run with BPF_PROG_TEST_RUN, one case per run; a small inventory; random
// peers; and how a packed result compares with the evaluator's verdict.
#pragma once

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "abi/datapath.h"
#include "codegen/line_info.h"
#include "codegen/object_linker.h"
#include "evaluator/evaluator.h"
#include "seeded_random.h"

namespace membrane::testing {

// http_wrapper.c's case, field for field.
struct HttpCase {
  mb_identity peer;
  mb_decision_input in;
  mb_http_request req;
  uint32_t egress;
  uint32_t request;  // mbt_http_decide: kConnection or kRequest
  uint32_t blockLen;
  int32_t read;      // mb_http_read's result, http_read.h's MB_HTTP_READ_*
  uint64_t result;
};
// What mbt_http_decide asks: the packet decision, the request decision, or
// the socket calls' decision (mb_process_decide_egress).
constexpr uint32_t kConnection = 0, kRequest = 1, kCall = 2;
constexpr int32_t kReadOk = 0, kReadPath = -2;

inline std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A class object linked with the wrapper, loaded with private maps and only
// the wrapper's program.
class Wrapped {
 public:
  static std::unique_ptr<Wrapped> load(const std::string& classElf, std::string* error) {
    std::string wrapper = readFile(MEMBRANE_HTTP_WRAPPER_OBJ);
    if (wrapper.empty()) {
      *error = "no wrapper object at " MEMBRANE_HTTP_WRAPPER_OBJ;
      return nullptr;
    }
    // Class objects carry no line info, and libbpf refuses a program with
    // line info that calls a subprogram without: the wrapper drops its own.
    codegen::dropLineInfo(wrapper);
    std::unique_ptr<Wrapped> w(new Wrapped());
    try {
      w->elf_ = codegen::linkBpfObjects({classElf, wrapper});
    } catch (const std::exception& e) {
      *error = e.what();
      return nullptr;
    }
    w->object_ = bpf_object__open_mem(w->elf_.data(), w->elf_.size(), nullptr);
    if (!w->object_) {
      *error = "bpf_object__open_mem failed";
      return nullptr;
    }
    bpf_map* map;
    bpf_object__for_each_map(map, w->object_) bpf_map__set_pin_path(map, nullptr);  // private maps
    bpf_program* prog;
    bpf_object__for_each_program(prog, w->object_)
        bpf_program__set_autoload(prog, std::string(bpf_program__name(prog)).starts_with("mbt_http_"));
    if (int rc = bpf_object__load(w->object_); rc != 0) {
      *error = "load failed: " + std::string(std::strerror(-rc));
      return nullptr;
    }
    w->prog_ = bpf_program__fd(bpf_object__find_program_by_name(w->object_, "mbt_http_decide"));
    w->readProg_ = bpf_program__fd(bpf_object__find_program_by_name(w->object_, "mbt_http_read"));
    w->map_ = bpf_map__fd(bpf_object__find_map_by_name(w->object_, "mbt_http_case"));
    bpf_map* scratch = bpf_object__find_map_by_name(w->object_, "mbt_http_scratch");
    w->scratch_ = bpf_map__fd(scratch);
    w->scratchBytes_.assign(bpf_map__value_size(scratch), '\0');
    return w;
  }
  ~Wrapped() {
    if (object_) bpf_object__close(object_);
  }

  // The datapath's reader on `block` (its buffer at the start of the
  // scratch, as in struct mb_http_scratch), then, if it reads, the decision.
  uint64_t read(HttpCase& c, const std::string& block) {
    EXPECT_LE(block.size(), size_t{MB_HTTP_HEADER_MAX});
    std::fill(scratchBytes_.begin(), scratchBytes_.end(), '\0');
    std::memcpy(scratchBytes_.data(), block.data(), std::min<size_t>(block.size(), MB_HTTP_HEADER_MAX));
    uint32_t key = 0;
    EXPECT_EQ(bpf_map_update_elem(scratch_, &key, scratchBytes_.data(), BPF_ANY), 0) << std::strerror(errno);
    c.blockLen = static_cast<uint32_t>(block.size());
    c.read = 1;  // not a result: the reader must write it
    return run(c, readProg_);
  }

  uint64_t run(HttpCase& c) { return run(c, prog_); }

  uint64_t run(HttpCase& c, int prog) {
    uint32_t key = 0;
    c.result = ~0ull;
    EXPECT_EQ(bpf_map_update_elem(map_, &key, &c, BPF_ANY), 0) << std::strerror(errno);
    unsigned char packet[64] = {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet, .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(prog, &opts), 0) << std::strerror(errno);
    EXPECT_EQ(opts.retval, 1u);
    EXPECT_EQ(bpf_map_lookup_elem(map_, &key, &c), 0);
    return c.result;
  }

  uint32_t verifiedInstructions() const {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_, &info, &len) != 0) return 0;
    return info.verified_insns;
  }

 private:
  Wrapped() = default;
  std::string elf_;
  bpf_object* object_ = nullptr;
  int prog_ = -1, readProg_ = -1, map_ = -1, scratch_ = -1;
  std::string scratchBytes_;
};

inline const char* kInventory = R"({
  "namespaces": [{"name": "h"}],
  "endpoints": [
    {"name": "server", "namespace": "h", "labels": {"app": "server"}, "addresses": ["198.18.7.1"]},
    {"name": "web", "namespace": "h", "labels": {"app": "web", "tier": "front"}, "addresses": ["198.18.7.2"]},
    {"name": "back", "namespace": "h", "labels": {"app": "web", "tier": "back"}, "addresses": ["198.18.7.3"]},
    {"name": "batch", "namespace": "h", "labels": {"app": "batch"}, "addresses": ["198.18.7.4"]}
  ]})";

struct PeerCase {
  ir::Peer peer;
  net::Address address;
};

inline PeerCase randomPeer(Random& r, const ir::Program& program) {
  static const std::vector<std::string> names = {"server", "web", "back", "batch"};
  switch (r.below(6)) {
    case 0: case 1: case 2: {
      const ir::Endpoint* e = program.findEndpoint("h", r.pick(names));
      return {ir::Peer::endpoint(program.identity(e->identity), e->addresses[0]), e->addresses[0]};
    }
    case 3: {
      auto a = *net::Address::parse("198.18.0.9");
      return {ir::Peer::host(a), a};
    }
    default: {
      auto a = *net::Address::parse(r.chance(0.5) ? "198.19.66." + std::to_string(1 + r.below(200))
                                                  : "198.19." + std::to_string(r.below(256)) + ".7");
      return {ir::Peer::world(a), a};
    }
  }
}

inline void fillPeer(HttpCase& c, const PeerCase& p) {
  std::memset(&c.peer, 0, sizeof c.peer);
  std::memset(&c.in, 0, sizeof c.in);
  uint32_t flags = p.peer.kind == ir::Peer::Kind::Endpoint ? MB_PEER_ENDPOINT
                   : p.peer.kind == ir::Peer::Kind::Host   ? MB_PEER_HOST
                                                           : MB_PEER_WORLD;
  c.peer.flags = flags;
  if (p.peer.identity) {
    c.peer.identity = p.peer.identity->id;
    for (uint32_t bit : p.peer.identity->selectorBits) c.peer.bits[bit / 64] |= uint64_t(1) << (bit % 64);
  }
  c.in.peer_flags = flags;
  c.in.family = MB_FAMILY_V4;
  std::memcpy(c.in.addr, p.address.bytes.data(), 4);
}

inline std::string verdictText(const ir::Verdict& v) {
  return std::string(v.allowed ? "allow" : "deny") + " rule " + std::to_string(v.rule) +
         (v.inspectsHttp ? " l7" : "") + (v.needsProcess ? " process" : "") + (v.auditWouldDeny ? " audit-deny " + std::to_string(v.auditRule) : "");
}

inline std::string resultText(uint64_t r) {
  uint64_t verdict = (r >> MB_RESULT_VERDICT_SHIFT) & MB_RESULT_VERDICT_MASK;
  return std::string(r & MB_RESULT_DENY ? (verdict ? "non-allow" : "deny") : "allow") + " rule " +
         std::to_string(r & MB_RESULT_RULE_MASK) + (verdict == MB_VERDICT_L7 ? " l7" : "") + (verdict == MB_VERDICT_PROCESS ? " process" : "") +
         (r & MB_RESULT_AUDIT_DENY ? " audit-deny " + std::to_string((r >> MB_RESULT_AUDIT_SHIFT) & MB_RESULT_RULE_MASK) : "");
}

// The packed result the evaluator's verdict stands for (enforced bit aside).
inline bool agrees(const ir::Verdict& v, uint64_t r, bool connection) {
  uint64_t verdict = (r >> MB_RESULT_VERDICT_SHIFT) & MB_RESULT_VERDICT_MASK;
  bool deny = r & MB_RESULT_DENY;
  if (v.allowed) {
    // An allow the socket layer or the socket calls finish: their verdict,
    // with the deny bit; else a plain allow.
    uint64_t want = connection && v.inspectsHttp ? MB_VERDICT_L7 : v.needsProcess ? MB_VERDICT_PROCESS : 0;
    if (want ? (verdict != want || !deny) : (verdict != 0 || deny)) return false;
  } else if (!deny || verdict != 0) {
    return false;
  }
  if ((r & MB_RESULT_RULE_MASK) != v.rule) return false;
  bool audit = r & MB_RESULT_AUDIT_DENY;
  if (audit != v.auditWouldDeny) return false;
  return !audit || ((r >> MB_RESULT_AUDIT_SHIFT) & MB_RESULT_RULE_MASK) == v.auditRule;
}

}  // namespace membrane::testing
