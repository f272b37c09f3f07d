// membrane_demo: the README's main job. Compiles policies/shop with the real
// `membranec`, starts one pod (network namespace) per inventory endpoint,
// applies the artifacts with the real `membrane`, sends real traffic between
// every pair of pods on the ports their services use, and prints which flows
// were allowed or denied and by which rule. Cleans everything up, also on
// failure. Needs root.
//
//   membrane_demo [POLICY_DIR]      (default: policies/shop of the source tree)
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "evaluator/evaluator.h"
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

std::string ruleText(const ir::Program& p, uint32_t id) {
  auto it = p.rules.find(id);
  return it == p.rules.end() ? "" : it->second.policy + ": " + it->second.text;
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

  // 2. Compile with membranec, as a build pipeline would.
  fs::path out = work / "artifacts";
  ExecResult compiled = Topology::exec("", {MEMBRANEC_BIN, "compile", "--inventory", (work / "inventory.json").string(),
                                            "-o", out.string(), policyDir.string()});
  std::cout << "$ membranec compile --inventory inventory.json -o artifacts " << policyDir.string() << "\n"
            << compiled.err;
  if (!compiled.succeeded()) return 1;

  // 3. Apply with membrane, as a node would.
  std::ofstream node(work / "node.json");
  node << R"({"host": {"addresses": [")" << Topology::kNode4 << R"(", ")" << Topology::kNode6 << R"("]}, "endpoints": [)";
  bool first = true;
  for (const auto& [key, pod] : pods) {
    auto slash = key.find('/');
    node << (first ? "" : ", ") << R"({"namespace": ")" << key.substr(0, slash) << R"(", "name": ")"
         << key.substr(slash + 1) << R"(", "interface": ")" << pod->hostInterface() << R"("})";
    first = false;
  }
  node << "]}\n";
  node.close();
  std::vector<std::string> membrane = {MEMBRANE_BIN, "--netns", topo.hostNamespace(), "--bpffs", (work / "bpf").string(),
                                       "--state-dir", (work / "state").string()};
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

  // The evaluator, for "by which rule".
  pipeline::Compilation c;
  pipeline::run({{policyDir.string()}, {(work / "inventory.json").string()}}, c);
  if (!c.ir) return 1;
  const ir::Program& program = *c.ir;

  // 4. Servers on every service port, then every pod to every other pod.
  std::vector<Process> servers;
  for (const auto& [key, pod] : pods) {
    std::string tcp, udp;
    for (const auto& s : services[key]) (s.proto == "tcp" ? tcp : udp) += (s.proto == "tcp" ? tcp : udp).empty() ? std::to_string(s.port) : "," + std::to_string(s.port);
    std::vector<std::string> argv = {proberPath(), "serve"};
    if (!tcp.empty()) argv.insert(argv.end(), {"--tcp", tcp});
    if (!udp.empty()) argv.insert(argv.end(), {"--udp", udp});
    if (tcp.empty() && udp.empty()) continue;
    servers.push_back(pod->spawn(argv));
    servers.back().waitForOutput("ready", Millis(3000));
  }
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
      for (const auto& s : services[dstKey])
        pending.push_back({dstKey, s,
                           srcPod->spawn({proberPath(), "probe", s.proto, dstPod->address4(), std::to_string(s.port),
                                          "--timeout-ms", "500"})});
    }
    for (auto& p : pending) {
      bool passed = p.process.wait(Millis(5000)).exitCode == 0;
      const ir::Endpoint* src = program.findEndpoint(srcKey.substr(0, srcKey.find('/')), srcKey.substr(srcKey.find('/') + 1));
      const ir::Endpoint* dst = program.findEndpoint(p.dstKey.substr(0, p.dstKey.find('/')), p.dstKey.substr(p.dstKey.find('/') + 1));
      ir::FlowVerdict v = ir::evaluateFlow(
          program, {src, *net::Address::parse(srcPod->address4()), false},
          {dst, *net::Address::parse(pods[p.dstKey]->address4()), false},
          {p.service.proto == "tcp" ? ir::kTCP : ir::kUDP, p.service.port});
      (passed ? allowed : denied)++;
      bool agree = passed == v.allowed();
      disagreements += !agree;
      std::printf("%-7s %-26s -> %-26s %s/%-5u %-8s %s%s%s%s\n", passed ? "ALLOW" : "deny", srcKey.c_str(),
                  p.dstKey.c_str(), p.service.proto.c_str(), p.service.port, p.service.name.c_str(),
                  because(program, v.egress, "egress:").c_str(), v.egress && v.ingress ? "; " : "",
                  because(program, v.ingress, "ingress:").c_str(), agree ? "" : "   <-- the evaluator disagrees!");
    }
  }
  ExecResult status = membraneCmd({"status"});
  std::cout << "\n$ membrane status\n" << status.out;
  std::cout << "\n" << allowed << " flows allowed, " << denied << " denied";
  if (disagreements)
    std::cout << "; " << disagreements << " disagree with the reference evaluator\n";
  else
    std::cout << "; every one as the reference evaluator predicts\n";
  std::cout << "cleaning up (detach, delete namespaces)...\n";
  for (auto& s : servers) s.stop(Millis(500));
  return disagreements ? 1 : 0;
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
