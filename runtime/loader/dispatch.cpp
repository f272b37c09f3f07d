// The node's dispatchers: loading, pinning, their prog arrays and the
// version slot (dispatch.h).
#include "loader/dispatch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "libbpf/libbpf_log.h"
#include "loader/object_config.h"

namespace membrane::loader {
// The dispatchers' object, compiled when membrane is built
// (compiler/CMakeLists.txt, embedded by cmake/EmbedFiles.cmake).
extern const std::vector<std::pair<std::string_view, std::string_view>> kEmbeddedDispatch;
}  // namespace membrane::loader

namespace membrane::loader::dispatch {
namespace {

namespace fs = std::filesystem;

struct Known {
  const char* hook;
  HookDispatch dispatch;
};
constexpr Known kHooks[] = {
    {"tc-from", {MB_PROG_DISPATCH_TC_FROM, MB_MAP_DISPATCH_TC_FROM}},
    {"tc-to", {MB_PROG_DISPATCH_TC_TO, MB_MAP_DISPATCH_TC_TO}},
    {"cg-in", {MB_PROG_DISPATCH_CG_IN, MB_MAP_DISPATCH_CG_IN}},
    {"cg-out", {MB_PROG_DISPATCH_CG_OUT, MB_MAP_DISPATCH_CG_OUT}},
};

std::string programPin(const std::string& root, const char* program) { return root + "/node/dispatch/" + program; }
std::string mapPin(const std::string& root, const char* map) { return root + "/maps/" + map; }

uint32_t index(uint32_t slot, uint32_t load) { return slot * MB_LOADS_MAX + load; }

}  // namespace

std::string_view embeddedObject() {
  return kEmbeddedDispatch.size() == 1 ? kEmbeddedDispatch.front().second : std::string_view();
}

std::optional<HookDispatch> forHook(const std::string& hookName) {
  for (const auto& k : kHooks)
    if (hookName == k.hook) return k.dispatch;
  return std::nullopt;
}

bool ensureLoaded(const std::string& bpffsRoot, std::string* error) {
  bool loaded = fs::exists(mapPin(bpffsRoot, "mb_active_slot"));
  for (const auto& k : kHooks)
    loaded = loaded && fs::exists(programPin(bpffsRoot, k.dispatch.program)) &&
             fs::exists(mapPin(bpffsRoot, k.dispatch.progs));
  if (loaded) return true;
  auto fail = [&](const std::string& what) {
    if (error) *error = "the node's dispatchers: " + what;
    return false;
  };
  std::error_code ec;
  fs::create_directories(bpffsRoot + "/node/dispatch", ec);
  if (!ec) fs::create_directories(bpffsRoot + "/maps", ec);
  if (ec) return fail("cannot create their directories under " + bpffsRoot + ": " + ec.message());
  std::string_view bytes = embeddedObject();
  if (bytes.empty()) return fail("this membrane was built without them");
  std::string mapsRoot = bpffsRoot + "/maps";
  libbpf::LibbpfLog log;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "membrane_dispatch", .pin_root_path = mapsRoot.c_str());
  std::unique_ptr<bpf_object, void (*)(bpf_object*)> object(bpf_object__open_mem(bytes.data(), bytes.size(), &opts),
                                                            bpf_object__close);
  if (!object) return fail("cannot open their object: " + log.text());
  std::string why;
  if (!pinnedMapsFit(object.get(), &why)) return fail(why);
  if (int err = bpf_object__load(object.get()); err)
    return fail(std::string("cannot load them: ") + std::strerror(-err) + "\n" + log.text());
  // Pins of an earlier, interrupted load are replaced: links that run that
  // instance are moved to this one by the apply that follows.
  for (const auto& k : kHooks) {
    bpf_program* prog = bpf_object__find_program_by_name(object.get(), k.dispatch.program);
    std::string pin = programPin(bpffsRoot, k.dispatch.program);
    unlink(pin.c_str());
    if (!prog || bpf_obj_pin(bpf_program__fd(prog), pin.c_str()) != 0)
      return fail("cannot pin " + pin + ": " + std::strerror(errno));
  }
  return true;
}

Fd program(const std::string& bpffsRoot, const std::string& hookName) {
  auto d = forHook(hookName);
  return Fd(d ? bpf_obj_get(programPin(bpffsRoot, d->program).c_str()) : -1);
}

uint32_t programId(const std::string& bpffsRoot, const std::string& hookName) {
  Fd fd = program(bpffsRoot, hookName);
  auto info = fd.fd >= 0 ? programInfo(fd.fd) : std::nullopt;
  return info ? info->id : 0;
}

uint32_t activeSlot(const std::string& bpffsRoot) {
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_active_slot").c_str()));
  uint32_t key = 0, slot = 0;
  if (map.fd < 0 || bpf_map_lookup_elem(map.fd, &key, &slot) != 0) return 0;
  return slot == 1 ? 1 : 0;
}

bool activate(const std::string& bpffsRoot, uint32_t slot, std::string* error) {
  Fd map(bpf_obj_get(mapPin(bpffsRoot, "mb_active_slot").c_str()));
  uint32_t key = 0;
  if (map.fd < 0 || bpf_map_update_elem(map.fd, &key, &slot, BPF_ANY) != 0) {
    if (error) *error = std::string("cannot switch the node's version slot: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool setProgram(const std::string& bpffsRoot, const std::string& hookName, uint32_t slot, uint32_t load, int progFd,
                std::string* error) {
  auto d = forHook(hookName);
  Fd map(d ? bpf_obj_get(mapPin(bpffsRoot, d->progs).c_str()) : -1);
  uint32_t key = index(slot, load);
  if (load >= MB_LOADS_MAX || map.fd < 0 || bpf_map_update_elem(map.fd, &key, &progFd, BPF_ANY) != 0) {
    if (error)
      *error = "cannot put the " + hookName + " program of load " + std::to_string(load) + " in slot " +
               std::to_string(slot) + ": " + (load >= MB_LOADS_MAX ? "too many loads" : std::strerror(errno));
    return false;
  }
  return true;
}

uint32_t programAt(const std::string& bpffsRoot, const std::string& hookName, uint32_t slot, uint32_t load) {
  auto d = forHook(hookName);
  Fd map(d ? bpf_obj_get(mapPin(bpffsRoot, d->progs).c_str()) : -1);
  uint32_t key = index(slot, load), id = 0;
  if (load >= MB_LOADS_MAX || map.fd < 0 || bpf_map_lookup_elem(map.fd, &key, &id) != 0) return 0;
  return id;
}

void clearSlot(const std::string& bpffsRoot, uint32_t slot, uint32_t count) {
  for (const auto& k : kHooks) {
    Fd map(bpf_obj_get(mapPin(bpffsRoot, k.dispatch.progs).c_str()));
    if (map.fd < 0) continue;
    for (uint32_t load = 0; load < count && load < MB_LOADS_MAX; ++load) {
      uint32_t key = index(slot, load);
      bpf_map_delete_elem(map.fd, &key);
    }
  }
}

}  // namespace membrane::loader::dispatch
