// The node loader (loader.h). `apply` runs in stages, each a function below:
//   recoverInterrupted  finish or undo what a killed apply left (pending.json)
//   verifyArtifacts     the manifest (format, consistency, ABI), objects, kernel features
//   planEndpoints       NODE.json's endpoints -> classes, ids, hooks, dispatch, trie entries
//   loadPrograms        bpffs, the node's dispatchers, one load per class (or endpoint), maps pinned
//   fillTrie            this version's identity trie (and owned addresses)
//   fillSlot            this version into the slot packets do not follow (and mb_endpoints)
//   attachAll           attach or swap every hook (undone by Attachments::rollback)
//   checkAttached       read every hook back from the kernel
//   the flip            dispatch::activate: one map update moves the node to this version
//   finishApply         write the state, detach what is no longer wanted, drop old versions
// Nothing before the flip changes what dispatched hooks run; pending.json
// says what is under way; all of it holds the node lock.
#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <thread>
#include <tuple>

#include "abi/datapath.h"
#include "identity/identity_table.h"
#include "io/file.h"
#include "io/json.h"
#include "loader/kernel.h"
#include "libbpf/libbpf_log.h"
#include "loader/attach.h"
#include "loader/dispatch.h"
#include "loader/endpoint_map.h"
#include "loader/executables.h"
#include "loader/identity_maps.h"
#include "loader/lock.h"
#include "loader/object_config.h"
#include "loader/pins.h"
#include "loader/sockets.h"
#include "loader/reasons.h"

namespace membrane::loader {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Caps on what the node reads (io::readRegularFile): far above real inputs
// (a 10,000-rule class is 804 KB, its manifest a few MB).
constexpr size_t kMaxManifestBytes = 64 * io::kMiB;
constexpr size_t kMaxObjectBytes = 64 * io::kMiB;
constexpr size_t kMaxStateBytes = 64 * io::kMiB;

// ---- small helpers ---------------------------------------------------------

bool writeFileAtomically(const fs::path& p, const std::string& data, std::string* error) {
  return io::writeFileAtomically(p.string(), data, error);
}

// One hook of a planned endpoint: a program its class's manifest entry
// lists, and how that program's kind attaches (attach.h).
struct Hook {
  std::string name;     // the manifest's hook: in pin names, the state and status
  std::string program;  // in the class object
  const AttachPoint* point = nullptr;
  bool ingress = false;  // kernel hook direction (tc: of the host-side veth)
  int cgroupAttachType = -1;  // enum bpf_attach_type of a cgroup hook
  bool tc() const { return point->target == AttachTarget::Interface; }
};

// A class's L7 ports by direction, one by one (the manifest's
// classes[].l7 gives ranges): the ports whose sockets the socket layer
// polices for the class's endpoints.
struct L7PortList {
  std::vector<uint16_t> ingress, egress;
};
L7PortList classL7Ports(const artifacts::ClassEntry& cls) {
  L7PortList out;
  auto expand = [](const std::vector<artifacts::PortSpan>& spans, std::vector<uint16_t>& ports) {
    for (const auto& s : spans)
      for (uint32_t p = s.first; p <= s.last; ++p) ports.push_back(static_cast<uint16_t>(p));
  };
  expand(cls.l7.httpIngress, out.ingress);
  expand(cls.l7.httpEgress, out.egress);
  return out;
}

std::string linkPin(const Paths& paths, const std::string& ns, const std::string& name, const std::string& hook) {
  return paths.bpffsRoot + "/links/" + linkPinName(ns, name, hook);
}

std::string identityPin(const Paths& paths, const std::string& version) {
  return paths.bpffsRoot + "/versions/" + version + "/mb_identity";
}

// The version's peer bits past the trie value's (mb_more_peer_bits): what
// the bits mean is the version's, like the trie's.
std::string morePeerBitsPin(const Paths& paths, const std::string& version) {
  return paths.bpffsRoot + "/versions/" + version + "/mb_more_peer_bits";
}

// A version's rule counters: its rule ids mean nothing in another compile,
// so each version counts in its own map, sized by its rules, and the map
// goes with the version.
std::string ruleStatsPin(const Paths& paths, const std::string& version) {
  return paths.bpffsRoot + "/versions/" + version + "/mb_rule_stats";
}

std::string commandFor(const Paths& paths, const char* operation) {
  return paths.command.empty() ? operation : paths.command;
}

std::optional<NodeLock> lockNode(const Paths& paths, const char* operation, std::string* error) {
  return NodeLock::acquire(paths.stateDir, commandFor(paths, operation), paths.lockTimeout, paths.onLockWait, error);
}

// ---- state
// -------------------------------------------------------------------

// The program apply attached at a hook, to compare with what runs there later.
struct HookRecord {
  uint32_t id = 0;
  std::string tag;
};

struct EndpointState {
  std::string key, ns, name;
  uint32_t id = 0;
  std::optional<uint32_t> classId;
  std::string interface, cgroup;
  std::vector<std::string> hooks;              // attached hooks
  std::string mode = "link";                   // "link" (TCX or cgroup, pinned) or "tc" (cls_bpf)
  std::map<std::string, HookRecord> programs;  // hook → what apply attached
  std::optional<uint32_t> l7Slot;              // the socket layer's slot (sockets.h), if its class has L7 rules
  // Its load's index in the dispatchers' prog arrays, when its packet hooks
  // run the node's dispatchers (dispatch.h); `programs` then names the class
  // programs they hand its packets to.
  std::optional<uint32_t> load;
  // An endpoint NODE.json gave labels (learned after the compile): its
  // labels, addresses and named ports, as the trie and the cluster agent
  // need them; unset for one the manifest knows.
  std::optional<labels::LabelSet> labels;
  std::vector<net::Address> addresses;
  std::vector<labels::NamedPort> ports;
  std::string root = "/";  // NODE.json's, for process rules' executables
  bool dispatched(const std::string& hook) const { return load && dispatch::forHook(hook); }
  NodeEndpoint asLearned() const {
    NodeEndpoint e;
    e.name = name;
    e.ns = ns;
    e.labels = labels;
    e.addresses = addresses;
    e.ports = ports;
    return e;
  }
  std::string pin(const Paths& paths, const std::string& hook) const { return linkPin(paths, ns, name, hook); }
};

json learnedJson(const NodeEndpoint& l) {
  json addrs = json::array();
  for (const auto& a : l.addresses) addrs.push_back(a.str());
  return {{"name", l.name}, {"namespace", l.ns}, {"labels", *l.labels}, {"addresses", addrs}, {"ports", l.ports}};
}

struct State {
  std::string version;
  std::string artifactDir;
  std::vector<EndpointState> endpoints;
  std::vector<NodeEndpoint> learned;  // endpoint add
  std::vector<NodeEndpoint> peers;    // NODE.json's
  std::vector<ClusterEndpoint> cluster;  // other nodes' endpoints, from the cluster agent
  std::vector<net::Address> host;
  uint32_t loads = 0;  // loads this version holds in the active slot's prog arrays
  // False for a state.json written before states recorded NODE.json's peers
  // and learned endpoints' labels: the trie then has entries this state
  // cannot recompute, so rewriting it only adds and updates until the next
  // apply.
  bool complete = true;

  // Who the trie knows besides the manifest's inventory and the cluster's
  // endpoints, in apply's order: NODE.json's learned local endpoints, its
  // peers, then those of `endpoint add`.
  std::vector<NodeEndpoint> knownHere() const {
    std::vector<NodeEndpoint> out;
    for (const auto& e : endpoints)
      if (e.labels) out.push_back(e.asLearned());
    out.insert(out.end(), peers.begin(), peers.end());
    out.insert(out.end(), learned.begin(), learned.end());
    return out;
  }

  json toJson() const {
    json j = {{"version", version},
              {"artifactDir", artifactDir},
              {"loads", loads},
              {"endpoints", json::array()},
              {"learned", json::array()},
              {"peers", json::array()},
              {"host", json::array()}};
    for (const auto& e : endpoints) {
      json programs = json::object();
      for (const auto& [hook, p] : e.programs) programs[hook] = {{"id", p.id}, {"tag", p.tag}};
      j["endpoints"].push_back({{"key", e.key},
                                {"namespace", e.ns},
                                {"name", e.name},
                                {"id", e.id},
                                {"class", e.classId ? json(*e.classId) : json(nullptr)},
                                {"interface", e.interface},
                                {"cgroup", e.cgroup},
                                {"hooks", e.hooks},
                                {"mode", e.mode},
                                {"programs", programs},
                                {"l7Slot", e.l7Slot ? json(*e.l7Slot) : json(nullptr)},
                                {"load", e.load ? json(*e.load) : json(nullptr)},
                                {"root", e.root}});
      if (e.labels) j["endpoints"].back()["learned"] = learnedJson(e.asLearned());
    }
    for (const auto& l : learned) j["learned"].push_back(learnedJson(l));
    for (const auto& p : peers) j["peers"].push_back(learnedJson(p));
    for (const auto& a : host) j["host"].push_back(a.str());
    return j;
  }

  // cluster.json: the cluster agent's endpoints, apart from state.json so
  // that its updates (many a second under churn) neither rewrite nor
  // re-read what this node enforces.
  static fs::path clusterPath(const Paths& paths) { return fs::path(paths.stateDir) / "cluster.json"; }
  static json clusterJson(const std::vector<ClusterEndpoint>& cluster) {
    json j = json::array();
    for (const auto& c : cluster) {
      j.push_back(learnedJson(c.endpoint));
      j.back()["node"] = c.node;
      j.back()["revision"] = c.revision;
    }
    return j;
  }
  static bool writeCluster(const Paths& paths, const std::vector<ClusterEndpoint>& cluster, std::string* error) {
    return writeFileAtomically(clusterPath(paths), clusterJson(cluster).dump() + "\n", error);
  }

  // nullopt with `error` empty: nothing applied (no state.json); with
  // `error` set: a state.json that cannot be read.
  // Without `withCluster`, cluster.json is not read (for a caller that
  // replaces the cluster's endpoints).
  static std::optional<State> load(const Paths& paths, std::string* error, bool withCluster = true) {
    if (error) error->clear();
    std::string path = (fs::path(paths.stateDir) / "state.json").string();
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec))) return std::nullopt;
    std::string why;
    auto text = io::readRegularFile(path, kMaxStateBytes, "state.json", &why);
    std::optional<io::JsonDocument> doc;
    if (text) doc = io::parseJsonStrictly(*text, &why);
    if (!doc) {
      if (error) *error = "unreadable state: " + (text ? path + ":" : "") + why;
      return std::nullopt;
    }
    auto s = fromJson(doc->value, path, error);
    if (!s || !withCluster) return s;
    // The cluster's endpoints from cluster.json (a state.json from before
    // it holds them itself).
    if (!fs::exists(fs::symlink_status(clusterPath(paths), ec))) return s;
    auto cluster = loadCluster(paths, error);
    if (!cluster) return std::nullopt;
    s->cluster = std::move(*cluster);
    return s;
  }

  // cluster.json alone: none when there is no such file. It outlives a
  // detach (the agent's, not an apply's), so the next apply starts with
  // the cluster's endpoints rather than until the next change in etcd.
  static std::optional<std::vector<ClusterEndpoint>> loadCluster(const Paths& paths, std::string* error) {
    std::string path = clusterPath(paths).string();
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec))) return std::vector<ClusterEndpoint>{};
    // Read plainly, not strictly: membrane writes it, from records the agent
    // read strictly from etcd, and every join reads it (hundreds of
    // records on a cluster).
    std::string why;
    auto text = io::readRegularFile(path, kMaxStateBytes, "cluster.json", &why);
    try {
      if (!text) throw std::runtime_error(why);
      return clusterFromJson(json::parse(*text));
    } catch (const std::exception& e) {
      if (error) *error = "unreadable state: " + path + ": " + e.what();
      return std::nullopt;
    }
  }

  static NodeEndpoint learnedFrom(const json& l) {
    NodeEndpoint ne;
    ne.name = l.at("name");
    ne.ns = l.at("namespace");
    ne.labels = l.at("labels").get<labels::LabelSet>();
    for (const auto& a : l.at("addresses")) {
      auto parsed = net::Address::parse(a.get<std::string>());
      if (!parsed) throw std::runtime_error("'" + a.get<std::string>() + "' is not an IP address");
      ne.addresses.push_back(*parsed);
    }
    ne.ports = l.value("ports", json::array()).get<std::vector<labels::NamedPort>>();
    return ne;
  }

  static std::vector<ClusterEndpoint> clusterFromJson(const json& j) {
    std::vector<ClusterEndpoint> out;
    for (const auto& c : j) {
      ClusterEndpoint ce;
      ce.endpoint = learnedFrom(c);
      ce.node = c.at("node");
      ce.revision = c.value("revision", int64_t{0});
      out.push_back(ce);
    }
    return out;
  }

  // A state from its JSON (read strictly by the caller); `path` names it in
  // errors.
  static std::optional<State> fromJson(const json& j, const std::string& path, std::string* error) {
    auto address = [](const json& a) {
      auto parsed = net::Address::parse(a.get<std::string>());
      if (!parsed) throw std::runtime_error("'" + a.get<std::string>() + "' is not an IP address");
      return *parsed;
    };
    auto u32 = [](const json& v) {
      auto n = io::integerIn<uint32_t>(v);
      if (!n) throw std::runtime_error(v.dump() + " is not a 32-bit id");
      return *n;
    };
    try {
      State s;
      s.version = j.at("version");
      s.artifactDir = j.at("artifactDir");
      if (j.contains("loads")) s.loads = u32(j.at("loads"));
      for (const auto& e : j.at("endpoints")) {
        EndpointState es;
        es.key = e.at("key");
        // Older states have only the key; namespaces hold no '/'.
        auto slash = es.key.find('/');
        es.ns = e.value("namespace", es.key.substr(0, slash));
        es.name = e.value("name", slash == std::string::npos ? es.key : es.key.substr(slash + 1));
        es.id = u32(e.at("id"));
        if (!e.at("class").is_null()) es.classId = u32(e.at("class"));
        es.interface = e.at("interface");
        es.cgroup = e.at("cgroup");
        es.hooks = e.at("hooks").get<std::vector<std::string>>();
        es.mode = e.value("mode", "link");
        if (e.contains("programs"))
          for (const auto& [hook, p] : e.at("programs").items())
            es.programs[hook] = {u32(p.at("id")), p.at("tag").get<std::string>()};
        if (e.contains("l7Slot") && !e.at("l7Slot").is_null()) es.l7Slot = u32(e.at("l7Slot"));
        if (e.contains("load") && !e.at("load").is_null()) es.load = u32(e.at("load"));
        es.root = e.value("root", std::string("/"));
        s.endpoints.push_back(es);
      }
      for (size_t i = 0; i < s.endpoints.size(); ++i)
        if (const json& e = j.at("endpoints")[i]; e.contains("learned")) {
          NodeEndpoint ne = learnedFrom(e.at("learned"));
          s.endpoints[i].labels = ne.labels;
          s.endpoints[i].addresses = ne.addresses;
          s.endpoints[i].ports = ne.ports;
        }
      for (const auto& l : j.at("learned")) s.learned.push_back(learnedFrom(l));
      s.complete = j.contains("peers");
      if (j.contains("peers"))
        for (const auto& p : j.at("peers")) s.peers.push_back(learnedFrom(p));
      if (j.contains("cluster")) s.cluster = clusterFromJson(j.at("cluster"));
      for (const auto& a : j.at("host")) s.host.push_back(address(a));
      return s;
    } catch (const std::exception& e) {
      if (error) *error = "unreadable state: " + path + ": " + e.what();
      return std::nullopt;
    }
  }
};

