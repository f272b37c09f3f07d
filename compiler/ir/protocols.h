// Protocol and ICMP type names as the policy language spells them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace membrane::ir {

// ICMP (v4) or ICMPv6 type number by name, e.g. "echo-request" → 8 / 128.
std::optional<uint8_t> icmpTypeByName(bool v6, const std::string& name);
std::vector<std::string> icmpTypeNames(bool v6);
std::string icmpTypeName(bool v6, uint8_t type);  // name or number

}  // namespace membrane::ir
