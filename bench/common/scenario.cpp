#include "common/scenario.h"

#include <random>
#include <sstream>

namespace membrane::bench {
namespace {

void writeSection(std::ostringstream& p, const char* section, const char* towards, size_t rules, std::mt19937& rng) {
  p << "  " << section << " {\n";
  for (size_t i = 0; i < rules; ++i) {
    // Most rules name a client app that exists (clients are svc-0, svc-3,
    // ...), the rest an app no endpoint has, as policies written ahead of
    // deployments do.
    unsigned svc = rng() % 4 ? 3 * (rng() % kClients) : rng() % kServices;
    unsigned port = 1000 + rng() % 500;
    switch (i % 10) {
      case 0: {
        unsigned k = unsigned(i / 10) % 50;
        p << "    allow " << towards << " cidr ";
        if (k % 2 == 0)
          p << "198.19." << k << ".0/24";
        else
          p << "2001:2:1:" << k << "::/64";
        p << " on tcp/" << port << "\n";
        break;
      }
      case 1:
        p << "    deny " << towards << " pods { app = svc-" << svc << ", tier = canary } on tcp/" << port << "\n";
        break;
      case 2:
        p << "    allow " << towards << " pods { app = svc-" << svc << " } on tcp/" << port << "-"
          << port + 1 + rng() % 40 << "\n";
        break;
      case 3:
        p << "    allow " << towards << " pods { app = svc-" << svc << " } in namespaces { team = t" << svc % 7
          << " } on udp/" << port << "\n";
        break;
      default:
        p << "    allow " << towards << " pods { app = svc-" << svc << " } on tcp/" << port << "\n";
        break;
    }
  }
  p << "  }\n";
}

}  // namespace

std::string generatePolicy(const std::string& name, const std::string& subjectApp, size_t ingressRules,
                           size_t egressRules, uint32_t seed) {
  std::mt19937 rng(seed);
  std::ostringstream p;
  p << "namespace " << kBenchNamespace << "\n\npolicy " << name << " {\n  selects { app = " << subjectApp << " }\n";
  writeSection(p, "ingress", "from", ingressRules, rng);
  writeSection(p, "egress", "to", egressRules, rng);
  p << "}\n";
  return p.str();
}

const char* vocabularyName(PortVocabulary v) {
  switch (v) {
    case PortVocabulary::Small: return "420 port values";
    case PortVocabulary::Distinct: return "a port per rule";
    case PortVocabulary::Sets: return "five ports per rule";
  }
  return "";
}

std::string generatePortPolicy(size_t rules, PortVocabulary v, uint32_t seed) {
  std::mt19937 rng(seed);
  std::ostringstream p;
  p << "namespace " << kBenchNamespace << "\n\npolicy ports {\n  selects { app = target }\n  ingress {\n";
  for (size_t i = 0; i < rules; ++i) {
    p << "    allow from pods { app = p" << rng() % kPortPeers << " } on ";
    size_t ports = v == PortVocabulary::Sets ? 5 : 1;
    for (size_t k = 0; k < ports; ++k) {
      unsigned port = v == PortVocabulary::Small ? 1000 + rng() % 420 : 1024 + rng() % (60000 - 1024 + 1);
      p << (k ? ", " : "") << "tcp/" << port;
    }
    p << "\n";
  }
  p << "  }\n}\n";
  return p.str();
}

std::string generatePortInventory() {
  std::ostringstream j;
  j << "{\n  \"endpoints\": [\n    {\"name\": \"target-0\", \"namespace\": \"" << kBenchNamespace
    << "\", \"labels\": {\"app\": \"target\"}, \"addresses\": [\"198.18.0.1\", \"2001:2::1\"]}";
  for (unsigned i = 0; i < kPortPeers; ++i)
    j << ",\n    {\"name\": \"p" << i << "-0\", \"namespace\": \"" << kBenchNamespace << "\", \"labels\": {\"app\": \"p"
      << i << "\"}, \"addresses\": [\"198.18." << 2 + i / 250 << "." << 1 + i % 250 << "\"]}";
  j << "\n  ]\n}\n";
  return j.str();
}

std::string subjectAddress(size_t i, bool v6) {
  std::ostringstream a;
  if (v6)
    a << "2001:2:0:100::" << std::hex << (i + 1);
  else
    a << "198.18." << 100 + i / 250 << "." << 1 + i % 250;
  return a.str();
}

std::string clientAddress(size_t i, bool v6) {
  std::ostringstream a;
  if (v6)
    a << "2001:2:0:1::" << std::hex << (i + 1);
  else
    a << "198.18.1." << i + 1;
  return a.str();
}

std::string generateInventory(const std::string& subjectPrefix, size_t subjects) {
  std::ostringstream j;
  j << "{\n  \"namespaces\": [\n    {\"name\": \"" << kBenchNamespace << "\"}";
  for (int t = 0; t < 7; ++t) j << ",\n    {\"name\": \"ns" << t << "\", \"labels\": {\"team\": \"t" << t << "\"}}";
  j << "\n  ],\n  \"endpoints\": [";
  const char* sep = "\n";
  for (size_t i = 0; i < subjects; ++i) {
    j << sep << "    {\"name\": \"" << subjectPrefix << i << "-0\", \"namespace\": \"" << kBenchNamespace
      << "\", \"labels\": {\"app\": \"" << subjectPrefix << i << "\"}, \"addresses\": [\"" << subjectAddress(i, false)
      << "\", \"" << subjectAddress(i, true) << "\"]}";
    sep = ",\n";
  }
  for (unsigned i = 0; i < kClients; ++i) {
    // Odd clients in the bench namespace, even ones in a team namespace, so
    // namespace-scoped rules match some of them and not others.
    std::string ns = i % 2 ? kBenchNamespace : "ns" + std::to_string(i % 7);
    j << sep << "    {\"name\": \"client-" << i << "\", \"namespace\": \"" << ns << "\", \"labels\": {\"app\": \"svc-"
      << i * 3 << "\"" << (i % 4 == 0 ? ", \"tier\": \"canary\"" : "") << "}, \"addresses\": [\""
      << clientAddress(i, false) << "\", \"" << clientAddress(i, true) << "\"]}";
  }
  j << "\n  ]\n}\n";
  return j.str();
}

std::string generateSmallPolicy(size_t i) {
  std::ostringstream p;
  p << "namespace ns" << i % 50 << "\n\npolicy p" << i << " {\n  selects { app = a" << i % 1000
    << " }\n  ingress {\n    allow from pods { app = b" << i % 997 << " } on tcp/8080\n  }\n  egress {\n"
    << "    allow to cidr 198.18." << i % 256 << ".0/24 on tcp/443\n  }\n}\n";
  return p.str();
}

std::string generateLargeInventory(size_t endpoints) {
  std::string j = "{\"endpoints\": [\n";
  j.reserve(endpoints * 190);
  for (size_t i = 0; i < endpoints; ++i) {
    std::ostringstream e;
    e << (i ? ",\n" : "") << R"(  {"name": "pod-)" << i << R"(", "namespace": "ns)" << i % 50
      << R"(", "labels": {"app": "a)" << i % 1000 << R"(", "tier": "t)" << i % 7 << R"("}, "addresses": [")"
      << "2001:2:0:" << std::hex << (i >> 16) << ":1::" << (i & 0xffff) << std::dec << '"';
    if (i < 65536) e << ", \"198.18." << i / 256 << "." << i % 256 << '"';
    e << R"(], "ports": [{"name": "http", "port": 8080}]})";
    j += e.str();
  }
  j += "\n]}\n";
  return j;
}

}  // namespace membrane::bench
