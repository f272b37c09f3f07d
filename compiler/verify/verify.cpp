// See verify.h.
#include "verify/verify.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "artifacts/manifest.h"
#include "codegen/artifact_writer.h"
#include "io/file.h"
#include "loader/reasons.h"
#include "evaluator/evaluator.h"
#include "verify/loaded_class.h"
#include "verify/probe_packets.h"
#include "verify/regions.h"

namespace membrane::verify {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kManifestCap = 256 * io::kMiB;
constexpr size_t kObjectCap = 64 * io::kMiB;
// The endpoint id the objects run as; any will do, nothing else shares their maps.
constexpr uint32_t kEndpointId = 1;
// Probes between two readings of the event ring buffer (1 MiB: ~16,000 events).
constexpr size_t kEventBatch = 2048;

// ---- the manifest against the policies ---------------------------------------

// The first place where `have` differs from `want`, as a readable path.
void firstDifference(const json& want, const json& have, const std::string& path, std::vector<std::string>& out) {
  if (want == have) return;
  if (want.is_object() && have.is_object()) {
    for (const auto& [key, value] : want.items()) {
      if (!have.contains(key)) {
        out.push_back(path + "." + key + ": missing");
        return;
      }
      if (value != have.at(key)) {
        firstDifference(value, have.at(key), path + "." + key, out);
        return;
      }
    }
    for (const auto& [key, value] : have.items())
      if (!want.contains(key)) {
        out.push_back(path + "." + key + ": not in what the policies compile to");
        return;
      }
    return;
  }
  if (want.is_array() && have.is_array()) {
    if (want.size() != have.size()) {
      out.push_back(path + ": " + std::to_string(have.size()) + " entries, the policies give " +
                    std::to_string(want.size()));
      return;
    }
    for (size_t i = 0; i < want.size(); ++i)
      if (want[i] != have[i]) {
        firstDifference(want[i], have[i], path + "[" + std::to_string(i) + "]", out);
        return;
      }
    return;
  }
  out.push_back(path + ": " + have.dump() + ", the policies give " + want.dump());
}

// Everything the manifest says about the policies, as opposed to how they
// were compiled: the lowering (CIDR bits, table mode and its feature, the
// peer sets of table-driven classes, object hashes and counts) and the
// compiler version are the compile's own. (Peer sets that do not match the
// objects' tables show up as mismatches: the trie is built from them.)
std::vector<std::string> manifestDifferences(const artifacts::Manifest& want, const artifacts::Manifest& have) {
  json w = json::parse(want.toJson()), h = json::parse(have.toJson());
  for (json* j : {&w, &h}) {
    for (const char* key : {"cidrs", "peerSets", "requiredFeatures", "compiler"}) j->erase(key);
    for (auto& c : (*j)["classes"]) {
      c.erase("sha256");
      c.erase("lowering");
    }
  }
  std::vector<std::string> out;
  firstDifference(w, h, "manifest", out);
  return out;
}

// ---- probing one class ------------------------------------------------------------

std::string trafficText(net::Family f, const TrafficProbe& t) {
  if (t.protocol == ir::kTCP || t.protocol == ir::kUDP || t.protocol == ir::kSCTP)
    return ir::protocolName(t.protocol) + "/" + std::to_string(t.port);
  if (t.protocol == (f == net::Family::V4 ? ir::kICMP : ir::kICMPv6))
    return ir::protocolName(t.protocol) + " type " + std::to_string(t.port);
  return ir::protocolName(t.protocol);
}

std::string verdictText(const ir::Verdict& v) {
  switch (v.reason) {
    case ir::Reason::NoPolicy: return "allows (no policy restricts the direction)";
    case ir::Reason::AllowedByRule:
      return "allows by rule " + std::to_string(v.rule) +
             (v.needsProcess ? " (process condition: on sockets whose call the socket hooks let through)" : "");
    case ir::Reason::DeniedByRule: return "denies by rule " + std::to_string(v.rule);
    case ir::Reason::DefaultDeny: return "denies (default deny)";
    case ir::Reason::UnreadableRequest: return "denies (not a request membrane reads)";
  }
  return "";
}

class ClassProber {
 public:
  ClassProber(LoadedClass& object, ClassResult& result, Report& report, size_t maxListed)
      : object_(object), result_(result), report_(report), maxListed_(maxListed) {}

