// membrane_demo: the README's main job. Compiles policies/shop with the real
// `membranec`, starts one pod (network namespace) per inventory endpoint,
// applies the artifacts with the real `membrane`, sends real traffic between
// every pair of pods on the ports their services use, and prints which flows
// were allowed or denied and by which rule. Where HTTP rules decide each
// request (the shop's frontend -> api), nginx serves the port, and real curl
// requests, allowed and denied, show each request's answer and the rule the
// node counted it against. Where process rules name the program that may
// connect (the shop's api -> database), the pod's service runs as that
// executable in a root directory of its own, and a shell (bash) in the pod
// shows its connect() refused with EPERM. Cleans everything up, also on
// failure. Needs root.
//
//   membrane_demo [POLICY_DIR]      (default: policies/shop of the source tree)
#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "evaluator/evaluator.h"
#include "features/http/http.h"
#include "http_server.h"
#include "pipeline/pipeline.h"
#include "topology.h"

using namespace membrane;
using namespace membrane::e2e;
namespace fs = std::filesystem;

namespace {

struct Service {
  std::string proto;  // tcp, udp
  uint16_t port;
  std::string name;
};

// The rule as written; an http condition's items shortened to "{...}" (the
// HTTP part prints its rule whole).
std::string ruleText(const ir::Program& p, uint32_t id) {
  auto it = p.rules.find(id);
  if (it == p.rules.end()) return "";
  std::string text = it->second.text;
  if (auto at = text.find(" with http {"); at != std::string::npos) text = text.substr(0, at) + " with http {...}";
  return it->second.policy + ": " + text;
}

std::string because(const ir::Program& p, const std::optional<ir::Verdict>& v, const char* side) {
  if (!v) return "";
  switch (v->reason) {
    case ir::Reason::NoPolicy: return std::string(side) + " open";
    case ir::Reason::DefaultDeny: return std::string(side) + " default deny";
    case ir::Reason::UnreadableRequest: return std::string(side) + " not a readable request";
    case ir::Reason::AllowedByRule:
    case ir::Reason::DeniedByRule:
      return std::string(side) + " rule " + std::to_string(v->rule) + " (" + ruleText(p, v->rule) + ")";
  }
  return "";
}

// Requests the HTTP part sends: the shop's api lets the frontend read the
// catalogue and place orders as JSON; the others show what it denies, and
// why (the method, the path, a header, a path that is not canonical).
struct HttpProbe {
  std::string method, path;
  std::vector<std::string> headers;  // "Name: value"
};
const std::vector<HttpProbe> kRequests = {
    {"GET", "/api/v1/products", {}},
    {"GET", "/api/v1/products/42", {}},
    {"POST", "/api/v1/orders", {"Content-Type: application/json"}},
    {"POST", "/api/v1/orders", {"Content-Type: text/plain"}},
    {"DELETE", "/api/v1/products/42", {}},
    {"GET", "/api/v1/products/42/reviews", {}},
    {"GET", "/api/v1/admin/users", {}},
    {"GET", "/api/v1/%70roducts/42", {}},
};

// What the node counts (`membrane status -o json`): packets (and requests)
// per rule, and the socket layer's counters.
struct NodeCounts {
  std::map<uint32_t, int64_t> rules;
  std::map<std::string, int64_t> http;
};

NodeCounts nodeCounts(const ExecResult& status) {
  NodeCounts c;
  auto j = nlohmann::json::parse(status.out, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("membrane status -o json: " + status.describe());
  for (const auto& r : j["rules"]) c.rules[r["id"].get<uint32_t>()] = r["packets"].get<int64_t>();
  for (const auto& [name, n] : j["http"].items()) c.http[name] = n.get<int64_t>();
  return c;
}

// after - before, without the zeros.
template <typename K>
std::map<K, int64_t> grown(const std::map<K, int64_t>& before, const std::map<K, int64_t>& after) {
  std::map<K, int64_t> d;
  for (const auto& [k, n] : after) {
    auto it = before.find(k);
    const int64_t was = it == before.end() ? 0 : it->second;
    if (n != was) d[k] = n - was;
  }
  return d;
}

int run(const fs::path& policyDir) {
  fs::path work = fs::temp_directory_path() / ("membrane-demo-" + std::to_string(getpid()));
  fs::create_directories(work);
  struct Cleanup {
    fs::path work;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(work, ec);
    }
  } cleanup{work};

  // 1. The pods: one per endpoint of the example inventory.
  std::ifstream invIn(policyDir / "inventory.json");
  if (!invIn) {
    std::cerr << "membrane_demo: no inventory.json in " << policyDir << "\n";
    return 2;
  }
  nlohmann::json inventory = nlohmann::json::parse(invIn);
  Topology topo("mbdemo");
  std::map<std::string, Pod*> pods;  // "ns/name"
  std::map<std::string, std::vector<Service>> services;
  for (auto& e : inventory["endpoints"]) {
    std::string key = e["namespace"].get<std::string>() + "/" + e["name"].get<std::string>();
    std::string podName = e["name"].get<std::string>();
    pods[key] = &topo.addPod(podName.substr(0, 20) + "-" + std::to_string(pods.size()));
    for (auto& port : e.value("ports", nlohmann::json::array())) {
      std::string proto = port.value("protocol", "TCP") == "UDP" ? "udp" : "tcp";
      services[key].push_back({proto, port["port"].get<uint16_t>(), port["name"].get<std::string>()});
    }
  }
  std::cout << "starting " << pods.size() << " pods (network namespaces) routed by a node namespace...\n";
  topo.up();
  // The demo's inventory: the example's, with the pods' real addresses.
  for (auto& e : inventory["endpoints"]) {
    Pod* pod = pods[e["namespace"].get<std::string>() + "/" + e["name"].get<std::string>()];
    e["addresses"] = {pod->address4(), pod->address6()};
  }
  std::ofstream(work / "inventory.json") << inventory.dump(2);

  // The evaluator, for "by which rule" and for which ports HTTP rules read.
  pipeline::Compilation c;
  pipeline::run({{policyDir.string()}, {(work / "inventory.json").string()}}, c);
  if (!c.ir) return 1;
  const ir::Program& program = *c.ir;
  auto endpointOf = [&](const std::string& key) {
    return program.findEndpoint(key.substr(0, key.find('/')), key.substr(key.find('/') + 1));
  };
  // A flow's verdict: as packets (no executable), or as a call by
  // `executable` (a path as the policies name it).
  auto flowVerdict = [&](const std::string& srcKey, const std::string& dstKey, const Service& s,
                         std::optional<std::string> executable = std::nullopt) {
    ir::Traffic t(s.proto == "tcp" ? ir::kTCP : ir::kUDP, s.port);
    t.executable = std::move(executable);
    return ir::evaluateFlow(program, {endpointOf(srcKey), *net::Address::parse(pods[srcKey]->address4()), false},
                            {endpointOf(dstKey), *net::Address::parse(pods[dstKey]->address4()), false}, t);
  };
  // Process rules (docs/process.md): a pod whose class names executables
  // runs its service as each of them, in a root directory of its own
  // (NODE.json "root"; the pods share this machine's mount namespace): a
  // copy of the prober under each name. Its probes run as the first.
  std::map<std::string, fs::path> roots;          // ns/name
  std::map<std::string, std::string> serviceExe;  // ns/name → the executable its probes run as
  std::map<std::string, std::string> serviceExePolicy;  // ... as the policies name it
  for (const auto& [key, pod] : pods) {
    const ir::Endpoint* e = endpointOf(key);
    if (!e || !e->classIndex) continue;
    std::set<std::string> executables;
    for (const auto& rule : program.classes.at(*e->classIndex).egress.rules)
      if (const auto* pc = rule.condition<ir::ProcessCondition>())
        executables.insert(pc->executables.begin(), pc->executables.end());
    if (executables.empty()) continue;
    fs::path root = work / "roots" / key;
    for (const auto& exe : executables) {
      fs::create_directories((root / exe.substr(1)).parent_path());
      fs::copy_file(proberPath(), root / exe.substr(1), fs::copy_options::overwrite_existing);
    }
    roots[key] = root;
    serviceExe[key] = (root / executables.begin()->substr(1)).string();
    serviceExePolicy[key] = *executables.begin();
  }
  auto prober = [&](const std::string& key) {
    auto it = serviceExe.find(key);
    return it == serviceExe.end() ? proberPath() : it->second;
  };

  // The ports whose requests the socket layer reads (for some peer): nginx
  // serves them, and the first such flow gets the HTTP requests below.
  std::set<std::pair<std::string, uint16_t>> httpPorts;  // ns/name, port
  std::optional<std::tuple<std::string, std::string, Service>> httpFlow;
  for (const auto& [srcKey, srcPod] : pods)
    for (const auto& [dstKey, dstPod] : pods)
      for (const auto& s : services[dstKey]) {
        if (dstKey == srcKey || s.proto != "tcp") continue;
        ir::FlowVerdict v = flowVerdict(srcKey, dstKey, s);
        if (!v.allowed() || !v.ingress || !v.ingress->inspectsHttp) continue;
        httpPorts.insert({dstKey, s.port});
        if (!httpFlow) httpFlow = {srcKey, dstKey, s};
      }
  if (!httpPorts.empty())
    if (auto why = HttpServer::unavailable()) {
      std::cerr << "membrane_demo: the policies have HTTP rules, which the demo shows with nginx and curl: " << *why
                << " (scripts/setup.sh installs it)\n";
      return 2;
    }

  // 2. Compile with membranec, as a build pipeline would.
  fs::path out = work / "artifacts";
  ExecResult compiled = Topology::exec("", {MEMBRANEC_BIN, "compile", "--inventory", (work / "inventory.json").string(),
                                            "-o", out.string(), policyDir.string()});
  std::cout << "$ membranec compile --inventory inventory.json -o artifacts " << policyDir.string() << "\n"
            << compiled.err;
  if (!compiled.succeeded()) return 1;

  // 3. Servers on every service port: nginx where HTTP rules read the
  // requests, an echo server elsewhere. Started before the policy is
  // applied: nginx's start-up check asks itself for a page, which the api's
  // HTTP rules would deny.
  std::vector<Process> servers;
  std::map<std::pair<std::string, uint16_t>, std::unique_ptr<HttpServer>> webServers;
  for (const auto& [key, pod] : pods) {
    std::string tcp, udp;
    for (const auto& s : services[key]) {
      if (s.proto == "tcp" && httpPorts.count({key, s.port})) {
        webServers[{key, s.port}] = std::make_unique<HttpServer>(
            *pod, HttpServerOptions{.port = s.port, .upstream = {}, .echoPrefixes = {"/api/"}});
        continue;
      }
      std::string& list = s.proto == "tcp" ? tcp : udp;
      list += (list.empty() ? "" : ",") + std::to_string(s.port);
    }
    std::vector<std::string> argv = {proberPath(), "serve"};
    if (!tcp.empty()) argv.insert(argv.end(), {"--tcp", tcp});
    if (!udp.empty()) argv.insert(argv.end(), {"--udp", udp});
    if (tcp.empty() && udp.empty()) continue;
    servers.push_back(pod->spawn(argv));
    servers.back().waitForOutput("ready", Millis(3000));
  }

  // 4. Apply with membrane, as a node would.
  std::ofstream node(work / "node.json");
  node << R"({"host": {"addresses": [")" << Topology::kNode4 << R"(", ")" << Topology::kNode6 << R"("]}, "endpoints": [)";
  bool first = true;
  for (const auto& [key, pod] : pods) {
    auto slash = key.find('/');
    node << (first ? "" : ", ") << R"({"namespace": ")" << key.substr(0, slash) << R"(", "name": ")"
         << key.substr(slash + 1) << R"(", "interface": ")" << pod->hostInterface() << '"';
    // The cgroup, where process rules' programs go; the root they resolve in.
    if (!pod->cgroup().empty()) node << R"(, "cgroup": ")" << pod->cgroup() << '"';
    if (auto r = roots.find(key); r != roots.end()) node << R"(, "root": ")" << r->second.string() << '"';
    node << "}";
    first = false;
  }
  node << "]}\n";
  node.close();
  std::vector<std::string> membrane = {MEMBRANE_BIN, "--netns", topo.hostNamespace(), "--bpffs", (work / "bpf").string(),
                                       "--state-dir", (work / "state").string()};
  // The socket layer watches the pods' processes, not the machine's.
  if (!topo.cgroupDir().empty()) membrane.insert(membrane.end(), {"--cgroup-root", topo.cgroupDir()});
  auto membraneCmd = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = membrane;
    argv.insert(argv.end(), args.begin(), args.end());
    return Topology::exec("", argv, Millis(60000));
  };
  ExecResult applied = membraneCmd({"apply", out.string(), "--node", (work / "node.json").string()});
  std::cout << "$ membrane apply artifacts --node node.json\n" << applied.err;
  struct Detach {
    std::function<void()> fn;
    ~Detach() { fn(); }
  } detach{[&] {
    membraneCmd({"detach"});
    umount2((work / "bpf").c_str(), MNT_DETACH);
  }};
  if (!applied.succeeded()) return 1;

  // 5. Every pod to every other pod.
  std::cout << "\nprobing every pod from every other pod on the ports its services listen on (IPv4)...\n\n";
  size_t allowed = 0, denied = 0, disagreements = 0;
  for (const auto& [srcKey, srcPod] : pods) {
    struct Pending {
      std::string dstKey;
      Service service;
      Process process;
    };
    std::vector<Pending> pending;
    for (const auto& [dstKey, dstPod] : pods) {
      if (dstKey == srcKey) continue;
      for (const auto& s : services[dstKey]) {
        std::vector<std::string> argv = {prober(srcKey), "probe", s.proto, dstPod->address4(), std::to_string(s.port),
                                         "--timeout-ms", "500"};
        // nginx echoes nothing: a connection to it is the probe.
        if (s.proto == "tcp" && httpPorts.count({dstKey, s.port})) argv.push_back("--connect-only");
        pending.push_back({dstKey, s, srcPod->spawn(argv)});
      }
    }
    for (auto& p : pending) {
      bool passed = p.process.wait(Millis(5000)).exitCode == 0;
      // The probe is a call by the pod's service (its executable, if its
      // process rules name one); `asPackets` tells what the rules leave to
      // the executable.
      std::optional<std::string> exe;
      if (auto it = serviceExePolicy.find(srcKey); it != serviceExePolicy.end()) exe = it->second;
      ir::FlowVerdict v = flowVerdict(srcKey, p.dstKey, p.service, exe);
      ir::FlowVerdict asPackets = flowVerdict(srcKey, p.dstKey, p.service);
      (passed ? allowed : denied)++;
      bool agree = passed == v.allowed();
      disagreements += !agree;
      std::printf("%-7s %-26s -> %-26s %s/%-5u %-8s %s%s%s%s%s\n", passed ? "ALLOW" : "deny", srcKey.c_str(),
                  p.dstKey.c_str(), p.service.proto.c_str(), p.service.port, p.service.name.c_str(),
                  because(program, v.egress, "egress:").c_str(), v.egress && v.ingress ? "; " : "",
                  because(program, v.ingress, "ingress:").c_str(),
                  v.ingress && v.ingress->inspectsHttp ? "; each request decided on its own"
                  : asPackets.egress && asPackets.egress->needsProcess ? "; only for the program the rule names"
                                                                       : "",
                  agree ? "" : "   <-- the evaluator disagrees!");
    }
  }
  std::cout << "\n" << allowed << " flows allowed, " << denied << " denied";
  if (disagreements)
    std::cout << "; " << disagreements << " disagree with the reference evaluator\n";
  else
    std::cout << "; every one as the reference evaluator predicts\n";

  // 5b. Process rules: a shell in a pod whose rules name its service's
  // program tries a flow only that program may open. bash's connect()
  // fails with EPERM, and the node reports who tried.
  for (const auto& [srcKey, policyExe] : serviceExePolicy) {
    std::optional<std::pair<std::string, Service>> target;
    for (const auto& [dstKey, dstPod] : pods)
      for (const auto& s : services[dstKey]) {
        ir::FlowVerdict packets = flowVerdict(srcKey, dstKey, s);
        if (!target && s.proto == "tcp" && packets.allowed() && packets.egress && packets.egress->needsProcess)
          target = {dstKey, s};
      }
    if (!target) continue;
    const auto& [dstKey, service] = *target;
    std::error_code ec;
    std::string bash = fs::canonical("/usr/bin/bash", ec).string();
    ir::FlowVerdict v = flowVerdict(srcKey, dstKey, service, bash);
    std::string address = pods[dstKey]->address4() + "/" + std::to_string(service.port);
    std::cout << "\na shell in " << srcKey << " (bash, not " << policyExe << ") tries " << dstKey << " on tcp/"
              << service.port << ":\n$ bash -c 'true 3<>/dev/tcp/" << address << "'\n";
    // The node's report: the next event after the attempt (the probes are over).
    Process events = Topology::spawn("", [&] {
      std::vector<std::string> argv = membrane;
      argv.insert(argv.end(), {"events", "--timeout", "10", "--count", "1"});
      return argv;
    }());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // events skips what came before it started
    ExecResult tried = pods[srcKey]->exec({"bash", "-c", "true 3<>/dev/tcp/" + address + " && echo connected"});
    std::cout << tried.out << tried.err;
    ExecResult seen = events.wait(Millis(15000));
    std::cout << "$ membrane events\n" << seen.out;
    bool refused = tried.err.find("Operation not permitted") != std::string::npos;
    // The event names the executable by path while the process lives
    // (/proc/PID/exe), by device:inode once it has exited; its command
    // ("(pid N, bash)") either way.
    bool reported = seen.out.find("process-deny") != std::string::npos &&
                    seen.out.find(", bash)") != std::string::npos;
    if (refused != !v.allowed() || !reported) {
      std::cout << "  " << (refused ? "refused" : "not refused") << ", " << (reported ? "reported" : "not reported")
                << "; the evaluator " << (v.allowed() ? "allows" : "refuses") << " it   <-- disagreement!\n";
      ++disagreements;
    } else {
      std::cout << "refused with EPERM and reported, as the reference evaluator predicts (" << policyExe
                << " made every probe above)\n";
    }
    break;  // one pod shows it
  }

  // 6. HTTP requests where the HTTP rules decide each one: curl in the
  // source pod, nginx in the destination. The deciding rule is the one the
  // node counted the request against: each request goes on a connection of
  // its own, and a connection alone (no request) is counted once first, so
  // what a request adds beyond that is its own decision.
  size_t requestDisagreements = 0;
  if (httpFlow) {
    const auto& [srcKey, dstKey, service] = *httpFlow;
    Pod* srcPod = pods[srcKey];
    Pod* dstPod = pods[dstKey];
    HttpServer& web = *webServers.at({dstKey, service.port});
    std::cout << "\nHTTP requests from " << srcKey << " (curl) to " << dstKey << " (nginx) on tcp/" << service.port
              << ", each decided on the server's socket:\n";
    if (auto it = program.rules.find(flowVerdict(srcKey, dstKey, service).ingress->rule); it != program.rules.end())
      std::cout << "  rule " << it->first << " " << it->second.policy << ": " << it->second.text << "\n";
    auto counts = [&] { return nodeCounts(membraneCmd({"status", "-o", "json"})); };
    NodeCounts before = counts();
    ExecResult connected = srcPod->exec(
        {proberPath(), "probe", "tcp", dstPod->address4(), std::to_string(service.port), "--connect-only"});
    std::map<uint32_t, int64_t> perConnection = grown(before.rules, counts().rules);
    if (!connected.succeeded()) {
      std::cout << "  the connection alone failed: " << connected.describe() << "   <-- the evaluator disagrees!\n";
      ++requestDisagreements;
    }
    // The node's own report of each denial, printed after the table.
    Process events = Topology::spawn("", [&] {
      std::vector<std::string> argv = membrane;
      argv.insert(argv.end(), {"events", "--timeout", "60"});
      return argv;
    }());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // events skips what came before it started
    std::cout << "\n";
    // What `membrane events` must show of each denial: "METHOD path" for a
    // request a rule denied, why for bytes that were not a readable request.
    std::vector<std::string> deniedRequests;
    for (const auto& r : kRequests) {
      NodeCounts at = counts();
      size_t logged = web.requests().size();
      std::vector<std::string> argv = {"curl", "-s", "--max-time", "3", "-o", "/dev/null",
                                       "-w", "%{http_code}", "-X", r.method};
      for (const auto& h : r.headers) argv.insert(argv.end(), {"-H", h});
      if (r.method == "POST") argv.insert(argv.end(), {"--data", "{}"});
      argv.push_back(web.url(r.path));
      ExecResult sent = srcPod->exec(argv, Millis(10000));
      NodeCounts after = counts();
      const int code = std::atoi(sent.out.c_str());
      const bool reached = web.requests().size() > logged;

      // What the node counted: the socket layer's counters, and the rule
      // beyond what the connection itself counts.
      std::string counted;
      for (const auto& [name, n] : grown(at.http, after.http))
        if (name.rfind("http-", 0) == 0 && name != "http-body-bytes" && name != "http-discarded")
          counted += (counted.empty() ? "" : ", ") + name;
      std::map<uint32_t, int64_t> ruleGrowth = grown(at.rules, after.rules);
      for (const auto& [id, n] : perConnection)
        if ((ruleGrowth[id] -= n) == 0) ruleGrowth.erase(id);
      std::optional<uint32_t> nodeRule;
      if (ruleGrowth.size() == 1 && ruleGrowth.begin()->second == 1) nodeRule = ruleGrowth.begin()->first;

      // The evaluator's verdict on the request as curl sends it.
      std::string bytes = r.method + " " + r.path + " HTTP/1.1\r\nHost: " + dstPod->address4() + ":" +
                          std::to_string(service.port) + "\r\n";
      for (const auto& h : r.headers) bytes += h + "\r\n";
      if (r.method == "POST") bytes += "Content-Length: 2\r\n";
      bytes += "\r\n";
      ir::Traffic t(ir::kTCP, service.port);
      t.http = features::http::readRequest(bytes);
      const ir::Endpoint* dst = endpointOf(dstKey);
      ir::Peer peer = ir::Peer::endpoint(program.identity(endpointOf(srcKey)->identity),
                                         *net::Address::parse(srcPod->address4()));
      ir::Verdict v = ir::evaluate(program, *dst, ir::Direction::Ingress, peer, t);
      const bool unreadable = v.reason == ir::Reason::UnreadableRequest;
      bool agree = reached == v.allowed && (unreadable ? ruleGrowth.empty() : nodeRule && *nodeRule == v.rule);
      requestDisagreements += !agree;
      if (!v.allowed) deniedRequests.push_back(unreadable ? "not a readable request" : r.method + " " + r.path + "  ");

      std::string request = r.method + " " + r.path;
      for (const auto& h : r.headers) request += " (" + h + ")";
      std::string outcome =
          code == 0 ? "no answer" : std::to_string(code) + (reached ? " from nginx" : " from the datapath");
      std::string rule;
      if (!nodeRule)
        rule = ruleGrowth.empty() ? "no rule: not a readable request" : "rules counted: ?";
      else
        rule = "rule " + std::to_string(*nodeRule) + " " + (*nodeRule ? ruleText(program, *nodeRule) : "default deny");
      std::printf("%-7s %-55s %-21s %-12s %s%s\n", reached ? "ALLOW" : "deny", request.c_str(), outcome.c_str(),
                  counted.c_str(), rule.c_str(), agree ? "" : "   <-- the evaluator disagrees!");
    }
    events.signal(SIGINT);
    ExecResult seen = events.wait(Millis(5000));
    std::cout << "\n$ membrane events   (while the requests ran: the node's report of each denial)\n" << seen.out;
    for (const auto& d : deniedRequests)
      if (seen.out.find(d) == std::string::npos) {
        std::cout << "  no event names the denied request " << d << "   <-- the node did not report it!\n";
        ++requestDisagreements;
      }
    std::cout << "\n" << kRequests.size() << " requests sent; "
              << (requestDisagreements
                      ? std::to_string(requestDisagreements) + " disagree with the reference evaluator\n"
                      : "every one answered and counted as the reference evaluator predicts\n");
  }

  ExecResult status = membraneCmd({"status"});
  std::cout << "\n$ membrane status\n" << status.out;
  std::cout << "cleaning up (detach, delete namespaces)...\n";
  for (auto& s : servers) s.stop(Millis(500));
  webServers.clear();
  return disagreements || requestDisagreements ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cerr << "membrane_demo: needs root (network namespaces, BPF)\n";
    return 2;
  }
  fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::path(MEMBRANE_SOURCE_DIR "/policies/shop");
  try {
    return run(dir);
  } catch (const std::exception& e) {
    std::cerr << "membrane_demo: " << e.what() << "\n";
    return 1;
  }
}
