#include "loader/object_config.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <vector>

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

}  // namespace membrane::loader
