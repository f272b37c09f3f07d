// Section 2 of docs/benchmarks.md: packets per second and CPU per packet
// through a node that forwards between two pods, with no filter, iptables
// (legacy and nft backends), nftables (linear rules and a set) and membrane,
// at N = 10 ... 10,000 rules with the allowing rule last. Prints one markdown
// section on stdout; progress on stderr. See README.md next to this file.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "topology.h"
#include "udp_load.h"

namespace membrane::bench {
namespace {

namespace fs = std::filesystem;
using e2e::ExecResult;
using e2e::Millis;
using e2e::Topology;
using namespace std::chrono_literals;

constexpr uint16_t kPort = 5201;        // the allowed traffic
constexpr uint16_t kDeniedPort = 5999;  // no rule allows it: checks the filter is in place
// More flows than membrane's conntrack holds (262,144).
constexpr uint64_t kConntrackFill = 300000;
constexpr const char* kAllowedSources = "198.18.0.0/16";  // the last rule: the tx pod and kManyFlowsSourcePrefix

const char* kDescription =
    "Section 2 of docs/benchmarks.md. Measures packets per second and CPU per packet through a node\n"
    "(network namespaces joined by veths) with no filter, iptables-legacy, iptables-nft, nftables\n"
    "linear rules, an nftables set and membrane, at 10, 100, 1,000 and 10,000 rules with the allowing\n"
    "rule last, for one long flow and for a new flow in every packet. Prints a markdown section on\n"
    "stdout. --quick: 1,000 rules only (plus no filter), one 1 s window per point; otherwise every N,\n"
    "three 2 s windows, median.";
const char* kExitCodes =
    "Needs root. Exit codes: 0 measured (or, without root and CI unset, a section saying it was not\n"
    "measured); 1 a setup step failed or, under CI=true, not root; 2 usage.";

struct Rule {
  std::string source;  // CIDR
  uint16_t port;
};

// N rules, the one that allows the benchmark traffic last. The others allow
// 100 other sources on the same port and on the ports after it, so the last
// rule shares its port with up to 100 rules whatever the filter's layout.
std::vector<Rule> rulesFor(size_t n) {
  std::vector<Rule> rules;
  for (size_t i = 0; i + 1 < n; ++i)
    rules.push_back({"198.19.0." + std::to_string(i % 100 + 1) + "/32", static_cast<uint16_t>(kPort + i / 100)});
  rules.push_back({kAllowedSources, kPort});
  return rules;
}

ExecResult mustRun(const std::string& ns, const std::vector<std::string>& argv, const std::string* input = nullptr,
                   Millis timeout = Millis(120000)) {
  ExecResult r = Topology::exec(ns, argv, timeout, input);
  if (!r.succeeded()) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + ": " + r.describe());
  }
  return r;
}

std::string tool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"})
    if (access((std::string(dir) + name).c_str(), X_OK) == 0) return std::string(dir) + name;
  throw std::runtime_error(name + " not found (scripts/setup.sh installs it)");
}

// How a filter is installed and replaced in the node's namespace.
class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string name() const = 0;
  virtual bool filters() const { return true; }
  virtual void install(const std::vector<Rule>& rules) = 0;
  virtual void remove() {}
};

class NoFilter : public Filter {
 public:
  std::string name() const override { return "none"; }
  bool filters() const override { return false; }
  void install(const std::vector<Rule>&) override {}
};

// FORWARD -o <rx veth> -j MBRX; MBRX: the rules in order, then DROP.
class Iptables : public Filter {
 public:
  Iptables(std::string ns, std::string rxVeth, std::string backend)
      : ns_(std::move(ns)), rxVeth_(std::move(rxVeth)), backend_(std::move(backend)) {}
  std::string name() const override { return "iptables-" + backend_; }
  void install(const std::vector<Rule>& rules) override {
    std::ostringstream s;
    s << "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:MBRX - [0:0]\n"
      << "-A FORWARD -o " << rxVeth_ << " -j MBRX\n";
    for (const auto& r : rules) s << "-A MBRX -s " << r.source << " -p udp -m udp --dport " << r.port << " -j ACCEPT\n";
    s << "-A MBRX -j DROP\nCOMMIT\n";
    std::string text = s.str();
    mustRun(ns_, {tool("iptables-" + backend_ + "-restore")}, &text);
  }
  void remove() override {
    std::string text = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
    Topology::exec(ns_, {tool("iptables-" + backend_ + "-restore")}, Millis(60000), &text);
  }

