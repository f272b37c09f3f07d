// Loads the datapath (compiled with decide_stub.c) with libbpf and runs
// crafted packets through its programs with BPF_PROG_TEST_RUN. Nothing is
// attached anywhere and no traffic leaves the process.
//
// Every Datapath is a fresh object with fresh maps: pinning is switched off
// (the pin paths cleared before load) so tests never share or leave state.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datapath.h"  // the ABI (runtime/abi)
#include "environment.h"  // testkit: MB_REQUIRE_BPF
#include "packets.h"

struct bpf_object;
struct bpf_program;
struct bpf_map;

namespace mbtest {

using membrane::testkit::bpfUnavailableReason;
using membrane::testkit::runningInCi;

enum class Prog { TcFromEndpoint, TcToEndpoint, CgroupIngress, CgroupEgress };
const char* progName(Prog p);
int progDirection(Prog p);  // MB_DIR_*
bool progIsTc(Prog p);
inline void PrintTo(Prog p, std::ostream* os) { *os << progName(p); }

inline constexpr Prog kAllProgs[] = {Prog::TcFromEndpoint, Prog::TcToEndpoint,
                                     Prog::CgroupIngress, Prog::CgroupEgress};

struct Options {
  uint32_t endpoint_id = 7;
  uint32_t events = 0;           // mb_config.events
  bool egress_enforced = false;  // the stub's egress policy
  uint32_t dns_features = 0;     // the stub class's mb_dns_class_features (MB_DNS_F_*)
  uint32_t config_flags = 0;     // mb_config.flags (MB_CONFIG_*)
};

// What a program did with a packet: its return value and the packet as it
// left (a program may rewrite it).
struct RunResult {
  int retval = -1;
  Bytes out;
};

// Monotonic clock, the one bpf_ktime_get_ns() reads.
uint64_t monotonicNs();

class Datapath {
 public:
  explicit Datapath(const Options& options = {});
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  bool loaded() const { return obj_ != nullptr; }
  const std::string& error() const { return error_; }

  // Runs `frame` (always an Ethernet frame: BPF_PROG_TEST_RUN strips the
  // header itself for cgroup_skb) and returns the program's raw return value.
  int run(Prog p, const Bytes& frame);
  // Runs and maps the return value to pass/drop, checking it is one of the
  // two values the program type allows.
  bool passes(Prog p, const Bytes& frame);
  // The skb->len the program saw (tc: the frame, cgroup_skb: from L3).
  static uint32_t seenLen(Prog p, const Bytes& frame);

  // Runs `frame` and returns what came out.
  RunResult runOut(Prog p, const Bytes& frame);

  // Counters, summed over CPUs.
  uint64_t reason(uint32_t r) const;
  uint64_t dnsStat(uint32_t s) const;  // mb_dns_stats
  std::vector<uint64_t> reasons() const;
  mb_rule_stats rule(uint32_t id) const;
  uint64_t decideCalls(int dir) const;  // the stub's call counter

  // Identity trie.
  void setIdentity(const std::string& addr, int prefix, uint32_t flags,
                   std::initializer_list<int> bits, uint32_t identity = 0);

  // The endpoint's own addresses (mb_endpoint_addrs): the sources it may
  // send from. `endpoint` defaults to the loaded one's id.
  void ownAddress(const std::string& addr, std::optional<uint32_t> endpoint = std::nullopt);

  // Conntrack.
  std::optional<mb_ct_entry> ct(const mb_ct_key& key) const;
  void putCt(const mb_ct_key& key, const mb_ct_entry& entry);
  size_t ctSize() const;
  std::vector<std::pair<mb_ct_key, mb_ct_entry>> ctEntries() const;
  size_t fragmentsSize() const;

  // DNS state (mb_dns_pending, mb_dns_learned). `endpoint` defaults to the
  // loaded one's id.
  std::vector<std::pair<mb_dns_pending_key, mb_dns_pending>> pending() const;
  std::optional<mb_dns_learned> learned(const std::string& addr,
                                        std::optional<uint32_t> endpoint = std::nullopt) const;
  void putLearned(const std::string& addr, const mb_dns_learned& value,
                  std::optional<uint32_t> endpoint = std::nullopt);
  size_t learnedSize() const;

  // Drains the ring buffer.
  std::vector<mb_event> events();
  // Drains the ring buffer, records of every kind as they are (an HTTP
  // event is longer than an mb_event).
  std::vector<std::string> records();

  bpf_object* object() const { return obj_; }
  bpf_program* program(Prog p) const;
  bpf_map* map(const char* name) const;
  int mapFd(const char* name) const;
  uint32_t verifiedInsns(Prog p) const;
  uint32_t xlatedInsns(Prog p) const;

 private:
  bpf_object* obj_ = nullptr;
  uint32_t endpointId_ = 0;
  std::string error_;
};

// A conntrack key in the ABI's byte order (ports given in host order).
mb_ct_key ctKey(const std::string& saddr, uint16_t sport, const std::string& daddr,
                uint16_t dport, uint8_t proto, uint32_t endpoint = 7);

// Writes `value` over the .rodata variable `name` (found through BTF) of an
// opened, not yet loaded object. Returns "" or what went wrong.
std::string setRodata(bpf_object* obj, const char* name, const void* value, size_t size);

// The stub-compiled object's path (set by CMake).
const char* stubObjectPath();

}  // namespace mbtest
