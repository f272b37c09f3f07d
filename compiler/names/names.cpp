// See names.h: the Kubernetes name rules.
#include "names/names.h"

#include <cctype>

namespace membrane::names {

namespace {

bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// 1-63 characters, alphanumeric at both ends; `inner` decides the rest.
template <typename Inner>
bool isLabelLike(std::string_view s, bool allowUpper, Inner inner) {
  if (s.empty() || s.size() > 63) return false;
  auto end = [&](char c) { return allowUpper ? isAlnum(c) : isLowerAlnum(c); };
  if (!end(s.front()) || !end(s.back())) return false;
  for (char c : s)
    if (!end(c) && !inner(c)) return false;
  return true;
}

// What label names and values are made of.
bool isLabelName(std::string_view s) {
  return isLabelLike(s, true, [](char c) { return c == '-' || c == '_' || c == '.'; });
}

}  // namespace

bool isDnsLabel(std::string_view s) {
  return isLabelLike(s, false, [](char c) { return c == '-'; });
}

bool isDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    // Parts are not limited to 63 characters here, only the whole name.
    if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) return false;
    for (char c : part)
      if (!isLowerAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isValidNamespaceName(const std::string& name) { return isDnsLabel(name); }

bool isServiceName(std::string_view s) { return isDnsLabel(s) && s.front() >= 'a' && s.front() <= 'z'; }

std::string labelKeyProblem(const std::string& key) {
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string::npos) {
    std::string_view prefix = std::string_view(key).substr(0, slash);
    name = std::string_view(key).substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) return "the prefix before '/' must be 1-253 characters";
    if (!isDnsSubdomain(prefix)) return "the prefix before '/' must be a DNS name";
  }
  if (name.empty()) return "the name part is empty";
  if (name.size() > 63) return "the name part is longer than 63 characters";
  if (!isLabelName(name))
    return "must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'";
  return "";
}

std::string labelValueProblem(const std::string& v) {
  if (v.empty()) return "";
  if (v.size() > 63) return "is longer than 63 characters";
  if (!isLabelName(v)) return "must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'";
  return "";
}

bool isPortName(std::string_view name) {
  if (name.empty() || name.size() > 15 || name.front() == '-' || name.back() == '-') return false;
  bool letter = false;
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    if (ch >= 'a' && ch <= 'z') letter = true;
    else if (!(ch >= '0' && ch <= '9') && ch != '-') return false;
    if (ch == '-' && i && name[i - 1] == '-') return false;
  }
  return letter;
}

}  // namespace membrane::names
