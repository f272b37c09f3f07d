// Where the node's dispatchers find each packet's endpoint and load: the
// node's mb_endpoints and mb_endpoint_depths (runtime/abi/datapath.h,
// bpf-templates/lib/dispatch.h, dispatch.h).
//
// Before attaching anything, apply writes every dispatched endpoint of the
// version it brings into the slot packets do not follow yet (add), and
// after its commit removes what no endpoint of the new state is (prune).
// The active slot of an entry is never written while it is active, and the
// depth list only grows until the commit, so no packet of a running
// endpoint misses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abi/datapath.h"

namespace membrane::loader::endpoint_map {

struct Entry {
  mb_endpoint_key key{};
  uint32_t endpoint = 0;          // its id
  uint32_t load = MB_LOAD_NONE;   // its load's index in the dispatchers' prog arrays
  uint32_t depth = 0;             // for a cgroup: its level below the root (> 0)
};

// An interface endpoint, found by the ifindex of its host-side veth.
Entry byInterface(uint32_t ifindex, uint32_t endpoint);
// A cgroup endpoint, found by its cgroup's id at `depth`.
Entry byCgroup(uint64_t cgroupId, uint32_t depth, uint32_t endpoint);

// The depths the node's programs look at now (empty without the map).
std::vector<uint32_t> currentDepths(const std::string& bpffsRoot);

// Writes `entries` into `slot` of the pinned mb_endpoints (under
// <bpffsRoot>/maps), and MB_LOAD_NONE into `slot` of every other entry
// there: after the flip to `slot`, an endpoint left out is dropped, not
// judged by what the slot held before. The other slot of each entry stays
// as it was (MB_LOAD_NONE for a new one). Appends the depths they need.
bool add(const std::string& bpffsRoot, const std::vector<Entry>& entries, uint32_t slot, std::string* error);

// Writes one new entry, for an endpoint joining the running version in
// place (no hook runs the dispatchers for it yet, so no packet reads it
// before it is complete): `slot` (the active one) names its load, the
// other slot none. Fails if its key is there already. Appends its depth.
bool addNew(const std::string& bpffsRoot, const Entry& entry, uint32_t slot, std::string* error);

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
