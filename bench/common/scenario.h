// Generated policy sets and inventories for the benchmarks: realistic mixes
// of selectors, namespace scopes, port ranges, CIDRs and deny rules, the same
// every run (fixed seeds). Addresses come only from the test ranges
// (198.18.0.0/15, 2001:2::/48).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace membrane::bench {

// Namespace every generated policy and endpoint lives in (clients are spread
// over this one and seven team namespaces).
inline constexpr const char* kBenchNamespace = "bench";

// Distinct client apps rules refer to, and client endpoints in the inventory.
inline constexpr unsigned kServices = 200;
inline constexpr unsigned kClients = 60;

// One policy selecting `{ app = <subjectApp> }` with `ingressRules` rules in
// its ingress section and `egressRules` in its egress section. Rule i of a
// section is, by i % 10: a CIDR (IPv4 or IPv6) on a TCP port; a deny from
// canary pods; a port range; a namespace-scoped UDP rule; otherwise a plain
// selector on a TCP port. `seed` varies services and ports between policies.
std::string generatePolicy(const std::string& name, const std::string& subjectApp, size_t ingressRules,
                           size_t egressRules, uint32_t seed);

// The inventory (membrane's JSON format): `subjects` endpoints with
// app = <subjectPrefix><i> in the bench namespace, and kClients dual-stack
// client endpoints (app = svc-<5i>, every fourth a canary) over the team
// namespaces t0..t6 and the bench namespace.
std::string generateInventory(const std::string& subjectPrefix, size_t subjects);

// How the rules of a port-vocabulary workload pick their ports.
enum class PortVocabulary {
  Small,     // one port each, from 420 values (1000-1419): what most policies look like
  Distinct,  // one port each, drawn from 1024-60000: nearly every rule a port of its own
  Sets,      // five ports each, drawn from 1024-60000
};
const char* vocabularyName(PortVocabulary v);

// One policy, selecting `{ app = target }`, whose ingress has `rules` rules
// `allow from pods { app = pN } on tcp/P` (N among kPortPeers apps), with
// ports drawn as `v` says; and its inventory: the target and one endpoint per
// peer app. Compile time and the datapath's port search as the number of
// distinct ports grows (issue: compile time grew quadratically with it).
inline constexpr unsigned kPortPeers = 400;
std::string generatePortPolicy(size_t rules, PortVocabulary v, uint32_t seed);
std::string generatePortInventory();

// Inputs at scale (section 3, "Reading inputs at scale"): policy i of a set
// of small policies, one rule each way, in one of 50 namespaces; and an
// inventory of `endpoints` endpoints in membrane's format, each with its own
// IPv6 address in 2001:2::/48 (the first 65,536 also with an IPv4 one in
// 198.18.0.0/15), labels app = a<i % 1000>, a named port.
std::string generateSmallPolicy(size_t i);
std::string generateLargeInventory(size_t endpoints);

// The IPv4 / IPv6 address of subject i and of client i.
std::string subjectAddress(size_t i, bool v6);
std::string clientAddress(size_t i, bool v6);

}  // namespace membrane::bench
