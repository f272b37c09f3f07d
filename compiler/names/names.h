// Kubernetes name rules (the API server's validation of object names,
// namespaces, label keys and values, and port names), shared by the checker
// (names written in policy files) and the Kubernetes import (names read from
// manifests, checked at their YAML node before they reach any policy text).
#pragma once

#include <string>
#include <string_view>

namespace membrane::names {

// RFC 1123 label, what Kubernetes requires of namespace names: 1-63
// lowercase letters, digits and '-', starting and ending with a letter or
// digit.
bool isDnsLabel(std::string_view s);
// RFC 1123 subdomain, what Kubernetes requires of most object names
// (NetworkPolicy, Cilium policies, Pods, workloads): at most 253 characters,
// lowercase letters, digits, '-' and '.', each '.'-separated part starting
// and ending with a letter or digit.
bool isDnsSubdomain(std::string_view s);
bool isValidNamespaceName(const std::string& name);
// RFC 1035 label, what Kubernetes requires of Service names: an RFC 1123
// label that starts with a letter (a Service's name becomes a DNS name).
bool isServiceName(std::string_view s);

// Empty string when valid, else why not. A key is an optional DNS-subdomain
// prefix and '/', then a name of 1-63 letters, digits, '-', '_' and '.',
// starting and ending with a letter or digit; a value is empty or such a name.
std::string labelKeyProblem(const std::string& key);
std::string labelValueProblem(const std::string& value);

// A port name (an IANA service name): at most 15 lowercase letters, digits
// and '-', at least one letter, no leading, trailing or double '-'.
bool isPortName(std::string_view name);

}  // namespace membrane::names
