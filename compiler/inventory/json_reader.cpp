// See json_reader.h: typed access to an inventory file's values, and the
// paths and quoting its messages use.
#include "inventory/json_reader.h"

#include <algorithm>
#include <cctype>

#include "io/json.h"
#include "support/diagnostics.h"

namespace membrane::inventory::detail {

using nlohmann::json;

namespace {

bool isIdentifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string describeValue(const json& v) {
  if (v.is_string()) return quote(v.get_ref<const std::string&>());
  if (v.is_object() || v.is_array()) return std::string("an ") + v.type_name();
  std::string text = v.dump();
  return text.size() > 80 ? text.substr(0, 80) + "..." : text;
}

std::string article(std::string_view what) {
  return std::string(std::string_view("aeiou").find(what[0]) != std::string_view::npos ? "an " : "a ") +
         std::string(what);
}

}  // namespace

std::string quote(std::string_view s) {
  // Input strings are valid UTF-8 (the parser checks), so dump() cannot throw;
  // long values are cut so that one bad field cannot flood the terminal.
  // The cut backs off to a character boundary: half a UTF-8 sequence would
  // make dump() throw.
  constexpr size_t kMax = 80;
  size_t cut = std::min(s.size(), kMax);
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out = json(std::string(s.substr(0, cut))).dump();
  if (cut < s.size()) out.insert(out.size() - 1, "...");
  return out;
}

std::string member(const std::string& path, std::string_view key) {
  // Label keys like "app.kubernetes.io/name" would be ambiguous after a dot.
  if (!isIdentifier(key)) return path + "[" + quote(key) + "]";
  return io::memberPath(path, std::string(key));
}

std::string element(const std::string& path, size_t i) { return io::elementPath(path, i); }

// Edit distance catches typos; a prefix catches abbreviations such as
// "proto" or "addr", which are too far from the full key for that.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best = closestMatch(word, candidates);
  if (!best.empty() || word.size() < 3) return best;
  for (const std::string& c : candidates)
    if (c.starts_with(word)) return c;
  return {};
}

void Reader::fail(const std::string& path, const std::string& message) const {
  throw LoadError{file_ + ": " + (path.empty() ? "" : path + ": ") + message};
}

void Reader::expectType(const json& v, json::value_t type, const char* what, const std::string& path) const {
  if (v.type() != type) fail(path, std::string("expected ") + article(what) + ", got " + v.type_name());
}

void Reader::checkKeys(const json& obj, const std::string& path, std::initializer_list<const char*> known) const {
  std::vector<std::string> names(known.begin(), known.end());
  for (const auto& [key, value] : obj.items()) {
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    std::string hint = suggest(key, names);
    std::string where = path.empty() ? "unknown top-level key " : "unknown key ";
    fail(path, where + quote(key) + (hint.empty() ? "" : " (did you mean " + quote(hint) + "?)"));
  }
}

const json* Reader::find(const json& obj, const char* key, bool nullIsAbsent) const {
  auto it = obj.find(key);
  if (it == obj.end() || (nullIsAbsent && it->is_null())) return nullptr;
  return &*it;
}

const json& Reader::require(const json& obj, const char* key, const std::string& path) const {
  auto it = obj.find(key);
  if (it == obj.end()) fail(path, std::string("missing required key ") + quote(key));
  return *it;
}

const json& Reader::object(const json& v, const std::string& path) const {
  expectType(v, json::value_t::object, "object", path);
  return v;
}

const json& Reader::array(const json& v, const std::string& path) const {
  expectType(v, json::value_t::array, "array", path);
  return v;
}

const std::string& Reader::string(const json& v, const std::string& path) const {
  expectType(v, json::value_t::string, "string", path);
  return v.get_ref<const std::string&>();
}

bool Reader::boolean(const json& v, const std::string& path) const {
  expectType(v, json::value_t::boolean, "boolean", path);
  return v.get<bool>();
}

const std::string& Reader::name(const json& v, const std::string& path) const {
  const std::string& s = string(v, path);
  if (s.empty()) fail(path, "must not be empty");
  return s;
}

labels::LabelSet Reader::labelSet(const json& v, const std::string& path) const {
  labels::LabelSet out;
  for (const auto& [key, value] : object(v, path).items()) {
    if (key.empty()) fail(path, "label key must not be empty");
    out.emplace(key, string(value, member(path, key)));
  }
  return out;
}

net::Address Reader::address(const json& v, const std::string& path) const {
  const std::string& text = string(v, path);
  if (auto a = net::Address::parse(text)) return *a;
  std::string note = text.find('/') != std::string::npos ? " (a single address, not a prefix, is expected)" : "";
  fail(path, quote(text) + " is not an IPv4 or IPv6 address" + note);
}

uint16_t Reader::port(const json& v, const std::string& path) const {
  // JSON has one number type; 8080.0 or 1e3 would be odd but 0, -1 and
  // 70000 are the mistakes worth a clear message.
  if (v.is_number_unsigned()) {
    auto n = v.get<uint64_t>();
    if (n >= 1 && n <= 65535) return static_cast<uint16_t>(n);
  }
  fail(path, "expected a port number between 1 and 65535, got " + describeValue(v));
}

uint8_t Reader::protocol(const json& v, const std::string& path) const {
  const std::string& name = string(v, path);
  if (auto p = labels::portProtocolFromName(name)) return *p;
  fail(path, "unknown protocol " + quote(name) + " (expected TCP, UDP or SCTP)");
}

}  // namespace membrane::inventory::detail
