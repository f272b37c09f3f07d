// The node loader behind `membrane`: verify artifacts, load every program,
// then attach them behind the node's dispatchers and switch the whole node
// to the new version with one map update (dispatch.h), all or nothing.
// Links and maps are pinned under one bpffs root so they outlive the
// process; conntrack, counters, events and fragments are shared across
// policy versions, the identity trie is per version (its bits change with
// the policy) and swapped with the programs.
//
// Pins under the root:
//   maps/mb_conntrack, mb_reasons, mb_events, mb_fragments,
//        mb_endpoint_addrs, mb_dns_pending, mb_dns_learned, mb_dns_stats,
//        mb_dns_scratch, mb_dns_nesting (every map the skeleton pins by
//        name: shared by all versions, never cleared by a swap), and the
//        dispatchers' mb_endpoints, mb_endpoint_depths, mb_active_slot,
//        mb_progs_tc_from, mb_progs_tc_to, mb_progs_cg_in, mb_progs_cg_out
//   versions/<version>/mb_identity, mb_rule_stats
//   node/dispatch/<program>              the dispatchers (dispatch.h), loaded by the first apply
//   node/sockops                         the socket layer's cgroup link (sockets.h), while some
//                                        endpoint's class has L7 rules
//   links/<namespace>_<name>_<hook>      hook: the manifest program's (tc-from, tc-to, cg-in, cg-out)
//                                        (escaped, injectively: pins.h)
// State (which version, which endpoints, their ids, the program each hook
// was given) is JSON in the state directory, next to a copy of the applied
// manifest and the node lock (lock.h), which every command that changes the
// node holds throughout; pending.json, while an apply runs or after one was
// killed, says what it is doing (docs/runtime.md, "Killed commands").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/manifest.h"
#include "loader/lock.h"
#include "loader/node_config.h"

namespace membrane::loader {

// How an error that means nothing is applied on the node yet begins.
inline constexpr std::string_view kNothingApplied = "nothing applied on this node";

// The two failures a caller may retry later rather than take as a refusal
// (the CNI plugin answers "try again later", the agent waits for an
// apply): nothing applied yet, and the node lock held past the timeout.
inline bool nothingApplied(const std::string& error) { return error.rfind(kNothingApplied, 0) == 0; }
inline bool nodeBusy(const std::string& error) { return error.rfind(kNodeBusy, 0) == 0; }

struct Paths {
  std::string bpffsRoot = "/sys/fs/bpf/membrane";
  std::string stateDir = "/run/membrane";
  // Interfaces: "tcx" links (Linux 6.6+), "tc" (cls_bpf filters, the
  // fallback), or "auto" (TCX where the kernel has it).
  std::string attach = "auto";
  // Where the socket layer's sockops program attaches (docs/http.md): only
  // sockets of processes in this cgroup v2 subtree are policed by request.
  // Empty: the hierarchy's root, which no process of the node is outside of.
  std::string cgroupRoot;

  // The node lock (lock.h), taken by apply, detachAll, endpointAdd and
  // endpointRemove: how long to wait for another command holding it, whom to
  // tell that we wait (once, with the holder), and what to write into the
  // lock file for others to read (the operation's name when empty).
  std::chrono::milliseconds lockTimeout{60000};
  std::function<void(const std::string&)> onLockWait;
  std::string command;