  // Fresh own addresses, one pair per hook: flows of earlier probes (and of
  // the other hook, which shares conntrack) never collide with later ones.
  bool renewOwnAddresses(std::string* error) {
    counter_ = 1;
    for (auto& own : own_) {
      ++ownIndex_;
      own.v4 = *net::Address::parse("198.18.0.0");
      own.v4.bytes[1] = static_cast<uint8_t>(18 + ((ownIndex_ >> 16) & 1));
      own.v4.bytes[2] = static_cast<uint8_t>(ownIndex_ >> 8);
      own.v4.bytes[3] = static_cast<uint8_t>(ownIndex_);
      own.v6 = *net::Address::parse("2001:2:ffff::");
      own.v6.bytes[12] = static_cast<uint8_t>(ownIndex_ >> 24);
      own.v6.bytes[13] = static_cast<uint8_t>(ownIndex_ >> 16);
      own.v6.bytes[14] = static_cast<uint8_t>(ownIndex_ >> 8);
      own.v6.bytes[15] = static_cast<uint8_t>(ownIndex_);
      if (!object_.own({own.v4, own.v6}, error)) return false;
    }
    return true;
  }

  // One region end at one hook (0: tc, 1: cgroup), decided by the IR as `want`.
  bool probe(Hook hook, size_t slot, const PeerKind& kind, const net::Address& peer, const TrafficProbe& traffic,
             const ir::Verdict& want, std::string* error) {
    const bool egress = hookIsEgress(hook);
    const net::Family f = peer.family;
    const net::Address& own = f == net::Family::V4 ? own_[slot].v4 : own_[slot].v6;
    ProbeTuple t{egress ? own : peer, egress ? peer : own, traffic.protocol, 0, 0, false};
    const bool ports = traffic.protocol == ir::kTCP || traffic.protocol == ir::kUDP || traffic.protocol == ir::kSCTP;
    const bool icmp = traffic.protocol == (f == net::Family::V4 ? ir::kICMP : ir::kICMPv6);
    if (ports || icmp) {
      t.sport = counter_;  // the echo id for ICMP
      t.dport = traffic.port;
    }
    if (++counter_ == 0 && !renewOwnAddresses(error)) return false;

    auto where = [&](std::string object, std::string evaluator) {
      return Mismatch{result_.id, hookName(hook), kind.describe(), peer.str(), trafficText(f, traffic),
                      std::move(object), std::move(evaluator)};
    };
    if (want.needsProcess) {
      // Only rules with a process condition allow the flow (docs/process.md):
      // the object passes it only from a socket whose call the socket hooks
      // let through. A test run has no socket, so first the flow no call
      // opened (a raw socket): dropped, a DENY of rule 0. Then, at tc, the
      // same tuple recorded as a node's process gate records an approved
      // socket's: decided as the evaluator says. cgroup_skb asks the socket
      // itself, and there is none: it must drop.
      auto unapproved = object_.passes(hook, probeFrame(t), error);
      if (!unapproved) return false;
      ++result_.probes;
      if (*unapproved) {
        record(
            where("passes it from no socket a call opened", verdictText(want) + ", so it drops a flow no call opened"));
        object_.takeEvents();
        pending_.clear();
        return true;
      }
      pending_.push_back({MB_EVENT_DENY, 0, where("", "drops a flow no call opened (rule 0)")});
      if (hook != Hook::TcFromEndpoint) {
        if (pending_.size() >= kEventBatch) checkEvents();
        return true;
      }
      if (!object_.approveProcessFlow(flowKey(t, object_.endpointId()), error)) return false;
    }

    auto passed = object_.passes(hook, probeFrame(t), error);
    if (want.needsProcess) object_.withdrawProcessFlow(flowKey(t, object_.endpointId()));
    if (!passed) return false;
    ++result_.probes;
    if (*passed != want.allowed) {
      record(where(*passed ? "passes" : "drops", verdictText(want)));
      object_.takeEvents();  // what it wrote belongs to a verdict already reported
      pending_.clear();
      return true;
    }
    if (want.allowed) {
      pending_.push_back({MB_EVENT_ALLOW, want.rule, where("", verdictText(want))});
      if (want.auditWouldDeny)
        pending_.push_back({MB_EVENT_AUDIT, want.auditRule,
                            where("", "would deny under audit by " + (want.auditRule ? "rule " + std::to_string(want.auditRule)
                                                                                     : std::string("default deny")))});
    } else {
      pending_.push_back({MB_EVENT_DENY, want.rule, where("", verdictText(want))});
    }

    // The reply of a flow it allowed must pass conntrack at the other hook.
    const bool tracked = !icmp || isEchoRequest(f, traffic.protocol, traffic.port);
    if (want.allowed && tracked) {
      ProbeTuple r{t.dst, t.src, t.protocol, t.dport, t.sport, true};
      if (icmp) {
        r.sport = t.sport;
        r.dport = echoReplyType(f);
      }
      auto replied = object_.passes(oppositeHook(hook), probeFrame(r), error);
      if (!replied) return false;
      ++result_.probes;
      if (!*replied) record(where(std::string("drops the reply at ") + hookName(oppositeHook(hook)), verdictText(want)));
    }
    if (pending_.size() >= kEventBatch) checkEvents();
    return true;
  }

