// See pins.h: injective pin names for endpoint hooks.
#include "loader/pins.h"

#include "artifacts/manifest.h"

namespace membrane::loader {

namespace {

bool keptAsIs(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Undoes escapePinPart; nullopt when `s` is not something it produces.
std::optional<std::string> unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (keptAsIs(s[i])) {
      out += s[i];
      continue;
    }
    if (s[i] != '%' || i + 2 >= s.size()) return std::nullopt;
    int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    char c = static_cast<char>(hi * 16 + lo);
    if (keptAsIs(c)) return std::nullopt;  // never escaped: not ours
    out += c;
    i += 2;
  }
  return out;
}

}  // namespace

std::string escapePinPart(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    if (keptAsIs(c)) {
      out += c;
      continue;
    }
    auto b = static_cast<unsigned char>(c);
    out += '%';
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string linkPinName(const std::string& ns, const std::string& name, const std::string& hook) {
  std::string endpoint = escapePinPart(ns) + "_" + escapePinPart(name);
  std::string suffix = "_" + hook;
  if (endpoint.size() + suffix.size() <= kMaxPinName) return endpoint + suffix;
  std::string digest = "~" + artifacts::sha256Hex(endpoint);
  return endpoint.substr(0, kMaxPinName - digest.size() - suffix.size()) + digest + suffix;
}

std::optional<LinkPinParts> parseLinkPinName(const std::string& fileName) {
  size_t hookAt = fileName.rfind('_');
  if (hookAt == std::string::npos) return std::nullopt;
  LinkPinParts parts;
  parts.hook = fileName.substr(hookAt + 1);
  if (parts.hook != "tc-from" && parts.hook != "tc-to" && parts.hook != "cg-in" && parts.hook != "cg-out")
    return std::nullopt;
  std::string endpoint = fileName.substr(0, hookAt);
  if (size_t tilde = endpoint.find('~'); tilde != std::string::npos) {
    if (fileName.size() != kMaxPinName || endpoint.size() - tilde != 65) return std::nullopt;
    parts.hashed = true;
    return parts;
  }
  size_t cut = endpoint.find('_');
  if (cut == std::string::npos || endpoint.find('_', cut + 1) != std::string::npos) return std::nullopt;
  auto ns = unescape(endpoint.substr(0, cut));
  auto name = unescape(endpoint.substr(cut + 1));
  if (!ns || !name) return std::nullopt;
  parts.ns = *ns;
  parts.name = *name;
  return parts;
}

}  // namespace membrane::loader
