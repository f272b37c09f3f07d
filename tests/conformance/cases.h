// The NetworkPolicy conformance suite's data: the shared topology
// (topology.yaml) and the cases (cases/*.yaml), each a list of steps with the
// manifests in force and the reachability Kubernetes prescribes. Both runners
// (the IR evaluator's and real traffic's) read them through this file; the
// format is described in README.md.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace membrane::conformance {

// Any problem with a case or the topology file: file, and what is wrong.
struct CaseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TopologyPod {
  std::string ns, name;
  std::string ipv4, ipv6;  // from status.podIPs (status.podIP for IPv4)
  std::string key() const { return ns + "/" + name; }
};

// The pods of topology.yaml, in file order (= the order the real-traffic
// topology adds them, which is what gives them these addresses).
struct Topology {
  std::string path;
  std::vector<TopologyPod> pods;
  std::vector<YAML::Node> objects;  // every document of the file, in order
  std::vector<std::string> keys;    // objectKey() of each
  static Topology load(const std::string& path);
  // Index of "ns/name", or -1.
  int indexOf(const std::string& key) const;
};

enum class Protocol : uint8_t { TCP = 6, UDP = 17, SCTP = 132 };
const char* protocolName(Protocol p);  // "tcp", "udp", "sctp"

struct PortProtocol {
  Protocol protocol = Protocol::TCP;
  uint16_t port = 0;
  std::string str() const;  // "tcp/80"
  friend bool operator==(const PortProtocol&, const PortProtocol&) = default;
};

// The ports probed unless a case lists its own: 80 and 81 on TCP, UDP, SCTP.
std::vector<PortProtocol> defaultPorts();

enum class Family { IPv4, IPv6 };

// Expected reachability of every (from, to, port) cell of one step.
class Reachability {
 public:
  Reachability() = default;
  Reachability(size_t pods, size_t ports, bool initial)
      : pods_(pods), ports_(ports), cells_(pods * pods * ports, initial) {}
  bool at(size_t from, size_t to, size_t port) const { return cells_[(from * pods_ + to) * ports_ + port]; }
  void set(size_t from, size_t to, size_t port, bool v) { cells_[(from * pods_ + to) * ports_ + port] = v; }
  size_t pods() const { return pods_; }
  size_t ports() const { return ports_; }

 private:
  size_t pods_ = 0, ports_ = 0;
  std::vector<bool> cells_;
};

struct Step {
  std::string name;                  // "step 1" unless named
  // Every object the case has applied and not removed, in first-applied
  // order: policies, and relabelled topology Namespaces and Pods.
  std::vector<YAML::Node> manifests;
  Reachability expected;
};

struct Case {
  std::string name;  // file name without .yaml
  std::string path;
  std::string description;
  std::string upstream;  // the upstream e2e test it follows, if any
  Family family = Family::IPv4;
  std::vector<PortProtocol> ports;
  std::vector<Step> steps;

  static Case load(const std::string& path, const Topology& topology);
};

// "Kind namespace/name", or "Kind name" for objects without a namespace.
// Throws CaseError (naming `path`) when kind or metadata.name is missing.
std::string objectKey(const YAML::Node& object, const std::string& path);

// What the front end reads for a step: the topology's objects, those the
// step relabels with the step's labels, then the step's other objects.
std::vector<YAML::Node> stepInput(const Topology& topology, const Step& step);

// Every cases/*.yaml under `dir`, sorted by name.
std::vector<std::string> caseFiles(const std::string& dir);
// The same for a runner's test list: empty when the directory cannot be
// read (each runner has a test that fails on too few cases).
std::vector<std::string> caseFilesOrNone(const std::string& dir);
// A test name for a case file: its stem, other characters than letters and
// digits as '_'.
std::string caseTestName(const std::string& path);

// Writes `manifests` as one multi-document YAML file, strings quoted so that
// kubectl's YAML 1.1 reads the types the case files mean.
void writeManifests(const std::string& path, const std::vector<YAML::Node>& manifests);

// An upstream-style truth table for one port: rows are sources, columns
// destinations, "." reachable, "X" blocked. With `other`, cells where the
// two differ are marked: "!" where `expected` says reachable and `other`
// blocked, "#" where `expected` blocks and `other` reaches; `skip` cells
// (not checked) are "-".
std::string renderMatrix(const Topology& topology, const Reachability& expected, size_t port,
                         const Reachability* other = nullptr, const Reachability* skip = nullptr);

}  // namespace membrane::conformance