  // What the object wrote against what the IR decided, in order.
  void checkEvents() {
    std::vector<mb_event> got = object_.takeEvents();
    size_t n = std::min(got.size(), pending_.size());
    for (size_t i = 0; i < n; ++i) {
      const Pending& want = pending_[i];
      if (got[i].kind == want.kind && got[i].rule_id == want.rule) continue;
      Mismatch m = want.where;
      m.object = "writes a " + loader::eventKindName(got[i].kind) + " event for rule " + std::to_string(got[i].rule_id);
      m.evaluator += " (a " + loader::eventKindName(want.kind) + " event for rule " + std::to_string(want.rule) + ")";
      record(std::move(m));
      break;  // the rest would be out of step
    }
    if (got.size() < pending_.size()) {
      Mismatch m = pending_[got.size()].where;
      m.object = "writes no event";
      record(std::move(m));
    } else if (got.size() > pending_.size()) {
      record(Mismatch{result_.id, "", "", "", "", std::to_string(got.size() - pending_.size()) + " events no probe explains",
                      ""});
    }
    pending_.clear();
  }

 private:
  struct Pending {
    uint8_t kind;
    uint32_t rule;
    Mismatch where;
  };

  void record(Mismatch m) {
    ++result_.mismatches;
    ++report_.mismatchCount;
    if (report_.mismatches.size() < maxListed_) report_.mismatches.push_back(std::move(m));
  }

  LoadedClass& object_;
  ClassResult& result_;
  Report& report_;
  size_t maxListed_;
  uint32_t ownIndex_ = 0;
  struct Own {
    net::Address v4, v6;
  } own_[2];
  uint16_t counter_ = 1;
  std::vector<Pending> pending_;
};

// The trie a node would build if every address in `addresses` were `kind`.
bool trieFor(const artifacts::Manifest& manifest, const PeerKind& kind, const std::vector<net::Address>& addresses,
             std::vector<identity::TrieEntry>& out, std::string* error) {
  artifacts::Manifest m = manifest;
  m.endpoints.clear();
  std::vector<net::Address> host;
  if (kind.kind == ir::Peer::Kind::Endpoint) {
    for (size_t i = 0; i < addresses.size(); ++i)
      m.endpoints.push_back({"probe-" + std::to_string(i), kind.identity->ns, kind.identity->id, {addresses[i]}, {}});
  } else if (kind.kind == ir::Peer::Kind::Host) {
    host = addresses;
  }
  out.clear();
  return identity::buildEntries(m, host, out, error);
}

bool verifyClass(LoadedClass& object, const artifacts::Manifest& manifest, const ir::EndpointClass& cls,
                 const std::vector<PeerKind>& kinds, ClassResult& result, Report& report, size_t maxListed,
                 std::string* error) {
  struct Direction {
    const ir::DirectionPolicy* policy;
    std::vector<FamilyRegions> regions;
    std::vector<Hook> hooks;
  };
  std::vector<Direction> directions = {
      {&cls.ingress, regionsOf(cls.ingress), {Hook::TcToEndpoint, Hook::CgroupIngress}},
      {&cls.egress, regionsOf(cls.egress), {Hook::TcFromEndpoint, Hook::CgroupEgress}}};
  std::vector<net::Address> everywhere;
  for (const auto& d : directions) {
    for (const auto& fr : d.regions) {
      everywhere.insert(everywhere.end(), fr.addresses.begin(), fr.addresses.end());
      result.regions += static_cast<uint64_t>(fr.addressRanges) * fr.trafficIntervals * kinds.size();
      for (const auto& s : fr.skipped) {
        std::string line = std::string(d.policy == &cls.ingress ? "ingress " : "egress ") +
                           (fr.family == net::Family::V4 ? "IPv4 " : "IPv6 ") + s;
        if (std::find(result.skipped.begin(), result.skipped.end(), line) == result.skipped.end())
          result.skipped.push_back(line);
      }
    }
  }
  std::sort(everywhere.begin(), everywhere.end());
  everywhere.erase(std::unique(everywhere.begin(), everywhere.end()), everywhere.end());

  ClassProber prober(object, result, report, maxListed);
  std::vector<identity::TrieEntry> entries;
  for (const auto& kind : kinds) {
    if (!trieFor(manifest, kind, everywhere, entries, error) || !object.setIdentities(entries, error)) return false;
    for (const auto& d : directions) {
      if (!prober.renewOwnAddresses(error)) return false;
      for (const auto& fr : d.regions)
        for (const auto& a : fr.addresses) {
          ir::Peer peer;
          switch (kind.kind) {
            case ir::Peer::Kind::Endpoint: peer = ir::Peer::endpoint(kind.identity, a); break;
            case ir::Peer::Kind::Host: peer = ir::Peer::host(a); break;
            case ir::Peer::Kind::World: peer = ir::Peer::world(a); break;
          }
          for (const auto& t : fr.traffic) {
            // One verdict of the IR, held against both hooks. A UDP probe's
            // payload is no DNS message: on a port a dns condition reads, the
            // datapath finds it unreadable, and so must the evaluator (the
            // condition fails); elsewhere that changes nothing. A TCP probe
            // is a SYN without payload: no message, as the default says.
            ir::Traffic asSent = t;
            if (asSent.protocol == ir::kUDP) asSent.dns = ir::DnsMessage::unreadable();
            const ir::Verdict want = ir::evaluate(*d.policy, peer, asSent);
            for (size_t slot = 0; slot < d.hooks.size(); ++slot)
              if (!prober.probe(d.hooks[slot], slot, kind, a, t, want, error)) return false;
          }
        }
    }
    prober.checkEvents();
  }
  return true;
}

}  // namespace

