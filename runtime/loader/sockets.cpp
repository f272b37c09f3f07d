// See sockets.h: the node's socket layer, attached and filled.
#include "loader/sockets.h"

#include <bpf/bpf.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "identity/identity_table.h"
#include "loader/kernel.h"

namespace membrane::loader::sockets {

namespace fs = std::filesystem;

namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC

std::string mapPin(const std::string& root, const char* name) { return root + "/maps/" + name; }
std::string sockopsPin(const std::string& root) { return root + "/node/sockops"; }

int programFd(bpf_object* object, const char* name, std::string* error) {
  bpf_program* prog = bpf_object__find_program_by_name(object, name);
  int fd = prog ? bpf_program__fd(prog) : -1;
  if (fd < 0 && error) *error = std::string("the socket layer's program ") + name + " is not loaded";
  return fd;
}

mb_l7_endpoint_key keyOf(const net::Address& a, uint8_t direction, uint16_t port) {
  mb_l7_endpoint_key k{};
  // The same address layout as every other key (identity_table.h).
  mb_endpoint_addr_key owned = identity::ownedAddressKey(0, a);
  k.family = static_cast<uint8_t>(owned.family);
  k.direction = direction;
  k.port = port;
  std::memcpy(k.addr, owned.addr, sizeof k.addr);
  return k;
}

std::string bytesOf(const mb_l7_endpoint_key& k) { return std::string(reinterpret_cast<const char*>(&k), sizeof k); }

template <typename F>
void forEachKey(const EndpointL7& e, F f) {
  for (const auto& a : e.addresses) {
    for (uint16_t p : e.ingressPorts) f(keyOf(a, MB_DIR_INGRESS, p));
    for (uint16_t p : e.egressPorts) f(keyOf(a, MB_DIR_EGRESS, p));
  }
}

// A sockhash detaches a program only when told which one: ask it
// (BPF_PROG_QUERY on a sockmap, Linux 6.0+).
void detachFrom(int mapFd, bpf_attach_type type) {
  if (mapFd < 0) return;
  uint32_t ids[4] = {}, count = 4;
  if (bpf_prog_query(mapFd, type, 0, nullptr, ids, &count) != 0) return;
  for (uint32_t i = 0; i < count; ++i) {
    Fd prog(bpf_prog_get_fd_by_id(ids[i]));
    if (prog.fd >= 0) bpf_prog_detach2(prog.fd, mapFd, type);
  }
}

}  // namespace

std::string defaultCgroupRoot() {
  for (const char* dir : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs st {};
    if (::statfs(dir, &st) == 0 && static_cast<long>(st.f_type) == kCgroup2Magic) return dir;
  }
  return {};
}

std::optional<std::map<std::string, uint32_t>> assignSlots(const std::vector<std::string>& need,
                                                           const std::map<std::string, uint32_t>& previous,
                                                           std::string* error) {
  std::map<std::string, uint32_t> out;
  std::set<uint32_t> used;
  for (const auto& key : need)
    if (auto it = previous.find(key); it != previous.end() && it->second < MB_L7_SLOTS && used.insert(it->second).second)
      out[key] = it->second;
  // A slot an endpoint that is gone held is taken last: its connections may
  // still be in the sockhash, and reach the slot (the verdict drops them, as
  // they are not the new holder's).
  std::set<uint32_t> recentlyFreed;
  for (const auto& [key, slot] : previous)
    if (!used.count(slot)) recentlyFreed.insert(slot);
  uint32_t next = 0;
  auto freeSlot = [&](uint32_t s) { return !used.count(s) && (s >= MB_L7_SLOTS || !recentlyFreed.count(s)); };
  for (const auto& key : need) {
    if (out.count(key)) continue;
    while (next < MB_L7_SLOTS && !freeSlot(next)) ++next;
    if (next >= MB_L7_SLOTS && !recentlyFreed.empty()) {
      next = *recentlyFreed.begin();
      recentlyFreed.erase(recentlyFreed.begin());
    }
    if (next >= MB_L7_SLOTS) {
      if (error)
        *error = std::to_string(need.size()) + " endpoints on this node have L7 rules, more than the socket layer's " +
                 std::to_string(MB_L7_SLOTS) + " slots";
      return std::nullopt;
    }
    out[key] = next;
    used.insert(next);
  }
  return out;
}

