// What the datapath has learned from DNS answers (docs/dns.md): the pinned
// mb_dns_learned map read back, each live (endpoint, address, name) with
// when it was learned and when it expires, for `membrane dns`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/loader.h"
#include "net/address.h"

namespace membrane::loader {

struct LearnedName {
  uint32_t endpointId = 0;
  std::string endpoint;  // "namespace/name" from the applied state, empty if the id is unknown
  net::Address address;
  std::string name;      // as the endpoint asked it; bytes other than printable ASCII as \xNN
  uint64_t learnedAgoNs = 0;
  uint64_t expiresInNs = 0;
};

struct DnsState {
  bool pinned = false;  // false: no mb_dns_learned map is pinned (no DNS rules applied yet)
  std::string pin;      // where it is (or would be) pinned
  std::vector<LearnedName> learned;  // live slots only, by endpoint, address, name
};

// Reads maps/mb_dns_learned under paths.bpffsRoot; endpoints are named from
// the applied state when there is one. Slots whose deadline has passed are
// empty (the datapath's meaning) and left out. nullopt with `error` set when
// the pin exists but cannot be read as the ABI's map.
std::optional<DnsState> readDnsState(const Paths& paths, std::string* error);

}  // namespace membrane::loader
