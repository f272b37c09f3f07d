// membrane: the node side. Loads artifacts that membranec built, swaps them
// in atomically, and reports what is enforced. Links libbpf and a JSON
// library only — no compiler on nodes.
//
// Exit codes: 0 success, 1 refused or failed (nothing changed), 2 usage,
// 3 (status) the kernel does not run what was applied.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cluster/agent.h"  // the agent's options; its code only in membrane-agent
#include "loader/dns_state.h"
#include "loader/events.h"
#include "loader/kernel.h"
#include "loader/loader.h"

using namespace membrane;

namespace {

int fail(const std::string& message) {
  std::cerr << "membrane: error: " << message << "\n";
  return 1;
}

// NAME=NUMBER[/PROTOCOL], protocol TCP by default.
std::optional<labels::NamedPort> parseNamedPort(const std::string& spec) {
  auto eq = spec.find('=');
  if (eq == 0 || eq == std::string::npos) return std::nullopt;
  labels::NamedPort port;
  port.name = spec.substr(0, eq);
  std::string rest = spec.substr(eq + 1);
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    auto proto = labels::portProtocolFromName(rest.substr(slash + 1));
    if (!proto) return std::nullopt;
    port.protocol = *proto;
    rest.resize(slash);
  }
  if (rest.empty() || rest.size() > 5 || rest.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned long number = std::stoul(rest);
  if (number == 0 || number > 65535) return std::nullopt;
  port.port = static_cast<uint16_t>(number);
  return port;
}

// `status` exits 3 when the kernel does not run what was applied.
constexpr int kExitNotAsApplied = 3;

// A hook in the PROGRAMS column: its program id, marked unless it is the
// one apply attached.
std::string hookText(const loader::HookStatus& h) {
  switch (h.state) {
    case loader::HookStatus::State::Ok: return std::to_string(h.program);
    case loader::HookStatus::State::NotAttached: return "NOT-ATTACHED";
    case loader::HookStatus::State::Differs: return std::to_string(h.program) + "(DIFFERS)";
    case loader::HookStatus::State::Unexpected: return std::to_string(h.program) + "(UNEXPECTED)";
    case loader::HookStatus::State::Unknown: return "UNKNOWN";
  }
  return "?";
}

// 2026-12-05 19:40:02 UTC
std::string wallTime(int64_t unixSeconds) {
  time_t t = static_cast<time_t>(unixSeconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return buf;
}

// The cluster agent's report (docs/cluster.md), as status shows it; it
// adds to `problems` what an operator must act on.
nlohmann::json agentJson(const cluster::AgentReport& a) {
  return {{"node", a.node},           {"pid", a.pid},       {"running", a.running},
          {"etcd", a.etcd},           {"connected", a.connected}, {"member", a.member},
          {"error", a.error},         {"since", a.since},   {"revision", a.revision},
          {"published", a.published}, {"peers", a.peers},   {"skipped", a.skipped},
          {"malformed", a.malformed}, {"applyError", a.applyError}, {"wanted", a.wanted},
          {"wantedSource", a.wantedSource}, {"version", a.version}, {"rolloutError", a.rolloutError}};
}

void printAgent(const cluster::AgentReport& a) {
  std::cout << "\ncluster agent for node " << a.node << " (pid " << a.pid << (a.running ? "" : ", NOT RUNNING")
            << "):\n";
  if (a.connected)
    std::cout << "  etcd: connected to " << a.member << " since " << wallTime(a.since) << "\n";
  else
    std::cout << "  etcd: UNREACHABLE since " << wallTime(a.since) << " (" << a.error
              << "); enforcing the last known state\n";
  std::cout << "  " << a.published << " endpoints of this node published; " << a.peers
            << " endpoints of other nodes known (revision " << a.revision << ")\n";
  if (!a.applyError.empty()) std::cout << "  the last trie update failed: " << a.applyError << "\n";
  if (!a.wanted.empty() || !a.rolloutError.empty()) {
    bool runsIt = !a.wanted.empty() && a.wanted.compare(0, 16, a.version) == 0 && a.rolloutError.empty();
    std::cout << "  rollout: the cluster asks for " << (a.wanted.empty() ? "?" : a.wanted.substr(0, 16)) << " from "
              << a.wantedSource << (runsIt ? "; running it" : "; NOT running it") << "\n";
    if (!a.rolloutError.empty()) std::cout << "  rollout failed: " << a.rolloutError << "\n";
  }
  for (const auto& s : a.skipped) std::cout << "  left out: " << s << "\n";
  for (const auto& m : a.malformed) std::cout << "  ignored record: " << m << "\n";
}

// What an endpoint join or leave did, on stderr like apply's summary.
void reportChange(const std::string& what, const loader::ApplyReport& r) {
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
  if (r.inPlace)
    std::cerr << what << " in place: version " << r.version << " runs on, its class programs were loaded already ("
              << r.endpoints << " endpoints, " << r.attached << " links attached, " << r.detached << " detached)\n";
  else
    std::cerr << what << ": version " << r.version << " applied again (" << r.endpoints << " endpoints, "
              << r.attached << " links attached, " << r.swapped << " swapped, " << r.detached << " detached)\n";
}

int runStatus(const loader::Paths& paths, const std::string& output) {
  std::string error;
  auto s = loader::status(paths, &error);
  if (!s) return fail(error);
  auto agent = cluster::readAgentReport(paths.stateDir, &error);
  if (!agent && !error.empty()) s->problems.push_back("the cluster agent's report is unreadable: " + error);
  int rc = s->problems.empty() ? 0 : kExitNotAsApplied;
  if (output == "json") {
    nlohmann::json j = {{"version", s->version}, {"artifactDir", s->artifactDir}, {"endpoints", nlohmann::json::array()},
                        {"rules", nlohmann::json::array()}, {"reasons", s->reasons}, {"dns", s->dns}, {"http", s->http},
                        {"asApplied", s->problems.empty()}, {"problems", s->problems}};
    for (const auto& e : s->endpoints) {
      nlohmann::json hooks = nlohmann::json::object();
      for (const auto& [hook, h] : e.hooks) {
        hooks[hook] = {{"state", loader::hookStateName(h.state)}, {"program", h.program}, {"applied", h.applied},
                       {"tag", h.tag}};
        if (!h.detail.empty()) hooks[hook]["detail"] = h.detail;
      }
      j["endpoints"].push_back({{"endpoint", e.key}, {"id", e.endpointId},
                                {"class", e.classId ? nlohmann::json(*e.classId) : nlohmann::json(nullptr)},
                                {"attachedTo", e.where}, {"programs", e.programs}, {"hooks", hooks},
                                {"learned", e.learned}});
    }
    j["learned"] = nlohmann::json::array();
    for (const auto& l : s->learned) {
      nlohmann::json addresses = nlohmann::json::array();
      for (const auto& a : l.addresses) addresses.push_back(a.str());
      j["learned"].push_back({{"endpoint", l.key}, {"addresses", addresses}, {"labels", l.labels}});
    }
    for (const auto& r : s->rules)
      j["rules"].push_back({{"id", r.id}, {"policy", r.policy}, {"rule", r.text}, {"location", r.location},
                            {"packets", r.packets}, {"bytes", r.bytes}});
    j["cluster"] = nlohmann::json::array();
    for (const auto& c : s->cluster) {
      nlohmann::json addresses = nlohmann::json::array();
      for (const auto& a : c.addresses) addresses.push_back(a.str());
      j["cluster"].push_back({{"endpoint", c.key}, {"node", c.node}, {"addresses", addresses}, {"labels", c.labels}});
    }
    j["agent"] = agent ? agentJson(*agent) : nlohmann::json(nullptr);
    std::cout << j.dump(2) << "\n";
    return rc;
  }
  std::cout << "policy version " << s->version << " from " << s->artifactDir << "\n\n";
  std::printf("%-32s %-6s %-16s %s\n", "ENDPOINT", "CLASS", "ATTACHED TO", "PROGRAMS");
  for (const auto& e : s->endpoints) {
    std::string progs;
    for (const auto& [hook, h] : e.hooks) progs += (progs.empty() ? "" : " ") + hook + "=" + hookText(h);
    std::printf("%-32s %-6s %-16s %s%s\n", e.key.c_str(), e.classId ? std::to_string(*e.classId).c_str() : "-",
                e.where.c_str(), progs.empty() ? "(unrestricted)" : progs.c_str(),
                e.learned ? "  (learned: labels given on this node)" : "");
  }
  if (!s->learned.empty()) {
    std::cout << "\nlearned with `endpoint add` (not enforced here; known by address):\n";
    for (const auto& l : s->learned) {
      std::string addresses;
      for (const auto& a : l.addresses) addresses += (addresses.empty() ? "" : ", ") + a.str();
      std::printf("  %-30s %s\n", l.key.c_str(), addresses.c_str());
    }
  }
  if (!s->cluster.empty()) {
    std::map<std::string, size_t> perNode;
    for (const auto& c : s->cluster) ++perNode[c.node];
    std::cout << "\nlearned from the cluster (not enforced here; known by address):";
    for (const auto& [node, n] : perNode) std::cout << " " << node << " " << n;
    std::cout << "\n";
  }
  if (agent) printAgent(*agent);
  if (!s->problems.empty()) {
    std::cout << "\nNOT AS APPLIED: the kernel does not run what version " << s->version << " attached:\n";
    for (const auto& p : s->problems) std::cout << "  " << p << "\n";
  }
  std::printf("\n%-6s %12s  %s\n", "RULE", "PACKETS", "POLICY / RULE");
  for (const auto& r : s->rules)
    std::printf("%-6u %12llu  %s%s%s\n", r.id, static_cast<unsigned long long>(r.packets), r.policy.c_str(),
                r.policy.empty() ? "" : ": ", r.text.c_str());
  std::cout << "\n";
  for (const auto& [reason, n] : s->reasons) std::printf("%-16s %llu\n", reason.c_str(), static_cast<unsigned long long>(n));
  // DNS and HTTP counters, once there is something to count.
  for (const auto* counters : {&s->dns, &s->http}) {
    bool any = false;
    for (const auto& [stat, n] : *counters) any = any || n;
    if (!any) continue;
    std::cout << "\n";
    for (const auto& [stat, n] : *counters)
      std::printf("%-20s %llu\n", stat.c_str(), static_cast<unsigned long long>(n));
  }
  std::cout.flush();
  if (rc)
    std::cerr << "membrane: status: the kernel does not run what was applied (" << s->problems.size()
              << (s->problems.size() == 1 ? " difference" : " differences") << ")\n";
  return rc;
}

std::atomic<bool> stopEvents{false};

// 2026-11-26T05:40:01.123456Z
std::string isoTime(uint64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000ull);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lluZ", static_cast<unsigned long long>(ns % 1000000000ull / 1000));
  return std::string(buf) + frac;
}

std::string endText(const loader::FlowEnd& e, uint8_t protocol) {
  bool ports = protocol == 6 || protocol == 17 || protocol == 132;
  std::string a = e.address.family == net::Family::V6 ? "[" + e.address.str() + "]" : e.address.str();
  if (ports) a += ":" + std::to_string(e.port);
  return e.name.empty() ? a : a + " (" + e.name + ")";
}

int runEvents(const loader::Paths& paths, const std::string& output, const loader::EventOptions& options) {
  std::signal(SIGINT, [](int) { stopEvents = true; });
  std::signal(SIGTERM, [](int) { stopEvents = true; });
  std::string error;
  bool ok = loader::readEvents(paths, options, [&](const loader::FlowEvent& e) {
    if (output == "json") {
      auto end = [](const loader::FlowEnd& x) {
        nlohmann::json j = {{"address", x.address.str()}, {"port", x.port}};
        if (!x.name.empty()) j["endpoint"] = x.name;
        return j;
      };
      nlohmann::json j = {{"time", isoTime(e.wallTimeNs)},
                          {"kind", e.kind},
                          {"direction", e.direction},
                          {"endpoint", e.endpoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.endpoint)},
                          {"endpointId", e.endpointId},
                          {"protocol", loader::protocolText(e.protocol)},
                          {"src", end(e.src)},
                          {"dst", end(e.dst)},
                          {"rule", {{"id", e.ruleId}, {"text", e.ruleText}, {"location", e.ruleLocation}}}};
      // No rule decides a spoofed packet: lib/source.h drops it before any.
      if (e.kind == "spoofed") j["rule"] = nullptr;
      if (e.protocol == 1 || e.protocol == 58) j["icmpType"] = e.dst.port;
      if (!e.why.empty()) j["http"] = {{"method", e.method}, {"path", e.path}, {"why", e.why}};
      if (e.process) {
        // A refused call sent nothing: no source.
        j["src"] = nullptr;
        j["process"] = {{"pid", e.process->pid}, {"executable", e.process->executable}, {"command", e.process->command}};
      }
      std::cout << j.dump() << "\n";
    } else if (e.process) {
      std::cout << isoTime(e.wallTimeNs) << " " << e.kind << " " << e.direction << " "
                << (e.endpoint.empty() ? "endpoint " + std::to_string(e.endpointId) : e.endpoint) << ": "
                << loader::protocolText(e.protocol) << " call to " << endText(e.dst, e.protocol) << " by "
                << e.process->executable << " (pid " << e.process->pid << ", " << e.process->command << ")  rule "
                << e.ruleId << " " << e.ruleText << (e.ruleLocation.empty() ? "" : " (" + e.ruleLocation + ")")
                << "\n";
    } else {
      std::string icmp = e.protocol == 1 || e.protocol == 58 ? " type " + std::to_string(e.dst.port) : "";
      std::cout << isoTime(e.wallTimeNs) << " " << e.kind << " " << e.direction << " "
                << (e.endpoint.empty() ? "endpoint " + std::to_string(e.endpointId) : e.endpoint) << ": "
                << loader::protocolText(e.protocol) << icmp << " " << endText(e.src, e.protocol) << " -> "
                << endText(e.dst, e.protocol) << "  "
                << (e.method.empty() && e.path.empty() ? "" : e.method + " " + e.path + "  ")
                << (e.kind == "spoofed" ? e.ruleText : "rule " + std::to_string(e.ruleId) + " " + e.ruleText)
                << (e.ruleLocation.empty() ? "" : " (" + e.ruleLocation + ")") << "\n";
    }
    std::cout.flush();  // one line per event, as it happens: pipelines read it live
  }, &error);
  if (!ok) return fail(error);
  return std::cout.good() ? 0 : fail("cannot write the events");
}

