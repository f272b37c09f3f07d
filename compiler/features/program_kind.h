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
};

const char* programKindName(ProgramKind kind);

// What every endpoint class gets today: packet programs on tc or, for an
// endpoint without a veth, on its cgroup. A class may run on either, so a
// condition must be enforceable by each kind a class can be attached with.
struct Target {
  // Alternatives: a class runs on exactly one of these per endpoint.
  std::vector<ProgramKind> packetHooks;
};

Target endpointTarget();

}  // namespace membrane::features
