// One class object loaded into the kernel for verification: from memory,
// with private maps (nothing pinned, nothing attached, nothing shared with a
// node's datapath), probed with BPF_PROG_TEST_RUN. Needs bpf() (root).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/datapath.h"
#include "identity/identity_table.h"
#include "net/address.h"

struct bpf_object;
struct ring_buffer;

namespace membrane::verify {

enum class Hook { TcToEndpoint, TcFromEndpoint, CgroupIngress, CgroupEgress };
const char* hookProgram(Hook h);       // the program's name
const char* hookName(Hook h);          // "tc", "cgroup" with the direction: "tc ingress"
bool hookIsEgress(Hook h);             // the endpoint's direction
Hook oppositeHook(Hook h);             // the other direction at the same hook

class LoadedClass {
 public:
  // Loads `elf` as endpoint `endpointId`, with events of `eventKinds`
  // (bits 1 << MB_EVENT_*) and `configFlags` (MB_CONFIG_*) set. Null,
  // `error` set (with the verifier log's tail), when it does not load.
  static std::unique_ptr<LoadedClass> load(const std::string& elf, uint32_t endpointId, uint32_t eventKinds,
                                           uint32_t configFlags,
                                           std::string* error);
  ~LoadedClass();
  LoadedClass(const LoadedClass&) = delete;
  LoadedClass& operator=(const LoadedClass&) = delete;

  // Replaces the identity trie's content.
  bool setIdentities(const std::vector<identity::TrieEntry>& entries, std::string* error);
  // Adds addresses the endpoint may send from (mb_endpoint_addrs).
  bool own(const std::vector<net::Address>& addresses, std::string* error);
  // Records a flow the endpoint sends as one whose socket's call the
  // socket-call programs let through (mb_process_flows, what the process
  // gate fills on a node; docs/process.md): `key` as the endpoint sent it,
  // its endpoint field set here. A test run has no socket to mark.
  bool approveProcessFlow(mb_ct_key key, std::string* error);
  // Removes it again: an ICMP message other than an echo, or a protocol
  // without ports, has a key without ports, which the next probe of another
  // type to the same address would find.
  void withdrawProcessFlow(mb_ct_key key);
  uint32_t endpointId() const { return endpointId_; }
  // Whether the program passes `frame` (an Ethernet frame; the kernel strips
  // it for cgroup programs). nullopt, `error` set, if the run itself fails.
  std::optional<bool> passes(Hook hook, const std::vector<uint8_t>& frame, std::string* error);
  // Events written since the last call, in order.
  std::vector<mb_event> takeEvents();

  // For tests and measurements that look further in.
  int programFd(Hook hook) const { return progFds_[static_cast<int>(hook)]; }
  int mapFd(const char* name) const;

 private:
  LoadedClass() = default;
  bpf_object* object_ = nullptr;
  ring_buffer* events_ = nullptr;
  uint32_t endpointId_ = 0;
  int progFds_[4] = {-1, -1, -1, -1};
  std::vector<mb_event> pending_;
  static int onEvent(void* ctx, void* data, size_t size);
};

}  // namespace membrane::verify