// state.json written (through a rename). A state read from a state.json
// that held the cluster's endpoints itself (before cluster.json) moves them
// to cluster.json first, so that none is lost.
bool writeState(const Paths& paths, const State& state, std::string* error) {
  std::error_code ec;
  if (!state.cluster.empty() && !fs::exists(State::clusterPath(paths), ec) &&
      !State::writeCluster(paths, state.cluster, error))
    return false;
  return writeFileAtomically(fs::path(paths.stateDir) / "state.json", state.toJson().dump(2) + "\n", error);
}

// The state, or nullopt with `error` saying why: nothing applied, or
// unreadable.
std::optional<State> requireState(const Paths& paths, std::string* error, bool withCluster = true) {
  std::string why;
  auto s = State::load(paths, &why, withCluster);
  if (!s && error) *error = why.empty() ? std::string(kNothingApplied) + " (no state in " + paths.stateDir + ")" : why;
  return s;
}

// FNV-1a: endpoint ids and learned identity numbers.
uint32_t fnv1a(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (unsigned char c : bytes) h = (h ^ c) * 16777619u;
  return h;
}

// Which file a path names now. The state directory's files are only ever
// replaced whole (a rename), so device, inode, size and change time name
// what one holds; all zero for a path that is not a regular file.
struct FileVersion {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t ctimeSec = 0, ctimeNsec = 0;
  bool operator==(const FileVersion&) const = default;
  bool exists() const { return ino != 0; }
};
FileVersion fileVersion(const fs::path& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {st.st_dev, st.st_ino, st.st_size, st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
}

// The applied manifest, parsed once per file version: the cluster agent
// reads it for every trie update and every state change it publishes.
std::optional<artifacts::Manifest> loadAppliedManifest(const Paths& paths, std::string* error) {
  static std::mutex cacheLock;
  static std::string cachedPath;
  static FileVersion cachedVersion;
  static std::shared_ptr<const artifacts::Manifest> cached;
  std::string path = (fs::path(paths.stateDir) / "manifest.json").string();
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    if (error) *error = std::string(kNothingApplied) + " (no " + path + ")";
    return std::nullopt;
  }
  FileVersion before = fileVersion(path);
  if (before.exists()) {
    std::lock_guard<std::mutex> hold(cacheLock);
    if (cached && cachedPath == path && cachedVersion == before) return *cached;
  }
  auto text = io::readRegularFile(path, kMaxManifestBytes, "manifest.json", error);
  if (!text) return std::nullopt;
  std::string why;
  auto m = artifacts::Manifest::fromJson(*text, &why);
  if (!m && error) *error = "the applied manifest " + path + " is unreadable: " + why;
  // Kept only if the file did not change while it was read.
  if (m && before.exists() && fileVersion(path) == before) {
    std::lock_guard<std::mutex> hold(cacheLock);
    cachedPath = path;
    cachedVersion = before;
    cached = std::make_shared<const artifacts::Manifest>(*m);
  }
  return m;
}

// Identity entries: compile-time endpoints, learned ones, peers, the host.
// An address belongs to one endpoint: one that claims another's is refused
// (a learned endpoint with a compiled one's name replaces it, addresses and
// all).
// A learned endpoint's identity number: from what it is (namespace, labels,
// named ports), not from its place among the others, so that a pod joining
// or leaving anywhere in the cluster leaves every other entry of the trie as
// it was (numbers are informational in the datapath; the bits decide).
// Above the compiled identities; a number another label set took already
// moves to the next free one.
uint32_t learnedIdentityNumber(const std::string& ns, const labels::LabelSet& l,
                               const std::vector<labels::NamedPort>& ports, uint32_t base) {
  std::string what = ns;
  for (const auto& [k, v] : l) what += '\0' + k + '=' + v;
  for (const auto& p : ports) what += '\0' + p.name + '/' + std::to_string(p.protocol) + '/' + std::to_string(p.port);
  return base + fnv1a(what) % (0x7fffffffu - base);
}

bool identityEntries(const artifacts::Manifest& m, const std::vector<NodeEndpoint>& extra,
                     const std::vector<net::Address>& host, std::vector<identity::TrieEntry>& out, std::string* error) {
  artifacts::Manifest withExtra = m;
  uint32_t base = 0;
  for (const auto& i : m.identities) base = std::max(base, i.id + 1);
  base = std::max<uint32_t>(base, 0x10000);  // learned identities, above compiled ones
  // One identity per (namespace, labels, ports), whatever the endpoints' order.
  using What = std::tuple<std::string, labels::LabelSet, std::vector<labels::NamedPort>>;
  std::map<What, uint32_t> numbered;
  for (const auto& e : extra)
    if (e.labels) numbered.emplace(What{e.ns, *e.labels, e.ports}, 0);
  std::set<uint32_t> taken;
  for (auto& [what, id] : numbered) {
    const auto& [ns, l, ports] = what;
    id = learnedIdentityNumber(ns, l, ports, base);
    while (taken.count(id)) id = id + 1 < 0x7fffffffu ? id + 1 : base;
    taken.insert(id);
    labels::LabelSet nsLabels = m.namespaceLabels(ns);
    withExtra.identities.push_back({id, ns, l, nsLabels, ports, m.bitsFor(ns, l, nsLabels, ports)});
  }
  // A learned endpoint with a compiled one's name replaces it.
  std::set<std::pair<std::string, std::string>> learned;
  for (const auto& e : extra)
    if (e.labels) learned.emplace(e.ns, e.name);
  std::erase_if(withExtra.endpoints,
                [&](const artifacts::EndpointEntry& x) { return learned.count({x.ns, x.name}) > 0; });
  for (const auto& e : extra)
    if (e.labels)
      withExtra.endpoints.push_back(
          {e.name, e.ns, numbered.at(What{e.ns, *e.labels, e.ports}), e.addresses, std::nullopt});
  std::map<net::Address, std::string> owner;
  for (const auto& e : withExtra.endpoints)
    for (const auto& a : e.addresses) {
      std::string key = e.ns + "/" + e.name;
      auto [it, fresh] = owner.emplace(a, key);
      if (!fresh && it->second != key) {
        if (error) *error = "endpoint " + key + " claims " + a.str() + ", which is " + it->second + "'s address";
        return false;
      }
    }
  return identity::buildEntries(withExtra, host, out, error);
}

// What the trie is built from once the cluster agent's endpoints join the
// node's own knowledge (docs/cluster.md, "Who owns an address").
struct IdentityView {
  artifacts::Manifest manifest;     // the compile's, less addresses a cluster endpoint now has
  std::vector<NodeEndpoint> extra;  // `known`, then the cluster endpoints taken
  std::vector<std::string> skipped; // a sentence per cluster endpoint left out
};

// The node's own knowledge wins: the addresses of its local endpoints (`local`
// keys, from the manifest or NODE.json) and of `known` (NODE.json's learned
// endpoints and peers, `endpoint add`) are never given to a cluster endpoint,
// nor is a local endpoint's name. Among cluster endpoints the newest write
// wins an address (a pod's address reused after its old record lingers until
// its node's lease expires). A cluster endpoint does take an address from a
// compiled endpoint of another node: the cluster is live, the inventory
// only as fresh as the compile.
IdentityView identityView(const artifacts::Manifest& m, const std::vector<NodeEndpoint>& known,
                          const std::set<std::string>& local, const std::vector<ClusterEndpoint>& cluster) {
  IdentityView view{m, known, {}};
  std::set<std::string> fixedKeys = local;
  std::map<net::Address, std::string> owner;
  for (const auto& e : known) {
    fixedKeys.insert(e.key());
    for (const auto& a : e.addresses) owner.emplace(a, e.key());
  }
  for (const auto& e : m.endpoints)
    if (std::string key = e.ns + "/" + e.name; local.count(key))
      for (const auto& a : e.addresses) owner.emplace(a, key);
  std::vector<const ClusterEndpoint*> newestFirst;
  for (const auto& c : cluster) newestFirst.push_back(&c);
  std::stable_sort(newestFirst.begin(), newestFirst.end(),
                   [](const ClusterEndpoint* a, const ClusterEndpoint* b) { return a->revision > b->revision; });
  std::set<std::string> taken;
  std::vector<const ClusterEndpoint*> accepted;
  for (const ClusterEndpoint* c : newestFirst) {
    std::string key = c->endpoint.key();
    std::string why;
    if (fixedKeys.count(key)) {
      why = "this node has an endpoint of that name";
    } else if (taken.count(key)) {
      why = "another node published a newer record of it";
    } else {
      for (const auto& a : c->endpoint.addresses)
        if (auto it = owner.find(a); it != owner.end() && it->second != key) {
          why = "it claims " + a.str() + ", which is " + it->second + "'s";
          break;
        }
    }
    if (!why.empty()) {
      view.skipped.push_back(key + " from node " + c->node + ": " + why);
      continue;
    }
    taken.insert(key);
    for (const auto& a : c->endpoint.addresses) owner.emplace(a, key);
    accepted.push_back(c);
  }
  std::sort(accepted.begin(), accepted.end(), [](const ClusterEndpoint* a, const ClusterEndpoint* b) {
    return a->endpoint.key() < b->endpoint.key();
  });
  for (const ClusterEndpoint* c : accepted) view.extra.push_back(c->endpoint);
  // Compiled endpoints elsewhere lose what a cluster endpoint now has.
  for (auto& e : view.manifest.endpoints) {
    std::string key = e.ns + "/" + e.name;
    if (local.count(key)) continue;
    std::erase_if(e.addresses, [&](const net::Address& a) {
      auto it = owner.find(a);
      return it != owner.end() && it->second != key && taken.count(it->second);
    });
  }
  return view;
}

// The class an endpoint belongs to: from the manifest, or for one learned
// after compile, the class compiled for exactly the policies that select it
// (the open class, with no policies, when none does). Returns false (error
// set) when there is none.
bool classFor(const artifacts::Manifest& m, const NodeEndpoint& e, std::optional<uint32_t>& cls, std::string* error) {
  cls.reset();
  if (!e.labels) {
    for (const auto& me : m.endpoints)
      if (me.ns == e.ns && me.name == e.name) {
        cls = me.classId;
        return true;
      }
    if (error) *error = "endpoint " + e.key() + " is not in the manifest; give its labels and addresses";
    return false;
  }
  std::vector<std::string> selecting = m.selectingPolicies(e.ns, *e.labels, m.namespaceLabels(e.ns));
  // Classes of one policy set differ by what their endpoints give the port
  // names ingress rules use; the endpoint's own ports pick among them.
  std::vector<const artifacts::ClassEntry*> candidates;
  for (const auto& c : m.classes)
    if (c.policies == selecting) candidates.push_back(&c);
  std::string theirs;
  for (const auto* c : candidates) {
    std::vector<std::pair<uint8_t, std::string>> names;
    for (const auto& b : c->ingressNamedPorts) names.emplace_back(b.protocol, b.name);
    if (labels::bindingsOf(names, e.ports) == c->ingressNamedPorts) {
      cls = c->id;
      return true;
    }
    std::string one;
    for (const auto& b : c->ingressNamedPorts)
      one += (one.empty() ? "" : ", ") + labels::portProtocolName(b.protocol) + "/" + b.name + "=" +
             (b.port ? std::to_string(*b.port) : "undefined");
    theirs += (theirs.empty() ? "" : "; ") + ("class " + std::to_string(c->id) + ": " + one);
  }
  if (!candidates.empty()) {
    if (error)
      *error = "endpoint " + e.key() +
               " gives its named ports numbers no class compiled for its "
               "policies has (" +
               theirs + "); give its ports, or recompile with it in the inventory";
    return false;
  }
  std::string list;
  for (const auto& s : selecting) list += (list.empty() ? "" : ", ") + s;
  if (error)
    *error = "endpoint " + e.key() + " is selected by {" + list +
             "}, a combination no compiled class has; recompile with it in the "
             "inventory";
  return false;
}

// ---- apply, stage by stage
// -----------------------------------------------------

struct Artifacts {
  fs::path dir;
  std::string manifestText;
  artifacts::Manifest manifest;
  std::string version;  // first 16 hex digits of the manifest's SHA-256
};

// Points an opened object's per-version maps at this version's pins: the
// identity trie and the rule counters (room for every rule id, and 0).
bool pinVersionMaps(bpf_object* object, const Paths& paths, const Artifacts& a, std::string* why) {
  bpf_map* trie = bpf_object__find_map_by_name(object, "mb_identity");
  if (!trie || bpf_map__set_pin_path(trie, identityPin(paths, a.version).c_str()) != 0) {
    *why = "has no mb_identity map";
    return false;
  }
  bpf_map* more = bpf_object__find_map_by_name(object, "mb_more_peer_bits");
  if (!more || bpf_map__set_pin_path(more, morePeerBitsPin(paths, a.version).c_str()) != 0) {
    *why = "has no mb_more_peer_bits map";
    return false;
  }
  // Rule ids are sparse: one entry per rule, and one for default deny.
  uint32_t ruleSlots = static_cast<uint32_t>(a.manifest.rules.size()) + 1;
  bpf_map* stats = bpf_object__find_map_by_name(object, "mb_rule_stats");
  if (!stats || bpf_map__set_pin_path(stats, ruleStatsPin(paths, a.version).c_str()) != 0 ||
      bpf_map__set_max_entries(stats, ruleSlots) != 0) {
    *why = "has no mb_rule_stats map";
    return false;
  }
  return true;
}

// 1. The artifacts as a whole: manifest (format, consistency, ABI), every
// object against its hash, the kernel features they need.
bool verifyArtifacts(const std::string& artifactDir, Artifacts& out, std::string* error) {
  out.dir = artifactDir;
  std::string why;
  std::string manifestPath = (out.dir / "manifest.json").string();
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(manifestPath, ec))) {
    if (error) *error = "no manifest.json in '" + artifactDir + "'";
    return false;
  }
  auto text = io::readRegularFile(manifestPath, kMaxManifestBytes, "manifest.json", &why);
  auto refuse = [&](const std::string& message) {
    if (error) *error = "refusing '" + artifactDir + "': " + message;
    return false;
  };
  if (!text) return refuse(why);
  out.manifestText = *text;
  auto manifest = artifacts::Manifest::fromJson(out.manifestText, &why);
  if (!manifest) return refuse(why);
  out.manifest = std::move(*manifest);
  if (out.manifest.abiVersion != MB_ABI_VERSION)
    return refuse("datapath ABI " + std::to_string(out.manifest.abiVersion) + ", this membrane speaks " +
                  std::to_string(MB_ABI_VERSION));
  for (const auto& c : out.manifest.classes) {
    std::string path = (out.dir / c.object).string();
    if (!fs::exists(fs::symlink_status(path, ec)))
      return refuse("object " + c.object + " of class " + std::to_string(c.id) + " is missing");
    auto object = io::readRegularFile(path, kMaxObjectBytes, "a class object", &why);
    if (!object) return refuse("object " + c.object + " of class " + std::to_string(c.id) + ": " + why);
    if (artifacts::sha256Hex(*object) != c.sha256)
      return refuse(c.object + " does not match its SHA-256 in the manifest (tampered or corrupt)");
  }
  // Every program must be of a kind this loader attaches, before anything
  // is touched: a program it cannot place would leave its hook unguarded.
  if (!checkAttachable(out.manifest, &why)) return refuse(why);
  if (auto missing = missingFeatures(out.manifest.allRequiredFeatures()); !missing.empty()) {
    std::string list;
    for (const auto& f : missing) list += (list.empty() ? "" : ", ") + f;
    if (error) *error = "this kernel lacks features the artifacts need: " + list;
    return false;
  }
  out.version = artifacts::sha256Hex(out.manifestText).substr(0, 16);
  return true;
}

