// The kinds of BPF program the compiler generates, as far as rule kinds care:
// each rule kind (compiler/features/<kind>/) says which of them can enforce
// it, and a rule whose condition no program of the target can enforce is a
// compile error (features/registry, checkEnforceable). Their names are the
// manifest's program kinds, defined once in runtime/artifacts/programs.h.
#pragma once

#include <cstdint>
#include <vector>

namespace membrane::features {

enum class ProgramKind : uint8_t {
  Tc,         // tc on the endpoint's host-side veth: every packet, L2 up
  CgroupSkb,  // cgroup_skb on the endpoint's cgroup: every packet, L3 up
  SkSkb,      // the socket layer, server side: what a policed socket receives, as a byte stream
  SkMsg,      // the socket layer, client side: what a policed socket sends
  SockAddr,   // the endpoint's cgroup, socket calls: connect() and sendmsg() with an address, in the calling task
};

const char* programKindName(ProgramKind kind);

// What every endpoint class gets: packet programs on tc or, for an
// endpoint without a veth, on its cgroup; and the node's socket layer
// (docs/http.md), which decides the requests of connections the packet
// programs let through to it (MB_VERDICT_L7); and the socket-call hooks on
// the endpoint's cgroup (docs/process.md), which decide the calls of the
// flows the packet programs leave to them (MB_VERDICT_PROCESS). A class may run on either
// packet hook, so a condition the packet programs decide must be
// enforceable by each of them; a condition a socket kind enforces needs
// only that kind (the packet programs pass its connections on).
struct Target {
  // Alternatives: a class runs on exactly one of these per endpoint.
  std::vector<ProgramKind> packetHooks;
  // Every class may have all of these: the socket layer is node-wide, and
  // a class whose rules need the socket-call hooks gets them.
  std::vector<ProgramKind> socketHooks;
};

Target endpointTarget();

}  // namespace membrane::features
