#include "net/address.h"

#include <algorithm>

#include <arpa/inet.h>

#include <charconv>

namespace membrane::net {

std::optional<Address> Address::parse(std::string_view text) {
  // inet_pton reads a C string: "198.18.0.1\0junk" would parse as its prefix.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string s(text);
  Address a;
  if (s.find(':') != std::string::npos) {
    a.family = Family::V6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  a.family = Family::V4;
  // inet_pton rejects leading zeros and short forms, which is what we want.
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Prefix> Prefix::parse(std::string_view text, bool* hostBitsSet) {
  if (hostBitsSet) *hostBitsSet = false;
  auto slash = text.find('/');
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned len = addr->bits();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() || len > addr->bits())
      return std::nullopt;
  }
  Prefix p{*addr, static_cast<uint8_t>(len)};
  for (unsigned i = len; i < addr->bits(); ++i) {
    if (p.addr.bit(i)) {
      if (hostBitsSet) *hostBitsSet = true;
      return std::nullopt;
    }
  }
  return p;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(length); }

bool Prefix::contains(const Address& a) const {
  if (a.family != family()) return false;
  unsigned full = length / 8;
  for (unsigned i = 0; i < full; ++i)
    if (a.bytes[i] != addr.bytes[i]) return false;
  unsigned rest = length % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (addr.bytes[full] & mask);
}

Address Prefix::last() const {
  Address a = addr;
  for (unsigned i = length; i < a.bits(); ++i) a.bytes[i / 8] |= static_cast<uint8_t>(1u << (7 - i % 8));
  return a;
}

bool inPrefixExcept(const Prefix& prefix, const std::vector<Prefix>& except, const Address& a) {
  return prefix.contains(a) && std::none_of(except.begin(), except.end(), [&](const Prefix& e) { return e.contains(a); });
}

bool inPrefixExcept(const Prefix& prefix, const std::vector<Prefix>& except, const Prefix& p) {
  return prefix.contains(p) && std::none_of(except.begin(), except.end(), [&](const Prefix& e) { return e.contains(p); });
}

}  // namespace membrane::net
