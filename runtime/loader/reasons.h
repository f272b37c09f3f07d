// The names the node side gives the datapath's counters and event kinds
// (runtime/abi/datapath.h): one table each, read by `membrane status` (the
// reasons) and `membrane events` (the kinds), so a new reason or kind, or a
// counter moving to another map, is one line here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace membrane::loader {

// A per-CPU counter the datapath keeps: its name in `status`, the pinned map
// (under maps/) that holds it and its index there.
struct ReasonCounter {
  const char* name;  // "allowed-new", "dns-refused", ...
  const char* map;   // "mb_reasons"
  uint32_t index;    // enum mb_reason
};
// Every packet's reason (mb_reasons), in the datapath's order: `status`'s
// "reasons".
const std::vector<ReasonCounter>& reasonCounters();
// The DNS counters (mb_dns_stats: facts about DNS messages, beside the
// packets' reasons), in the datapath's order: `status`'s "dns".
const std::vector<ReasonCounter>& dnsCounters();
// The socket layer's and HTTP's counters (mb_http_stats), in the datapath's
// order: `status`'s "http".
const std::vector<ReasonCounter>& httpCounters();

// "deny", "audit", "allow", "spoofed", "dns-refused"; "kind-N" for a kind
// this membrane does not know (a newer datapath), never another kind's name.
std::string eventKindName(uint8_t kind);

}  // namespace membrane::loader
