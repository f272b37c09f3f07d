// Where a class's shared load finds each packet's endpoint: the node's
// mb_endpoints and mb_endpoint_depths (runtime/abi/datapath.h,
// bpf-templates/lib/endpoint.h).
//
// apply loads a class's packet programs once for all of its endpoints; before
// attaching them it records every such endpoint here (add), and after its
// commit it removes what no endpoint of the new state is (prune). Every
// intermediate state of both maps names a superset of what the programs
// running at that moment need, so no packet of a running endpoint misses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abi/datapath.h"

namespace membrane::loader::endpoint_map {

struct Entry {
  mb_endpoint_key key{};
  uint32_t endpoint = 0;  // its id
  uint32_t depth = 0;     // for a cgroup: its level below the root (> 0)
};

// An interface endpoint, found by the ifindex of its host-side veth.
Entry byInterface(uint32_t ifindex, uint32_t endpoint);
// A cgroup endpoint, found by its cgroup's id at `depth`.
Entry byCgroup(uint64_t cgroupId, uint32_t depth, uint32_t endpoint);

// The depths the node's programs look at now (empty without the map).
std::vector<uint32_t> currentDepths(const std::string& bpffsRoot);

// Adds (or updates) `entries` and the depths they need to the pinned maps
// under <bpffsRoot>/maps. Entries already there stay.
bool add(const std::string& bpffsRoot, const std::vector<Entry>& entries, std::string* error);

// Removes every entry and depth `keep` does not need.
void prune(const std::string& bpffsRoot, const std::vector<Entry>& keep);

// What the maps held before an apply's `add`, to put back if the apply then
// fails: the programs that keep running were attached with those entries.
struct Snapshot {
  std::vector<std::pair<mb_endpoint_key, mb_endpoint_entry>> entries;
  std::vector<uint32_t> depths;
};
Snapshot snapshot(const std::string& bpffsRoot);
// Entries as they were (changed ones rewritten, added ones deleted), and the
// depths `add` appended cleared again, the last first.
void restore(const std::string& bpffsRoot, const Snapshot& before);

}  // namespace membrane::loader::endpoint_map