 private:
  std::string ns_, rxVeth_, backend_;
};

// table ip mbbench: forward hook, oifname <rx veth> jump rx; rx: rules or
// one set lookup, then drop.
class Nftables : public Filter {
 public:
  Nftables(std::string ns, std::string rxVeth, bool set) : ns_(std::move(ns)), rxVeth_(std::move(rxVeth)), set_(set) {}
  std::string name() const override { return set_ ? "nftables set" : "nftables linear"; }
  void install(const std::vector<Rule>& rules) override {
    std::ostringstream s;
    s << "flush ruleset\ntable ip mbbench {\n";
    if (set_) {
      // Concatenated set with prefixes: the kernel picks its pipapo backend.
      s << "  set allowed {\n    type ipv4_addr . inet_service\n    flags interval\n    elements = {";
      for (size_t i = 0; i < rules.size(); ++i)
        s << (i ? ", " : " ") << rules[i].source << " . " << rules[i].port;
      s << " }\n  }\n";
    }
    s << "  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
      << "    oifname \"" << rxVeth_ << "\" jump rx\n  }\n  chain rx {\n";
    if (set_) {
      s << "    ip saddr . udp dport @allowed accept\n";
    } else {
      for (const auto& r : rules) s << "    ip saddr " << r.source << " udp dport " << r.port << " accept\n";
    }
    s << "    drop\n  }\n}\n";
    std::string text = s.str();
    mustRun(ns_, {tool("nft"), "-f", "-"}, &text);
  }
  void remove() override { Topology::exec(ns_, {tool("nft"), "flush", "ruleset"}); }

 private:
  std::string ns_, rxVeth_;
  bool set_;
};

// A policy selecting the rx pod with N ingress and N egress rules, compiled
// by membranec and applied by the membrane binary at the host-side veths.
class Membrane : public Filter {
 public:
  // emptyConntrack: the variant measured with conntrack emptied before each
  // window (see run()).
  Membrane(Topology& t, e2e::Pod& tx, e2e::Pod& rx, fs::path work, bool emptyConntrack)
      : t_(t), tx_(tx), rx_(rx), work_(std::move(work)), emptyVariant_(emptyConntrack) {
    std::ofstream inv(work_ / "inventory.json");
    inv << R"({"namespaces": [{"name": "bench"}], "endpoints": [)"
        << R"({"name": "tx", "namespace": "bench", "labels": {"app": "tx"}, "addresses": [")" << tx_.address4()
        << R"("]}, {"name": "rx", "namespace": "bench", "labels": {"app": "rx"}, "addresses": [")" << rx_.address4()
        << "\"]}]}\n";
    std::ofstream node(work_ / "node.json");
    node << R"({"host": {"addresses": [")" << Topology::kNode4 << R"("]}, "endpoints": [)"
         << R"({"name": "tx", "namespace": "bench", "interface": ")" << tx_.hostInterface() << R"("}, )"
         << R"({"name": "rx", "namespace": "bench", "interface": ")" << rx_.hostInterface() << "\"}]}\n";
  }
  ~Membrane() override {
    if (applied_) run({"detach"});
    umount2((work_ / "bpf").c_str(), MNT_DETACH);
  }
  std::string name() const override { return emptyVariant_ ? "membrane, conntrack empty" : "membrane"; }
  bool emptyVariant() const { return emptyVariant_; }
  void install(const std::vector<Rule>& rules) override {
    fs::path dir = work_ / ("rules-" + std::to_string(rules.size()));
    fs::create_directories(dir);
    std::ofstream p(dir / "bench.policy");
    p << "namespace bench\n\n# " << rules.size() << " rules per direction, the one the benchmark traffic needs last.\n"
      << "policy rx {\n  selects { app = rx }\n  ingress {\n";
    for (const auto& r : rules) p << "    allow from cidr " << r.source << " on udp/" << r.port << "\n";
    p << "  }\n  egress {\n";
    for (const auto& r : rules) p << "    allow to cidr " << r.source << " on udp/" << r.port << "\n";
    p << "  }\n}\n";
    p.close();
    auto started = std::chrono::steady_clock::now();
    mustRun("", {MEMBRANEC_BIN, "compile", "-q", "-i", (work_ / "inventory.json").string(), "-o",
                 (dir / "out").string(), (dir / "bench.policy").string()});
    double compiled = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    current_ = dir / "out";
    ExecResult r = run({"apply", current_.string(), "--node", (work_ / "node.json").string()});
    if (!r.succeeded()) throw std::runtime_error("membrane apply: " + r.describe());
    applied_ = true;
    std::ostringstream msg;
    msg << "membrane: " << rules.size() << " rules per direction compiled in " << std::fixed << std::setprecision(2)
        << compiled << " s; " << r.err.substr(0, r.err.find('\n'));
    progress(msg.str());
  }
  void remove() override {
    if (applied_) run({"detach"});
    applied_ = false;
  }
  // Detaches and applies the current artifacts again: the maps, conntrack
  // included, start empty.
  void emptyConntrack() {
    ExecResult d = run({"detach"});
    if (!d.succeeded()) throw std::runtime_error("membrane detach: " + d.describe());
    ExecResult r = run({"apply", current_.string(), "--node", (work_ / "node.json").string()});
    if (!r.succeeded()) throw std::runtime_error("membrane apply: " + r.describe());
  }
  // mb_reasons from `membrane status` ("allowed-new 123", ...).
  std::map<std::string, uint64_t> reasons() {
    ExecResult r = run({"status"});
    if (!r.succeeded()) throw std::runtime_error("membrane status: " + r.describe());
    std::map<std::string, uint64_t> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string name, rest;
      uint64_t count = 0;
      if (words >> name >> count && !(words >> rest) && std::isalpha(static_cast<unsigned char>(name[0])))
        out[name] = count;
    }
    return out;
  }

 private:
  ExecResult run(std::vector<std::string> args) {
    std::vector<std::string> argv = {MEMBRANE_BIN, "--netns", t_.hostNamespace(), "--bpffs", (work_ / "bpf").string(),
                                     "--state-dir", (work_ / "state").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Topology::exec("", argv, Millis(120000));
  }
  Topology& t_;
  e2e::Pod& tx_;
  e2e::Pod& rx_;
  fs::path work_;
  fs::path current_;
  bool emptyVariant_;
  bool applied_ = false;
};