// The addresses a local endpoint may send from: NODE.json's for one learned
// after the compile, else the manifest's.
std::vector<net::Address> ownAddresses(const artifacts::Manifest& m, const NodeEndpoint& e) {
  if (e.labels) return e.addresses;
  for (const auto& me : m.endpoints)
    if (me.ns == e.ns && me.name == e.name) return me.addresses;
  return {};
}

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

// One local endpoint as this apply will leave it.
struct PlannedEndpoint {
  NodeEndpoint endpoint;
  uint32_t id = 0;
  std::optional<uint32_t> classId;                   // set for every endpoint (the open class if unselected)
  std::vector<Hook> hooks;                           // where its programs go
  std::vector<net::Address> own;                     // its source addresses (mb_endpoint_addrs)
  // The load its hooks run: its class's, shared with the class's other
  // endpoints (`shared`), or its own; and the load's index in the
  // dispatchers' prog arrays.
  std::shared_ptr<bpf_object> object;
  bool shared = false;
  uint32_t load = MB_LOAD_NONE;
  // How the node's dispatchers find it (endpoint_map.h), when its packet
  // hooks (tc, cgroup_skb) run them; chooseDispatch says when.
  std::optional<endpoint_map::Entry> dispatchedAs;
  bool dispatched(const Hook& h) const { return dispatchedAs && dispatch::forHook(h.name); }
  // The socket layer (sockets.h): its class's L7 ports and, with any, its slot.
  L7PortList l7;
  std::optional<uint32_t> l7Slot;
  bool usesSockets() const { return !l7.ingress.empty() || !l7.egress.empty(); }
};

struct Plan {
  std::vector<PlannedEndpoint> endpoints;
  uint32_t loads = 0;  // loads of class objects (loadPrograms)
  std::vector<identity::TrieEntry> trie;
  std::vector<std::string> clusterSkipped;  // cluster endpoints the trie leaves out (identityView)
  std::vector<endpoint_map::Entry> endpointEntries() const {
    std::vector<endpoint_map::Entry> out;
    for (const auto& p : endpoints)
      if (p.dispatchedAs) {
        out.push_back(*p.dispatchedAs);
        out.back().load = p.load;
      }
    return out;
  }
  bool usesSockets() const {
    return std::any_of(endpoints.begin(), endpoints.end(), [](const PlannedEndpoint& p) { return p.usesSockets(); });
  }
  // What mb_l7_endpoints holds for this plan.
  std::vector<sockets::EndpointL7> l7Entries() const {
    std::vector<sockets::EndpointL7> out;
    for (const auto& p : endpoints)
      if (p.usesSockets() && p.l7Slot)
        out.push_back({p.endpoint.key(), p.id, *p.l7Slot, MB_L7_HTTP, p.own, p.l7.ingress, p.l7.egress});
    return out;
  }
};

// How the dispatchers find an endpoint, as the kernel names its interface
// (when `byInterface`) or cgroup now; nullopt when that cannot be read.
std::optional<endpoint_map::Entry> dispatchEntry(const std::string& interface, const std::string& cgroup,
                                                 bool byInterface, uint32_t id) {
  if (byInterface) {
    unsigned ifindex = if_nametoindex(interface.c_str());
    return ifindex ? std::optional(endpoint_map::byInterface(ifindex, id)) : std::nullopt;
  }
  auto depth = cgroupDepth(cgroup);
  uint64_t cgroupIdNow = cgroupId(cgroup);
  if (!depth || *depth == 0 || cgroupIdNow == 0) return std::nullopt;
  return endpoint_map::byCgroup(cgroupIdNow, *depth, id);
}

// 2b. Which endpoints' packet hooks run the node's dispatchers, and which
// of those share their class's load.
//
// Dispatched are the endpoints the dispatchers can find by what their hooks
// see, with one meaning per packet. Not dispatched (their hooks run their
// own load directly, and swap hook by hook, not at the flip):
// - an endpoint whose interface or cgroup cannot be read now (attaching it
//   fails later, with its own message);
// - cgroup endpoints nested in one another (each packet runs the hooks of
//   both, and a dispatcher cannot tell at which of the two it runs);
// - cgroups at depths beyond the MB_ENDPOINT_DEPTHS_MAX the dispatchers look
//   at (`inUse`: the depths they look at now, which stay until the commit).
// A dispatched endpoint shares its class's load unless its class keeps
// per-endpoint state in its object (socket layer slots, executables
// resolved in its root).
void chooseDispatch(const Artifacts& a, Plan& plan, const std::vector<uint32_t>& inUse) {
  struct Candidate {
    PlannedEndpoint* p;
    std::string path;  // canonical cgroup path, with a final '/'
  };
  std::vector<Candidate> cgroups;
  for (auto& p : plan.endpoints) {
    auto packetHook = std::find_if(p.hooks.begin(), p.hooks.end(), [](const Hook& h) { return dispatch::forHook(h.name).has_value(); });
    if (!p.classId || packetHook == p.hooks.end()) continue;
    const NodeEndpoint& e = p.endpoint;
    auto entry = dispatchEntry(e.interface, e.cgroup, packetHook->tc(), p.id);
    if (!entry || packetHook->tc()) {
      p.dispatchedAs = entry;
      continue;
    }
    std::error_code ec;
    std::string path = fs::canonical(e.cgroup, ec).string() + "/";
    if (ec) continue;
    p.dispatchedAs = entry;
    cgroups.push_back({&p, path});
  }
  std::sort(cgroups.begin(), cgroups.end(), [](const Candidate& x, const Candidate& y) { return x.path < y.path; });
  // Sorted, a cgroup's descendants (the paths it is a prefix of) follow it.
  for (size_t i = 0; i < cgroups.size(); ++i)
    for (size_t j = i + 1; j < cgroups.size() && cgroups[j].path.rfind(cgroups[i].path, 0) == 0; ++j) {
      cgroups[i].p->dispatchedAs.reset();
      cgroups[j].p->dispatchedAs.reset();
    }
  std::set<uint32_t> depths(inUse.begin(), inUse.end());
  for (auto& c : cgroups) {
    if (!c.p->dispatchedAs) continue;
    uint32_t d = c.p->dispatchedAs->depth;
    if (!depths.count(d) && depths.size() < MB_ENDPOINT_DEPTHS_MAX) depths.insert(d);
    if (!depths.count(d)) c.p->dispatchedAs.reset();
  }
  // Endpoints one key would name (two on one interface: NODE.json refuses
  // it, a program calling the loader may not) are not dispatched: each gets
  // its own program, and the read-back finds which one the hook kept.
  std::map<std::pair<uint32_t, uint64_t>, int> named;
  for (const auto& p : plan.endpoints)
    if (p.dispatchedAs) ++named[{p.dispatchedAs->key.kind, p.dispatchedAs->key.id}];
  for (auto& p : plan.endpoints) {
    if (p.dispatchedAs && named[{p.dispatchedAs->key.kind, p.dispatchedAs->key.id}] > 1) p.dispatchedAs.reset();
    p.shared = p.dispatchedAs && !p.usesSockets() && a.manifest.findClass(*p.classId)->executables.empty();
  }
}

// 2. NODE.json against the manifest: every endpoint's class, datapath id and
// hooks, and the trie's entries. Nothing is touched yet.
bool planEndpoints(const Artifacts& a, const NodeConfig& node, const State* previous,
                   const std::vector<ClusterEndpoint>& cluster, const std::vector<uint32_t>& depthsInUse, Plan& plan,
                   std::string* error) {
  std::set<uint32_t> ids;
  for (const auto& e : node.endpoints) {
    PlannedEndpoint p;
    p.endpoint = e;
    p.id = endpointId(e.key());
    if (!classFor(a.manifest, e, p.classId, error)) return false;
    p.own = ownAddresses(a.manifest, e);
    if (p.own.empty()) {
      if (error)
        *error = "endpoint " + e.key() +
                 " has no addresses: every packet it sends would be dropped as spoofed; give its labels and "
                 "addresses in NODE.json";
      return false;
    }
    if (!ids.insert(p.id).second) {
      if (error) *error = "endpoint id collision for " + e.key() + "; rename the endpoint";
      return false;
    }
    if (p.classId) {
      // The programs of its class whose kind attaches to what NODE.json
      // names it by: the packet programs on its interface, else on its
      // cgroup; the socket calls on its cgroup, and beside tc the gate.
      AttachTarget target = e.interface.empty() ? AttachTarget::Cgroup : AttachTarget::Interface;
      const artifacts::ClassEntry* cls = a.manifest.findClass(*p.classId);
      for (const auto& prog : cls->programs) {
        const AttachPoint* point = attachPointFor(prog.kind);  // checkAttachable: never null
        if (!point) continue;
        bool wanted = point->when == AttachWhen::PacketHook       ? point->target == target
                      : point->when == AttachWhen::CgroupBesideTc ? target == AttachTarget::Interface
                                                                  : true;
        if (!wanted) continue;
        if (point->target == AttachTarget::Cgroup && e.cgroup.empty()) {
          if (error)
            *error = "endpoint " + e.key() + ": its class has process rules, whose programs (" + prog.name +
                     " at " + prog.hook + ") run on the endpoint's cgroup; give its \"cgroup\" in NODE.json "
                     "(docs/process.md)";
          return false;
        }
        bool ingress = point->kernelIngress(prog.direction);
        p.hooks.push_back({prog.hook, prog.name, point, ingress, cgroupAttachType(prog.hook, ingress)});
      }
      if (p.hooks.empty()) {
        if (error)
          *error = "endpoint " + e.key() + ": class " + std::to_string(cls->id) + " has no program for " +
                   (target == AttachTarget::Cgroup ? "a cgroup" : "an interface");
        return false;
      }
      p.l7 = classL7Ports(*cls);
    }
    plan.endpoints.push_back(std::move(p));
  }
  // Slots of the socket layer: kept from the previous apply, else the
  // lowest free.
  std::vector<std::string> need;
  std::map<std::string, uint32_t> had;
  for (const auto& p : plan.endpoints)
    if (p.usesSockets()) need.push_back(p.endpoint.key());
  if (previous)
    for (const auto& pe : previous->endpoints)
      if (pe.l7Slot) had[pe.key] = *pe.l7Slot;
  auto slots = sockets::assignSlots(need, had, error);
  if (!slots) return false;
  // Every (address, port, direction) is an entry of mb_l7_endpoints.
  size_t entries = 0;
  for (const auto& p : plan.endpoints) entries += p.own.size() * (p.l7.ingress.size() + p.l7.egress.size());
  if (entries > MB_L7_ENDPOINTS_MAX) {
    if (error)
      *error = "the endpoints' HTTP rules cover " + std::to_string(entries) + " (address, port) pairs, more than the "
               "socket layer's " + std::to_string(MB_L7_ENDPOINTS_MAX) + "; give HTTP rules fewer ports";
    return false;
  }
  for (auto& p : plan.endpoints)
    if (auto it = slots->find(p.endpoint.key()); it != slots->end()) p.l7Slot = it->second;
  chooseDispatch(a, plan, depthsInUse);
  std::vector<NodeEndpoint> known;
  std::set<std::string> local;
  for (const auto& e : node.endpoints) {
    local.insert(e.key());
    if (e.labels) known.push_back(e);
  }
  known.insert(known.end(), node.peers.begin(), node.peers.end());
  if (previous) known.insert(known.end(), previous->learned.begin(), previous->learned.end());
  IdentityView view = identityView(a.manifest, known, local, cluster);
  plan.clusterSkipped = view.skipped;
  return identityEntries(view.manifest, view.extra, node.hostAddresses, plan.trie, error);
}

// 3. The node's dispatchers, if it has none yet; and the loads: one of each
// class's object for all of its endpoints that share it (chooseDispatch),
// one per other enforced endpoint; with the shared maps under maps/ and this
// version's trie under versions/<version>/. Each load's index in the
// dispatchers' prog arrays is its place here.
bool loadPrograms(const Artifacts& a, Plan& plan, const Paths& paths, std::string* error) {
  if (!ensureBpffs(paths.bpffsRoot, error)) return false;
  std::error_code ec;
  for (const std::string& sub : std::vector<std::string>{"/maps", "/links", "/versions/" + a.version}) {
    fs::create_directories(paths.bpffsRoot + sub, ec);
    if (ec) {
      if (error) *error = "cannot create '" + paths.bpffsRoot + sub + "': " + ec.message();
      return false;
    }
  }
  if (!dispatch::ensureLoaded(paths.bpffsRoot, error)) return false;
  // A shared load serves the endpoints of one class whose hooks run the same
  // programs (interface endpoints tc's, cgroup endpoints cgroup_skb's).
  struct Load {
    uint32_t classId = 0;
    std::vector<PlannedEndpoint*> endpoints;  // in plan order; one unless shared
    std::shared_ptr<bpf_object> object;
    std::string who() const {
      std::string out = "endpoint" + std::string(endpoints.size() > 1 ? "s " : " ") + endpoints.front()->endpoint.key();
      if (endpoints.size() > 1) out += " and " + std::to_string(endpoints.size() - 1) + " more";
      return out;
    }
  };
  std::vector<Load> loads;
  std::map<std::pair<uint32_t, std::set<std::string>>, size_t> sharedLoad;  // (class, programs) → loads index
  for (auto& p : plan.endpoints) {
    if (!p.classId) continue;  // classFor always sets one; a checked manifest has no class-less endpoint
    if (p.shared) {
      std::set<std::string> programs;
      for (const Hook& h : p.hooks) programs.insert(h.program);
      auto [it, fresh] = sharedLoad.emplace(std::make_pair(*p.classId, programs), loads.size());
      if (!fresh) {
        loads[it->second].endpoints.push_back(&p);
        continue;
      }
    }
    loads.push_back({*p.classId, {&p}, nullptr});
  }
  if (loads.size() > MB_LOADS_MAX) {
    if (error)
      *error = "this version needs " + std::to_string(loads.size()) + " loads of class objects on this node, more than "
               "the dispatchers' " + std::to_string(MB_LOADS_MAX) + " (each class shares one across its endpoints, "
               "but endpoints of classes with HTTP or process rules get one each)";
    return false;
  }
  for (size_t i = 0; i < loads.size(); ++i)
    for (PlannedEndpoint* e : loads[i].endpoints) e->load = static_cast<uint32_t>(i);
  plan.loads = static_cast<uint32_t>(loads.size());

  libbpf::LibbpfLog log;
  std::string why;
  // Open and configure every object (cheap), then load them. Loading (one
  // verifier run per program) is most of apply's time: the first object
  // loads alone, since it creates and pins the shared and per-version maps
  // the others then reuse; the rest load in parallel (the kernel verifies
  // privileged loads concurrently).
  for (auto& load : loads) {
    const PlannedEndpoint& p = *load.endpoints.front();
    const artifacts::ClassEntry* cls = a.manifest.findClass(load.classId);
    std::string path = (a.dir / cls->object).string();
    std::string mapsRoot = paths.bpffsRoot + "/maps";
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = mapsRoot.c_str());
    log.clear();
    load.object.reset(bpf_object__open_file(path.c_str(), &opts), ObjectCloser{});
    auto fail = [&](const std::string& message) {
      if (error) *error = message;
      return false;
    };
    if (!load.object) return fail("cannot open " + path + ": " + log.text());
    if (!pinVersionMaps(load.object.get(), paths, a, &why)) return fail(path + " " + why);
    mb_config config{};
    config.endpoint_id = p.shared ? 0 : p.id;  // 0: handed over by the dispatchers (lib/endpoint.h)
    config.events = (1u << MB_EVENT_DENY) | (1u << MB_EVENT_AUDIT) | (1u << MB_EVENT_SPOOFED) |
                    (1u << MB_EVENT_DNS_REFUSED) | (1u << MB_EVENT_HTTP_DENY) | (1u << MB_EVENT_HTTP_AUDIT) |
                    (1u << MB_EVENT_PROCESS_DENY) | (1u << MB_EVENT_PROCESS_AUDIT);
    if (p.usesSockets()) {
      // A promise the loader keeps before any packet program of this load
      // runs: the socket layer is attached and polices this endpoint's
      // sockets at this slot (setUpSockets).
      config.flags |= MB_CONFIG_SOCKETS;
      config.l7_slot = *p.l7Slot;
    }
    if (!setConfig(load.object.get(), config, &why)) return fail(path + ": " + why);
    // The manifest names the programs; the object must have them, or a hook
    // would be left without one halfway through attaching.
    for (const Hook& h : p.hooks)
      if (!bpf_object__find_program_by_name(load.object.get(), h.program.c_str()))
        return fail(path + " has no program " + h.program + ", which the manifest lists at " + h.name);
    // Only the programs its endpoints' hooks need are loaded.
    bpf_program* prog;
    bpf_object__for_each_program(prog, load.object.get()) {
      std::string_view name = bpf_program__name(prog);
      bool needed = std::any_of(p.hooks.begin(), p.hooks.end(), [&](const Hook& h) { return h.program == name; }) ||
                    (!p.l7.ingress.empty() && name == MB_PROG_L7_SKB_VERDICT) ||
                    (!p.l7.egress.empty() && name == MB_PROG_L7_MSG_VERDICT);
      bpf_program__set_autoload(prog, needed);
    }
    if (&load == &loads.front() && !pinnedMapsFit(load.object.get(), error)) return false;
    for (PlannedEndpoint* e : load.endpoints) e->object = load.object;
  }
  std::vector<std::string> failures(loads.size());
  auto loadOne = [&](size_t i) {
    Load& load = loads[i];
    libbpf::ThreadLog threadLog;
    if (int err = bpf_object__load(load.object.get()); err)
      failures[i] = "class " + std::to_string(load.classId) + " (" + a.manifest.findClass(load.classId)->object +
                    ") failed to load for " + load.who() + ": " + std::strerror(-err) + "\n" + threadLog.tail();
  };
  if (loads.empty()) return true;
  loadOne(0);
  if (failures[0].empty()) {
    std::atomic<size_t> next{1};
    auto work = [&] {
      for (size_t i = next++; i < loads.size(); i = next++) loadOne(i);
    };
    size_t workers = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), loads.size() - 1);
    std::vector<std::thread> threads;
    for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
  }
  for (const auto& f : failures)
    if (!f.empty()) {
      if (error) *error = f;  // the first in endpoint order: deterministic
      return false;
    }
  return true;
}

