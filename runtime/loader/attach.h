// Attach points: how the loader attaches a program of each kind to an
// endpoint. The manifest says which programs a class object has and at
// which hook each runs (artifacts::ProgramEntry); an attach point says what
// a kind attaches to (the endpoint's interface or its cgroup) and at which
// of the kernel's directions there, so the loader needs no table of
// programs. A manifest naming a kind without an attach point here is
// refused before anything is touched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "artifacts/manifest.h"

namespace membrane::loader {

// What of an endpoint a kind attaches to. NODE.json names each local
// endpoint by one of them, which picks the programs it gets.
enum class AttachTarget {
  Interface,  // the host side of its veth: TCX links, or cls_bpf filters (--attach tc)
  Cgroup,     // its cgroup v2 directory: cgroup links
};

// Which endpoints a kind's programs go on, by what NODE.json names them by.
enum class AttachWhen {
  PacketHook,       // the endpoint's packet hook: tc if it has an interface, else cgroup_skb
  AlwaysCgroup,     // every endpoint, on its cgroup (the socket calls: an endpoint needs one)
  CgroupBesideTc,   // endpoints whose packet hook is tc, on their cgroup (the process gate)
};

struct AttachPoint {
  const char* kind;  // artifacts::kKind*
  AttachTarget target;
  AttachWhen when;
  // Whether the kernel side of the target sees the endpoint's traffic the
  // other way round: the host side of a veth receives (tc ingress) what the
  // endpoint sends (its egress).
  bool reversed;
  // The kernel's direction (true: ingress) for a program guarding the
  // endpoint's `direction` ("ingress" | "egress").
  bool kernelIngress(std::string_view direction) const { return (direction == "ingress") != reversed; }
};

// The attach point of a program kind, or nullptr when this loader cannot
// attach that kind.
const AttachPoint* attachPointFor(std::string_view kind);

// The kernel's attach type (enum bpf_attach_type) of a cgroup hook: by the
// hook's name for the socket calls (connect4 ...), else by direction
// (BPF_CGROUP_INET_INGRESS/EGRESS); -1 for a hook that is not on a cgroup.
int cgroupAttachType(std::string_view hook, bool kernelIngress);

// A hook named in the node's state (a manifest's program hook), resolved to
// its attach point and kernel direction; nullopt for a name no manifest may
// use or whose kind this loader cannot attach.
struct ResolvedHook {
  const AttachPoint* point = nullptr;
  bool kernelIngress = false;
};
std::optional<ResolvedHook> resolveHook(std::string_view hook);

// Whether every program of every class is of a kind this loader attaches;
// false with `error` naming the first program that is not
// ("manifest.classes[0].programs[2].kind: ...").
bool checkAttachable(const artifacts::Manifest& manifest, std::string* error);

}  // namespace membrane::loader