// One measurement window.
struct Point {
  double pps = 0;          // received
  double nsPerPacket = 0;  // every thread involved, per packet received
  double senderNs = 0, receiverNs = 0, softirqNs = 0;  // its parts
};

// Medians of a row's windows.
struct Result {
  std::vector<Point> windows;
  Point median() const {
    auto pick = [&](double Point::*f) {
      std::vector<double> v;
      for (const auto& w : windows) v.push_back(w.*f);
      return membrane::bench::median(v);
    };
    return {pick(&Point::pps), pick(&Point::nsPerPacket), pick(&Point::senderNs), pick(&Point::receiverNs),
            pick(&Point::softirqNs)};
  }
};

// How membrane decided the packets of one pattern: by policy (a new flow
// allowed) or by a conntrack hit.
struct ReasonShare {
  uint64_t decided = 0, tracked = 0;
  std::string describe() const {
    uint64_t total = decided + tracked;
    if (!total) return "no packets counted";
    std::ostringstream s;
    s << std::fixed << std::setprecision(decided * 1000 < total && decided ? 2 : 1) << 100.0 * decided / total
      << " % decided by policy (`allowed-new`), " << 100.0 * tracked / total << " % conntrack hits (`established`)";
    return s.str();
  }
};
struct Reasons {
  ReasonShare oneFlow, newFlows;
  // The patterns are what they claim: one flow passes on conntrack hits, a
  // new flow per packet is decided by the policy. "" when that holds.
  std::string check() const {
    uint64_t one = oneFlow.decided + oneFlow.tracked, many = newFlows.decided + newFlows.tracked;
    if (one && oneFlow.tracked < one * 99 / 100) return "one flow: " + oneFlow.describe();
    if (many && newFlows.decided < many * 95 / 100) return "new flow per packet: " + newFlows.describe();
    return "";
  }
};

struct Row {
  std::string filter;
  size_t rules = 0;  // 0: no filter
  Result oneFlow, newFlows;
  std::string check;  // "" or what went wrong verifying the filter
};

struct Settings {
  std::vector<size_t> ruleCounts;
  double windowSeconds;
  int windows;
};

