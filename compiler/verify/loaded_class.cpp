// See loaded_class.h.
#include "verify/loaded_class.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "loader/identity_maps.h"
#include "loader/kernel.h"
#include "libbpf/libbpf_log.h"
#include "loader/object_config.h"

namespace membrane::verify {

const char* hookProgram(Hook h) {
  switch (h) {
    case Hook::TcToEndpoint: return MB_PROG_TC_TO_ENDPOINT;
    case Hook::TcFromEndpoint: return MB_PROG_TC_FROM_ENDPOINT;
    case Hook::CgroupIngress: return MB_PROG_CGROUP_INGRESS;
    case Hook::CgroupEgress: return MB_PROG_CGROUP_EGRESS;
  }
  return "";
}

const char* hookName(Hook h) {
  switch (h) {
    case Hook::TcToEndpoint: return "tc ingress";
    case Hook::TcFromEndpoint: return "tc egress";
    case Hook::CgroupIngress: return "cgroup ingress";
    case Hook::CgroupEgress: return "cgroup egress";
  }
  return "";
}

bool hookIsEgress(Hook h) { return h == Hook::TcFromEndpoint || h == Hook::CgroupEgress; }

Hook oppositeHook(Hook h) {
  switch (h) {
    case Hook::TcToEndpoint: return Hook::TcFromEndpoint;
    case Hook::TcFromEndpoint: return Hook::TcToEndpoint;
    case Hook::CgroupIngress: return Hook::CgroupEgress;
    case Hook::CgroupEgress: return Hook::CgroupIngress;
  }
  return h;
}

std::unique_ptr<LoadedClass> LoadedClass::load(const std::string& elf, uint32_t endpointId, uint32_t eventKinds,
                                               uint32_t configFlags, std::string* error) {
  libbpf::LibbpfLog log;
  std::unique_ptr<LoadedClass> out(new LoadedClass());
  out->endpointId_ = endpointId;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "membrane-verify");
  out->object_ = bpf_object__open_mem(elf.data(), elf.size(), &opts);
  if (!out->object_) {
    if (error) *error = "not a BPF object libbpf can open: " + log.tail();
    return nullptr;
  }
  bpf_map* map;
  bpf_object__for_each_map(map, out->object_) bpf_map__set_pin_path(map, nullptr);  // private maps
  mb_config config{};
  config.endpoint_id = endpointId;
  config.events = eventKinds;
  config.flags = configFlags;
  if (!loader::setConfig(out->object_, config, error)) return nullptr;
  if (int err = bpf_object__load(out->object_); err) {
    if (error) *error = "the kernel refused it (" + std::string(std::strerror(-err)) + "):\n" + log.tail(20);
    return nullptr;
  }
  for (Hook h : {Hook::TcToEndpoint, Hook::TcFromEndpoint, Hook::CgroupIngress, Hook::CgroupEgress}) {
    bpf_program* prog = bpf_object__find_program_by_name(out->object_, hookProgram(h));
    out->progFds_[static_cast<int>(h)] = prog ? bpf_program__fd(prog) : -1;
    if (out->progFds_[static_cast<int>(h)] < 0) {
      if (error) *error = std::string("it has no program ") + hookProgram(h);
      return nullptr;
    }
  }
  out->events_ = ring_buffer__new(out->mapFd("mb_events"), &LoadedClass::onEvent, out.get(), nullptr);
  if (!out->events_) {
    if (error) *error = "cannot read its event ring buffer: " + std::string(std::strerror(errno));
    return nullptr;
  }
  return out;
}

LoadedClass::~LoadedClass() {
  if (events_) ring_buffer__free(events_);
  if (object_) bpf_object__close(object_);
}

int LoadedClass::mapFd(const char* name) const {
  bpf_map* map = bpf_object__find_map_by_name(object_, name);
  return map ? bpf_map__fd(map) : -1;
}

bool LoadedClass::setIdentities(const std::vector<identity::TrieEntry>& entries, std::string* error) {
  // As the node writes them: words past the trie value's first.
  if (loader::syncIdentityMaps(mapFd("mb_identity"), mapFd("mb_more_peer_bits"), entries, true, error)) return true;
  if (error) *error = "cannot fill the identity trie: " + *error;
  return false;
}

bool LoadedClass::own(const std::vector<net::Address>& addresses, std::string* error) {
  int fd = mapFd("mb_endpoint_addrs");
  uint32_t one = 1;
  for (const auto& a : addresses) {
    mb_endpoint_addr_key key = identity::ownedAddressKey(endpointId_, a);
    if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) != 0) {
      if (error) *error = "cannot fill the endpoint address map: " + std::string(std::strerror(errno));
      return false;
    }
  }
  return true;
}

bool LoadedClass::approveProcessFlow(mb_ct_key key, std::string* error) {
  int fd = mapFd("mb_process_flows");
  key.endpoint = endpointId_;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t recorded = static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
  if (fd < 0 || bpf_map_update_elem(fd, &key, &recorded, BPF_ANY) != 0) {
    if (error)
      *error = fd < 0 ? std::string("it has no map mb_process_flows")
                      : "cannot record a flow in mb_process_flows: " + std::string(std::strerror(errno));
    return false;
  }
  return true;
}

void LoadedClass::withdrawProcessFlow(mb_ct_key key) {
  key.endpoint = endpointId_;
  bpf_map_delete_elem(mapFd("mb_process_flows"), &key);
}

std::optional<bool> LoadedClass::passes(Hook hook, const std::vector<uint8_t>& frame, std::string* error) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
              .repeat = 1);
  if (bpf_prog_test_run_opts(progFds_[static_cast<int>(hook)], &opts) != 0) {
    if (error) *error = std::string("BPF_PROG_TEST_RUN: ") + std::strerror(errno);
    return std::nullopt;
  }
  // tc: TC_ACT_OK (0) or TC_ACT_SHOT (2); cgroup_skb: 1 passes, 0 drops.
  bool tc = hook == Hook::TcToEndpoint || hook == Hook::TcFromEndpoint;
  if (tc ? (opts.retval != 0 && opts.retval != 2) : opts.retval > 1) {
    if (error) *error = std::string(hookProgram(hook)) + " returned " + std::to_string(opts.retval);
    return std::nullopt;
  }
  return tc ? opts.retval == 0 : opts.retval == 1;
}

int LoadedClass::onEvent(void* ctx, void* data, size_t size) {
  if (size < sizeof(mb_event)) return 0;
  mb_event e;
  std::memcpy(&e, data, sizeof e);
  static_cast<LoadedClass*>(ctx)->pending_.push_back(e);
  return 0;
}

std::vector<mb_event> LoadedClass::takeEvents() {
  ring_buffer__consume(events_);
  std::vector<mb_event> out;
  out.swap(pending_);
  return out;
}

}  // namespace membrane::verify
