// How kubectl types a YAML scalar (convert.h, KubectlScalar).
//
// kubectl decodes manifests with sigs.k8s.io/yaml, which uses go-yaml v2:
// a plain scalar is resolved by its first character and YAML 1.1's tables
// (booleans y/yes/on/true and their negations in three case styles, nulls,
// .inf/.nan), then as a Go integer with base prefixes (`0x`, `0o`, `0b`, and
// a leading `0` for octal) after removing every `_`, then as a float.
// Timestamps stay strings when decoded untyped, as kubectl does, so they are
// not told apart here. Base-60 numbers (`1:30`) are strings to go-yaml v2.
#include <cmath>
#include <cstdlib>
#include <set>
#include <string_view>

#include "k8s/convert.h"

namespace membrane::k8s {

namespace {

constexpr const char* kStrTag = "tag:yaml.org,2002:str";

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int digitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Go's strconv.ParseUint(s, base, 64) for digits without sign or prefix.
// nullopt when a digit is invalid or the value needs more than 64 bits
// (`overflow` set then).
std::optional<uint64_t> parseDigits(std::string_view s, int base, bool& overflow) {
  overflow = false;
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = digitValue(c);
    if (d >= base) return std::nullopt;
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) overflow = true;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (overflow) return std::nullopt;
  return v;
}

// Go's strconv.ParseInt(s, 0, 64) then ParseUint(s, 0, 64), as go-yaml v2
// tries them. Sets `value` when the number fits in int64.
bool parseGoInteger(std::string_view s, std::optional<int64_t>& value, double& number) {
  bool negative = false, sign = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    sign = true;
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  bool overflow = false;
  auto magnitude = parseDigits(s, base, overflow);
  if (!magnitude) return false;
  if (!negative && *magnitude <= static_cast<uint64_t>(INT64_MAX)) {
    value = static_cast<int64_t>(*magnitude);
  } else if (negative && *magnitude <= static_cast<uint64_t>(INT64_MAX) + 1) {
    value = static_cast<int64_t>(0 - *magnitude);
  } else if (negative || sign) {
    return false;  // ParseUint takes no sign
  }
  number = negative ? -static_cast<double>(*magnitude) : static_cast<double>(*magnitude);
  return true;
}

// go-yaml v2's yamlStyleFloat: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isYamlStyleFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t intDigits = 0;
  while (i < s.size() && isDigit(s[i])) ++i, ++intDigits;
  if (intDigits == 0) {
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
    size_t frac = 0;
    while (i < s.size() && isDigit(s[i])) ++i, ++frac;
    if (frac == 0) return false;
  } else if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    while (i < s.size() && isDigit(s[i])) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

// `-?(0|[1-9][0-9]*)`: an integer every YAML reader reads the same way.
bool isPlainDecimal(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty() || (s[0] == '0' && s.size() > 1)) return false;
  for (char c : s)
    if (!isDigit(c)) return false;
  return true;
}

}  // namespace

KubectlScalar kubectlReads(const std::string& text, const std::string& tag) {
  KubectlScalar out;
  if (tag == "!" || tag == kStrTag) return out;  // quoted, or tagged !!str
  if (tag != "?") {
    out.type = KubectlScalar::Type::Tagged;
    return out;
  }
  static const std::set<std::string> kTrue = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::set<std::string> kFalse = {"n",     "N",     "no",  "No",  "NO", "false",
                                               "False", "FALSE", "off", "Off", "OFF"};
  static const std::set<std::string> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> kSpecialFloat = {".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf",  ".INF",
                                                      "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string> kYaml12Bool = {"true", "True", "TRUE", "false", "False", "FALSE"};
  if (text.empty()) {
    out.type = KubectlScalar::Type::Null;
    return out;
  }
  // go-yaml v2 consults its tables only for these first characters.
  char first = text[0];
  bool hinted = isDigit(first) || first == '+' || first == '-' || first == '.' ||
                std::string_view("yYnNtTfFoO~").find(first) != std::string_view::npos;
  if (!hinted) return out;
  if (kTrue.count(text) || kFalse.count(text)) {
    out.type = KubectlScalar::Type::Bool;
    out.boolean = kTrue.count(text) > 0;
    out.unambiguous = kYaml12Bool.count(text) > 0;
    return out;
  }
  if (kNull.count(text)) {
    out.type = KubectlScalar::Type::Null;
    return out;
  }
  if (kSpecialFloat.count(text)) {
    out.type = KubectlScalar::Type::Float;
    out.number = text.find("nan") != std::string::npos || text.find("NaN") != std::string::npos ||
                         text.find("NAN") != std::string::npos
                     ? NAN
                     : (text[0] == '-' ? -INFINITY : INFINITY);
    out.unambiguous = false;
    return out;
  }
  if (std::string_view("yYnNtTfFoO~").find(first) != std::string_view::npos) return out;
  if (first == '.') {
    // strconv.ParseFloat on the text as written: `.5`, `.5e3`.
    if (isYamlStyleFloat(text)) {
      out.type = KubectlScalar::Type::Float;
      out.number = std::strtod(text.c_str(), nullptr);
      out.unambiguous = false;
    }
    return out;
  }
  std::string plain;
  for (char c : text)
    if (c != '_') plain += c;
  if (parseGoInteger(plain, out.integer, out.number)) {
    out.type = KubectlScalar::Type::Int;
    out.unambiguous = isPlainDecimal(text);
    return out;
  }
  if (isYamlStyleFloat(plain)) {
    out.type = KubectlScalar::Type::Float;
    out.number = std::strtod(plain.c_str(), nullptr);
    out.unambiguous = false;
  }
  return out;
}

}  // namespace membrane::k8s
