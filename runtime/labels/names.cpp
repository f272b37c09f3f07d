// See names.h: Kubernetes' rules for namespace and pod names.
#include "labels/names.h"

namespace membrane::labels {

namespace {

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Why `s` is not a DNS-1123 label, without the length limit of 63.
std::string labelShape(const std::string& s) {
  if (s.empty()) return "is empty";
  for (char c : s)
    if (!lowerAlnum(c) && c != '-') return "may contain only lowercase letters, digits and '-'";
  if (!lowerAlnum(s.front()) || !lowerAlnum(s.back())) return "must start and end with a lowercase letter or digit";
  return "";
}

}  // namespace

std::string dnsLabelProblem(const std::string& name) {
  if (std::string why = labelShape(name); !why.empty()) return "is not a DNS-1123 label: it " + why;
  if (name.size() > 63) return "is not a DNS-1123 label: it is longer than 63 characters";
  return "";
}

std::string dnsSubdomainProblem(const std::string& name) {
  if (name.size() > 253) return "is not a DNS-1123 subdomain: it is longer than 253 characters";
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (std::string why = labelShape(part); !why.empty())
      return "is not a DNS-1123 subdomain: each part between dots " + why;
    if (part.size() > 63)
      return "is not a DNS-1123 subdomain: a part between dots is longer than "
             "63 characters";
    if (dot == std::string::npos) return "";
    start = dot + 1;
  }
}

}  // namespace membrane::labels

namespace membrane::labels {

std::string executablePathProblem(const std::string& path, size_t* column) {
  auto at = [&](size_t offset, std::string why) {
    if (column) *column = offset;
    return why;
  };
  if (path.empty() || path[0] != '/') return at(0, "is not an absolute path (it must start with '/')");
  if (path.size() > 4095) return at(4095, "is longer than 4095 bytes");
  for (size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) return at(i, "holds a control character");
  }
  if (path.size() > 1 && path.back() == '/') return at(path.size() - 1, "ends with '/' (a directory, not a file)");
  if (path == "/") return at(0, "is the root directory, not a file");
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string component = path.substr(start, end - start);
    if (component.empty()) return at(start, "has an empty component ('//')");
    if (component == "." || component == "..")
      return at(start, "has a '" + component + "' component (write the path without it)");
    if (component.size() > 255) return at(start, "has a component longer than 255 bytes");
    start = end + 1;
  }
  return "";
}

}  // namespace membrane::labels