// 4a. Each endpoint's executables (process rules), resolved in its root,
// before any program of it runs (docs/process.md).
bool fillEndpointExecutables(const Artifacts& a, const Plan& plan, std::vector<std::string>& warnings,
                             std::string* error) {
  for (const auto& p : plan.endpoints) {
    if (!p.object || !p.classId) continue;
    const artifacts::ClassEntry* cls = a.manifest.findClass(*p.classId);
    if (cls->executables.empty()) continue;
    bpf_map* map = bpf_object__find_map_by_name(p.object.get(), "mb_process_exe");
    if (!map || bpf_map__fd(map) < 0) {
      if (error) *error = "class " + std::to_string(cls->id) + " (" + cls->object + ") has no loaded mb_process_exe map";
      return false;
    }
    std::vector<std::string> missing;
    if (!fillExecutables(bpf_map__fd(map), cls->executables, p.endpoint.root, &missing, error)) return false;
    for (const auto& m : missing)
      warnings.push_back("endpoint " + p.endpoint.key() + ": executable " + m + "; its process rules let no call of it through");
  }
  return true;
}

// 4. This version's trie, before any program of it runs. Re-applying the
// same version rewrites it in place: entries added or updated, then the
// ones no longer wanted deleted.
// A version's trie (live or not) made to hold exactly `entries`, with its
// words past the values in the version's mb_more_peer_bits
// (identity_maps.h). Returns how many trie entries it wrote or deleted.
std::optional<size_t> syncTrie(const Paths& paths, const std::string& version, int fd,
                               const std::vector<identity::TrieEntry>& entries, bool prune, std::string* error) {
  std::string pin = morePeerBitsPin(paths, version);
  Fd more(bpf_obj_get(pin.c_str()));
  auto n = syncIdentityMaps(fd, more.fd, entries, prune, error);
  if (!n && more.fd < 0 && error) *error += " (none pinned at " + pin + ")";
  return n;
}

bool fillTrie(const Paths& paths, const std::string& version, const Plan& plan, std::string* error) {
  Fd trie(bpf_obj_get(identityPin(paths, version).c_str()));
  bool anyLoaded = std::any_of(plan.endpoints.begin(), plan.endpoints.end(),
                               [](const PlannedEndpoint& p) { return p.object != nullptr; });
  if (trie.fd < 0) {
    if (anyLoaded && error) *error = "the identity map was not pinned";
    return !anyLoaded;
  }
  // A live trie (a re-apply of the running version) is only written where
  // an entry changes.
  return syncTrie(paths, version, trie.fd, plan.trie, true, error).has_value();
}

std::string ownedAddressesPin(const Paths& paths) { return paths.bpffsRoot + "/maps/mb_endpoint_addrs"; }

// 4b. Every local endpoint's addresses into mb_endpoint_addrs, before any of
// its programs is attached: from then on, what it sends from another address
// is dropped (bpf-templates/lib/source.h). Entries are only added here;
// pruneOwnedAddresses removes the ones no endpoint owns after the commit.
bool addOwnedAddresses(const Paths& paths, const Plan& plan, std::string* error) {
  bool anyLoaded = std::any_of(plan.endpoints.begin(), plan.endpoints.end(),
                               [](const PlannedEndpoint& p) { return p.object != nullptr; });
  if (!anyLoaded) return true;
  Fd map(bpf_obj_get(ownedAddressesPin(paths).c_str()));
  if (map.fd < 0) {
    if (error) *error = "the endpoint address map was not pinned at " + ownedAddressesPin(paths);
    return false;
  }
  uint32_t one = 1;
  for (const auto& p : plan.endpoints)
    for (const auto& addr : p.own) {
      mb_endpoint_addr_key key = identity::ownedAddressKey(p.id, addr);
      if (bpf_map_update_elem(map.fd, &key, &one, BPF_ANY) != 0) {
        if (error) *error = "cannot fill the endpoint address map: " + std::string(std::strerror(errno));
        return false;
      }
    }
  return true;
}

// Addresses no endpoint here owns any more go: every key but `keep`.
void pruneOwnedAddresses(const Paths& paths, const std::vector<mb_endpoint_addr_key>& keep) {
  Fd map(bpf_obj_get(ownedAddressesPin(paths).c_str()));
  if (map.fd < 0) return;
  auto bytes = [](const mb_endpoint_addr_key& k) { return std::string(reinterpret_cast<const char*>(&k), sizeof k); };
  std::set<std::string> wanted;
  for (const auto& k : keep) wanted.insert(bytes(k));
  for (const auto& k : mapKeys<mb_endpoint_addr_key>(map.fd))
    if (!wanted.count(bytes(k))) bpf_map_delete_elem(map.fd, &k);
}

// After the commit: what the plan's endpoints do not own goes.
void pruneOwnedAddresses(const Paths& paths, const Plan& plan) {
  std::vector<mb_endpoint_addr_key> keep;
  for (const auto& p : plan.endpoints)
    for (const auto& addr : p.own) keep.push_back(identity::ownedAddressKey(p.id, addr));
  pruneOwnedAddresses(paths, keep);
}

// What setUpSockets changed, to undo it if a later step fails: the slots'
// previous programs (by id) and the endpoint entries it added.
struct SocketChanges {
  std::vector<std::pair<uint32_t, std::pair<uint32_t, uint32_t>>> slots;  // slot → (skb, msg) program ids before
  sockets::EndpointSnapshot endpoints;  // mb_l7_endpoints before
  bool touched = false;

  void rollback(const Paths& paths) {
    if (!touched) return;
    for (const auto& [slot, ids] : slots) {
      Fd skb(ids.first ? bpf_prog_get_fd_by_id(ids.first) : -1);
      Fd msg(ids.second ? bpf_prog_get_fd_by_id(ids.second) : -1);
      sockets::setSlot(paths.bpffsRoot, slot, skb.fd, msg.fd, nullptr);
    }
    sockets::restoreEndpoints(paths.bpffsRoot, endpoints);
  }
};

uint32_t slotProgramId(const Paths& paths, const char* map, uint32_t slot) {
  Fd m(bpf_obj_get((paths.bpffsRoot + "/maps/" + map).c_str()));
  uint32_t id = 0;
  if (m.fd < 0 || bpf_map_lookup_elem(m.fd, &slot, &id) != 0) return 0;
  return id;  // a prog array read from user space gives the program's id
}

// 4c. The socket layer, before any packet program that passes L7 flows
// (MB_CONFIG_SOCKETS) is attached: the node-wide programs (from a load of
// one L7 class's object, with only them), every L7 endpoint's sockets in
// mb_l7_endpoints, and its slot pointing at this version's verdicts.
bool setUpSockets(const Artifacts& a, const Plan& plan, const Paths& paths, SocketChanges& changes,
                  std::string* error) {
  if (!plan.usesSockets()) return true;
  const PlannedEndpoint* first = nullptr;
  for (const auto& p : plan.endpoints)
    if (p.usesSockets()) {
      first = &p;
      break;
    }
  const artifacts::ClassEntry* cls = a.manifest.findClass(*first->classId);
  std::string path = (a.dir / cls->object).string();
  std::string mapsRoot = paths.bpffsRoot + "/maps";
  libbpf::LibbpfLog log;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = mapsRoot.c_str());
  std::unique_ptr<bpf_object, ObjectCloser> object(bpf_object__open_file(path.c_str(), &opts));
  if (!object) {
    if (error) *error = "cannot open " + path + " for the socket layer: " + log.text();
    return false;
  }
  std::string why;
  if (!pinVersionMaps(object.get(), paths, a, &why)) {
    if (error) *error = path + " " + why;
    return false;
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, object.get()) {
    std::string_view name = bpf_program__name(prog);
    bpf_program__set_autoload(prog, name == MB_PROG_SOCKOPS || name == MB_PROG_L7_SKB_DISPATCH ||
                                        name == MB_PROG_L7_MSG_DISPATCH);
  }
  if (int err = bpf_object__load(object.get()); err) {
    if (error) *error = "the socket layer's programs failed to load: " + std::string(std::strerror(-err)) + "\n" + log.tail();
    return false;
  }
  std::string root = paths.cgroupRoot.empty() ? sockets::defaultCgroupRoot() : paths.cgroupRoot;
  if (!sockets::attachNodePrograms(object.get(), root, paths.bpffsRoot, error)) return false;

  changes.touched = true;
  changes.endpoints = sockets::snapshotEndpoints(paths.bpffsRoot);
  if (!sockets::addEndpoints(paths.bpffsRoot, plan.l7Entries(), error)) return false;
  for (const auto& p : plan.endpoints) {
    if (!p.usesSockets()) continue;
    auto fdOf = [&](const char* name) {
      bpf_program* pr = bpf_object__find_program_by_name(p.object.get(), name);
      return pr ? bpf_program__fd(pr) : -1;
    };
    int skb = p.l7.ingress.empty() ? -1 : fdOf(MB_PROG_L7_SKB_VERDICT);
    int msg = p.l7.egress.empty() ? -1 : fdOf(MB_PROG_L7_MSG_VERDICT);
    if ((!p.l7.ingress.empty() && skb < 0) || (!p.l7.egress.empty() && msg < 0)) {
      if (error) *error = "endpoint " + p.endpoint.key() + ": its class object has no loaded L7 verdict program";
      return false;
    }
    changes.slots.push_back({*p.l7Slot,
                             {slotProgramId(paths, "mb_l7_skb_progs", *p.l7Slot),
                              slotProgramId(paths, "mb_l7_msg_progs", *p.l7Slot)}});
    if (!sockets::setSlot(paths.bpffsRoot, *p.l7Slot, skb, msg, error)) return false;
  }
  return true;
}

// 4d. This version's class programs into `slot` of the dispatchers' prog
// arrays, at their loads' indices, before anything is attached: packets do
// not follow that slot until the flip.
bool fillSlot(const Plan& plan, const Paths& paths, uint32_t slot, std::string* error) {
  std::set<std::pair<std::string, uint32_t>> done;  // (hook, load)
  for (const auto& p : plan.endpoints)
    for (const Hook& h : p.hooks) {
      if (!p.dispatched(h) || !done.insert({h.name, p.load}).second) continue;
      bpf_program* prog = bpf_object__find_program_by_name(p.object.get(), h.program.c_str());
      int fd = prog ? bpf_program__fd(prog) : -1;
      if (fd < 0) {
        if (error) *error = "endpoint " + p.endpoint.key() + " " + h.name + ": its program is not loaded";
        return false;
      }
      if (!dispatch::setProgram(paths.bpffsRoot, h.name, slot, p.load, fd, error)) return false;
    }
  return true;
}

// One hook this apply attached or swapped, and how to undo it.
struct Attached {
  const PlannedEndpoint* endpoint = nullptr;
  const Hook* hook = nullptr;
  HookRecord program;  // the class program that judges its packets
  uint32_t runs = 0;   // the program the hook itself runs: the dispatcher, or `program`
  bool dispatched = false;
  bool unchanged = false;  // it ran the dispatcher already: nothing to undo
  bool tc = false;     // a cls_bpf filter, found by interface
  Fd link;             // the link (TCX, cgroup)
  std::string pin;
  bool created = false;  // a new link or filter, not a swap
  Fd oldProg;            // what ran before a swap
};

class Attachments {
 public:
  std::vector<Attached> done;

  // Undoes every change, the last first: new links are detached and
  // unpinned, swapped ones get their previous program back; in tc mode the
  // previous program is attached again, or the new filter removed. Best
  // effort: its own failures are not checked.
  void rollback() {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      Attached& d = *it;
      const std::string& iface = d.endpoint->endpoint.interface;
      if (d.unchanged) continue;
      if (d.tc) {
        if (d.oldProg.fd >= 0)
          attachTc(d.oldProg.fd, iface, d.hook->ingress, nullptr);
        else
          detachTc(iface, d.hook->ingress);
      } else if (d.created) {
        bpf_link_detach(d.link.fd);
        unlink(d.pin.c_str());
      } else if (d.oldProg.fd >= 0) {
        bpf_link_update(d.link.fd, d.oldProg.fd, nullptr);
      }
    }
    done.clear();
  }
};

// Whether interface hooks are cls_bpf filters rather than TCX links.
bool useTcFilters(const Paths& paths) { return paths.attach == "tc" || (paths.attach == "auto" && !tcxSupported()); }

// A new link of `progFd` at an endpoint's hook, pinned at `pin`; fd -1
// (`why` set, nothing left attached) when either step fails.
Fd attachPinned(int progFd, const NodeEndpoint& e, const Hook& h, const std::string& pin, std::string* why) {
  int fd = h.tc() ? attachTcx(progFd, e.interface, h.ingress, why)
                  : attachCgroupAs(progFd, e.cgroup, h.cgroupAttachType, why);
  if (fd >= 0 && bpf_obj_pin(fd, pin.c_str()) != 0) {
    if (why) *why = "cannot pin its link at " + pin + ": " + std::strerror(errno);
    bpf_link_detach(fd);
    close(fd);
    fd = -1;
  }
  return Fd(fd);
}

