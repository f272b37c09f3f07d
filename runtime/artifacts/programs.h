// The programs of a class object, as the manifest lists them: the program
// kinds and hooks a manifest may name, the kernel features each kind needs,
// and the programs the datapath skeleton defines (bpf-templates/entry/).
//
// One definition for all sides: the compiler lists these programs per class,
// the manifest's reader refuses any kind or hook not named here, and the
// node loader attaches what a manifest lists, by kind
// (runtime/loader/attach.h). Adding a program kind: its entry file in
// bpf-templates/entry/, its program names in runtime/abi/datapath.h, its
// kind, hooks and features here, and an attach point in the loader.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace membrane::artifacts {

// Program kinds: the kind of kernel hook a program runs at.
inline constexpr const char* kKindTc = "tc";                  // the host side of an endpoint's veth
inline constexpr const char* kKindCgroupSkb = "cgroup_skb";  // an endpoint's cgroup v2 directory
// The socket layer (docs/http.md): node-wide dispatchers over sockhashes,
// reaching each endpoint's verdict programs through prog arrays.
inline constexpr const char* kKindSockOps = "sockops";  // the node's cgroup root
inline constexpr const char* kKindSkSkb = "sk_skb";     // mb_l7_socks_in (and the endpoint's slot)
inline constexpr const char* kKindSkMsg = "sk_msg";     // mb_l7_socks_out (and the endpoint's slot)
// Socket calls (docs/process.md): connect() and sendmsg() with an address,
// in the calling task, on the endpoint's cgroup.
inline constexpr const char* kKindSockAddr = "cgroup_sock_addr";
// A cgroup_skb egress program beside tc (docs/process.md): records the flows
// of sockets the socket calls let through, for tc, which sees no socket.
inline constexpr const char* kKindProcessGate = "process_gate";

// A hook: where on an endpoint a program runs. Its name is part of link pin
// names, of the node's state and of `membrane status`.
struct HookSpec {
  const char* name;
  const char* kind;       // the kind of program that runs there
  const char* direction;  // the endpoint's direction it guards: "ingress" | "egress"
};

// Every hook a manifest may name.
inline constexpr HookSpec kHooks[] = {
    {"tc-from", kKindTc, "egress"},  // tc ingress of the host-side veth: what the endpoint sends
    {"tc-to", kKindTc, "ingress"},   // tc egress of the host-side veth: what it receives
    {"cg-in", kKindCgroupSkb, "ingress"},
    {"cg-out", kKindCgroupSkb, "egress"},
    // Process rules (docs/process.md): the socket calls on the endpoint's
    // cgroup, and the gate that tells tc which flows they let through.
    {"connect4", kKindSockAddr, "egress"},
    {"connect6", kKindSockAddr, "egress"},
    {"sendmsg4", kKindSockAddr, "egress"},
    {"sendmsg6", kKindSockAddr, "egress"},
    {"process-gate", kKindProcessGate, "egress"},
};

// The hook named `name`, or nullptr.
const HookSpec* findHook(std::string_view name);
// Whether `kind` is a program kind a manifest may name.
bool isProgramKind(std::string_view kind);
// The kernel features (requiredFeatures' vocabulary) a kind's programs need
// to load; empty for an unknown kind.
std::vector<std::string> kindFeatures(std::string_view kind);

// What every class object needs whatever programs it has: BTF and the types
// of the skeleton's maps.
std::vector<std::string> skeletonFeatures();

// A program of the skeleton, by its function name (MB_PROG_*), at its hook.
struct SkeletonProgram {
  const char* name;
  const char* hook;
};
// Every program a class object carries, in the order the manifest lists them.
const std::vector<SkeletonProgram>& skeletonPrograms();
// What a class with process rules carries besides (entry/sock_addr.c,
// entry/process_gate.c).
const std::vector<SkeletonProgram>& processPrograms();

}  // namespace membrane::artifacts