bool attachNodePrograms(bpf_object* object, const std::string& cgroupRoot, const std::string& bpffsRoot,
                        std::string* error) {
  int sockops = programFd(object, MB_PROG_SOCKOPS, error);
  int skbDispatch = programFd(object, MB_PROG_L7_SKB_DISPATCH, error);
  if (sockops < 0 || skbDispatch < 0) return false;
  // The client side (sk_msg) is optional: objects without it police no
  // client socket (the compiler gives no class egress HTTP ports then).
  bpf_program* msg = bpf_object__find_program_by_name(object, MB_PROG_L7_MSG_DISPATCH);
  int msgDispatch = msg ? bpf_program__fd(msg) : -1;
  Fd in(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_socks_in").c_str()));
  Fd out(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_socks_out").c_str()));
  if (in.fd < 0 || out.fd < 0) {
    if (error) *error = "the socket layer's sockhashes are not pinned under " + bpffsRoot + "/maps";
    return false;
  }
  // The map holds what is attached to it; attaching again replaces it for
  // sockets policed from now on. A stream parser (ABI 5's framing) would
  // change how the verdict sees segments: none may stay.
  detachFrom(in.fd, BPF_SK_SKB_STREAM_PARSER);
  struct {
    int prog;
    int map;
    bpf_attach_type type;
    const char* what;
  } onMaps[] = {{skbDispatch, in.fd, BPF_SK_SKB_STREAM_VERDICT, "stream verdict"},
                {msgDispatch, out.fd, BPF_SK_MSG_VERDICT, "sk_msg verdict"}};
  for (const auto& a : onMaps)
    if (a.prog >= 0 && bpf_prog_attach(a.prog, a.map, a.type, 0) != 0) {
      if (error) *error = std::string("attaching the socket layer's ") + a.what + ": " + std::strerror(errno);
      return false;
    }

  std::error_code ec;
  fs::create_directories(bpffsRoot + "/node", ec);
  const std::string pin = sockopsPin(bpffsRoot);
  Fd existing(bpf_obj_get(pin.c_str()));
  if (existing.fd >= 0 && !linkSevered(existing.fd)) {
    if (bpf_link_update(existing.fd, sockops, nullptr) == 0) return true;
    bpf_link_detach(existing.fd);
  }
  unlink(pin.c_str());
  if (cgroupRoot.empty()) {
    if (error) *error = "no cgroup v2 hierarchy to attach the socket layer's sockops program to";
    return false;
  }
  std::string why;
  int link = attachCgroupAs(sockops, cgroupRoot, BPF_CGROUP_SOCK_OPS, &why);
  if (link < 0) {
    if (error) *error = "attaching the socket layer's sockops program: " + why;
    return false;
  }
  Fd owned(link);
  if (bpf_obj_pin(link, pin.c_str()) != 0) {
    if (error) *error = "pinning " + pin + ": " + std::strerror(errno);
    bpf_link_detach(link);
    return false;
  }
  return true;
}

bool nodeProgramsAttached(const std::string& bpffsRoot) {
  Fd link(bpf_obj_get(sockopsPin(bpffsRoot).c_str()));
  return link.fd >= 0 && !linkSevered(link.fd) && linkProgramId(link.fd) != 0;
}

bool addEndpoints(const std::string& bpffsRoot, const std::vector<EndpointL7>& endpoints, std::string* error) {
  if (endpoints.empty()) return true;
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_endpoints").c_str()));
  if (map.fd < 0) {
    if (error) *error = "the socket layer's endpoint map is not pinned at " + mapPin(bpffsRoot, "mb_l7_endpoints");
    return false;
  }
  bool ok = true;
  for (const auto& e : endpoints) {
    mb_l7_endpoint value{};
    value.slot = e.slot;
    value.endpoint = e.endpointId;
    value.protocol = e.protocol;
    forEachKey(e, [&](const mb_l7_endpoint_key& k) {
      if (ok && bpf_map_update_elem(map.fd, &k, &value, BPF_ANY) != 0) {
        if (error) *error = "cannot fill the socket layer's endpoint map for " + e.key + ": " + std::strerror(errno);
        ok = false;
      }
    });
  }
  return ok;
}

void pruneEndpoints(const std::string& bpffsRoot, const std::vector<EndpointL7>& endpoints) {
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_endpoints").c_str()));
  if (map.fd < 0) return;
  std::set<std::string> keep;
  for (const auto& e : endpoints) forEachKey(e, [&](const mb_l7_endpoint_key& k) { keep.insert(bytesOf(k)); });
  for (const auto& k : mapKeys<mb_l7_endpoint_key>(map.fd))
    if (!keep.count(bytesOf(k))) bpf_map_delete_elem(map.fd, &k);
}

EndpointSnapshot snapshotEndpoints(const std::string& bpffsRoot) {
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_endpoints").c_str()));
  EndpointSnapshot out;
  if (map.fd < 0) return out;
  for (const auto& k : mapKeys<mb_l7_endpoint_key>(map.fd)) {
    mb_l7_endpoint v{};
    if (bpf_map_lookup_elem(map.fd, &k, &v) == 0) out.push_back({k, v});
  }
  return out;
}

void restoreEndpoints(const std::string& bpffsRoot, const EndpointSnapshot& snapshot) {
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_endpoints").c_str()));
  if (map.fd < 0) return;
  std::set<std::string> keep;
  for (const auto& [k, v] : snapshot) {
    bpf_map_update_elem(map.fd, &k, &v, BPF_ANY);
    keep.insert(bytesOf(k));
  }
  for (const auto& k : mapKeys<mb_l7_endpoint_key>(map.fd))
    if (!keep.count(bytesOf(k))) bpf_map_delete_elem(map.fd, &k);
}

bool setSlot(const std::string& bpffsRoot, uint32_t slot, int skbVerdictFd, int msgVerdictFd, std::string* error) {
  struct {
    const char* map;
    int prog;
  } entries[] = {{"mb_l7_skb_progs", skbVerdictFd}, {"mb_l7_msg_progs", msgVerdictFd}};
  for (const auto& e : entries) {
    Fd map(bpf_obj_get(mapPin(bpffsRoot, e.map).c_str()));
    if (map.fd < 0) {
      if (error) *error = std::string("the socket layer's ") + e.map + " is not pinned";
      return false;
    }
    if (e.prog < 0) {
      bpf_map_delete_elem(map.fd, &slot);  // ENOENT when empty: fine
      continue;
    }
    uint32_t fd = static_cast<uint32_t>(e.prog);
    if (bpf_map_update_elem(map.fd, &slot, &fd, BPF_ANY) != 0) {
      if (error) *error = std::string("cannot set slot ") + std::to_string(slot) + " of " + e.map + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

void clearSlotsExcept(const std::string& bpffsRoot, const std::set<uint32_t>& keep) {
  for (const char* name : {"mb_l7_skb_progs", "mb_l7_msg_progs"}) {
    Fd map(bpf_obj_get(mapPin(bpffsRoot, name).c_str()));
    if (map.fd < 0) continue;
    for (uint32_t slot = 0; slot < MB_L7_SLOTS; ++slot)
      if (!keep.count(slot)) bpf_map_delete_elem(map.fd, &slot);
  }
}

void detachNodePrograms(const std::string& bpffsRoot) {
  Fd link(bpf_obj_get(sockopsPin(bpffsRoot).c_str()));
  if (link.fd >= 0) bpf_link_detach(link.fd);
  unlink(sockopsPin(bpffsRoot).c_str());
  Fd in(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_socks_in").c_str()));
  Fd out(bpf_obj_get(mapPin(bpffsRoot, "mb_l7_socks_out").c_str()));
  detachFrom(in.fd, BPF_SK_SKB_STREAM_PARSER);
  detachFrom(in.fd, BPF_SK_SKB_STREAM_VERDICT);
  detachFrom(out.fd, BPF_SK_MSG_VERDICT);
  std::error_code ec;
  fs::remove(bpffsRoot + "/node", ec);
}

}  // namespace membrane::loader::sockets
