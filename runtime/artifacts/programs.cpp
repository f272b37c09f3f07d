// The program kinds, hooks and skeleton programs of programs.h.
#include "artifacts/programs.h"

#include "abi/datapath.h"

namespace membrane::artifacts {

const HookSpec* findHook(std::string_view name) {
  for (const auto& h : kHooks)
    if (name == h.name) return &h;
  return nullptr;
}

bool isProgramKind(std::string_view kind) { return kind == kKindTc || kind == kKindCgroupSkb; }

std::vector<std::string> kindFeatures(std::string_view kind) {
  if (kind == kKindTc) return {"prog:sched_cls"};
  if (kind == kKindCgroupSkb) return {"prog:cgroup_skb"};
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

}  // namespace membrane::artifacts
