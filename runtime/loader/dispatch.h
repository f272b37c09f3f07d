// The node's dispatchers (bpf-templates/dispatch.c, lib/dispatch.h): the
// programs every tc and cgroup_skb hook of a dispatched endpoint runs, and
// the version slot that decides which class program they hand each packet
// to.
//
// They are loaded once per node, from the object embedded in this binary,
// and pinned under <bpffs>/node/dispatch/; their maps (mb_endpoints,
// mb_endpoint_depths, mb_active_slot and one prog array per hook) under
// <bpffs>/maps/. An apply writes the version it brings into the slot
// packets do not follow (the prog arrays here, the endpoints' entries in
// endpoint_map.h), attaches the dispatchers where they are not yet, checks
// everything, and then flips mb_active_slot: one map update, after which
// every dispatched hook of the node judges by the new version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "abi/datapath.h"
#include "loader/kernel.h"

namespace membrane::loader::dispatch {

// The dispatcher of a hook (by the manifest's hook name: tc-from, tc-to,
// cg-in, cg-out) and its prog array; nullopt for hooks not dispatched
// (socket calls, the process gate, the socket layer).
struct HookDispatch {
  const char* program;  // MB_PROG_DISPATCH_*
  const char* progs;    // MB_MAP_DISPATCH_*
};
std::optional<HookDispatch> forHook(const std::string& hookName);

// The dispatchers' object as this binary embeds it (an ELF image).
std::string_view embeddedObject();

// Loads and pins the dispatchers and their maps unless the node has them.
// Fails (and says to detach) when maps pinned by another datapath ABI are
// in the way.
bool ensureLoaded(const std::string& bpffsRoot, std::string* error);

// The pinned dispatcher of a hook (an fd, or -1), and its program id (0).
Fd program(const std::string& bpffsRoot, const std::string& hookName);
uint32_t programId(const std::string& bpffsRoot, const std::string& hookName);

// The slot packets follow now (0 without the map: nothing was flipped yet).
uint32_t activeSlot(const std::string& bpffsRoot);
inline uint32_t otherSlot(uint32_t slot) { return slot == 0 ? 1 : 0; }
// The flip. Nothing else of an apply changes what judges packets that
// already have an entry in the active slot.
bool activate(const std::string& bpffsRoot, uint32_t slot, std::string* error);

// Puts `progFd` at (slot, load) of the hook's prog array.
bool setProgram(const std::string& bpffsRoot, const std::string& hookName, uint32_t slot, uint32_t load, int progFd,
                std::string* error);
// The id of the program at (slot, load) of the hook's prog array (0: none).
uint32_t programAt(const std::string& bpffsRoot, const std::string& hookName, uint32_t slot, uint32_t load);
// Empties loads [0, count) of `slot` in every prog array: their programs
// are freed once nothing else holds them.
void clearSlot(const std::string& bpffsRoot, uint32_t slot, uint32_t count);

}  // namespace membrane::loader::dispatch