// 12.3s, 1h02m: a duration as the DNS table shows it.
std::string durationText(uint64_t ns) {
  uint64_t s = ns / 1000000000ull;
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ns) / 1e9);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                                   static_cast<unsigned long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                     static_cast<unsigned long long>(s % 3600 / 60));
  return buf;
}

int runDns(const loader::Paths& paths, const std::string& output, const std::string& endpoint) {
  std::string error;
  auto st = loader::readDnsState(paths, &error);
  if (!st) return fail(error);
  if (!st->pinned)
    std::cerr << "membrane: no DNS state on this node yet: " << st->pin
              << " is not pinned (it is created when a policy with DNS rules is applied)\n";
  std::vector<const loader::LearnedName*> shown;
  for (const auto& l : st->learned)
    if (endpoint.empty() || l.endpoint == endpoint) shown.push_back(&l);
  if (!endpoint.empty() && shown.empty() && st->pinned) {
    // An endpoint that learned nothing is fine; a name no endpoint has is a typo.
    std::string statusError;
    auto s = loader::status(paths, &statusError);
    bool known = s && std::any_of(s->endpoints.begin(), s->endpoints.end(),
                                  [&](const loader::EndpointStatus& e) { return e.key == endpoint; });
    if (!known) return fail("no endpoint '" + endpoint + "' is applied on this node");
  }
  if (output == "json") {
    nlohmann::json j = {{"pinned", st->pinned}, {"learned", nlohmann::json::array()}};
    for (const auto* l : shown)
      j["learned"].push_back({{"endpoint", l->endpoint.empty() ? nlohmann::json(nullptr) : nlohmann::json(l->endpoint)},
                              {"endpointId", l->endpointId},
                              {"address", l->address.str()},
                              {"name", l->name},
                              {"learnedAgoMs", l->learnedAgoNs / 1000000},
                              {"expiresInMs", l->expiresInNs / 1000000}});
    std::cout << j.dump(2) << "\n";
  } else if (st->pinned) {
    std::printf("%-32s %-40s %-40s %10s %10s\n", "ENDPOINT", "ADDRESS", "NAME", "LEARNED", "EXPIRES IN");
    for (const auto* l : shown) {
      std::string who = l->endpoint.empty() ? "endpoint " + std::to_string(l->endpointId) : l->endpoint;
      std::printf("%-32s %-40s %-40s %10s %10s\n", who.c_str(), l->address.str().c_str(), l->name.c_str(),
                  (durationText(l->learnedAgoNs) + " ago").c_str(), durationText(l->expiresInNs).c_str());
    }
  }
  return std::cout.flush().good() ? 0 : fail("cannot write the DNS state");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"membrane — loads membranec's BPF artifacts on a node and swaps policy versions atomically.\n"
               "Exit codes: 0 success, 1 refused or failed (nothing changed), 2 usage errors, 3 (status) the "
               "kernel does not run what was applied.",
               "membrane"};
  app.require_subcommand(1);
  loader::Paths paths;
  std::string netns;
  app.add_option("--bpffs", paths.bpffsRoot, "bpffs directory for pinned links and maps (mounted if needed)")
      ->capture_default_str();
  app.add_option("--state-dir", paths.stateDir, "Where the applied manifest and state are kept")->capture_default_str();
  app.add_option("--netns", netns, "Work in this network namespace (a name under /run/netns, or a path)");
  app.add_option("--attach", paths.attach,
                 "How to attach at interfaces: tcx links (Linux 6.6+), tc (cls_bpf filters), or auto")
      ->check(CLI::IsMember({"auto", "tcx", "tc"}))
      ->capture_default_str();
  app.add_option("--cgroup-root", paths.cgroupRoot,
                 "Where the socket layer (HTTP rules) watches sockets being opened: a cgroup v2 directory whose "
                 "processes' connections are decided by request. Default: the cgroup v2 root, which leaves no "
                 "process of the node out")
      ->check(CLI::ExistingDirectory);
  double lockTimeout = 60;
  app.add_option("--lock-timeout", lockTimeout,
                 "How long apply, detach and endpoint add/remove wait for another of them to finish on this node "
                 "(seconds; 0: fail at once)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();

  std::string artifactDir, nodeFile;
  auto* apply = app.add_subcommand("apply", "Verify artifacts, load every program, then attach or swap them atomically");
  apply->add_option("artifacts", artifactDir, "Directory written by `membranec compile`")->required();
  apply->add_option("--node", nodeFile, "NODE.json: local endpoints and where to enforce them")->required();

  std::string output = "table";
  auto* status = app.add_subcommand("status", "Endpoints, the programs the kernel runs for them against what was applied (exit code 3 if they differ), "
      "policy version and per-rule counters");
  status->add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));

  auto* detach = app.add_subcommand("detach", "Remove every program, link and map membrane attached");

  loader::EventOptions eventOptions;
  std::string eventOutput = "text";
  double eventTimeout = -1;
  auto* events = app.add_subcommand(
      "events", "Print flow events as they happen: denies and audit findings, with the endpoint, peer and rule");
  events->add_option("-o,--output", eventOutput, "text, or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  events->add_option("--count", eventOptions.count, "Stop after this many events (default: until interrupted)");
  events->add_option("--timeout", eventTimeout, "Stop after this many seconds (default: until interrupted)")
      ->check(CLI::Validator(
          [](std::string& v) {
            char* end = nullptr;
            double d = std::strtod(v.c_str(), &end);
            return end != v.c_str() && *end == 0 && d >= 0 && d < 1e9 ? std::string()
                                                                     : "expected seconds (0 or more), got '" + v + "'";
          },
          "SECONDS"));
  events->add_flag("--backlog", eventOptions.backlog,
                   "Also print events written before the command started and not read yet");

  std::string dnsOutput = "table", dnsEndpoint;
  auto* dns = app.add_subcommand(
      "dns", "Addresses the datapath learned from DNS answers: endpoint, address, the name asked, when, until when");
  dns->add_option("-o,--output", dnsOutput, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  dns->add_option("--endpoint", dnsEndpoint, "Only this endpoint's (namespace/name)");

  auto* endpoint = app.add_subcommand("endpoint", "Tell the datapath about endpoints learned after compile");
  endpoint->require_subcommand(1);
  std::string epName, epNs = "default";
  std::vector<std::string> epLabels, epAddresses, epPorts;
  auto* add = endpoint->add_subcommand("add", "Add (or update) an endpoint's identity: no recompile, no reload");
  add->add_option("--name", epName)->required();
  add->add_option("--namespace", epNs)->capture_default_str();
  add->add_option("--label", epLabels, "key=value; repeatable")->allow_extra_args(false);
  add->add_option("--address", epAddresses, "IPv4 or IPv6; repeatable")->required()->allow_extra_args(false);
  add->add_option("--port", epPorts,
                  "a named container port, NAME=NUMBER[/tcp|udp|sctp] (tcp by default); repeatable. Egress rules "
                  "on a named port reach this endpoint only if it defines the name with the number they resolved")
      ->allow_extra_args(false);
  auto* remove = endpoint->add_subcommand("remove", "Forget an endpoint added with `endpoint add`");
  remove->add_option("--name", epName)->required();
  remove->add_option("--namespace", epNs)->capture_default_str();
  std::string epInterface, epCgroup, epRoot = "/";
  auto* join = endpoint->add_subcommand(
      "join", "Enforce policy on one more endpoint of this node, with the applied artifacts, as apply would with it "
              "added to NODE.json (what membrane-cni does on ADD): all or nothing");
  join->add_option("--name", epName)->required();
  join->add_option("--namespace", epNs)->capture_default_str();
  join->add_option("--label", epLabels, "key=value; repeatable (none: an endpoint the compile's inventory knows)")
      ->allow_extra_args(false);
  join->add_option("--address", epAddresses, "IPv4 or IPv6, with --label; repeatable")->allow_extra_args(false);
  join->add_option("--port", epPorts, "a named container port, NAME=NUMBER[/tcp|udp|sctp]; repeatable")
      ->allow_extra_args(false);
  join->add_option("--interface", epInterface, "its host-side veth");
  join->add_option("--cgroup", epCgroup, "its cgroup v2 directory");
  join->add_option("--root", epRoot, "where its processes' / is, for process rules")->capture_default_str();
  auto* leave = endpoint->add_subcommand(
      "leave", "Stop enforcing policy on an endpoint of this node (what membrane-cni does on DEL); one the node does "
               "not enforce is no error");
  leave->add_option("--name", epName)->required();
  leave->add_option("--namespace", epNs)->capture_default_str();

  cluster::AgentOptions agentOptions;
  agentOptions.node = [] {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    return std::string(host);
  }();
  std::string agentPrefix = agentOptions.layout.prefix;
  long leaseTtl = 10;
  auto* agent = app.add_subcommand(
      "agent",
      "Share endpoints with the other nodes through etcd (docs/cluster.md): publish this node's, with a lease, and "
      "keep the identity trie in step with every other node's. Runs until SIGINT or SIGTERM; while etcd is "
      "unreachable it keeps enforcing the last known state, and `membrane status` says so");
  agent->add_option("--etcd", agentOptions.etcd, "An etcd member's client URL (http://HOST:PORT); repeatable")
      ->required()
      ->allow_extra_args(false);
  agent->add_option("--node", agentOptions.node, "This node's name, as other nodes see it (default: the host name)")
      ->capture_default_str();
  agent->add_option("--lease-ttl", leaseTtl,
                    "Seconds after which a node that stopped renewing its lease (a dead agent) loses its endpoints "
                    "on every other node")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  agent->add_option("--prefix", agentPrefix, "The etcd key prefix every node of the cluster uses")
      ->capture_default_str();
  agent->add_option("--etcd-cacert", agentOptions.tls.caFile,
                    "For https:// members: the CA certificate (PEM) that signed theirs (default: the system's)")
      ->check(CLI::ExistingFile);
  agent->add_option("--etcd-cert", agentOptions.tls.certFile,
                    "This node's client certificate (PEM), for members that require one (--client-cert-auth)")
      ->check(CLI::ExistingFile);
  agent->add_option("--etcd-key", agentOptions.tls.keyFile, "The key (PEM) of --etcd-cert")->check(CLI::ExistingFile);
  agent->add_option("--node-netns", agentOptions.nodeNetns,
                    "The network namespace of the node's interfaces, when the agent runs in another (one that reaches "
                    "etcd): versions rolled out through etcd are applied there. Default: the agent's own");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  std::string error;
  if (!netns.empty() && !loader::enterNetns(netns, &error)) return fail(error);
  // The node lock (docs/runtime.md): the command line goes into the lock
  // file, and waiting for another holder is said once.
  paths.lockTimeout = std::chrono::milliseconds(static_cast<long long>(lockTimeout * 1000));
  for (int i = 0; i < argc; ++i) paths.command += (i ? " " : "") + std::string(i ? argv[i] : "membrane");
  paths.onLockWait = [](const std::string& message) { std::cerr << "membrane: " << message << "\n"; };

  if (apply->parsed()) {
    auto node = loader::NodeConfig::load(nodeFile, &error);
    if (!node) return fail(error);
    loader::ApplyReport report;
    if (!loader::apply(artifactDir, *node, paths, &report, &error)) return fail(error);
    for (const auto& w : report.warnings) std::cerr << "warning: " << w << "\n";
    std::cerr << "applied version " << report.version
              << (report.previousVersion.empty() ? "" : " (was " + report.previousVersion + ")") << ": "
              << report.endpoints << " endpoints, " << report.attached << " links attached, " << report.swapped
              << " swapped, " << report.detached << " detached\n";
    return 0;
  }
  if (status->parsed()) return runStatus(paths, output);
  if (agent->parsed()) {
#ifndef MEMBRANE_WITH_AGENT
    // The agent is membrane-agent, beside this binary (runtime/CMakeLists.txt
    // says why): the same command line, run there.
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return fail(std::string("cannot find this program's path: ") + std::strerror(errno));
    self[n] = 0;
    std::string agentBinary = std::filesystem::path(self).parent_path() / "membrane-agent";
    std::vector<char*> args(argv, argv + argc);
    args[0] = agentBinary.data();
    args.push_back(nullptr);
    execv(agentBinary.c_str(), args.data());
    return fail("cannot run " + agentBinary + ", the agent's program (installed beside membrane): " +
                std::strerror(errno));
#else
    agentOptions.layout.prefix = agentPrefix;
    while (!agentOptions.layout.prefix.empty() && agentOptions.layout.prefix.back() == '/')
      agentOptions.layout.prefix.pop_back();
    agentOptions.leaseTtl = std::chrono::seconds(leaseTtl);
    agentOptions.paths = paths;
    agentOptions.log = [](const std::string& line) {
      std::cerr << isoTime(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()))
                << " membrane agent: " << line << std::endl;
    };
    std::signal(SIGINT, [](int) { stopEvents = true; });
    std::signal(SIGTERM, [](int) { stopEvents = true; });
    try {
      cluster::runAgent(agentOptions, stopEvents);
    } catch (const std::invalid_argument& e) {
      std::cerr << "membrane: error: " << e.what() << "\n";
      return 2;
    }
    return 0;
#endif
  }
  if (events->parsed()) {
    eventOptions.timeoutMs = eventTimeout < 0 ? -1 : static_cast<int>(eventTimeout * 1000);
    eventOptions.stop = &stopEvents;
    return runEvents(paths, eventOutput, eventOptions);
  }
  if (dns->parsed()) return runDns(paths, dnsOutput, dnsEndpoint);
  if (detach->parsed()) return loader::detachAll(paths, &error) ? 0 : fail(error);
  if (add->parsed() || join->parsed()) {
    loader::NodeEndpoint e;
    e.name = epName;
    e.ns = epNs;
    // `endpoint add` always gives labels (none is an endpoint without
    // labels); `join` only with --label or --address (else the inventory's).
    if (add->parsed() || !epLabels.empty() || !epAddresses.empty()) e.labels = labels::LabelSet{};
    for (const auto& kv : epLabels) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) return fail("--label wants key=value, got '" + kv + "'");
      (*e.labels)[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& a : epAddresses) {
      auto addr = net::Address::parse(a);
      if (!addr) return fail("'" + a + "' is not an IP address");
      e.addresses.push_back(*addr);
    }
    for (const auto& spec : epPorts) {
      auto port = parseNamedPort(spec);
      if (!port) return fail("--port wants NAME=NUMBER[/tcp|udp|sctp] with NUMBER 1-65535, got '" + spec + "'");
      e.ports.push_back(*port);
    }
    std::sort(e.ports.begin(), e.ports.end());
    if (add->parsed()) return loader::endpointAdd(e, paths, &error) ? 0 : fail(error);
    if (e.labels && e.addresses.empty()) return fail("an endpoint with labels needs --address");
    e.interface = epInterface;
    e.cgroup = epCgroup;
    e.root = epRoot;
    loader::ApplyReport report;
    if (!loader::endpointJoin(e, paths, &report, &error)) return fail(error);
    reportChange("joined " + e.key(), report);
    return 0;
  }
  if (remove->parsed()) return loader::endpointRemove(epNs, epName, paths, &error) ? 0 : fail(error);
  if (leave->parsed()) {
    loader::ApplyReport report;
    bool wasThere = false;
    if (!loader::endpointLeave(epNs, epName, paths, &report, &wasThere, &error)) return fail(error);
    if (!wasThere)
      std::cerr << epNs << "/" << epName << " was not enforced here: nothing to do\n";
    else
      reportChange("left " + epNs + "/" + epName, report);
    return 0;
  }
  return 2;
}
