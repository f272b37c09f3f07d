// See dns_state.h: the learned DNS state, read from its pinned map.
#include "loader/dns_state.h"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <tuple>

#include "abi/datapath.h"
#include "loader/kernel.h"

namespace membrane::loader {

namespace {

// The datapath writes names it read from packets: whatever the bytes, only
// printable ASCII reaches a terminal or a JSON string (which must be UTF-8).
std::string printableName(const char* text, size_t max) {
  std::string out;
  for (size_t i = 0; i < max && text[i]; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::optional<DnsState> readDnsState(const Paths& paths, std::string* error) {
  DnsState st;
  st.pin = paths.bpffsRoot + "/maps/mb_dns_learned";
  std::error_code ec;
  if (!std::filesystem::exists(st.pin, ec)) return st;
  int fd = bpf_obj_get(st.pin.c_str());
  if (fd < 0) {
    if (error) *error = "cannot open " + st.pin + ": " + std::strerror(errno);
    return std::nullopt;
  }
  // The pin must be the ABI's map: another key or value size would be read
  // as garbage.
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.type != BPF_MAP_TYPE_LRU_HASH ||
      info.key_size != sizeof(mb_dns_learned_key) || info.value_size != sizeof(mb_dns_learned)) {
    close(fd);
    if (error)
      *error = st.pin + " is not the datapath's learned-address map (an LRU hash of " +
               std::to_string(sizeof(mb_dns_learned_key)) + "-byte keys and " +
               std::to_string(sizeof(mb_dns_learned)) + "-byte values, runtime/abi/datapath.h)";
    return std::nullopt;
  }
  st.pinned = true;

  // Endpoint names from the applied state, if any (best effort: learned
  // state outlives versions, so ids are shown as they are otherwise).
  std::map<uint32_t, std::string> names;
  if (auto s = status(paths, nullptr))
    for (const auto& e : s->endpoints) names[e.endpointId] = e.key;

  uint64_t now = clockNs(CLOCK_MONOTONIC);
  mb_dns_learned_key key{}, next{};
  mb_dns_learned value{};
  bool first = true;
  // Entries may come and go while we walk (LRU eviction, the datapath
  // learning): a key that vanished between next-key and lookup is skipped.
  while (bpf_map_get_next_key(fd, first ? nullptr : &key, &next) == 0) {
    first = false;
    key = next;
    if (bpf_map_lookup_elem(fd, &key, &value) != 0) continue;
    if (key.family != MB_FAMILY_V4 && key.family != MB_FAMILY_V6) continue;
    net::Address addr;
    addr.family = key.family == MB_FAMILY_V4 ? net::Family::V4 : net::Family::V6;
    addr.bytes.fill(0);
    std::memcpy(addr.bytes.data(), key.addr, key.family == MB_FAMILY_V4 ? 4 : 16);
    for (const auto& slot : value.slot) {
      if (slot.expires_ns <= now) continue;  // 0 or past: empty
      LearnedName l;
      l.endpointId = key.endpoint;
      if (auto it = names.find(key.endpoint); it != names.end()) l.endpoint = it->second;
      l.address = addr;
      l.name = printableName(slot.name, sizeof slot.name);
      if (l.name.empty()) l.name = ".";  // the root
      l.learnedAgoNs = now > slot.learned_ns ? now - slot.learned_ns : 0;
      l.expiresInNs = slot.expires_ns - now;
      st.learned.push_back(std::move(l));
    }
  }
  close(fd);
  auto order = [](const LearnedName& l) {
    return std::make_tuple(l.endpoint.empty(), l.endpoint, l.endpointId, l.address, l.name);
  };
  std::sort(st.learned.begin(), st.learned.end(),
            [&](const LearnedName& a, const LearnedName& b) { return order(a) < order(b); });
  return st;
}

}  // namespace membrane::loader