// 5. Attaches or swaps every hook of every enforced endpoint: a dispatched
// hook to the node's dispatcher (left alone when it runs it already: its
// packets move to this version at the flip), any other to its program.
bool attachAll(const Plan& plan, const Paths& paths, const State* previous, Attachments& out, ApplyReport& report,
               std::string* error) {
  bool useTc = useTcFilters(paths);
  struct Dispatcher {
    Fd fd;
    uint32_t id = 0;
  };
  std::map<std::string, Dispatcher> dispatchers;  // by hook name
  libbpf::LibbpfLog quiet;  // libbpf's tc messages ("Parent Qdisc doesn't exists") are
                    // not errors here
  std::string why;
  for (const auto& p : plan.endpoints) {
    const NodeEndpoint& e = p.endpoint;
    const EndpointState* before = nullptr;
    if (previous)
      for (const auto& pe : previous->endpoints)
        if (pe.key == e.key()) before = &pe;
    for (const Hook& hook : p.hooks) {
      const Hook* h = &hook;
      bpf_program* prog = bpf_object__find_program_by_name(p.object.get(), h->program.c_str());
      int progFd = prog ? bpf_program__fd(prog) : -1;
      auto info = progFd >= 0 ? programInfo(progFd) : std::nullopt;
      if (!info) {
        if (error) *error = "attaching " + e.key() + " " + h->name + ": its program is not loaded";
        return false;
      }
      Attached a;
      a.endpoint = &p;
      a.hook = h;
      a.program = {info->id, info->tag};
      a.runs = info->id;
      a.dispatched = p.dispatched(*h);
      if (a.dispatched) {
        // Each hook's dispatcher is opened once per apply, not per endpoint.
        auto [it, fresh] = dispatchers.try_emplace(h->name);
        if (fresh) {
          it->second.fd = dispatch::program(paths.bpffsRoot, h->name);
          auto d = it->second.fd.fd >= 0 ? programInfo(it->second.fd.fd) : std::nullopt;
          it->second.id = d ? d->id : 0;
        }
        if (it->second.id == 0) {
          if (error) *error = "attaching " + e.key() + " " + h->name + ": the node's dispatcher for it is not pinned";
          return false;
        }
        progFd = it->second.fd.fd;
        a.runs = it->second.id;
      }
      if (h->tc() && useTc) {
        // cls_bpf: attaching replaces the filter's program in one step.
        uint32_t oldId = tcProgramId(e.interface, h->ingress);
        a.tc = true;
        if (a.dispatched && oldId == a.runs) {
          a.unchanged = true;
          ++report.swapped;
          out.done.push_back(std::move(a));
          continue;
        }
        a.oldProg = Fd(oldId ? bpf_prog_get_fd_by_id(oldId) : -1);
        a.created = oldId == 0;
        if (!attachTc(progFd, e.interface, h->ingress, &why)) {
          if (error) *error = "attaching " + e.key() + " " + h->name + ": " + why;
          return false;
        }
        (a.created ? report.attached : report.swapped)++;
        out.done.push_back(std::move(a));
        continue;
      }
      a.pin = linkPin(paths, e.ns, e.name, h->name);
      Fd existing(bpf_obj_get(a.pin.c_str()));
      // A link whose interface or cgroup went away (severed), or that sits
      // where the endpoint no longer is, cannot be swapped: replace it.
      // (By what this hook attaches to: an interface endpoint that gains a
      // cgroup keeps swapping its tc links in place.)
      bool moved = before && (h->tc() ? before->interface != e.interface : before->cgroup != e.cgroup);
      if (existing.fd >= 0 && (moved || linkProgramId(existing.fd) == 0 || linkSevered(existing.fd))) {
        bpf_link_detach(existing.fd);
        existing.reset();
        unlink(a.pin.c_str());
      }
      if (existing.fd >= 0 && a.dispatched && linkProgramId(existing.fd) == a.runs) {
        a.unchanged = true;
        a.link = std::move(existing);
        ++report.swapped;
      } else if (existing.fd >= 0) {
        a.oldProg = Fd(bpf_prog_get_fd_by_id(linkProgramId(existing.fd)));
        if (!updateLink(existing.fd, progFd, a.oldProg.fd, &why)) {
          if (error) *error = "swapping " + e.key() + " " + h->name + ": " + why;
          return false;
        }
        a.link = std::move(existing);
        ++report.swapped;
      } else {
        a.link = attachPinned(progFd, e, *h, a.pin, &why);
        if (a.link.fd < 0) {
          if (error) *error = "attaching " + e.key() + " " + h->name + ": " + why;
          return false;
        }
        a.created = true;
        ++report.attached;
      }
      out.done.push_back(std::move(a));
    }
  }
  return true;
}

// 5b. Every hook read back from the kernel, through its pin or its filter:
// it must run the program this apply loaded for it, or the dispatcher that
// hands its packets to that program from `slot`, where the endpoint is.
bool checkAttached(const Attachments& att, const Paths& paths, uint32_t slot, std::string* error) {
  for (const auto& a : att.done) {
    const NodeEndpoint& e = a.endpoint->endpoint;
    std::string at = e.key() + " " + a.hook->name;
    auto mismatch = [&](const std::string& what) {
      if (error) *error = "after attaching, " + at + " " + what;
      return false;
    };
    if (a.dispatched) {
      uint32_t queued = dispatch::programAt(paths.bpffsRoot, a.hook->name, slot, a.endpoint->load);
      if (queued != a.program.id)
        return mismatch("would get program " + std::to_string(queued) + " from its dispatcher, not program " +
                        std::to_string(a.program.id) + " loaded for it");
    }
    std::string expected = a.dispatched ? "the node's dispatcher (program " + std::to_string(a.runs) + ")"
                                        : "program " + std::to_string(a.runs) + " loaded for it";
    if (a.tc) {
      uint32_t running = tcProgramId(e.interface, a.hook->ingress);
      if (running != a.runs) return mismatch("runs program " + std::to_string(running) + ", not " + expected);
      continue;
    }
    Fd link(bpf_obj_get(a.pin.c_str()));
    if (link.fd < 0) return mismatch("has no link pinned at " + a.pin);
    auto target = linkTarget(link.fd);
    if (!target) return mismatch("has a link at " + a.pin + " that cannot be read");
    if (target->programId != a.runs)
      return mismatch("runs program " + std::to_string(target->programId) + ", not " + expected);
    if (target->tcx && target->ifindex != if_nametoindex(e.interface.c_str()))
      return mismatch("is attached to interface index " + std::to_string(target->ifindex) + ", not to " + e.interface);
    if (target->cgroup && target->cgroupId != cgroupId(e.cgroup))
      return mismatch("is attached to cgroup id " + std::to_string(target->cgroupId) + ", not to " + e.cgroup);
  }
  return true;
}

// What the state records of a planned endpoint, before its hooks: who it
// is, where, its class and (learned here) its labels, addresses and ports.
EndpointState plannedState(const PlannedEndpoint& p) {
  EndpointState es;
  if (p.endpoint.labels) {
    es.labels = p.endpoint.labels;
    es.addresses = p.endpoint.addresses;
    es.ports = p.endpoint.ports;
  }
  es.key = p.endpoint.key();
  es.ns = p.endpoint.ns;
  es.name = p.endpoint.name;
  es.id = p.id;
  es.classId = p.classId;
  es.interface = p.endpoint.interface;
  es.cgroup = p.endpoint.cgroup;
  es.root = p.endpoint.root;
  return es;
}

// 6. The state this apply commits, from the plan and what attachAll did.
State nextState(const Artifacts& a, const NodeConfig& node, const Plan& plan, const Attachments& att,
                const State* previous, const std::vector<ClusterEndpoint>& cluster) {
  State next;
  next.version = a.version;
  next.artifactDir = fs::absolute(a.dir).string();
  next.host = node.hostAddresses;
  next.loads = plan.loads;
  next.peers = node.peers;
  if (previous) next.learned = previous->learned;
  next.cluster = cluster;
  for (const auto& p : plan.endpoints) {
    EndpointState es = plannedState(p);
    es.l7Slot = p.l7Slot;
    if (p.dispatchedAs) es.load = p.load;
    for (const auto& d : att.done)
      if (d.endpoint == &p) {
        es.hooks.push_back(d.hook->name);
        es.programs[d.hook->name] = d.program;
        if (d.tc) es.mode = "tc";
      }
    next.endpoints.push_back(std::move(es));
  }
  return next;
}

// Links no hook of `state` owns (endpoints gone or now unrestricted, hooks
// of an endpoint that moved between an interface and a cgroup; all of them
// without a state) are detached and unpinned.
size_t detachUnwantedLinks(const Paths& paths, const State* state) {
  std::set<std::string> wanted;
  if (state)
    for (const auto& es : state->endpoints)
      if (es.mode == "link")
        for (const auto& h : es.hooks) wanted.insert(linkPinName(es.ns, es.name, h));
  size_t detached = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.bpffsRoot + "/links", ec); !ec && it != fs::directory_iterator(); ++it) {
    if (wanted.count(it->path().filename().string())) continue;
    // Detach now: dropping the last reference frees a link later, from a
    // workqueue, and until then the old program would still run.
    Fd link(bpf_obj_get(it->path().c_str()));
    if (link.fd >= 0) bpf_link_detach(link.fd);
    std::error_code rec;
    fs::remove(it->path(), rec);
    ++detached;
  }
  return detached;
}

// Every version's directory but `keep`'s (none with "").
void dropOtherVersions(const Paths& paths, const std::string& keep) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.bpffsRoot + "/versions", ec); !ec && it != fs::directory_iterator(); ++it)
    if (it->path().filename() != keep) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
    }
}

// The entries the dispatchers find `state`'s dispatched endpoints by, as
// the kernel names their interfaces and cgroups now.
std::vector<endpoint_map::Entry> dispatchedEntries(const State& state) {
  std::vector<endpoint_map::Entry> out;
  for (const auto& e : state.endpoints) {
    if (!e.load) continue;
    if (auto entry = dispatchEntry(e.interface, e.cgroup, !e.interface.empty(), e.id)) {
      entry->load = *e.load;
      out.push_back(*entry);
    }
  }
  return out;
}

// The trie a state means, and the cluster endpoints it leaves out.
bool stateTrie(const artifacts::Manifest& manifest, const State& state, std::vector<identity::TrieEntry>& out,
               std::vector<std::string>* skipped, std::string* error) {
  std::set<std::string> local;
  for (const auto& e : state.endpoints) local.insert(e.key);
  IdentityView view = identityView(manifest, state.knownHere(), local, state.cluster);
  if (skipped) *skipped = view.skipped;
  return identityEntries(view.manifest, view.extra, state.host, out, error);
}

// The running version's trie made to hold `entries` (what `state` means).
// How many entries changed goes to `changes`.
bool writeTrie(const Paths& paths, const State& state, const std::vector<identity::TrieEntry>& entries,
               size_t* changes, std::string* error) {
  Fd trie(bpf_obj_get(identityPin(paths, state.version).c_str()));
  if (trie.fd >= 0) {
    auto n = syncTrie(paths, state.version, trie.fd, entries, state.complete, error);
    if (!n) return false;
    if (changes) *changes = *n;
  } else if (!state.endpoints.empty()) {
    if (error) *error = "no identity map for version " + state.version + " under " + paths.bpffsRoot;
    return false;
  } else if (changes) {
    *changes = 0;  // nothing enforced, no trie: the next apply builds it from the state
  }
  return true;
}

// The current version's trie made what `state` means, then the state
// written.
bool rewriteIdentities(const Paths& paths, const artifacts::Manifest& manifest, const State& state,
                       std::string* error) {
  std::vector<identity::TrieEntry> entries;
  return stateTrie(manifest, state, entries, nullptr, error) && writeTrie(paths, state, entries, nullptr, error) &&
         writeState(paths, state, error);
}

// ---- an apply in progress ---------------------------------------------------

// pending.json in the state directory says what an apply is doing to the
// node beyond what state.json says, written before it does it, so that the
// next command finds what a killed apply left and finishes or undoes it
// (recoverInterrupted):
//   "fill"  the slot packets do not follow is being filled and hooks
//           attached; the tc filters it may add are listed;
//   "flip"  everything is in place and read back, and the state to commit
//           is here (the manifest beside it, manifest.pending.json): the
//           flip is next, or done;
//   "detach" `membrane detach` runs (detachLocked): the next command
//           finishes it;
//   "endpoints" endpoints join or leave the running version in place
//           (changeInPlace): the next command makes the node what
//           state.json says (reconcileToState).
struct Pending {
  std::string phase;  // "fill", "flip", "detach" or "endpoints"
  uint32_t slot = 0;  // the slot this apply fills
  uint32_t loads = 0;
  uint32_t previousLoads = 0;  // the loads of the version in the other slot
  std::string version;
  std::vector<std::string> tcInterfaces;
  json state;  // "flip": the state it commits

  json toJson() const {
    return {{"phase", phase},     {"slot", slot},     {"loads", loads}, {"previousLoads", previousLoads},
            {"version", version}, {"tcInterfaces", tcInterfaces}, {"state", state}};
  }
};

fs::path pendingPath(const Paths& paths) { return fs::path(paths.stateDir) / "pending.json"; }
fs::path pendingManifestPath(const Paths& paths) { return fs::path(paths.stateDir) / "manifest.pending.json"; }

bool writePending(const Paths& paths, const Pending& pending, std::string* error) {
  std::error_code ec;
  fs::create_directories(paths.stateDir, ec);
  return writeFileAtomically(pendingPath(paths), pending.toJson().dump() + "\n", error);
}

void removePending(const Paths& paths) {
  std::error_code ec;
  fs::remove(pendingManifestPath(paths), ec);
  fs::remove(pendingPath(paths), ec);
}

std::optional<Pending> loadPending(const Paths& paths, std::string* error) {
  if (error) error->clear();
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(pendingPath(paths), ec))) return std::nullopt;
  std::string why;
  auto text = io::readRegularFile(pendingPath(paths).string(), kMaxStateBytes, "pending.json", &why);
  std::optional<io::JsonDocument> doc;
  if (text) doc = io::parseJsonStrictly(*text, &why);
  try {
    if (!doc) throw std::runtime_error(why);
    const json& j = doc->value;
    Pending p;
    p.phase = j.at("phase");
    if (p.phase != "fill" && p.phase != "flip" && p.phase != "detach" && p.phase != "endpoints")
      throw std::runtime_error("unknown phase \"" + p.phase + "\"");
    p.slot = j.at("slot");
    p.loads = j.at("loads");
    p.previousLoads = j.at("previousLoads");
    p.version = j.at("version");
    p.tcInterfaces = j.at("tcInterfaces").get<std::vector<std::string>>();
    p.state = j.at("state");
    if (p.slot >= MB_DISPATCH_SLOTS || p.loads > MB_LOADS_MAX || p.previousLoads > MB_LOADS_MAX)
      throw std::runtime_error("a slot or load count out of range");
    return p;
  } catch (const std::exception& e) {
    if (error) *error = "unreadable " + pendingPath(paths).string() + ": " + e.what();
    return std::nullopt;
  }
}