bool verifyArtifacts(const std::string& artifactDir, const ir::Program& program,
                     const Options& options, Report* report, std::string* error) {
  auto start = std::chrono::steady_clock::now();
  Report r;
  r.artifactDir = artifactDir;
  const fs::path dir(artifactDir);
  std::string why;
  auto text = io::readRegularFile((dir / "manifest.json").string(), kManifestCap, "manifest.json", &why);
  if (!text) {
    if (error) *error = why;
    return false;
  }
  auto manifest = artifacts::Manifest::fromJson(*text, &why);
  if (!manifest) {
    if (error) *error = "'" + artifactDir + "' holds no valid manifest: " + why;
    return false;
  }
  if (manifest->abiVersion != MB_ABI_VERSION) {
    if (error) *error = "'" + artifactDir + "' was compiled for datapath ABI " + std::to_string(manifest->abiVersion) +
                        "; this membranec verifies ABI " + std::to_string(MB_ABI_VERSION);
    return false;
  }
  r.manifestDifferences = manifestDifferences(codegen::describeArtifacts(program), *manifest);

  const std::vector<PeerKind> kinds = peerKinds(program);
  const ir::EndpointClass open = codegen::openClass(program);
  for (size_t i = 0; i < manifest->classes.size(); ++i) {
    const artifacts::ClassEntry& entry = manifest->classes[i];
    if (options.progress) options.progress(i, manifest->classes.size(), entry.id);
    const ir::EndpointClass* cls = entry.id < program.classes.size() ? &program.classes[entry.id]
                                   : entry.id == open.id             ? &open
                                                                     : nullptr;
    if (!cls) continue;  // reported among the manifest's differences
    auto elf = io::readRegularFile((dir / entry.object).string(), kObjectCap, "class objects", &why);
    if (!elf) {
      if (error) *error = why;
      return false;
    }
    if (artifacts::sha256Hex(*elf) != entry.sha256) {
      if (error) *error = entry.object + " does not match its SHA-256 in the manifest (tampered or corrupt)";
      return false;
    }
    auto classStart = std::chrono::steady_clock::now();
    // As a node loads it: a class whose requests the socket layer decides
    // gets its connections through (MB_CONFIG_SOCKETS), the requests being
    // the socket layer's (held to the evaluator by the HTTP differential
    // test, not probed here).
    const uint32_t flags = entry.l7.empty() ? 0u : MB_CONFIG_SOCKETS;
    auto object = LoadedClass::load(*elf, kEndpointId,
                                    (1u << MB_EVENT_ALLOW) | (1u << MB_EVENT_DENY) | (1u << MB_EVENT_AUDIT), flags,
                                    &why);
    if (!object) {
      if (error) *error = entry.object + " (class " + std::to_string(entry.id) + ") does not load: " + why;
      return false;
    }
    ClassResult result;
    result.id = entry.id;
    result.object = entry.object;
    result.open = cls == &open;
    if (!verifyClass(*object, *manifest, *cls, kinds, result, r, options.maxListed, &why)) {
      if (error) *error = entry.object + " (class " + std::to_string(entry.id) + "): " + why;
      return false;
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - classStart).count();
    r.regions += result.regions;
    r.probes += result.probes;
    r.classes.push_back(std::move(result));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report) *report = std::move(r);
  return true;
}

}  // namespace membrane::verify
