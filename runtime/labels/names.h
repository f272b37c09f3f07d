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