// 7. After the flip: the state is written (the manifest first), what it does
// not list loses its filters and links, other versions' tries and counters
// go (no program reads them now: the previous version's, or one an
// interrupted apply left), the previous version's programs leave the slot
// packets no longer follow, and pending.json goes last.
bool finishApply(const Paths& paths, const State& next, const State* previous, uint32_t slot,
                 uint32_t previousLoads, const std::string* manifestText, size_t* detached, std::string* error) {
  std::error_code ec;
  fs::create_directories(paths.stateDir, ec);
  // The manifest staged before the flip; a recovery that finds it moved
  // already (killed after the rename) keeps it.
  fs::rename(pendingManifestPath(paths), fs::path(paths.stateDir) / "manifest.json", ec);
  if (ec && manifestText && !writeFileAtomically(fs::path(paths.stateDir) / "manifest.json", *manifestText, error))
    return false;
  if (!writeState(paths, next, error))
    return false;
  size_t n = 0;
  // cls_bpf filters of endpoints that are no longer enforced here.
  if (previous)
    for (const auto& old : previous->endpoints) {
      if (old.mode != "tc") continue;
      bool kept = std::any_of(next.endpoints.begin(), next.endpoints.end(), [&](const EndpointState& e) {
        return e.key == old.key && e.mode == "tc" && e.interface == old.interface;
      });
      if (kept) continue;
      for (const auto& h : old.hooks)
        if (auto hook = resolveHook(h); hook && detachTc(old.interface, hook->kernelIngress)) ++n;
    }
  n += detachUnwantedLinks(paths, &next);
  dropOtherVersions(paths, next.version);
  dispatch::clearSlot(paths.bpffsRoot, dispatch::otherSlot(slot), previousLoads);
  removePending(paths);
  if (detached) *detached = n;
  return true;
}

// `membrane detach`, under the node lock; also how the next command
// finishes a detach that was killed. Nothing changes until every tc-mode
// filter is known to be reachable from here; then pending.json says a
// detach is under way, and one map update (MB_SLOT_DETACHED) makes every
// dispatched hook pass everything before links and filters go one by one.
bool detachLocked(const Paths& paths, std::string* error) {
  std::error_code ec;
  std::string why;
  auto state = State::load(paths, &why);
  if (state) {
    // cls_bpf filters are not pinned: they are found by interface, in the
    // network namespace they were attached in. Keep the state if any is
    // out of sight, so a second try (with --netns) can still find them.
    std::string missed;
    for (const auto& e : state->endpoints)
      if (e.mode == "tc" && !e.hooks.empty() && if_nametoindex(e.interface.c_str()) == 0) missed += " " + e.interface;
    if (!missed.empty()) {
      if (error)
        *error = "cls_bpf filters on" + missed + " are not visible here; run detach with the --netns they were "
                 "applied with";
      return false;
    }
  }
  Pending detaching;
  detaching.phase = "detach";
  if (fs::exists(paths.stateDir) && !writePending(paths, detaching, error)) return false;
  if (fs::exists(paths.bpffsRoot + "/maps/mb_active_slot") &&
      !dispatch::activate(paths.bpffsRoot, MB_SLOT_DETACHED, error))
    return false;
  if (state) {
    std::string missed;
    for (const auto& e : state->endpoints)
      if (e.mode == "tc")
        for (const auto& h : e.hooks)
          if (auto hook = resolveHook(h);
              hook && tcProgramId(e.interface, hook->kernelIngress) != 0 && !detachTc(e.interface, hook->kernelIngress))
            missed += " " + e.interface;
    if (!missed.empty()) {
      if (error) *error = "cannot remove the cls_bpf filters on" + missed + "; run detach again";
      return false;
    }
  }
  // Links are detached before their pins go (a freed link detaches only
  // later, from a workqueue); maps go once no program holds them.
  for (auto it = fs::directory_iterator(fs::path(paths.bpffsRoot) / "links", ec); !ec && it != fs::directory_iterator();
       ++it) {
    Fd link(bpf_obj_get(it->path().c_str()));
    if (link.fd >= 0) bpf_link_detach(link.fd);
  }
  sockets::detachNodePrograms(paths.bpffsRoot);
  ec.clear();
  for (const char* sub : {"links", "versions", "maps", "node"}) fs::remove_all(fs::path(paths.bpffsRoot) / sub, ec);
  fs::remove(fs::path(paths.stateDir) / "state.json", ec);
  fs::remove(fs::path(paths.stateDir) / "manifest.json", ec);
  removePending(paths);  // last: until here the next command finishes the detach
  if (ec) {
    if (error) *error = ec.message();
    return false;
  }
  return true;
}

// The node made what `state` says of its endpoints, within its running
// version: links no endpoint of it has are detached, endpoint entries and
// own addresses no endpoint of it has removed, and the trie made to hold
// what it means. What an endpoint change in place did is undone (before its
// state was written) or finished (after) by this; `detached` counts links.
// `trie`, when given, is what the state means (computed already).
bool reconcileToState(const Paths& paths, const State& state, size_t* detached, std::string* error,
                      const std::vector<identity::TrieEntry>* trie = nullptr) {
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return false;
  size_t n = detachUnwantedLinks(paths, &state);
  if (detached) *detached = n;
  endpoint_map::prune(paths.bpffsRoot, dispatchedEntries(state));
  std::vector<mb_endpoint_addr_key> owned;
  for (const auto& e : state.endpoints)
    for (const auto& addr : ownAddresses(*manifest, e.asLearned())) owned.push_back(identity::ownedAddressKey(e.id, addr));
  std::vector<identity::TrieEntry> computed;
  if (!trie && !stateTrie(*manifest, state, computed, nullptr, error)) return false;
  Fd trieFd(bpf_obj_get(identityPin(paths, state.version).c_str()));
  if (trieFd.fd >= 0 && !syncTrie(paths, state.version, trieFd.fd, trie ? *trie : computed, state.complete, error))
    return false;
  pruneOwnedAddresses(paths, owned);
  return true;
}

// What a killed apply left, finished or undone, before a command that
// changes the node reads the state. With pending.json at "flip" and the
// flip done, the node runs the new version: its state is committed (roll
// forward). Otherwise the node still runs the state's version: the slot the
// apply filled is emptied, its version's directory dropped, and the filters,
// links and entries it added for endpoints the state does not list are
// removed (roll back).
bool recoverInterrupted(const Paths& paths, std::string* error) {
  std::string why;
  auto pending = loadPending(paths, &why);
  if (!pending) {
    if (why.empty()) return true;
    if (error) *error = why + "; remove it, or run membrane detach";
    return false;
  }
  if (pending->phase == "detach") return detachLocked(paths, error);
  auto state = State::load(paths, &why);
  if (!state && !why.empty()) {
    if (error) *error = why + "; remove it, or run membrane detach";
    return false;
  }
  if (pending->phase == "endpoints") {
    if (state && !reconcileToState(paths, *state, nullptr, error)) return false;
    removePending(paths);
    return true;
  }
  if (pending->phase == "flip" && dispatch::activeSlot(paths.bpffsRoot) == pending->slot) {
    auto next = State::fromJson(pending->state, pendingPath(paths).string(), error);
    if (!next) {
      if (error) *error += "; remove it, or run membrane detach";
      return false;
    }
    if (!finishApply(paths, *next, state ? &*state : nullptr, pending->slot, pending->previousLoads, nullptr, nullptr,
                     error))
      return false;
    endpoint_map::prune(paths.bpffsRoot, dispatchedEntries(*next));
    return true;
  }
  dispatch::clearSlot(paths.bpffsRoot, pending->slot, pending->loads);
  if (!state || state->version != pending->version) {
    std::error_code ec;
    fs::remove_all(paths.bpffsRoot + "/versions/" + pending->version, ec);
  }
  for (const auto& iface : pending->tcInterfaces) {
    bool kept = state && std::any_of(state->endpoints.begin(), state->endpoints.end(), [&](const EndpointState& e) {
                  return e.mode == "tc" && e.interface == iface;
                });
    if (kept || if_nametoindex(iface.c_str()) == 0) continue;
    detachTc(iface, true);
    detachTc(iface, false);
  }
  detachUnwantedLinks(paths, state ? &*state : nullptr);
  endpoint_map::prune(paths.bpffsRoot, state ? dispatchedEntries(*state) : std::vector<endpoint_map::Entry>{});
  removePending(paths);
  return true;
}


// ---- endpoints joining and leaving in place ---------------------------------

enum class InPlace { Done, NotPossible, Failed };

// A pod's endpoint joining (leaving) the node, in place: when every
// endpoint it adds is one the running version's loads already judge (its
// class's load is shared by a dispatched endpoint of the same kind here,
// and all of its hooks run the dispatchers), nothing is loaded or verified
// and nothing flips. Its entry, own addresses and trie entries are written,
// its hooks attached to the dispatchers and read back, then the state is
// written and what removed endpoints had goes (reconcileToState). Anything
// else (a class without a load here, an endpoint with its own load, socket
// layer or process rules, endpoints whose dispatch would change, tc
// filters) is NotPossible: the caller applies the whole node again.
// pending.json ("endpoints") lets the next command finish or undo it.
InPlace changeInPlace(const State& before, const NodeConfig& node, const Paths& paths, ApplyReport* report,
                      std::string* error) {
  if (!before.complete || useTcFilters(paths)) return InPlace::NotPossible;
  uint32_t active = dispatch::activeSlot(paths.bpffsRoot);
  if (!fs::exists(paths.bpffsRoot + "/maps/mb_active_slot")) return InPlace::NotPossible;
  std::map<std::string, const EndpointState*> had;
  for (const auto& es : before.endpoints) had[es.key] = &es;
  std::set<std::string> staying;
  for (const auto& e : node.endpoints) {
    auto it = had.find(e.key());
    if (it == had.end()) continue;
    const EndpointState& es = *it->second;
    // An endpoint that stays must stay as it is.
    if (es.interface != e.interface || es.cgroup != e.cgroup || es.root != e.root || es.labels != e.labels ||
        (e.labels && (es.addresses != e.addresses || es.ports != e.ports)) || es.mode != "link")
      return InPlace::NotPossible;
    staying.insert(e.key());
  }
  // One that leaves must hold nothing of the socket layer's (which only a
  // whole apply prunes).
  for (const auto& es : before.endpoints)
    if (!staying.count(es.key) && (es.mode != "link" || es.l7Slot)) return InPlace::NotPossible;

  Artifacts a;
  std::string why;
  auto manifest = loadAppliedManifest(paths, &why);
  if (!manifest) return InPlace::NotPossible;
  a.manifest = std::move(*manifest);
  a.version = before.version;
  a.dir = before.artifactDir;
  Plan plan;
  if (!planEndpoints(a, node, &before, before.cluster, endpoint_map::currentDepths(paths.bpffsRoot), plan, &why))
    return InPlace::NotPossible;  // the whole apply says why

  // Each endpoint that joins: the load it shares, and the class programs
  // (as the state records them) its dispatchers hand its packets to.
  struct Joining {
    const PlannedEndpoint* planned;
    const EndpointState* sharer;
  };
  std::vector<Joining> joining;
  for (auto& p : plan.endpoints) {
    auto it = had.find(p.endpoint.key());
    if (it != had.end()) {
      if (p.dispatchedAs.has_value() != it->second->load.has_value()) return InPlace::NotPossible;
      continue;
    }
    bool allDispatched = std::all_of(p.hooks.begin(), p.hooks.end(), [&](const Hook& h) { return p.dispatched(h); });
    if (!p.classId || !p.shared || !p.dispatchedAs || !allDispatched) return InPlace::NotPossible;
    std::set<std::string> hooks;
    for (const Hook& h : p.hooks) hooks.insert(h.name);
    const EndpointState* sharer = nullptr;
    for (const auto& es : before.endpoints) {
      if (!staying.count(es.key) || es.classId != p.classId || !es.load ||
          es.interface.empty() != p.endpoint.interface.empty() ||
          std::set<std::string>(es.hooks.begin(), es.hooks.end()) != hooks)
        continue;
      bool loaded = std::all_of(hooks.begin(), hooks.end(), [&](const std::string& h) {
        auto rec = es.programs.find(h);
        return rec != es.programs.end() && rec->second.id != 0 &&
               dispatch::programAt(paths.bpffsRoot, h, active, *es.load) == rec->second.id;
      });
      if (loaded) {
        sharer = &es;
        break;
      }
    }
    if (!sharer) return InPlace::NotPossible;
    p.load = *sharer->load;
    joining.push_back({&p, sharer});
  }
  if (joining.empty() && staying.size() == before.endpoints.size()) return InPlace::NotPossible;

  // The state this change commits, in NODE.json's order.
  State next = before;
  next.endpoints.clear();
  for (const auto& p : plan.endpoints) {
    if (auto it = had.find(p.endpoint.key()); it != had.end()) {
      next.endpoints.push_back(*it->second);
      continue;
    }
    const EndpointState& sharer = *std::find_if(joining.begin(), joining.end(), [&](const Joining& j) {
                                     return j.planned == &p;
                                   })->sharer;
    EndpointState es = plannedState(p);
    es.load = p.load;
    es.hooks = sharer.hooks;
    es.programs = sharer.programs;
    next.endpoints.push_back(std::move(es));
  }

  Pending pending;
  pending.phase = "endpoints";
  pending.slot = active;
  pending.loads = before.loads;
  pending.version = before.version;
  pending.state = next.toJson();
  if (!writePending(paths, pending, error)) return InPlace::Failed;
  auto undo = [&](const std::string& what) {
    std::string ignored;
    if (reconcileToState(paths, before, nullptr, &ignored)) removePending(paths);
    if (error) *error = what + " (rolled back)";
    return InPlace::Failed;
  };

  // Joining endpoints: found by the dispatchers, owning their addresses and
  // known to the trie before a hook of theirs runs.
  Fd owned(bpf_obj_get(ownedAddressesPin(paths).c_str()));
  Fd trie(bpf_obj_get(identityPin(paths, before.version).c_str()));
  if (owned.fd < 0 || trie.fd < 0) return undo("the running version's maps are not pinned under " + paths.bpffsRoot);
  for (const auto& j : joining) {
    endpoint_map::Entry entry = *j.planned->dispatchedAs;
    entry.load = j.planned->load;
    if (!endpoint_map::addNew(paths.bpffsRoot, entry, active, &why))
      return undo("endpoint " + j.planned->endpoint.key() + ": " + why);
    uint32_t one = 1;
    for (const auto& addr : j.planned->own) {
      mb_endpoint_addr_key key = identity::ownedAddressKey(j.planned->id, addr);
      if (bpf_map_update_elem(owned.fd, &key, &one, BPF_ANY) != 0)
        return undo("cannot fill the endpoint address map: " + std::string(std::strerror(errno)));
    }
  }
  if (!syncTrie(paths, before.version, trie.fd, plan.trie, true, &why)) return undo(why);

  ApplyReport r;
  r.version = r.previousVersion = before.version;
  r.inPlace = true;
  // Attached as attachAll attaches a new dispatched hook, and read back by
  // the same check: each runs the node's dispatcher where its endpoint is,
  // and the dispatcher hands it the class program the state records.
  Attachments att;
  for (const auto& j : joining) {
    const NodeEndpoint& e = j.planned->endpoint;
    for (const Hook& h : j.planned->hooks) {
      std::string at = "attaching " + e.key() + " " + h.name + ": ";
      Fd dispatcher = dispatch::program(paths.bpffsRoot, h.name);
      auto info = dispatcher.fd >= 0 ? programInfo(dispatcher.fd) : std::nullopt;
      if (!info) return undo(at + "the node's dispatcher for it is not pinned");
      Attached added;
      added.endpoint = j.planned;
      added.hook = &h;
      added.program = j.sharer->programs.at(h.name);
      added.runs = info->id;
      added.dispatched = true;
      added.created = true;
      added.pin = linkPin(paths, e.ns, e.name, h.name);
      added.link = attachPinned(dispatcher.fd, e, h, added.pin, &why);
      if (added.link.fd < 0) return undo(at + why);
      att.done.push_back(std::move(added));
      ++r.attached;
    }
  }
  if (!att.done.empty() && paths.afterAttachForTesting) paths.afterAttachForTesting();
  if (!checkAttached(att, paths, active, &why)) return undo(why);
  if (!writeState(paths, next, error)) {
    std::string what = error ? *error : "cannot write state.json";
    return undo(what);
  }
  // Committed: what left goes (a join alone is complete already). A failure
  // now leaves pending.json, and the next command finishes this.
  bool left = staying.size() < before.endpoints.size();
  if (left && !reconcileToState(paths, next, &r.detached, error, &plan.trie)) return InPlace::Failed;
  removePending(paths);
  r.endpoints = next.endpoints.size();
  if (report) *report = std::move(r);
  return InPlace::Done;
}

}  // namespace

