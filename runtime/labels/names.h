// The names Kubernetes allows for namespaces and pods, checked where the node
// takes names from outside (NODE.json, `membrane endpoint add`): a name
// Kubernetes would refuse is no endpoint's, and refusing it keeps odd bytes
// (NUL, '/', '%') out of everything derived from names.
#pragma once

#include <string>

namespace membrane::labels {

// "" when `name` is a DNS-1123 label (a namespace name: 1-63 characters of
// a-z, 0-9 and '-', starting and ending with a letter or digit), else why not.
std::string dnsLabelProblem(const std::string& name);

// "" when `name` is a DNS-1123 subdomain (a pod name: at most 253
// characters, DNS-1123 labels joined by '.'), else why not.
std::string dnsSubdomainProblem(const std::string& name);

}  // namespace membrane::labels

namespace membrane::labels {

// "" when `path` names an executable the way process rules and the node
// resolve it (docs/process.md): absolute; components of 1-255 bytes
// separated by single '/', none of them "." or ".."; no trailing '/'; no
// byte below 0x20 or 0x7f; at most 4095 bytes. Else why not, and in
// `*column` the 0-based offset of the offending byte. Such a path can be
// appended to a pod's root directory without leaving it by itself
// (symbolic links are the resolver's concern).
std::string executablePathProblem(const std::string& path, size_t* column = nullptr);

}  // namespace membrane::labels
