// The attach points of the program kinds this loader attaches (attach.h).
#include "loader/attach.h"

#include <bpf/bpf.h>

#include "artifacts/programs.h"

namespace membrane::loader {

namespace {
constexpr AttachPoint kAttachPoints[] = {
    {artifacts::kKindTc, AttachTarget::Interface, AttachWhen::PacketHook, true},
    {artifacts::kKindCgroupSkb, AttachTarget::Cgroup, AttachWhen::PacketHook, false},
    {artifacts::kKindSockAddr, AttachTarget::Cgroup, AttachWhen::AlwaysCgroup, false},
    {artifacts::kKindProcessGate, AttachTarget::Cgroup, AttachWhen::CgroupBesideTc, false},
};
}  // namespace

const AttachPoint* attachPointFor(std::string_view kind) {
  for (const auto& a : kAttachPoints)
    if (kind == a.kind) return &a;
  return nullptr;
}

int cgroupAttachType(std::string_view hook, bool kernelIngress) {
  const artifacts::HookSpec* spec = artifacts::findHook(hook);
  const AttachPoint* point = spec ? attachPointFor(spec->kind) : nullptr;
  if (!point || point->target != AttachTarget::Cgroup) return -1;
  if (hook == "connect4") return BPF_CGROUP_INET4_CONNECT;
  if (hook == "connect6") return BPF_CGROUP_INET6_CONNECT;
  if (hook == "sendmsg4") return BPF_CGROUP_UDP4_SENDMSG;
  if (hook == "sendmsg6") return BPF_CGROUP_UDP6_SENDMSG;
  if (std::string_view(spec->kind) == artifacts::kKindSockAddr) return -1;  // a hook added without its type
  return kernelIngress ? BPF_CGROUP_INET_INGRESS : BPF_CGROUP_INET_EGRESS;
}

std::optional<ResolvedHook> resolveHook(std::string_view hook) {
  const artifacts::HookSpec* spec = artifacts::findHook(hook);
  const AttachPoint* point = spec ? attachPointFor(spec->kind) : nullptr;
  if (!point) return std::nullopt;
  return ResolvedHook{point, point->kernelIngress(spec->direction)};
}

bool checkAttachable(const artifacts::Manifest& manifest, std::string* error) {
  for (size_t i = 0; i < manifest.classes.size(); ++i)
    for (size_t k = 0; k < manifest.classes[i].programs.size(); ++k) {
      const artifacts::ProgramEntry& prog = manifest.classes[i].programs[k];
      if (attachPointFor(prog.kind)) continue;
      if (error)
        *error = "manifest.classes[" + std::to_string(i) + "].programs[" + std::to_string(k) + "].kind: program " +
                 prog.name + " is of kind \"" + prog.kind + "\", which this membrane cannot attach";
      return false;
    }
  return true;
}

}  // namespace membrane::loader