uint32_t endpointId(const std::string& key) {
  // Stable, cheap, and 0 is never used (0 means "unset").
  uint32_t h = fnv1a(key);
  return h ? h : 1;
}

// apply, with the node lock held and interrupted commands finished.
static bool applyLocked(const std::string& artifactDir, const NodeConfig& node, const Paths& paths,
                        ApplyReport* report, std::string* error) {
  Artifacts a;
  if (!verifyArtifacts(artifactDir, a, error)) return false;
  std::string why;
  auto previous = State::load(paths, &why);
  if (!previous && !why.empty()) {
    if (error) *error = why + "; remove it, or run membrane detach";
    return false;
  }
  const State* before = previous ? &*previous : nullptr;
  // The cluster's endpoints: the state's, or after a detach cluster.json's.
  auto cluster = previous ? std::optional(previous->cluster) : State::loadCluster(paths, error);
  if (!cluster) return false;
  Plan plan;
  if (!planEndpoints(a, node, before, *cluster, endpoint_map::currentDepths(paths.bpffsRoot), plan, error))
    return false;

  // From here the bpffs is touched. A failure before attaching leaves what
  // runs as it was; a new version's directory is removed again.
  bool versionIsNew = !fs::exists(identityPin(paths, a.version));
  auto dropNewVersion = [&] {
    if (versionIsNew && (!previous || previous->version != a.version)) {
      std::error_code ec;
      fs::remove_all(paths.bpffsRoot + "/versions/" + a.version, ec);
    }
  };
  std::vector<std::string> warnings;
  if (!loadPrograms(a, plan, paths, error) || !fillEndpointExecutables(a, plan, warnings, error) ||
      !fillTrie(paths, a.version, plan, error) || !addOwnedAddresses(paths, plan, error)) {
    plan.endpoints.clear();  // closes the objects before their version's pins go
    dropNewVersion();
    return false;
  }
  // This version goes into the slot packets do not follow. The entries, to
  // put back if this apply fails from here on.
  uint32_t active = dispatch::activeSlot(paths.bpffsRoot);
  uint32_t slot = dispatch::otherSlot(active);
  endpoint_map::Snapshot endpointsBefore = endpoint_map::snapshot(paths.bpffsRoot);
  auto emptySlot = [&] {
    dispatch::clearSlot(paths.bpffsRoot, slot, plan.loads);
    endpoint_map::restore(paths.bpffsRoot, endpointsBefore);
    removePending(paths);
  };
  // Before the node changes: what the next command undoes if this one is
  // killed before the flip.
  Pending pending;
  pending.phase = "fill";
  pending.slot = slot;
  pending.loads = plan.loads;
  pending.previousLoads = previous ? previous->loads : 0;
  pending.version = a.version;
  if (useTcFilters(paths))
    for (const auto& p : plan.endpoints)
      if (!p.endpoint.interface.empty()) pending.tcInterfaces.push_back(p.endpoint.interface);
  if (!writePending(paths, pending, error) || !fillSlot(plan, paths, slot, error) ||
      !endpoint_map::add(paths.bpffsRoot, plan.endpointEntries(), slot, error)) {
    emptySlot();
    plan.endpoints.clear();
    dropNewVersion();
    return false;
  }

  SocketChanges socketChanges;
  if (!setUpSockets(a, plan, paths, socketChanges, error)) {
    socketChanges.rollback(paths);
    emptySlot();
    plan.endpoints.clear();
    dropNewVersion();
    return false;
  }

  ApplyReport r;
  r.warnings = std::move(warnings);
  for (const auto& skipped : plan.clusterSkipped) r.warnings.push_back("cluster endpoint left out of the trie: " + skipped);
  r.version = a.version;
  r.previousVersion = previous ? previous->version : "";
  Attachments att;
  bool attached = attachAll(plan, paths, before, att, r, error);
  if (attached && paths.afterAttachForTesting) paths.afterAttachForTesting();
  // What the next command commits if this one is killed after the flip.
  State next = nextState(a, node, plan, att, before, *cluster);
  pending.phase = "flip";
  pending.state = next.toJson();
  // The flip: from this one map update on, every dispatched hook of the node
  // judges by this version.
  if (!attached || !checkAttached(att, paths, slot, error) ||
      !writeFileAtomically(pendingManifestPath(paths), a.manifestText, error) ||
      !writePending(paths, pending, error) || !dispatch::activate(paths.bpffsRoot, slot, error)) {
    att.rollback();
    socketChanges.rollback(paths);
    emptySlot();
    if (error) *error += " (rolled back)";
    plan.endpoints.clear();
    dropNewVersion();
    return false;
  }
  r.endpoints = next.endpoints.size();
  if (!finishApply(paths, next, before, slot, pending.previousLoads, &a.manifestText, &r.detached, error)) return false;
  pruneOwnedAddresses(paths, plan);
  endpoint_map::prune(paths.bpffsRoot, plan.endpointEntries());
  // The socket layer keeps only what this version's endpoints use; with none
  // it is detached (its sockops program would run for every new connection
  // of the node for nothing).
  std::set<uint32_t> slotsInUse;
  for (const auto& p : plan.endpoints)
    if (p.l7Slot) slotsInUse.insert(*p.l7Slot);
  sockets::pruneEndpoints(paths.bpffsRoot, plan.l7Entries());
  // Slots are only ever filled while the node-wide programs are attached
  // (setUpSockets attaches them first, and they stay until here): a node
  // without them has no slot to clear, and skips 8,192 bpf() calls.
  if (sockets::nodeProgramsAttached(paths.bpffsRoot)) sockets::clearSlotsExcept(paths.bpffsRoot, slotsInUse);
  if (!plan.usesSockets()) sockets::detachNodePrograms(paths.bpffsRoot);
  if (report) *report = r;
  return true;
}

