// The program kinds, hooks and skeleton programs of programs.h.
#include "artifacts/programs.h"

#include "abi/datapath.h"

namespace membrane::artifacts {

const HookSpec* findHook(std::string_view name) {
  for (const auto& h : kHooks)
    if (name == h.name) return &h;
  return nullptr;
}

bool isProgramKind(std::string_view kind) {
  return kind == kKindTc || kind == kKindCgroupSkb || kind == kKindSockAddr || kind == kKindProcessGate;
}

std::vector<std::string> kindFeatures(std::string_view kind) {
  if (kind == kKindTc) return {"prog:sched_cls"};
  if (kind == kKindCgroupSkb || kind == kKindProcessGate) return {"prog:cgroup_skb"};
  // The caller's executable is read through the kernel's BTF (CO-RE).
  if (kind == kKindSockAddr) return {"prog:cgroup_sock_addr", "helper:bpf_get_current_task_btf"};
  return {};
}

std::vector<std::string> skeletonFeatures() {
  return {"btf", "map:lpm_trie", "map:lru_hash", "map:percpu_array", "map:ringbuf"};
}

const std::vector<SkeletonProgram>& skeletonPrograms() {
  // bpf-templates/entry/tc.c and entry/cgroup_skb.c.
  static const std::vector<SkeletonProgram> programs = {
      {MB_PROG_TC_FROM_ENDPOINT, "tc-from"},
      {MB_PROG_TC_TO_ENDPOINT, "tc-to"},
      {MB_PROG_CGROUP_INGRESS, "cg-in"},
      {MB_PROG_CGROUP_EGRESS, "cg-out"},
  };
  return programs;
}

const std::vector<SkeletonProgram>& processPrograms() {
  static const std::vector<SkeletonProgram> programs = {
      {MB_PROG_CONNECT4, "connect4"}, {MB_PROG_CONNECT6, "connect6"},         {MB_PROG_SENDMSG4, "sendmsg4"},
      {MB_PROG_SENDMSG6, "sendmsg6"}, {MB_PROG_PROCESS_GATE, "process-gate"},
  };
  return programs;
}

}  // namespace membrane::artifacts