// The node: pods tx and rx, the host namespace routing between them (and
// back to the many-flows sources, for the reverse-path check).
struct Node {
  Topology topology{"mbbt"};
  e2e::Pod* tx = nullptr;
  e2e::Pod* rx = nullptr;
  UdpReceiver receiver, deniedReceiver;
  int senderCpu = 0, receiverCpu = 1;
  uint64_t nextSequence = 0;  // where the next sender starts (see SenderOptions)

  Node() {
    tx = &topology.addPod("tx");
    rx = &topology.addPod("rx");
    topology.up();
    mustRun(topology.hostNamespace(), {"ip", "route", "add", kManyFlowsSourcePrefix, "dev", tx->hostInterface()});
    if (std::thread::hardware_concurrency() < 2) receiverCpu = -1;
    receiver.start({rx->netns(), receiverCpu, kPort, 0});
    deniedReceiver.start({rx->netns(), -1, kDeniedPort, 0});
  }
  ~Node() {
    receiver.stop();
    deniedReceiver.stop();
  }

  // Drives the link with one sender thread; after a warm-up, measures one
  // window.
  Point measure(bool newFlows, double warmupSeconds, double windowSeconds) {
    throwIfInterrupted();
    UdpSender sender;
    SenderOptions o;
    o.netns = tx->netns();
    o.cpu = senderCpu;
    o.source = tx->address4();
    o.destination = rx->address4();
    o.destinationPort = kPort;
    o.newFlowEachPacket = newFlows;
    o.firstSequence = nextSequence;
    sender.start(o);
    // Warm-up: caches, conntrack, the first decision.
    std::this_thread::sleep_for(std::chrono::duration<double>(warmupSeconds));
    auto snap = [&] {
      return std::array<double, 5>{
          std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(),
          static_cast<double>(receiver.received()), static_cast<double>(sender.cpuNanos()),
          static_cast<double>(receiver.cpuNanos()), static_cast<double>(softirqThreadNanos())};
    };
    auto a = snap();
    std::this_thread::sleep_for(std::chrono::duration<double>(windowSeconds));
    auto b = snap();
    sender.stop();
    nextSequence += sender.sent() + sender.sendErrors();
    std::this_thread::sleep_for(100ms);  // let the receiver drain
    double packets = b[1] - a[1];
    double per = packets > 0 ? 1 / packets : 0;
    double senderCpu = (b[2] - a[2]) * per, receiverCpu = (b[3] - a[3]) * per, softirq = (b[4] - a[4]) * per;
    return {packets / (b[0] - a[0]), senderCpu + receiverCpu + softirq, senderCpu, receiverCpu, softirq};
  }

  // Sends `packets` new flows as fast as possible (continuing the cycle).
  void fill(uint64_t packets) {
    UdpSender sender;
    SenderOptions o;
    o.netns = tx->netns();
    o.cpu = senderCpu;
    o.destination = rx->address4();
    o.destinationPort = kPort;
    o.newFlowEachPacket = true;
    o.firstSequence = nextSequence;
    o.maxPackets = packets;
    sender.start(o);
    sender.join();
    nextSequence += packets;
  }

  // Sends to a port no rule allows: a filter must drop all of it, no filter
  // none. Returns "" when that holds.
  std::string checkDenied(bool filtering) {
    uint64_t before = deniedReceiver.received();
    uint64_t sent = sendBurst(tx->netns(), tx->address4(), rx->address4(), kDeniedPort, 200);
    std::this_thread::sleep_for(200ms);
    uint64_t got = deniedReceiver.received() - before;
    if (filtering && got != 0) return std::to_string(got) + " of " + std::to_string(sent) + " denied packets passed";
    if (!filtering && got != sent) return "only " + std::to_string(got) + " of " + std::to_string(sent) + " arrived";
    return "";
  }
};

std::string formatPps(double pps) { return thousands(static_cast<uint64_t>(std::llround(pps))); }
std::string formatNs(double ns) {
  return (ns < 0 ? "-" : "") + thousands(static_cast<uint64_t>(std::llround(std::fabs(ns))));
}
std::string breakdown(const Point& p) {
  return formatPps(p.pps) + " pps, " + formatNs(p.nsPerPacket) + " ns/pkt (sender " + formatNs(p.senderNs) +
         ", receiver " + formatNs(p.receiverNs) + ", ksoftirqd " + formatNs(p.softirqNs) + ")";
}
// Packets/s one core can push through the path: 1 s / the sending core's
// CPU time per packet (the sending thread runs the whole path in softirq).
double perCore(const Point& p) { return p.senderNs + p.softirqNs > 0 ? 1e9 / (p.senderNs + p.softirqNs) : 0; }