  // Tests only: runs in apply after every hook is attached and before apply
  // reads them back, standing in for someone changing a hook meanwhile.
  std::function<void()> afterAttachForTesting;
};

struct ApplyReport {
  std::string version;
  std::string previousVersion;  // empty on first apply
  size_t endpoints = 0;
  size_t attached = 0;  // new links
  size_t swapped = 0;   // hooks moved to the new version in place (links updated, or at the flip)
  size_t detached = 0;  // links of endpoints no longer enforced
  // An endpoint join or leave done within the running version: its class's
  // load was there already, so nothing was loaded, verified or flipped.
  bool inPlace = false;
  // What is enforced, but maybe not as meant: an executable of a process
  // rule that names no file in an endpoint's root (no call of it can match).
  std::vector<std::string> warnings;
};

// Verifies `artifactDir` (manifest format, consistency and ABI, every
// object's SHA-256, kernel features), resolves the node's endpoints to
// classes, loads all programs, and only then changes anything; after
// attaching, reads every hook back from the kernel and rolls back unless each
// runs the program loaded for it. On any failure nothing has changed (see
// docs/runtime.md for the limits) and `error` says why (with the verifier
// log's tail for a load).
bool apply(const std::string& artifactDir, const NodeConfig& node, const Paths& paths, ApplyReport* report,
           std::string* error);

// One local endpoint joins (or, already there, is replaced) or leaves the
// endpoints this node enforces, and the applied artifacts are applied again
// for the new set, as `apply` would with NODE.json edited accordingly: all
// or nothing, under one hold of the node lock (so two at once both count).
// For the CNI plugin (docs/cluster.md). An endpoint learned after the
// compile gives labels and addresses. endpointLeave of an endpoint the node
// does not enforce changes nothing and succeeds (`*wasThere` false). Both
// (and applyArtifacts) first drop endpoints whose interface or cgroup is
// gone, with a warning in `report`: a pod whose network vanished without a
// DEL must not keep every later pod off the node.
bool endpointJoin(const NodeEndpoint& endpoint, const Paths& paths, ApplyReport* report, std::string* error);
bool endpointLeave(const std::string& ns, const std::string& name, const Paths& paths, ApplyReport* report,
                   bool* wasThere, std::string* error);

// Applies other artifacts to the endpoints this node enforces now (the
// applied NODE.json as joins and leaves left it; none on a node with
// nothing applied yet), as `apply` does: the cluster agent's rollout
// (docs/cluster.md).
bool applyArtifacts(const std::string& artifactDir, const Paths& paths, ApplyReport* report, std::string* error);

// Removes every link, map and the state membrane created.
bool detachAll(const Paths& paths, std::string* error);

// Identity updates for endpoints learned after compile: no recompile, no
// reload; the current version's trie gets (or loses) the addresses.
bool endpointAdd(const NodeEndpoint& endpoint, const Paths& paths, std::string* error);
bool endpointRemove(const std::string& ns, const std::string& name, const Paths& paths, std::string* error);

// An endpoint another node runs, as the cluster agent read it from etcd
// (docs/cluster.md): known here by its addresses, like `endpoint add`'s.
struct ClusterEndpoint {
  std::string node;      // the node that published it
  NodeEndpoint endpoint;  // name, namespace, labels, addresses, named ports
  int64_t revision = 0;   // etcd's revision of its record: the newest wins an address
};

struct ClusterUpdate {
  size_t taken = 0;                  // endpoints the trie now has
  std::vector<std::string> skipped;  // one sentence per endpoint left out, and why
  size_t trieChanges = 0;            // trie entries written or deleted
  bool applied = true;               // false: nothing applied here yet, the set kept for the first apply
};

// Makes `endpoints` the whole set of other nodes' endpoints this node knows,
// replacing the previous set: the current version's trie gets exactly the
// entries that change, and every later apply keeps them. An endpoint whose
// name or address this node's own knowledge has (its endpoints, NODE.json's
// peers, `endpoint add`) is left out and reported, never an error: one bad
// record must not stop the rest (docs/cluster.md). With nothing applied on
// the node, the set is only recorded (cluster.json), for the first apply.
// Holds the node lock.
bool clusterEndpointsSet(const std::vector<ClusterEndpoint>& endpoints, const Paths& paths, ClusterUpdate* report,
                         std::string* error);

// The endpoints this node enforces, with the labels, addresses and named
// ports other nodes need to recognise them (what the agent publishes):
// from the manifest for compiled ones, from NODE.json for learned ones.
// `version`, if given, gets the applied version.
std::optional<std::vector<NodeEndpoint>> localEndpoints(const Paths& paths, std::string* error,
                                                        std::string* version = nullptr);

// What the kernel has at one hook, against what apply attached there.
struct HookStatus {
  enum class State {
    Ok,           // runs the program apply attached
    NotAttached,  // recorded, but no link, filter or program is there
    Differs,      // runs another program
    Unexpected,   // not recorded (the endpoint is unrestricted, or the hook is not its), yet attached
    Unknown,      // cannot be checked from here (tc filters outside this network namespace)
  };
  State state = State::Ok;
  uint32_t program = 0;  // what the kernel runs there now, 0 if nothing
  uint32_t applied = 0;  // what apply attached, 0 if not recorded
  std::string tag;       // the applied program's tag
  std::string detail;    // why, for every state but Ok
};
// "ok", "not attached", "differs", "unexpected", "unknown"
const char* hookStateName(HookStatus::State s);

struct EndpointStatus {
  std::string key;
  uint32_t endpointId = 0;
  std::optional<uint32_t> classId;
  std::string where;  // interface or cgroup
  std::map<std::string, uint32_t> programs;  // hook → program id the kernel runs there (0: none)
  std::map<std::string, HookStatus> hooks;   // hook → against what was applied
  bool learned = false;  // not in the compile's inventory: NODE.json gave its labels
};

// An endpoint `endpoint add` told the node about: not enforced here, known
// by its addresses (the identity trie).
struct LearnedPeer {
  std::string key;
  std::vector<net::Address> addresses;
  labels::LabelSet labels;
  std::string node;  // for the cluster's: the node that runs it
};

struct RuleCounter {
  uint32_t id = 0;
  std::string policy, text, location;
  uint64_t packets = 0, bytes = 0;
};

struct Status {
  std::string version;
  std::string artifactDir;
  std::vector<EndpointStatus> endpoints;
  std::vector<LearnedPeer> learned;  // endpoint add, in the order added
  std::vector<LearnedPeer> cluster;  // other nodes' (the cluster agent's), by key
  std::vector<RuleCounter> rules;  // rule id 0 = default deny
  std::map<std::string, uint64_t> reasons;
  std::map<std::string, uint64_t> dns;  // mb_dns_stats by name ("dns-learned", ...: docs/dns.md)
  std::map<std::string, uint64_t> http;  // mb_http_stats by name ("http-denied", ...: docs/http.md)
  // Every way the kernel differs from the applied state, one sentence each
  // ("shop/api-0 tc-from: not attached: ..."); empty when it runs exactly
  // what was applied. `membrane status` exits 3 when it is not.
  std::vector<std::string> problems;
};

// What is applied (state directory) and what the kernel runs (links,
// filters, programs, the version's trie), compared. Takes no lock.
std::optional<Status> status(const Paths& paths, std::string* error);

// The manifest of the version applied on this node (the state directory's
// copy); nullopt with `error` set when nothing is applied.
std::optional<artifacts::Manifest> appliedManifest(const Paths& paths, std::string* error);

// The datapath id of an endpoint (mb_config.endpoint_id): stable across
// versions and nodes, from its namespace and name.
uint32_t endpointId(const std::string& key);

}  // namespace membrane::loader
