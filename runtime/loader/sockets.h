// The node's socket layer (docs/http.md, "Datapath"; docs/runtime.md, "The
// socket layer"): what apply sets up so that connections a packet program
// passes with MB_VERDICT_L7 have their requests decided.
//
//   node/sockops      a cgroup link: mb_sockops at the node's cgroup root
//   maps/mb_l7_socks_in   mb_l7_skb_dispatch attached as its stream verdict, no parser (the map holds it)
//   maps/mb_l7_socks_out  mb_l7_msg_dispatch attached
//   maps/mb_l7_endpoints  (address, port, direction) → the endpoint's slot
//   maps/mb_l7_skb_progs, mb_l7_msg_progs   slot → the endpoint's verdict programs
//
// The node-wide programs hold no policy: any class object's copy serves,
// and attaching a newer copy changes them for sockets policed from then on
// (sockets keep the dispatchers they were policed with; all read the same
// pinned maps). Policy lives in the slots, which a swap rewrites: a live
// connection's next request meets the new version.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "abi/datapath.h"
#include "net/address.h"

namespace membrane::loader::sockets {

// What one local endpoint needs of the layer: its slot, and which of its
// sockets are policed (its addresses × its class's L7 ports).
struct EndpointL7 {
  std::string key;  // "namespace/name", for messages
  uint32_t endpointId = 0;
  uint32_t slot = 0;
  uint8_t protocol = 0;  // MB_L7_*
  std::vector<net::Address> addresses;
  std::vector<uint16_t> ingressPorts, egressPorts;  // TCP
};

// The cgroup v2 hierarchy's root (/sys/fs/cgroup/unified or /sys/fs/cgroup):
// the default place for mb_sockops, under which every process of the node
// runs, so none can open a policed connection unseen. "" when there is none.
std::string defaultCgroupRoot();

// Slots for the endpoints in `need` (keys): the one each had before
// (`previous`), else the lowest free. Fails when more than MB_L7_SLOTS
// endpoints need one.
std::optional<std::map<std::string, uint32_t>> assignSlots(const std::vector<std::string>& need,
                                                           const std::map<std::string, uint32_t>& previous,
                                                           std::string* error);

// The node-wide programs of a loaded object (MB_PROG_SOCKOPS, the parser
// and the stream verdict's dispatch must be loaded; the sk_msg dispatch is
// attached when the object has it): mb_sockops at
// `cgroupRoot` (a new link pinned at <bpffsRoot>/node/sockops, or the pinned
// one swapped in place), the parser and dispatchers onto their sockhashes.
bool attachNodePrograms(bpf_object* object, const std::string& cgroupRoot, const std::string& bpffsRoot,
                        std::string* error);
// Whether the layer is attached: the sockops link pinned and live.
bool nodeProgramsAttached(const std::string& bpffsRoot);

// mb_l7_endpoints gains (or updates) every entry of `endpoints`; before any
// packet program relies on them (MB_CONFIG_SOCKETS).
bool addEndpoints(const std::string& bpffsRoot, const std::vector<EndpointL7>& endpoints, std::string* error);
// After the commit: entries for no endpoint of `endpoints` are deleted.
void pruneEndpoints(const std::string& bpffsRoot, const std::vector<EndpointL7>& endpoints);
// mb_l7_endpoints as it is, and put back exactly so (an apply's rollback).
using EndpointSnapshot = std::vector<std::pair<mb_l7_endpoint_key, mb_l7_endpoint>>;
EndpointSnapshot snapshotEndpoints(const std::string& bpffsRoot);
void restoreEndpoints(const std::string& bpffsRoot, const EndpointSnapshot& snapshot);

// The slot's verdict programs: `skbVerdictFd` (requests the endpoint
// receives) and `msgVerdictFd` (requests it sends); -1 deletes that entry
// (a policed socket of that direction is then dropped, counted no-program).
bool setSlot(const std::string& bpffsRoot, uint32_t slot, int skbVerdictFd, int msgVerdictFd, std::string* error);
// Deletes every slot entry not in `keep` (endpoints gone or without L7
// rules now).
void clearSlotsExcept(const std::string& bpffsRoot, const std::set<uint32_t>& keep);

// Detaches the node-wide programs (the sockops link, the sockhashes'
// programs). detachAll then removes the maps, which releases every policed
// socket.
void detachNodePrograms(const std::string& bpffsRoot);

}  // namespace membrane::loader::sockets