bool apply(const std::string& artifactDir, const NodeConfig& node, const Paths& paths, ApplyReport* report,
           std::string* error) {
  auto lock = lockNode(paths, "apply", error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  return applyLocked(artifactDir, node, paths, report, error);
}

// The NODE.json the applied state was made from: its local endpoints
// (with labels, addresses and ports where NODE.json gave them), peers and
// host addresses. nullopt for a state too old to record them.
static std::optional<NodeConfig> appliedNodeConfig(const State& state, std::string* error) {
  if (!state.complete) {
    if (error)
      *error = "the state in this node's state directory was written by an older membrane and does not record "
               "NODE.json's peers; run membrane apply with NODE.json once";
    return std::nullopt;
  }
  NodeConfig node;
  node.hostAddresses = state.host;
  node.peers = state.peers;
  for (const auto& e : state.endpoints) {
    NodeEndpoint ne = e.asLearned();
    ne.interface = e.interface;
    ne.cgroup = e.cgroup;
    ne.root = e.root;
    node.endpoints.push_back(ne);
  }
  return node;
}

// Endpoints of the applied node whose interface or cgroup no longer exists
// (a pod whose network went without a DEL): nothing is left to enforce
// there, and applying them would fail every later join. They are dropped,
// one warning each.
// When every interface is missing, though, this is the wrong network
// namespace, not a node whose pods all vanished: refused (error set), so
// that a misconfigured command cannot stop enforcement everywhere.
static std::optional<std::vector<std::string>> dropVanished(NodeConfig& node, const std::string& keep,
                                                            std::string* error) {
  size_t interfaces = 0, missing = 0;
  for (const auto& e : node.endpoints)
    if (!e.interface.empty() && e.key() != keep) {
      ++interfaces;
      if (if_nametoindex(e.interface.c_str()) == 0) ++missing;
    }
  if (interfaces > 0 && missing == interfaces) {
    if (error)
      *error = "none of the " + std::to_string(interfaces) +
               " interfaces this node enforces at is in this network namespace: is it the node's (--netns, "
               "--node-netns)?";
    return std::nullopt;
  }
  std::vector<std::string> warnings;
  std::erase_if(node.endpoints, [&](const NodeEndpoint& e) {
    if (e.key() == keep) return false;
    std::error_code ec;
    std::string gone = !e.interface.empty() && if_nametoindex(e.interface.c_str()) == 0 ? "interface " + e.interface
                       : !e.cgroup.empty() && !fs::exists(e.cgroup, ec)                ? "cgroup " + e.cgroup
                                                                                       : "";
    if (!gone.empty())
      warnings.push_back("endpoint " + e.key() + " is no longer enforced: its " + gone +
                         " is gone (its pod went without a CNI DEL or endpoint leave)");
    return !gone.empty();
  });
  return warnings;
}

// What a change of the local endpoints does: refuse (error set), nothing,
// or apply the edited node.
enum class LocalChange { Refused, None, Apply };

// The applied NODE.json edited by `change`, applied again with the applied
// artifacts, all under one hold of the lock. With `nothingAppliedIsFine`, a
// node with no state changes nothing and succeeds.
// The applied node, edited, applied again: endpoints that vanished (but
// `keep`) dropped first, and said.
static bool applyAgain(const std::string& artifactDir, NodeConfig& node, const std::string& keep, const Paths& paths,
                       ApplyReport* report, std::string* error) {
  auto dropped = dropVanished(node, keep, error);
  ApplyReport r;
  if (!dropped || !applyLocked(artifactDir, node, paths, &r, error)) return false;
  r.warnings.insert(r.warnings.begin(), dropped->begin(), dropped->end());
  if (report) *report = std::move(r);
  return true;
}

static bool changeLocalEndpoints(const Paths& paths, const char* operation, ApplyReport* report, std::string* error,
                                 bool nothingAppliedIsFine, const std::string& keep,
                                 const std::function<LocalChange(NodeConfig&)>& change) {
  auto lock = lockNode(paths, operation, error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  std::string why;
  auto state = State::load(paths, &why);
  if (!state && why.empty() && nothingAppliedIsFine) return true;
  if (!state) return requireState(paths, error).has_value();
  auto node = appliedNodeConfig(*state, error);
  if (!node) return false;
  switch (change(*node)) {
    case LocalChange::Refused: return false;
    case LocalChange::None: return true;
    case LocalChange::Apply: break;
  }
  auto dropped = dropVanished(*node, keep, error);
  if (!dropped) return false;
  if (dropped->empty()) switch (changeInPlace(*state, *node, paths, report, error)) {
      case InPlace::Done: return true;
      case InPlace::Failed: return false;
      case InPlace::NotPossible: break;
    }
  ApplyReport r;
  if (!applyLocked(state->artifactDir, *node, paths, &r, error)) return false;
  r.warnings.insert(r.warnings.begin(), dropped->begin(), dropped->end());
  if (report) *report = std::move(r);
  return true;
}

bool applyArtifacts(const std::string& artifactDir, const Paths& paths, ApplyReport* report, std::string* error) {
  auto lock = lockNode(paths, "apply", error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  std::string why;
  auto state = State::load(paths, &why);
  if (!state && !why.empty()) {
    if (error) *error = why + "; remove it, or run membrane detach";
    return false;
  }
  std::optional<NodeConfig> node = NodeConfig{};
  if (state) node = appliedNodeConfig(*state, error);
  return node && applyAgain(artifactDir, *node, "", paths, report, error);
}

// Names from outside (the command line, the CNI plugin) as Kubernetes
// allows them; the error names the option they came from.
static bool namesAllowed(const NodeEndpoint& endpoint, std::string* error) {
  std::string why = namespaceNameProblem(endpoint.ns), which = "--namespace: ";
  if (why.empty()) {
    why = podNameProblem(endpoint.name);
    which = "--name: ";
  }
  if (why.empty()) return true;
  if (error) *error = which + why;
  return false;
}

bool endpointJoin(const NodeEndpoint& endpoint, const Paths& paths, ApplyReport* report, std::string* error) {
  if (!namesAllowed(endpoint, error)) return false;
  if (endpoint.interface.empty() && endpoint.cgroup.empty()) {
    if (error) *error = "endpoint " + endpoint.key() + " names neither an interface nor a cgroup to enforce it at";
    return false;
  }
  return changeLocalEndpoints(paths, "endpoint join", report, error, false, endpoint.key(), [&](NodeConfig& node) {
    std::erase_if(node.endpoints, [&](const NodeEndpoint& e) { return e.key() == endpoint.key(); });
    for (const auto& e : node.endpoints)
      if ((!endpoint.interface.empty() && e.interface == endpoint.interface) ||
          (!endpoint.cgroup.empty() && e.cgroup == endpoint.cgroup)) {
        if (error)
          *error = "endpoint " + e.key() + " is enforced at " + (e.interface.empty() ? e.cgroup : e.interface) +
                   " already";
        return LocalChange::Refused;
      }
    node.endpoints.push_back(endpoint);
    return LocalChange::Apply;
  });
}

bool endpointLeave(const std::string& ns, const std::string& name, const Paths& paths, ApplyReport* report,
                   bool* wasThere, std::string* error) {
  if (wasThere) *wasThere = false;
  return changeLocalEndpoints(paths, "endpoint leave", report, error, true, "", [&](NodeConfig& node) {
    size_t removed = std::erase_if(node.endpoints, [&](const NodeEndpoint& e) { return e.ns == ns && e.name == name; });
    if (wasThere) *wasThere = removed > 0;
    return removed ? LocalChange::Apply : LocalChange::None;
  });
}

bool detachAll(const Paths& paths, std::string* error) {
  auto lock = lockNode(paths, "detach", error);
  if (!lock) return false;
  return detachLocked(paths, error);
}


bool endpointAdd(const NodeEndpoint& endpoint, const Paths& paths, std::string* error) {
  if (!namesAllowed(endpoint, error)) return false;
  if (!endpoint.labels || endpoint.addresses.empty()) {
    if (error) *error = "an endpoint needs labels and at least one address";
    return false;
  }
  auto lock = lockNode(paths, "endpoint add", error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  auto state = requireState(paths, error);
  if (!state) return false;
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return false;
  // The new entries are computed (and an address another endpoint has is
  // refused) before the trie changes.
  State updated = *state;
  std::erase_if(updated.learned, [&](const NodeEndpoint& e) { return e.key() == endpoint.key(); });
  updated.learned.push_back(endpoint);
  std::vector<identity::TrieEntry> entries;
  if (!stateTrie(*manifest, updated, entries, nullptr, error)) return false;
  // Re-adding an endpoint replaces it: addresses it no longer has go (which
  // the rewrite does itself, unless the state is an old one).
  Fd trie(bpf_obj_get(identityPin(paths, state->version).c_str()));
  for (const auto& old : state->learned)
    if (old.key() == endpoint.key())
      for (const auto& a : old.addresses)
        if (std::find(endpoint.addresses.begin(), endpoint.addresses.end(), a) == endpoint.addresses.end()) {
          mb_lpm_key key = identity::keyFor(a);
          if (trie.fd >= 0) bpf_map_delete_elem(trie.fd, &key);
        }
  return rewriteIdentities(paths, *manifest, updated, error);
}

bool endpointRemove(const std::string& ns, const std::string& name, const Paths& paths, std::string* error) {
  auto lock = lockNode(paths, "endpoint remove", error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  auto state = requireState(paths, error);
  if (!state) return false;
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return false;
  auto it = std::find_if(state->learned.begin(), state->learned.end(),
                         [&](const NodeEndpoint& e) { return e.ns == ns && e.name == name; });
  if (it == state->learned.end()) {
    if (error) *error = "no endpoint " + ns + "/" + name + " was added on this node";
    return false;
  }
  std::vector<net::Address> gone = it->addresses;
  state->learned.erase(it);
  Fd trie(bpf_obj_get(identityPin(paths, state->version).c_str()));
  for (const auto& a : gone) {
    mb_lpm_key key = identity::keyFor(a);
    if (trie.fd >= 0) bpf_map_delete_elem(trie.fd, &key);
  }
  return rewriteIdentities(paths, *manifest, *state, error);
}

// The files of the state directory a trie update is computed from.
static std::vector<FileVersion> stateFilesNow(const Paths& paths) {
  std::vector<FileVersion> out;
  for (const char* name : {"state.json", "manifest.json", "pending.json"})
    out.push_back(fileVersion(fs::path(paths.stateDir) / name));
  return out;
}

bool clusterEndpointsSet(const std::vector<ClusterEndpoint>& endpoints, const Paths& paths, ClusterUpdate* report,
                         std::string* error) {
  // The trie is computed before taking the node's lock, from the state as
  // it is, and used under the lock only if the state did not change
  // meanwhile: a join or apply waits only for the trie's write, not its
  // computation, and the agent not for theirs.
  std::optional<State> state;
  std::vector<identity::TrieEntry> entries;
  std::vector<std::string> skipped;
  auto compute = [&](std::string* why) {
    entries.clear();
    skipped.clear();
    state = State::load(paths, why, false);  // its cluster endpoints are replaced
    if (!state) return why->empty();         // nothing applied: cluster.json only
    state->cluster = endpoints;
    auto manifest = loadAppliedManifest(paths, why);
    return manifest && stateTrie(*manifest, *state, entries, &skipped, why);
  };
  std::vector<FileVersion> computedFrom = stateFilesNow(paths);
  std::string why;
  bool computed = compute(&why);
  auto lock = lockNode(paths, "agent", error);
  if (!lock || !recoverInterrupted(paths, error)) return false;
  if (!computed || stateFilesNow(paths) != computedFrom) {
    std::string recomputeWhy;
    if (!compute(&recomputeWhy)) {
      if (error) *error = recomputeWhy;
      return false;
    }
  }
  ClusterUpdate r;
  r.applied = state.has_value();
  r.skipped = skipped;
  if ((state && !writeTrie(paths, *state, entries, &r.trieChanges, error)) ||
      !State::writeCluster(paths, endpoints, error))
    return false;
  if (state) r.taken = endpoints.size() - r.skipped.size();
  if (report) *report = std::move(r);
  return true;
}

std::optional<std::vector<NodeEndpoint>> localEndpoints(const Paths& paths, std::string* error, std::string* version) {
  auto state = requireState(paths, error, false);  // this node's own only
  if (!state) return std::nullopt;
  if (version) *version = state->version;
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return std::nullopt;
  std::vector<NodeEndpoint> out;
  for (const auto& e : state->endpoints) {
    if (e.labels) {
      out.push_back(e.asLearned());
      continue;
    }
    for (const auto& me : manifest->endpoints) {
      if (me.ns != e.ns || me.name != e.name) continue;
      NodeEndpoint ne;
      ne.name = e.name;
      ne.ns = e.ns;
      ne.addresses = me.addresses;
      for (const auto& i : manifest->identities)
        if (i.id == me.identity) {
          ne.labels = i.labels;
          ne.ports = i.ports;
        }
      if (ne.labels) out.push_back(ne);
    }
  }
  return out;
}

const char* hookStateName(HookStatus::State s) {
  switch (s) {
    case HookStatus::State::Ok:
      return "ok";
    case HookStatus::State::NotAttached:
      return "not attached";
    case HookStatus::State::Differs:
      return "differs";
    case HookStatus::State::Unexpected:
      return "unexpected";
    case HookStatus::State::Unknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

// The version whose trie a program reads (its maps include a pinned
// versions/<v>/mb_identity), or "".
std::string versionOfProgram(const Paths& paths, uint32_t progId) {
  auto info = programInfoById(progId);
  if (!info) return "";
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.bpffsRoot + "/versions", ec); !ec && it != fs::directory_iterator();
       ++it) {
    Fd trie(bpf_obj_get((it->path() / "mb_identity").c_str()));
    uint32_t id = trie.fd >= 0 ? mapId(trie.fd) : 0;
    if (id && std::find(info->mapIds.begin(), info->mapIds.end(), id) != info->mapIds.end())
      return it->path().filename().string();
  }
  return "";
}

// One hook as the kernel has it, against the record of what was applied.
HookStatus hookStatus(const Paths& paths, const EndpointState& e, const std::string& hookName, bool recorded) {
  HookStatus hs;
  if (auto it = e.programs.find(hookName); it != e.programs.end()) {
    hs.applied = it->second.id;
    hs.tag = it->second.tag;
  }
  auto hook = resolveHook(hookName);
  bool tc = recorded ? e.mode == "tc" : false;
  if (tc) {
    if (!hook || if_nametoindex(e.interface.c_str()) == 0) {
      hs.state = HookStatus::State::Unknown;
      hs.detail = "interface " + e.interface +
                  " is not in this network namespace; pass the --netns it was "
                  "applied in";
      return hs;
    }
    hs.program = tcProgramId(e.interface, hook->kernelIngress);
    if (hs.program == 0) {
      hs.state = HookStatus::State::NotAttached;
      hs.detail = "no membrane filter on " + e.interface + (hook->kernelIngress ? " ingress" : " egress");
      return hs;
    }
  } else {
    std::string pin = e.pin(paths, hookName);
    Fd link(bpf_obj_get(pin.c_str()));
    if (link.fd < 0) {
      hs.state = HookStatus::State::NotAttached;
      hs.detail = "no link pinned at " + pin + " (" + std::strerror(errno) + ")";
      return hs;
    }
    auto target = linkTarget(link.fd);
    hs.program = target ? target->programId : 0;
    if (!target || hs.program == 0 || linkSevered(link.fd)) {
      hs.state = HookStatus::State::NotAttached;
      hs.detail = "the link pinned at " + pin + " is detached from its " +
                  (hook && hook->point->target == AttachTarget::Interface ? "interface" : "cgroup");
      hs.program = 0;
      return hs;
    }
  }
  // A dispatched hook runs the node's dispatcher, which hands its packets
  // to the class program at the endpoint's load in the active slot: that
  // program is the hook's.
  if (recorded && e.dispatched(hookName)) {
    uint32_t dispatcher = dispatch::programId(paths.bpffsRoot, hookName);
    if (hs.program != dispatcher) {
      hs.state = HookStatus::State::Differs;
      hs.detail = "runs program " + std::to_string(hs.program) + ", not the node's dispatcher (program " +
                  std::to_string(dispatcher) + ")";
      return hs;
    }
    uint32_t slot = dispatch::activeSlot(paths.bpffsRoot);
    hs.program = dispatch::programAt(paths.bpffsRoot, hookName, slot, *e.load);
    if (hs.program == 0) {
      hs.state = HookStatus::State::NotAttached;
      hs.detail = "its dispatcher has no program for it (load " + std::to_string(*e.load) + ", slot " +
                  std::to_string(slot) + ")";
      return hs;
    }
  }
  if (!recorded) {
    hs.state = HookStatus::State::Unexpected;
    hs.detail = "runs program " + std::to_string(hs.program) + ", but the applied state has no program here";
  } else if (hs.applied != 0 && hs.program != hs.applied) {
    hs.state = HookStatus::State::Differs;
    std::string v = versionOfProgram(paths, hs.program);
    hs.detail = "runs program " + std::to_string(hs.program) + (v.empty() ? "" : " (of version " + v + ")") +
                ", not program " + std::to_string(hs.applied) + " that apply attached";
  }
  return hs;
}

}  // namespace

std::optional<Status> status(const Paths& paths, std::string* error) {
  auto state = requireState(paths, error);
  if (!state) return std::nullopt;
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return std::nullopt;
  Status s;
  s.version = state->version;
  s.artifactDir = state->artifactDir;
  for (const auto& l : state->learned) s.learned.push_back({l.key(), l.addresses, l.labels.value_or(labels::LabelSet{}), ""});
  for (const auto& c : state->cluster)
    s.cluster.push_back({c.endpoint.key(), c.endpoint.addresses, c.endpoint.labels.value_or(labels::LabelSet{}), c.node});
  std::sort(s.cluster.begin(), s.cluster.end(), [](const LearnedPeer& a, const LearnedPeer& b) { return a.key < b.key; });
  std::set<std::string> known;  // link pins the state accounts for
  bool anyRecorded = false;
  // Every hook the applied manifest's programs run at: where a program could
  // be attached to an endpoint although the state does not say so.
  std::set<std::string> hookNames;
  for (const auto& c : manifest->classes)
    for (const auto& prog : c.programs) hookNames.insert(prog.hook);
  for (const auto& e : state->endpoints) {
    bool compiled = std::any_of(manifest->endpoints.begin(), manifest->endpoints.end(),
                                [&](const artifacts::EndpointEntry& m) { return m.ns + "/" + m.name == e.key; });
    EndpointStatus es{e.key, e.id, e.classId, e.interface.empty() ? e.cgroup : e.interface, {}, {}, !compiled};
    for (const auto& h : e.hooks) {
      es.hooks[h] = hookStatus(paths, e, h, true);
      if (e.mode == "link") known.insert(linkPinName(e.ns, e.name, h));
      anyRecorded = true;
    }
    // Hooks the state does not give this endpoint, attached anyway: a link
    // pinned under its name, or (seen from its namespace) our tc filter.
    for (const auto& name : hookNames) {
      if (es.hooks.count(name)) continue;
      auto h = resolveHook(name);
      if (!h) continue;
      bool tcHook = h->point->target == AttachTarget::Interface;
      std::string pinName = linkPinName(e.ns, e.name, name);
      bool linkThere = fs::exists(paths.bpffsRoot + "/links/" + pinName);
      bool filterThere = tcHook && !e.interface.empty() && e.mode != "tc" && if_nametoindex(e.interface.c_str()) != 0 &&
                         tcProgramId(e.interface, h->kernelIngress) != 0;
      if (!linkThere && !filterThere) continue;
      EndpointState as = e;
      as.mode = linkThere ? "link" : "tc";
      HookStatus hs = hookStatus(paths, as, name, false);
      if (filterThere && !linkThere) {
        hs.program = tcProgramId(e.interface, h->kernelIngress);
        hs.state = HookStatus::State::Unexpected;
        hs.detail = "a membrane filter on " + e.interface + " runs program " + std::to_string(hs.program) +
                    ", but the applied state has none there";
      }
      if (hs.state == HookStatus::State::NotAttached) continue;  // a dead pin: nothing runs
      es.hooks[name] = hs;
      known.insert(pinName);
    }
    for (const auto& [h, hs] : es.hooks) {
      es.programs[h] = hs.program;
      if (hs.state != HookStatus::State::Ok)
        s.problems.push_back(e.key + " " + h + ": " + hookStateName(hs.state) + ": " + hs.detail);
    }
    s.endpoints.push_back(es);
  }
  // Links of no endpoint the state lists.
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.bpffsRoot + "/links", ec); !ec && it != fs::directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    if (known.count(name)) continue;
    Fd link(bpf_obj_get(it->path().c_str()));
    uint32_t prog = link.fd >= 0 ? linkProgramId(link.fd) : 0;
    auto parts = parseLinkPinName(name);
    std::string who = parts && !parts->hashed ? parts->ns + "/" + parts->name + " " + parts->hook : "links/" + name;
    s.problems.push_back(who + ": unexpected: a link (program " + std::to_string(prog) +
                         ") of no endpoint the applied state lists");
  }
  // A killed apply (pending.json): status only reads, the next command that
  // changes the node finishes or undoes it.
  std::string pendingWhy;
  auto pending = loadPending(paths, &pendingWhy);
  if (pending && pending->phase == "detach")
    s.problems.push_back(
        "a detach was interrupted (dispatched hooks may pass every packet already); the next detach, apply, "
        "endpoint add or endpoint remove finishes it");
  else if (pending && pending->phase == "endpoints")
    s.problems.push_back("an endpoint join or leave was interrupted (links, entries or trie entries of endpoints the "
                         "state does not list may be left); the next apply, endpoint join, leave, add or remove "
                         "finishes it");
  else if (pending)
    s.problems.push_back("an apply of version " + pending->version + " was interrupted (" +
                         (pending->phase == "flip" && dispatch::activeSlot(paths.bpffsRoot) == pending->slot
                              ? "after its flip: the node runs it"
                              : "before its flip: the node runs version " + state->version) +
                         "); the next apply, endpoint add or endpoint remove finishes it");
  else if (!pendingWhy.empty())
    s.problems.push_back(pendingWhy);
  if (anyRecorded && !fs::exists(identityPin(paths, state->version)))
    s.problems.push_back("version " + state->version + ": its identity map is not pinned at " +
                         identityPin(paths, state->version));

  int cpus = libbpf_num_possible_cpus();
  Fd stats(bpf_obj_get(ruleStatsPin(paths, state->version).c_str()));
  auto ruleCounter = [&](uint32_t id, RuleCounter rc) {
    std::vector<mb_rule_stats> v(static_cast<size_t>(std::max(cpus, 1)));
    if (stats.fd >= 0 && bpf_map_lookup_elem(stats.fd, &id, v.data()) == 0)
      for (const auto& x : v) rc.packets += x.packets, rc.bytes += x.bytes;
    rc.id = id;
    s.rules.push_back(rc);
  };
  ruleCounter(0, {0, "", "default deny", "", 0, 0});
  for (const auto& r : manifest->rules) ruleCounter(r.id, {r.id, r.policy, r.text, r.location, 0, 0});
  // Each counter from the map reasons.h says holds it (opened once each).
  std::map<std::string, Fd> counterMaps;
  auto sum = [&](const ReasonCounter& c) {
    auto it = counterMaps.find(c.map);
    if (it == counterMaps.end())
      it = counterMaps.emplace(c.map, Fd(bpf_obj_get((paths.bpffsRoot + "/maps/" + c.map).c_str()))).first;
    std::vector<uint64_t> v(static_cast<size_t>(std::max(cpus, 1)));
    uint64_t total = 0;
    uint32_t index = c.index;
    if (it->second.fd >= 0 && bpf_map_lookup_elem(it->second.fd, &index, v.data()) == 0)
      for (auto x : v) total += x;
    return total;
  };
  for (const auto& c : reasonCounters()) s.reasons[c.name] = sum(c);
  for (const auto& c : dnsCounters()) s.dns[c.name] = sum(c);
  for (const auto& c : httpCounters()) s.http[c.name] = sum(c);
  return s;
}

std::optional<artifacts::Manifest> appliedManifest(const Paths& paths, std::string* error) {
  return loadAppliedManifest(paths, error);
}

}  // namespace membrane::loader