const Row* find(const std::vector<Row>& rows, const std::string& filter, size_t rules) {
  for (const auto& r : rows)
    if (r.filter == filter && r.rules == rules) return &r;
  return nullptr;
}

std::string ratio(double a, double b) {
  if (b <= 0) return "∞";
  std::ostringstream s;
  s << std::fixed << std::setprecision(a / b >= 10 ? 0 : 1) << a / b << "×";
  return s.str();
}

struct Pattern {
  const char* name;
  Result Row::*result;
};
const Pattern kPatterns[] = {{"one flow", &Row::oneFlow}, {"new flow per packet", &Row::newFlows}};

void printSection(const std::vector<Row>& rows, const Settings& s, bool quick, const Reasons& reasons) {
  std::cout << "## 2. Real traffic\n\n";
  std::cout
      << "**How measured.** Two pods (network namespaces `tx` and `rx`) joined by veths to a node namespace that "
         "routes between them (`testkit/topology.h`, addresses from 198.18.0.0/15). One sender thread in `tx`, "
         "pinned to CPU 0, writes minimum-size IPv4/UDP packets (46 bytes of IP) with `sendmmsg` on a raw socket as "
         "fast as its core allows; one receiver thread in `rx`, pinned to CPU 1, counts them with `recvmmsg`. "
         "**packets/s** is what the receiver got. On veths the whole path (the sender's stack, the node's "
         "forwarding and filter, delivery to `rx`'s socket) runs as softirq work on top of the sender thread, so "
         "its core is the bottleneck. **CPU ns/packet** is the CPU time of the sender and receiver threads "
         "(scheduler time, which on this kernel, built without `CONFIG_IRQ_TIME_ACCOUNTING`, includes the softirq "
         "work run on top of them) plus that of every `ksoftirqd` thread (softirq work deferred to them), divided "
         "by the packets received. **per core** is 1 s divided by the sending core's part of it (sender thread + "
         "ksoftirqd): the packets/s the path would carry on one core of its own. The machine is shared (2 vCPUs, "
         "other jobs running), so the measured packets/s mostly says how much CPU the sender was given; the CPU "
         "cost per packet, and so *per core*, hardly depends on that, and **the goals are judged on per core**.\n\n"
         "**Where the filters sit.** All of them filter the same packets at the same place: in the node namespace, "
         "on the forwarding path to `rx`. iptables: `FORWARD -o <rx veth> -j MBRX`, MBRX holding the N rules "
         "(`-s CIDR -p udp --dport P -j ACCEPT`) then `DROP`, loaded with `iptables-legacy-restore` (x_tables) or "
         "`iptables-nft-restore` (Debian's default `iptables`: nf_tables rules that test the protocol before the "
         "source, so a rule that does not match runs four expressions where the nftables rule below runs two). "
         "nftables: a "
         "`forward` hook chain, `oifname <rx veth> jump rx`, `rx` holding N rules `ip saddr CIDR udp dport P "
         "accept` then `drop` (linear), or one rule `ip saddr . udp dport @allowed accept` against a set of the N "
         "pairs (`flags interval`, so the kernel's pipapo set). membrane: a policy selecting `rx` with N ingress "
         "rules `allow from cidr CIDR on udp/P` and N egress rules, compiled with `membranec compile` and applied "
         "with `membrane apply`; its ingress program runs at tc (TCX) egress of the node's veth to `rx`, after "
         "forwarding, like the chains above. The rule that allows the traffic (from 198.18.0.0/16 to udp/5201) is "
         "last; the N-1 before it allow 100 other /32 sources on udp/5201, 5202, ..., so up to 100 of them share "
         "its port. No filter has connection tracking of its own here (no conntrack rules); membrane always "
         "tracks.\n\n"
         "**Two traffic patterns.** *One flow*: one 5-tuple for the whole run, a busy long-lived connection. "
         "membrane decides its first packet and passes the rest on a conntrack hit; iptables and nftables "
         "evaluate their rules for every packet. *New flow per packet*: source address from 198.18.64.0/20 and "
         "source port from 256 values, a cycle of 1,048,576 flows, four times membrane's conntrack (LRU, 262,144 "
         "entries), so every packet is decided by the policy and then inserted into conntrack, which membrane's node "
         "filled with 300,000 such flows before its first measurement, so every insert evicts: the worst case "
         "for membrane (a flood of new connections), and for the other filters the same work as one flow. The row "
         "*membrane, conntrack empty* is a second membrane node, applied afresh before each of its windows (0.1 s "
         "warm-up, 0.5 s window: too few flows to fill conntrack): the cost of a decision without eviction.\n\n";
  std::cout << "Each figure is the median of " << s.windows << " window" << (s.windows > 1 ? "s" : "") << " of "
            << s.windowSeconds << " s, each after 0.3 s of warm-up; the filters take turns window by window, so a "
               "busy moment of the machine hits them alike"
            << (quick ? " (`--quick`: 1,000 rules only, one window)" : "") << ".\n\n";
  for (const auto& p : kPatterns) {
    std::cout << "**" << (p.result == &Row::oneFlow ? "One flow" : "New flow per packet") << "**\n\n"
              << "| filter | rules | packets/s | CPU ns/packet | per core (packets/s) | per core vs no filter |\n"
              << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
    const Row* none = find(rows, "none", 0);
    for (const auto& r : rows) {
      if ((r.*(p.result)).windows.empty()) continue;
      Point m = (r.*(p.result)).median();
      std::cout << "| " << r.filter << (r.check.empty() ? "" : " (**check failed: " + r.check + "**)") << " | "
                << (r.rules ? thousands(r.rules) : "-") << " | " << formatPps(m.pps) << " | "
                << formatNs(m.nsPerPacket) << " | " << formatPps(perCore(m)) << " | "
                << (none ? ratio(perCore(m), perCore((none->*(p.result)).median())) : "") << " |\n";
    }
    std::cout << "\n";
  }
  std::cout << "Every filtered row was checked: 200 packets to udp/5999, which no rule allows, all dropped "
               "(and all delivered with no filter). membrane's own counters (`membrane status`, `mb_reasons`) over all "
               "its measurements, warm-ups included: "
            << reasons.oneFlow.describe() << " with one flow, " << reasons.newFlows.describe()
            << " with a new flow per packet"
            << (reasons.check().empty() ? "" : " (**check failed: the patterns are not what they claim**)") << ".\n\n";

  // Goals, at 1,000 rules, on packets/s per core.
  const size_t n = 1000;
  const Row* mb = find(rows, "membrane", n);
  std::cout << "**Goals** (at 1,000 rules, on packets/s per core; the ratio of measured packets/s in brackets):\n\n";
  if (!mb) {
    std::cout << "- not evaluated: membrane was not measured at 1,000 rules.\n";
    return;
  }
  auto judge = [&](const Row* other, double factor) {
    bool first = true;
    for (const auto& p : kPatterns) {
      Point m = (mb->*(p.result)).median(), o = (other->*(p.result)).median();
      std::cout << (first ? "" : "; ") << p.name << ": " << ratio(perCore(m), perCore(o)) << " (" << ratio(m.pps, o.pps)
                << "), " << (perCore(m) >= factor * perCore(o) ? "**met**" : "**not met**");
      first = false;
    }
    std::cout << ".\n";
  };
  for (const char* ipt : {"iptables-nft", "iptables-legacy"})
    if (const Row* ir = find(rows, ipt, n)) {
      std::cout << "- **10× the packets/s of linear " << ipt << "**: ";
      judge(ir, 10);
    }
  if (const Row* set = find(rows, "nftables set", n)) {
    std::cout << "- **On par with an nftables set** (at least 90 %): ";
    judge(set, 0.9);
  }
  if (const Row* mb10k = find(rows, "membrane", 10000)) {
    std::cout << "- For comparison, at 10,000 rules (per core, one flow / new flow per packet):";
    bool first = true;
    for (const char* other : {"iptables-nft", "iptables-legacy", "nftables linear", "nftables set"})
      if (const Row* o = find(rows, other, 10000)) {
        std::cout << (first ? " " : "; ") << ratio(perCore(mb10k->oneFlow.median()), perCore(o->oneFlow.median()))
                  << " / " << ratio(perCore(mb10k->newFlows.median()), perCore(o->newFlows.median())) << " " << other;
        first = false;
      }
    std::cout << ".\n";
  }

  // Causes, from the measured costs.
  const Row* none = find(rows, "none", 0);
  auto extra = [&](const Row* r, Result Row::*p) {
    return none ? 1e9 / perCore((r->*p).median()) - 1e9 / perCore((none->*p).median()) : 0.0;
  };
  std::cout << "\n**Why.** Costs below are the sending core's CPU per packet above the unfiltered path's. ";
  if (const Row* ir = find(rows, "iptables-nft", n)) {
    std::cout << "Linear iptables and nftables rules are evaluated one after the other for every packet: at 1,000 "
                 "rules iptables-nft adds about "
              << formatNs(extra(ir, &Row::oneFlow)) << " ns";
    if (const Row* il = find(rows, "iptables-legacy", n))
      std::cout << ", iptables-legacy about " << formatNs(extra(il, &Row::oneFlow)) << " ns";
    if (const Row* nl = find(rows, "nftables linear", n))
      std::cout << ", nftables about " << formatNs(extra(nl, &Row::oneFlow)) << " ns";
    std::cout << ". ";
  }
  std::cout << "membrane adds about " << formatNs(extra(mb, &Row::oneFlow))
            << " ns on one flow (parse, one conntrack lookup; its rules are not consulted) and about "
            << formatNs(extra(mb, &Row::newFlows))
            << " ns on new flows (parse, a conntrack miss, the identity trie lookup, a binary search on the port, "
               "the entries of that port's leaf, about 100 here, scanned in order with `bpf_loop` since more than "
               "256 rules put a direction in table mode, and a conntrack insert that evicts an LRU entry)";
  if (const Row* empty = find(rows, "membrane, conntrack empty", n))
    std::cout << ". Into an empty conntrack (the row *membrane, conntrack empty*: applied afresh, then "
              << "0.5 s of new flows, too few to fill it) a new flow adds about " << formatNs(extra(empty, &Row::newFlows))
              << " ns: the rest comes from the full conntrack, where every insert evicts an LRU entry and 262,144 entries no "
                 "longer fit in the caches";
  if (const Row* set = find(rows, "nftables set", n))
    std::cout << "; the nftables set adds about " << formatNs(extra(set, &Row::oneFlow))
              << " ns (one pipapo lookup, no state)";
  std::cout << ".";
  if (none) {
    for (const char* ipt : {"iptables-legacy", "iptables-nft"}) {
      const Row* ir = find(rows, ipt, n);
      if (!ir) continue;
      double ceiling = std::min(perCore(none->oneFlow.median()) / perCore(ir->oneFlow.median()),
                                perCore(none->newFlows.median()) / perCore(ir->newFlows.median()));
      if (ceiling < 10)
        std::cout << " The 10× goal against " << ipt << " cannot be met on this path by any filter: even with no "
                  << "filter at all a core carries only " << ratio(ceiling, 1) << " the packets of " << ipt
                  << " at 1,000 rules. Sending, forwarding and delivering a packet between veths costs about "
                  << formatNs(1e9 / perCore(none->oneFlow.median())) << " ns here, " << ipt << "'s 1,000 rules add "
                  << formatNs(extra(ir, &Row::oneFlow)) << " ns, and 10× would need the rules to cost 9× the rest "
                  << "of the path.";
    }
  }
  std::cout << " On this shared machine differences under ~20 % are within the noise.\n";
}

