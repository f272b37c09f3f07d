// Differential test: random policies, endpoints and packets through the
// compiled, kernel-loaded programs versus the IR reference evaluator. Any
// disagreement is a bug in one of them.
//
// Seeded and reproducible: MEMBRANE_DIFF_SEED picks the first seed,
// MEMBRANE_DIFF_PACKETS the number of packets (default 100000). A failure
// prints the seed, the policy text and the packet.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "codegen/artifact_writer.h"
#include "pipeline/pipeline.h"
#include "seeded_random.h"
#include "evaluator/evaluator.h"
#include "loaded_object.h"

namespace membrane::testing {
namespace {

using mbtest::Addr;
using mbtest::Bytes;


struct Scenario {
  std::string policy;
  inventory::Inventory inventory;
  std::vector<net::Address> host;
};

const std::vector<std::string> kNamespaces = {"alpha", "beta", "gamma"};
const std::vector<std::string> kApps = {"web", "api", "db", "cache"};

std::string randomSelector(Random& r) {
  std::vector<std::string> reqs;
  size_t n = r.below(3);
  for (size_t i = 0; i < n; ++i) {
    switch (r.below(7)) {
      case 0: reqs.push_back("app = " + r.pick(kApps)); break;
      case 1: reqs.push_back("app in (" + r.pick(kApps) + ", " + r.pick(kApps) + ")"); break;
      case 2: reqs.push_back("app != " + r.pick(kApps)); break;
      case 3: reqs.push_back("tier notin (front)"); break;
      case 4: reqs.push_back("canary"); break;
      case 5: reqs.push_back("!canary"); break;
      default: reqs.push_back(std::string("tier = ") + (r.chance(0.5) ? "front" : "back")); break;
    }
  }
  std::string s = "{";
  for (size_t i = 0; i < reqs.size(); ++i) s += (i ? ", " : " ") + reqs[i];
  return s + (reqs.empty() ? "}" : " }");
}

std::string randomCidr(Random& r) {
  switch (r.below(6)) {
    case 0: return "cidr 198.18." + std::to_string(r.below(3)) + ".0/24";
    case 1: {
      unsigned ns = static_cast<unsigned>(r.below(3));
      return "cidr 198.18." + std::to_string(ns) + ".0/24 except (198.18." + std::to_string(ns) + "." +
             std::to_string(r.below(4) * 2) + "/31)";
    }
    case 2: return "cidr 198.18.0.0/15 except (198.18." + std::to_string(r.below(3)) + ".0/24, 198.19.0.0/16)";
    case 3: return "cidr 198.19." + std::to_string(r.below(4)) + ".0/24";
    case 4: return "cidr 2001:2::" + std::to_string(r.below(3)) + ":0/112";
    default: return "cidr 2001:2::/48 except (2001:2::1:0/112)";
  }
}

std::string randomPeer(Random& r) {
  switch (r.below(10)) {
    case 0: case 1: case 2: return "pods " + randomSelector(r);
    case 3: return "pods " + randomSelector(r) + " in namespaces { team = " + (r.chance(0.5) ? "red" : "blue") + " }";
    case 4: return "pods " + randomSelector(r) + " in namespace " + r.pick(kNamespaces);
    case 5: return std::string("namespaces { env = ") + (r.chance(0.5) ? "prod" : "dev") + " }";
    case 6: {
      static const std::vector<std::string> entities = {"world", "cluster", "host", "all"};
      return r.pick(entities);
    }
    default: return randomCidr(r);
  }
}

std::string randomL4(Random& r) {
  static const std::vector<std::string> items = {
      "tcp/80", "tcp/{80, 443}", "tcp/8000-8100", "udp/53", "udp/5000-5999", "sctp/9000-9010", "tcp/http",
      "tcp/metrics", "udp/dns", "icmp/echo-request", "icmpv6/echo-request", "icmp", "tcp", "udp/{53, 80}", "any"};
  std::string s;
  size_t n = 1 + r.below(3);
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + r.pick(items);
  return s;
}

std::string randomRule(Random& r, bool ingress) {
  std::string s = r.chance(0.25) ? "deny " : "allow ";
  s += ingress ? "from " : "to ";
  size_t peers = 1 + r.below(2);
  for (size_t i = 0; i < peers; ++i) s += (i ? ", " : "") + randomPeer(r);
  if (r.chance(0.85)) s += " on " + randomL4(r);
  return s;
}

// A rule of a tier policy (docs/language.md, "Tiers"): admin rules may pass.
std::string randomTierRule(Random& r, bool ingress, bool admin) {
  std::string s = admin && r.chance(0.3) ? "pass " : r.chance(0.4) ? "deny " : "allow ";
  s += ingress ? "from " : "to ";
  size_t peers = 1 + r.below(2);
  for (size_t i = 0; i < peers; ++i) s += (i ? ", " : "") + randomPeer(r);
  if (r.chance(0.85)) s += " on " + randomL4(r);
  return s;
}

// Admin-tier and baseline-tier policies around the ordinary ones.
void randomTierPolicies(Random& r, std::ostringstream& p) {
  size_t admins = r.chance(0.5) ? 1 + r.below(2) : 0;
  size_t baselines = r.chance(0.4) ? 1 : 0;
  for (size_t i = 0; i < admins + baselines; ++i) {
    bool admin = i < admins;
    p << "policy " << (admin ? "admin" : "baseline") << i << " {\n  clusterwide\n";
    if (admin)
      p << "  tier admin priority " << r.below(3) << "\n";
    else
      p << "  tier baseline\n";
    p << "  selects " << randomSelector(r);
    if (r.chance(0.4)) p << " in namespaces { env = " << (r.chance(0.5) ? "prod" : "dev") << " }";
    p << "\n";
    for (bool ingress : {true, false}) {
      if (!r.chance(0.6)) continue;
      p << "  " << (ingress ? "ingress" : "egress") << " {\n";
      size_t rules = 1 + r.below(4);
      for (size_t k = 0; k < rules; ++k) p << "    " << randomTierRule(r, ingress, admin) << "\n";
      p << "  }\n";
    }
    p << "}\n";
  }
}

Scenario randomScenario(Random& r) {
  Scenario sc;
  std::ostringstream p;
  size_t policies = 1 + r.below(4);
  for (size_t i = 0; i < policies; ++i) {
    p << "policy p" << i << " {\n  namespace " << r.pick(kNamespaces) << "\n  selects " << randomSelector(r) << "\n";
    if (r.chance(0.15)) p << "  mode audit\n";
    for (bool ingress : {true, false}) {
      if (!r.chance(0.6)) continue;
      p << "  " << (ingress ? "ingress" : "egress") << " {\n";
      size_t rules = r.below(6);
      for (size_t k = 0; k < rules; ++k) p << "    " << randomRule(r, ingress) << "\n";
      p << "  }\n";
    }
    p << "}\n";
  }
  randomTierPolicies(r, p);
  sc.policy = p.str();

  for (size_t n = 0; n < kNamespaces.size(); ++n) {
    inventory::Namespace ns;
    ns.name = kNamespaces[n];
    ns.labels = {{"team", n % 2 ? "blue" : "red"}, {"env", n == 2 ? "dev" : "prod"},
                 {inventory::kNamespaceNameLabel, ns.name}};
    sc.inventory.namespaces.push_back(ns);
    size_t endpoints = 2 + r.below(3);
    for (size_t i = 0; i < endpoints; ++i) {
      inventory::Endpoint ep;
      ep.ns = ns.name;
      ep.name = "ep-" + std::to_string(i);
      ep.workload = ep.name;
      ep.labels = {{"app", r.pick(kApps)}, {"tier", r.chance(0.5) ? "front" : "back"}};
      if (r.chance(0.3)) ep.labels["canary"] = "yes";
      ep.addresses = {*net::Address::parse("198.18." + std::to_string(n) + "." + std::to_string(i + 1)),
                      *net::Address::parse("2001:2::" + std::to_string(n) + ":" + std::to_string(i + 1))};
      ep.ports = {{"http", ir::kTCP, static_cast<uint16_t>(r.chance(0.5) ? 80 : 8080)},
                  {"metrics", ir::kTCP, 9090},
                  {"dns", ir::kUDP, 53}};
      sc.inventory.endpoints.push_back(ep);
    }
  }
  sc.host = {*net::Address::parse("198.18.255.1"), *net::Address::parse("2001:2::ff:1")};
  return sc;
}

// A peer address for a packet: another endpoint, the host, or somewhere else.
net::Address randomPeerAddress(Random& r, const Scenario& sc, net::Family family) {
  bool v4 = family == net::Family::V4;
  switch (r.below(5)) {
    case 0: case 1: {
      const auto& ep = r.pick(sc.inventory.endpoints);
      return ep.addresses[v4 ? 0 : 1];
    }
    case 2: return sc.host[v4 ? 0 : 1];
    case 3:
      return *net::Address::parse(v4 ? "198.18." + std::to_string(r.below(4)) + "." + std::to_string(r.below(12))
                                     : "2001:2::" + std::to_string(r.below(4)) + ":" + std::to_string(r.below(12)));
    default:
      return *net::Address::parse(v4 ? "198.19." + std::to_string(r.below(5)) + "." + std::to_string(1 + r.below(250))
                                     : "2001:2:0:" + std::to_string(1 + r.below(9)) + "::1");
  }
}

Addr toAddr(const net::Address& a) { return Addr::parse(a.str()); }

struct Checked {
  size_t packets = 0;
  size_t allowed = 0;
  size_t mismatches = 0;
  size_t ruleChecks = 0;
};

constexpr uint32_t kEndpointId = 42;

void runScenario(uint64_t seed, size_t packetBudget, codegen::ClassCompiler& compiler, Checked& total) {
  Random r(seed);
  Scenario sc = randomScenario(r);
  pipeline::Compilation c;
  c.inventory = sc.inventory;
  pipeline::runText({{"random.policy", sc.policy}}, c);
  if (c.diags.hasErrors()) return;  // e.g. a contradictory random selector: not this test's subject
  const ir::Program& program = *c.ir;
  codegen::CompileOptions options;
  // Alternate between folding CIDRs into code and lowering them into the
  // trie, so both paths meet the oracle.
  options.cidrFoldLimit = seed % 2 ? 0 : codegen::PeerLowering::kDefaultFoldLimit;
  // And every third scenario decides from .rodata tables instead of code.
  options.decisionMode = seed % 3 == 2 ? codegen::DecisionMode::Table : codegen::DecisionMode::Auto;
  codegen::Artifacts artifacts = codegen::buildArtifacts(compiler, program, options);
  if (program.classes.empty()) return;

  size_t perClass = packetBudget / program.classes.size() + 1;
  for (size_t ci = 0; ci < program.classes.size(); ++ci) {
    const auto& cls = program.classes[ci];
    std::string error;
    auto obj = LoadedObject::load(artifacts.objects[ci].elf, kEndpointId, &error);
    ASSERT_TRUE(obj) << "seed " << seed << " class " << cls.id << ": " << error << "\n" << sc.policy;
    obj->fillIdentities(artifacts.manifest, sc.host);
    std::vector<const ir::Endpoint*> members;
    for (const auto& e : program.endpoints)
      if (e.classIndex == ci) {
        members.push_back(&e);
        obj->ownAddresses(e.addresses);  // every member sends through this one load
      }

    for (size_t i = 0; i < perClass; ++i) {
      const ir::Endpoint& subject = *r.pick(members);
      bool v4 = r.chance(0.6);
      net::Address self = subject.addresses[v4 ? 0 : 1];
      net::Address peerAddr = randomPeerAddress(r, sc, self.family);
      if (peerAddr == self) continue;
      bool ingress = r.chance(0.5);
      static const std::vector<uint16_t> ports = {22, 53, 79, 80, 81, 443, 5000, 5999, 6000, 7999, 8000,
                                                  8080, 8100, 8101, 9000, 9005, 9010, 9011, 9090, 65535};
      uint8_t proto;
      switch (r.below(8)) {
        case 0: case 1: case 2: proto = ir::kTCP; break;
        case 3: case 4: proto = ir::kUDP; break;
        case 5: proto = ir::kSCTP; break;
        case 6: proto = v4 ? ir::kICMP : ir::kICMPv6; break;
        default: proto = 47; break;  // GRE: a protocol no rule names
      }
      uint16_t port = r.chance(0.8) ? r.pick(ports) : static_cast<uint16_t>(1 + r.below(65535));
      uint16_t uniq = static_cast<uint16_t>(1024 + i % 60000);
      if (i % 60000 == 0 && i) obj->clearConntrack();
      Addr src = toAddr(ingress ? peerAddr : self), dst = toAddr(ingress ? self : peerAddr);
      Bytes l4;
      switch (proto) {
        case ir::kTCP: l4 = mbtest::tcp(uniq, port); break;
        case ir::kUDP: l4 = mbtest::udp(uniq, port); break;
        case ir::kSCTP: l4 = mbtest::sctp(uniq, port); break;
        case ir::kICMP: {
          static const std::vector<uint16_t> types = {0, 8, 13, 9};
          port = r.pick(types);
          l4 = mbtest::icmp(static_cast<uint8_t>(port), 0, uniq);
          break;
        }
        case ir::kICMPv6: {
          static const std::vector<uint16_t> types = {128, 129, 130};
          port = r.pick(types);
          l4 = mbtest::icmp(static_cast<uint8_t>(port), 0, uniq);
          break;
        }
        default:
          port = 0;
          l4 = Bytes(8, 0x5a);
          obj->clearConntrack();  // no ports: every GRE packet would share one flow
          break;
      }
      Bytes frame = mbtest::frame(mbtest::ip(src, dst, proto, l4));
      Program prog = ingress ? (r.chance(0.8) ? Program::TcToEndpoint : Program::CgroupIngress)
                             : (r.chance(0.8) ? Program::TcFromEndpoint : Program::CgroupEgress);

      ir::Peer peer;
      if (const ir::Endpoint* pe = program.endpointByAddress(peerAddr)) {
        peer = ir::Peer::endpoint(program.identity(pe->identity), peerAddr);
      } else if (std::find(sc.host.begin(), sc.host.end(), peerAddr) != sc.host.end()) {
        peer = ir::Peer::host(peerAddr);
      } else {
        peer = ir::Peer::world(peerAddr);
      }
      ir::Verdict expected = ir::evaluate(program, subject, ingress ? ir::Direction::Ingress : ir::Direction::Egress,
                                          peer, ir::Traffic{proto, port});
      bool checkRule = i % 16 == 0 && expected.reason != ir::Reason::NoPolicy;
      uint64_t before = checkRule ? obj->rulePackets(expected.rule) : 0;
      bool passed = obj->passes(prog, frame);
      ++total.packets;
      total.allowed += passed;
      if (passed != expected.allowed) {
        ++total.mismatches;
        ADD_FAILURE() << "seed " << seed << ": " << programName(prog) << " for " << subject.key() << " (class " << cls.id
                      << ") " << (ingress ? "from " : "to ") << peerAddr.str() << " " << ir::protocolName(proto) << "/"
                      << port << ": datapath " << (passed ? "passed" : "dropped") << ", evaluator says "
                      << (expected.allowed ? "allow" : "deny") << " (" << ir::reasonName(expected.reason) << ", rule "
                      << expected.rule << ")\npolicy:\n" << sc.policy;
        if (total.mismatches > 5) return;
        continue;
      }
      if (checkRule) {
        ++total.ruleChecks;
        EXPECT_EQ(obj->rulePackets(expected.rule), before + 1)
            << "seed " << seed << ": rule " << expected.rule << " should have counted the packet\n" << sc.policy;
      }
    }
  }
}

TEST(Differential, DatapathAgreesWithEvaluator) {
  MB_REQUIRE_BPF();
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  uint64_t seed = envOr("MEMBRANE_DIFF_SEED", 1);
  size_t budget = envOr("MEMBRANE_DIFF_PACKETS", 100000);
  Checked total;
  size_t scenarios = 0;
  const size_t perScenario = 4000;
  while (total.packets < budget && total.mismatches == 0 && scenarios < 1000) {
    runScenario(seed++, perScenario, *compiler, total);
    if (HasFatalFailure()) return;
    ++scenarios;
  }
  std::cout << "differential: " << total.packets << " packets over " << scenarios << " scenarios, " << total.allowed
            << " allowed, " << total.ruleChecks << " rule attributions checked, " << total.mismatches
            << " mismatches\n";
  EXPECT_EQ(total.mismatches, 0u);
  EXPECT_GE(total.packets, budget);
  // Both outcomes must be well represented, or the test proves little.
  EXPECT_GT(total.allowed, total.packets / 10);
  EXPECT_LT(total.allowed, total.packets * 9 / 10);
}

}  // namespace
}  // namespace membrane::testing
