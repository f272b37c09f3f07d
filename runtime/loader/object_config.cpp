// Checks and settings of an opened object before load (object_config.h).
#include "loader/object_config.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <vector>

#include "loader/kernel.h"

namespace membrane::loader {

bool setConfig(bpf_object* object, const mb_config& config, std::string* error) {
  const btf* types = bpf_object__btf(object);
  if (!types) {
    if (error) *error = "the object has no BTF";
    return false;
  }
  int secId = btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC);
  if (secId < 0) {
    if (error) *error = "the object has no .rodata section in its BTF";
    return false;
  }
  const btf_type* sec = btf__type_by_id(types, static_cast<__u32>(secId));
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (unsigned i = 0; i < btf_vlen(sec); ++i) {
    const btf_type* var = btf__type_by_id(types, vars[i].type);
    if (std::strcmp(btf__name_by_offset(types, var->name_off), "mb_config") != 0) continue;
    if (vars[i].size != sizeof(mb_config)) {
      if (error) *error = "mb_config in the object has size " + std::to_string(vars[i].size) + ", this loader expects " +
                          std::to_string(sizeof(mb_config));
      return false;
    }
    bpf_map* map;
    bpf_object__for_each_map(map, object) {
      if (!std::strstr(bpf_map__name(map), ".rodata")) continue;
      size_t size = 0;
      const void* data = bpf_map__initial_value(map, &size);
      if (!data || vars[i].offset + sizeof(mb_config) > size) break;
      std::vector<char> copy(static_cast<const char*>(data), static_cast<const char*>(data) + size);
      std::memcpy(copy.data() + vars[i].offset, &config, sizeof config);
      if (int err = bpf_map__set_initial_value(map, copy.data(), copy.size()); err) {
        if (error) *error = "cannot set .rodata: " + std::string(std::strerror(-err));
        return false;
      }
      return true;
    }
    if (error) *error = "the object's .rodata map does not hold mb_config";
    return false;
  }
  if (error) *error = "the object has no mb_config variable";
  return false;
}

bool pinnedMapsFit(bpf_object* object, std::string* error) {
  bpf_map* map;
  bpf_object__for_each_map(map, object) {
    const char* pin = bpf_map__pin_path(map);
    if (!pin) continue;
    Fd pinned(bpf_obj_get(pin));
    if (pinned.fd < 0) continue;  // created at load
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(pinned.fd, &info, &len) != 0) continue;  // libbpf will say
    auto shape = [](uint32_t type, uint32_t key, uint32_t value, uint32_t entries, uint32_t flags) {
      return "type " + std::to_string(type) + ", key " + std::to_string(key) + " B, value " + std::to_string(value) +
             " B, " + std::to_string(entries) + " entries, flags " + std::to_string(flags);
    };
    std::string want = shape(bpf_map__type(map), bpf_map__key_size(map), bpf_map__value_size(map),
                             bpf_map__max_entries(map), bpf_map__map_flags(map));
    std::string have = shape(info.type, info.key_size, info.value_size, info.max_entries, info.map_flags);
    if (want != have) {
      if (error)
        *error = std::string(pin) + " was pinned by a membrane of another datapath ABI (" + have + "; this one, ABI " +
                 std::to_string(MB_ABI_VERSION) + ", needs " + want +
                 "); run membrane detach, then apply (the node is not enforced between the two)";
      return false;
    }
  }
  return true;
}

}  // namespace membrane::loader
