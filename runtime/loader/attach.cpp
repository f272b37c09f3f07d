// The attach points of the program kinds this loader attaches (attach.h).
#include "loader/attach.h"

#include "artifacts/programs.h"

namespace membrane::loader {

namespace {
constexpr AttachPoint kAttachPoints[] = {
    {artifacts::kKindTc, AttachTarget::Interface, true},
    {artifacts::kKindCgroupSkb, AttachTarget::Cgroup, false},
};
}  // namespace

const AttachPoint* attachPointFor(std::string_view kind) {
  for (const auto& a : kAttachPoints)
    if (kind == a.kind) return &a;
  return nullptr;
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