std::unique_ptr<Filter> makeFilter(const std::string& kind, Node& node, const fs::path& work) {
  const std::string host = node.topology.hostNamespace();
  const std::string rxVeth = node.rx->hostInterface();
  if (kind == "iptables-legacy") return std::make_unique<Iptables>(host, rxVeth, "legacy");
  if (kind == "iptables-nft") return std::make_unique<Iptables>(host, rxVeth, "nft");
  if (kind == "nftables linear") return std::make_unique<Nftables>(host, rxVeth, false);
  if (kind == "nftables set") return std::make_unique<Nftables>(host, rxVeth, true);
  if (kind == "membrane" || kind == "membrane, conntrack empty") {
    bool empty = kind != "membrane";
    fs::path dir = work / (empty ? "membrane-empty" : "membrane");
    fs::create_directories(dir);
    return std::make_unique<Membrane>(node.topology, *node.tx, *node.rx, dir, empty);
  }
  return std::make_unique<NoFilter>();
}

int run(bool quick) {
  Settings s;
  if (quick) {
    s = {{1000}, 1.0, 1};
  } else {
    s = {{10, 100, 1000, 10000}, 2.0, 3};
  }

  std::vector<Row> rows;
  Reasons reasons;
  const std::vector<std::string> kinds = {"none",         "iptables-legacy", "iptables-nft",
                                          "nftables linear", "nftables set",  "membrane",
                                          "membrane, conntrack empty"};
  {
    ScratchDir work("membrane-bench-traffic");
    // One node per filter, side by side, so no filter leaves hooks behind for
    // another and windows can alternate between them. Filters go first.
    std::vector<std::unique_ptr<Node>> nodes;
    std::vector<std::unique_ptr<Filter>> filters;
    for (const auto& kind : kinds) {
      nodes.push_back(std::make_unique<Node>());
      filters.push_back(makeFilter(kind, *nodes.back(), work.path()));
    }
    Row none{"none", 0, {}, {}, nodes[0]->checkDenied(false)};
    for (size_t n : s.ruleCounts) {
      std::vector<Row> round;
      for (size_t k = 1; k < kinds.size(); ++k) {
        throwIfInterrupted();
        filters[k]->install(rulesFor(n));
        round.push_back({filters[k]->name(), n, {}, {}, nodes[k]->checkDenied(true)});
        auto* mb = dynamic_cast<Membrane*>(filters[k].get());
        if (mb && !mb->emptyVariant() && nodes[k]->nextSequence < kConntrackFill) {
          // Fill conntrack once, so every measured new flow evicts an entry
          // (versions share the map, so it stays full across rule counts).
          progress("membrane: filling its conntrack with " + thousands(kConntrackFill) + " flows");
          nodes[k]->fill(kConntrackFill);
        }
      }
      for (int w = 0; w < s.windows; ++w) {
        for (size_t k = 0; k < kinds.size(); ++k) {
          Row& row = k == 0 ? none : round[k - 1];
          auto* mb = dynamic_cast<Membrane*>(filters[k].get());
          if (mb && mb->emptyVariant()) {
            // New flows into an empty conntrack: a decision without an LRU
            // eviction. Applied afresh, then short, so the table does not
            // fill up (< 262,144 packets even at 250,000 packets/s).
            mb->emptyConntrack();
            Point point = nodes[k]->measure(true, 0.1, std::min(0.5, s.windowSeconds));
            round[k - 1].newFlows.windows.push_back(point);
            progress(mb->name() + " " + std::to_string(n) + " rules, new flow per packet: " + breakdown(point));
            continue;
          }
          for (const auto& p : kPatterns) {
            std::map<std::string, uint64_t> before;
            if (mb) before = mb->reasons();
            Point point = nodes[k]->measure(p.result == &Row::newFlows, 0.3, s.windowSeconds);
            if (mb) {
              // What decided membrane's packets in this pattern: policy or conntrack.
              auto after = mb->reasons();
              ReasonShare& share = p.result == &Row::newFlows ? reasons.newFlows : reasons.oneFlow;
              share.decided += after["allowed-new"] - before["allowed-new"];
              share.tracked += after["established"] - before["established"];
            }
            (row.*(p.result)).windows.push_back(point);
            progress(row.filter + (k ? " " + std::to_string(n) + " rules" : "") + ", " + p.name + ": " +
                     breakdown(point));
          }
        }
      }
      rows.insert(rows.end(), round.begin(), round.end());
    }
    rows.insert(rows.begin(), none);
    // Grouped by filter, then rules.
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      auto rank = [&](const Row& r) {
        for (size_t k = 0; k < kinds.size(); ++k)
          if (filters[k]->name() == r.filter) return k;
        return kinds.size();
      };
      return rank(a) < rank(b);
    });
    for (auto& f : filters) f->remove();
  }
  printSection(rows, s, quick, reasons);
  if (!reasons.check().empty()) {
    progress("CHECK: membrane's counters contradict the traffic pattern: " + reasons.check());
    return 1;
  }
  for (const auto& r : rows)
    if (!r.check.empty()) return 1;
  return 0;
}

}  // namespace
}  // namespace membrane::bench

int main(int argc, char** argv) {
  using namespace membrane::bench;
  BenchProgram program("bench/traffic", kDescription, kExitCodes);
  if (auto rc = program.parse(argc, argv)) return *rc;
  program.needsRoot("## 2. Real traffic", "network namespaces, iptables, BPF");
  return program.run([&] { return run(program.quick); });
}
