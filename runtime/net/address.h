// IPv4/IPv6 addresses and prefixes, shared by compiler and node.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace membrane::net {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

struct Address {
  Family family = Family::V4;
  // Network byte order. IPv4 uses the first 4 bytes; the rest stay zero.
  std::array<uint8_t, 16> bytes{};

  static std::optional<Address> parse(std::string_view text);
  std::string str() const;
  unsigned bits() const { return family == Family::V4 ? 32 : 128; }
  bool bit(unsigned i) const { return (bytes[i / 8] >> (7 - i % 8)) & 1; }
  friend auto operator<=>(const Address&, const Address&) = default;
};

struct Prefix {
  Address addr;  // host bits are zero (canonical)
  uint8_t length = 0;

  // "198.18.0.0/15" or a bare address (full length). Host bits set in the
  // text are an error: `*hostBitsSet` is set and nullopt returned, so that
  // a typo like 198.18.1.0/15 is caught rather than silently widened.
  static std::optional<Prefix> parse(std::string_view text, bool* hostBitsSet = nullptr);
  std::string str() const;
  Family family() const { return addr.family; }
  bool contains(const Address& a) const;
  bool contains(const Prefix& p) const { return p.family() == family() && p.length >= length && contains(p.addr); }
  bool overlaps(const Prefix& p) const { return contains(p) || p.contains(*this); }
  // First and last address covered.
  Address first() const { return addr; }
  Address last() const;
  friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

// A CIDR with exceptions (`cidr P except (E1, E2)`, an ipBlock's `except`):
// inside `prefix` and inside none of `except`. The one definition the IR,
// the manifest and the node share. The Prefix form is for a trie entry `p`,
// whose longer sub-prefixes (the exceptions among them) have entries of
// their own: inside `prefix`, and inside no exception.
bool inPrefixExcept(const Prefix& prefix, const std::vector<Prefix>& except, const Address& a);
bool inPrefixExcept(const Prefix& prefix, const std::vector<Prefix>& except, const Prefix& p);

}  // namespace membrane::net
