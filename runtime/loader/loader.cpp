#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <net/if.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "identity/identity_table.h"
#include "loader/kernel.h"
#include "loader/libbpf_log.h"
#include "loader/object_config.h"

namespace membrane::loader {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---- small helpers ---------------------------------------------------------

std::string readFile(const fs::path& p, bool* ok) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return buf.str();
}

bool writeFileAtomically(const fs::path& p, const std::string& data, std::string* error) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out.flush()) {
      if (error) *error = "cannot write '" + tmp.string() + "'";
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec && error) *error = "cannot write '" + p.string() + "': " + ec.message();
  return !ec;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

struct Hook {
  const char* name;     // in pin names and status
  const char* program;  // in the class object
  bool tc;
  bool ingress;         // kernel hook direction (tc: of the host-side veth)
};
// tc: the host-side veth's ingress carries what the endpoint sends.
constexpr Hook kHooks[] = {{"tc-from", "mb_tc_from_endpoint", true, true},
                           {"tc-to", "mb_tc_to_endpoint", true, false},
                           {"cg-in", "mb_cgroup_ingress", false, true},
                           {"cg-out", "mb_cgroup_egress", false, false}};

// bpffs refuses names with '.', which object names may contain: '/' and '.'
// become '_' and '%', neither of which Kubernetes names use.
std::string linkPin(const Paths& paths, const std::string& key, const char* hook) {
  std::string flat = key;
  for (char& c : flat) {
    if (c == '/') c = '_';
    if (c == '.') c = '%';
  }
  return paths.bpffsRoot + "/links/" + flat + "_" + hook;
}

std::string identityPin(const Paths& paths, const std::string& version) {
  return paths.bpffsRoot + "/versions/" + version + "/mb_identity";
}

// ---- state -------------------------------------------------------------------

struct EndpointState {
  std::string key;
  uint32_t id = 0;
  std::optional<uint32_t> classId;
  std::string interface, cgroup;
  std::vector<std::string> hooks;  // attached hooks
  std::string mode = "link";       // "link" (TCX or cgroup, pinned) or "tc" (cls_bpf)
};

const Hook* hookNamed(const std::string& name) {
  for (const auto& h : kHooks)
    if (name == h.name) return &h;
  return nullptr;
}

struct State {
  std::string version;
  std::string artifactDir;
  std::vector<EndpointState> endpoints;
  std::vector<NodeEndpoint> learned;  // endpoint add
  std::vector<net::Address> host;

  json toJson() const {
    json j = {{"version", version}, {"artifactDir", artifactDir}, {"endpoints", json::array()},
              {"learned", json::array()}, {"host", json::array()}};
    for (const auto& e : endpoints)
      j["endpoints"].push_back({{"key", e.key},
                                {"id", e.id},
                                {"class", e.classId ? json(*e.classId) : json(nullptr)},
                                {"interface", e.interface},
                                {"cgroup", e.cgroup},
                                {"hooks", e.hooks},
                                {"mode", e.mode}});
    for (const auto& l : learned) {
      json addrs = json::array();
      for (const auto& a : l.addresses) addrs.push_back(a.str());
      j["learned"].push_back(
          {{"name", l.name}, {"namespace", l.ns}, {"labels", *l.labels}, {"addresses", addrs}, {"ports", l.ports}});
    }
    for (const auto& a : host) j["host"].push_back(a.str());
    return j;
  }

  static std::optional<State> load(const Paths& paths) {
    bool ok = false;
    std::string text = readFile(fs::path(paths.stateDir) / "state.json", &ok);
    if (!ok || text.empty()) return std::nullopt;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    try {
      State s;
      s.version = j.at("version");
      s.artifactDir = j.at("artifactDir");
      for (const auto& e : j.at("endpoints")) {
        EndpointState es;
        es.key = e.at("key");
        es.id = e.at("id");
        if (!e.at("class").is_null()) es.classId = e.at("class").get<uint32_t>();
        es.interface = e.at("interface");
        es.cgroup = e.at("cgroup");
        es.hooks = e.at("hooks").get<std::vector<std::string>>();
        es.mode = e.value("mode", "link");
        s.endpoints.push_back(es);
      }
      for (const auto& l : j.at("learned")) {
        NodeEndpoint ne;
        ne.name = l.at("name");
        ne.ns = l.at("namespace");
        ne.labels = l.at("labels").get<labels::LabelSet>();
        for (const auto& a : l.at("addresses")) ne.addresses.push_back(*net::Address::parse(a.get<std::string>()));
        ne.ports = l.value("ports", json::array()).get<std::vector<labels::NamedPort>>();
        s.learned.push_back(ne);
      }
      for (const auto& a : j.at("host")) s.host.push_back(*net::Address::parse(a.get<std::string>()));
      return s;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
};

std::optional<artifacts::Manifest> loadAppliedManifest(const Paths& paths, std::string* error) {
  bool ok = false;
  std::string text = readFile(fs::path(paths.stateDir) / "manifest.json", &ok);
  if (!ok || text.empty()) {
    if (error) *error = "nothing applied on this node (no " + paths.stateDir + "/manifest.json)";
    return std::nullopt;
  }
  return artifacts::Manifest::fromJson(text, error);
}

// Identity entries: compile-time endpoints, learned ones, peers, the host.
bool identityEntries(const artifacts::Manifest& m, const std::vector<NodeEndpoint>& extra,
                     const std::vector<net::Address>& host, std::vector<identity::TrieEntry>& out, std::string* error) {
  artifacts::Manifest withExtra = m;
  uint32_t nextId = 0;
  for (const auto& i : m.identities) nextId = std::max(nextId, i.id + 1);
  nextId = std::max<uint32_t>(nextId, 0x10000);  // learned identities, above compiled ones
  for (const auto& e : extra) {
    if (!e.labels) continue;
    labels::LabelSet nsLabels = {{"kubernetes.io/metadata.name", e.ns}};
    for (const auto& i : m.identities)
      if (i.ns == e.ns) nsLabels = i.namespaceLabels;
    withExtra.identities.push_back(
        {nextId, e.ns, *e.labels, nsLabels, e.ports, m.bitsFor(e.ns, *e.labels, nsLabels, e.ports)});
    // A learned endpoint replaces a compiled one of the same name.
    std::erase_if(withExtra.endpoints, [&](const artifacts::EndpointEntry& x) { return x.ns == e.ns && x.name == e.name; });
    withExtra.endpoints.push_back({e.name, e.ns, nextId, e.addresses, std::nullopt});
    ++nextId;
  }
  return identity::buildEntries(withExtra, host, out, error);
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
  std::vector<std::string> selecting;
  for (const auto& p : m.policies)
    if ((p.clusterwide || p.ns == e.ns) && p.selects.matches(*e.labels)) selecting.push_back(p.key);
  std::sort(selecting.begin(), selecting.end());
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
    if (error) *error = "endpoint " + e.key() + " gives its named ports numbers no class compiled for its policies has (" +
                        theirs + "); give its ports, or recompile with it in the inventory";
    return false;
  }
  std::string list;
  for (const auto& s : selecting) list += (list.empty() ? "" : ", ") + s;
  if (error) *error = "endpoint " + e.key() + " is selected by {" + list + "}, a combination no compiled class has; recompile with it in the inventory";
  return false;
}

// The addresses a local endpoint may send from: NODE.json's for one learned
// after the compile, else the manifest's.
std::vector<net::Address> ownAddresses(const artifacts::Manifest& m, const NodeEndpoint& e) {
  if (e.labels) return e.addresses;
  for (const auto& me : m.endpoints)
    if (me.ns == e.ns && me.name == e.name) return me.addresses;
  return {};
}

struct Loaded {
  NodeEndpoint endpoint;
  uint32_t id = 0;
  std::optional<uint32_t> classId;
  std::vector<net::Address> own;  // its source addresses (mb_endpoint_addrs)
  bpf_object* object = nullptr;
};

std::string ownedAddressesPin(const Paths& paths) { return paths.bpffsRoot + "/maps/mb_endpoint_addrs"; }

// Puts every local endpoint's addresses into mb_endpoint_addrs before any of
// its programs is attached: from then on, what it sends from another address
// is dropped (bpf-templates/lib/source.h).
bool addOwnedAddresses(const Paths& paths, const std::vector<Loaded>& loaded, std::string* error) {
  Fd map(bpf_obj_get(ownedAddressesPin(paths).c_str()));
  if (map.fd < 0) {
    if (error) *error = "the endpoint address map was not pinned at " + ownedAddressesPin(paths);
    return false;
  }
  uint32_t one = 1;
  for (const auto& l : loaded)
    for (const auto& a : l.own) {
      mb_endpoint_addr_key key = identity::ownedAddressKey(l.id, a);
      if (bpf_map_update_elem(map.fd, &key, &one, BPF_ANY) != 0) {
        if (error) *error = "cannot fill the endpoint address map: " + std::string(std::strerror(errno));
        return false;
      }
    }
  return true;
}

// After the attach: addresses no endpoint here owns any more go.
void pruneOwnedAddresses(const Paths& paths, const std::vector<Loaded>& loaded) {
  Fd map(bpf_obj_get(ownedAddressesPin(paths).c_str()));
  if (map.fd < 0) return;
  std::set<std::string> keep;
  for (const auto& l : loaded)
    for (const auto& a : l.own) {
      mb_endpoint_addr_key key = identity::ownedAddressKey(l.id, a);
      keep.insert(std::string(reinterpret_cast<const char*>(&key), sizeof key));
    }
  for (const auto& k : mapKeys<mb_endpoint_addr_key>(map.fd))
    if (!keep.count(std::string(reinterpret_cast<const char*>(&k), sizeof k))) bpf_map_delete_elem(map.fd, &k);
}

void closeAll(std::vector<Loaded>& loaded) {
  for (auto& l : loaded)
    if (l.object) bpf_object__close(l.object), l.object = nullptr;
}

}  // namespace

uint32_t endpointId(const std::string& key) {
  // FNV-1a: stable, cheap, and 0 is never used (0 means "unset").
  uint32_t h = 2166136261u;
  for (unsigned char c : key) h = (h ^ c) * 16777619u;
  return h ? h : 1;
}

namespace {

// Zeroes every rule counter (a per-CPU array of MB_RULE_MAX entries): in
// batches of a few thousand keys, one bpf() call each, instead of one call
// per key (65,536 calls made every swap of version cost tens of ms).
void resetRuleCounters(int fd) {
  constexpr uint32_t kBatch = 4096;
  size_t cpus = static_cast<size_t>(std::max(libbpf_num_possible_cpus(), 1));
  std::vector<uint32_t> keys(kBatch);
  std::vector<mb_rule_stats> zero(kBatch * cpus);
  for (uint32_t first = 0; first < MB_RULE_MAX; first += kBatch) {
    uint32_t count = std::min<uint32_t>(kBatch, MB_RULE_MAX - first);
    for (uint32_t i = 0; i < count; ++i) keys[i] = first + i;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    uint32_t done = count;
    if (bpf_map_update_batch(fd, keys.data(), zero.data(), &done, &opts) == 0 && done == count) continue;
    // Kernels without batch operations on arrays: one key at a time.
    for (uint32_t i = 0; i < count; ++i) bpf_map_update_elem(fd, &keys[i], zero.data(), BPF_ANY);
  }
}

}  // namespace

bool apply(const std::string& artifactDir, const NodeConfig& node, const Paths& paths, ApplyReport* report,
           std::string* error) {
  // 1. Verify the artifacts before touching anything.
  bool ok = false;
  fs::path dir(artifactDir);
  std::string manifestText = readFile(dir / "manifest.json", &ok);
  if (!ok || manifestText.empty()) {
    if (error) *error = "no manifest.json in '" + artifactDir + "'";
    return false;
  }
  std::string why;
  auto manifest = artifacts::Manifest::fromJson(manifestText, &why);
  if (!manifest) {
    if (error) *error = "refusing '" + artifactDir + "': " + why;
    return false;
  }
  if (manifest->abiVersion != MB_ABI_VERSION) {
    if (error) *error = "refusing '" + artifactDir + "': datapath ABI " + std::to_string(manifest->abiVersion) +
                        ", this membrane speaks " + std::to_string(MB_ABI_VERSION);
    return false;
  }
  for (const auto& c : manifest->classes) {
    std::string object = readFile(dir / c.object, &ok);
    if (!ok || object.empty()) {
      if (error) *error = "refusing '" + artifactDir + "': object " + c.object + " of class " + std::to_string(c.id) + " is missing";
      return false;
    }
    if (artifacts::sha256Hex(object) != c.sha256) {
      if (error) *error = "refusing '" + artifactDir + "': " + c.object + " does not match its SHA-256 in the manifest (tampered or corrupt)";
      return false;
    }
  }
  if (auto missing = missingFeatures(manifest->requiredFeatures); !missing.empty()) {
    std::string list;
    for (const auto& f : missing) list += (list.empty() ? "" : ", ") + f;
    if (error) *error = "this kernel lacks features the artifacts need: " + list;
    return false;
  }
  std::string version = artifacts::sha256Hex(manifestText).substr(0, 16);
  auto previous = State::load(paths);

  // 2. Resolve endpoints to classes.
  std::vector<Loaded> loaded;
  std::set<uint32_t> ids;
  for (const auto& e : node.endpoints) {
    std::optional<uint32_t> cls;
    if (!classFor(*manifest, e, cls, error)) return false;
    Loaded l{e, endpointId(e.key()), cls, ownAddresses(*manifest, e), nullptr};
    if (l.own.empty()) {
      if (error) *error = "endpoint " + e.key() + " has no addresses: every packet it sends would be dropped as spoofed; give its labels and addresses in NODE.json";
      return false;
    }
    if (!ids.insert(l.id).second) {
      if (error) *error = "endpoint id collision for " + e.key() + "; rename the endpoint";
      return false;
    }
    loaded.push_back(std::move(l));
  }

  // 3. Load every program with shared and per-version maps.
  if (!ensureBpffs(paths.bpffsRoot, error)) return false;
  {
    std::error_code ec;
    for (const std::string& sub : std::vector<std::string>{"/maps", "/links", "/versions/" + version}) {
      fs::create_directories(paths.bpffsRoot + sub, ec);
      if (ec) {
        if (error) *error = "cannot create '" + paths.bpffsRoot + sub + "': " + ec.message();
        return false;
      }
    }
  }
  auto log = std::make_unique<LibbpfLog>();
  auto restorePrint = [&] { log.reset(); };
  bool versionIsNew = !fs::exists(identityPin(paths, version));
  auto abandon = [&](const std::string& message) {
    closeAll(loaded);
    restorePrint();
    if (versionIsNew && (!previous || previous->version != version)) {
      std::error_code ec;
      fs::remove_all(paths.bpffsRoot + "/versions/" + version, ec);
    }
    if (error) *error = message;
    return false;
  };
  // Open and configure every object (cheap), then load them. Loading (one
  // verifier run per program) is most of apply's time: the first object
  // loads alone, since it creates and pins the shared and per-version maps
  // the others then reuse; the rest load in parallel (the kernel verifies
  // privileged loads concurrently).
  std::vector<Loaded*> toLoad;
  for (auto& l : loaded) {
    if (!l.classId) continue;  // unrestricted: nothing to load
    const artifacts::ClassEntry* cls = manifest->findClass(*l.classId);
    std::string path = (dir / cls->object).string();
    std::string mapsRoot = paths.bpffsRoot + "/maps";
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = mapsRoot.c_str());
    log->clear();
    l.object = bpf_object__open_file(path.c_str(), &opts);
    if (!l.object) return abandon("cannot open " + path + ": " + log->text());
    bpf_map* map = bpf_object__find_map_by_name(l.object, "mb_identity");
    if (!map || bpf_map__set_pin_path(map, identityPin(paths, version).c_str()) != 0)
      return abandon(path + " has no mb_identity map");
    mb_config config{};
    config.endpoint_id = l.id;
    config.events = (1u << MB_EVENT_DENY) | (1u << MB_EVENT_AUDIT) | (1u << MB_EVENT_SPOOFED);
    if (!setConfig(l.object, config, &why)) return abandon(path + ": " + why);
    // Only the programs this endpoint's hooks need are loaded.
    bpf_program* prog;
    bpf_object__for_each_program(prog, l.object) {
      bool needed = false;
      for (const auto& h : kHooks)
        if (std::strcmp(bpf_program__name(prog), h.program) == 0) needed = h.tc == !l.endpoint.interface.empty();
      bpf_program__set_autoload(prog, needed);
    }
    toLoad.push_back(&l);
  }
  std::vector<std::string> failures(toLoad.size());
  auto loadOne = [&](size_t i) {
    Loaded& l = *toLoad[i];
    ThreadLog threadLog;
    if (int err = bpf_object__load(l.object); err)
      failures[i] = "class " + std::to_string(*l.classId) + " (" + manifest->findClass(*l.classId)->object +
                    ") failed to load for endpoint " + l.endpoint.key() + ": " + std::strerror(-err) + "\n" +
                    threadLog.tail();
  };
  if (!toLoad.empty()) {
    loadOne(0);
    if (failures[0].empty()) {
      std::atomic<size_t> next{1};
      auto work = [&] {
        for (size_t i = next++; i < toLoad.size(); i = next++) loadOne(i);
      };
      size_t workers = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), toLoad.size() - 1);
      std::vector<std::thread> threads;
      for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
      work();
      for (auto& t : threads) t.join();
    }
    for (const auto& f : failures)
      if (!f.empty()) return abandon(f);  // the first in endpoint order: deterministic
  }
  restorePrint();

  // 4. Fill this version's identity trie before any program sees it.
  std::vector<NodeEndpoint> extra;
  for (const auto& e : node.endpoints)
    if (e.labels) extra.push_back(e);
  extra.insert(extra.end(), node.peers.begin(), node.peers.end());
  if (previous)
    for (const auto& l : previous->learned) extra.push_back(l);
  std::vector<identity::TrieEntry> entries;
  if (!identityEntries(*manifest, extra, node.hostAddresses, entries, &why)) return abandon(why);
  {
    Fd trie(bpf_obj_get(identityPin(paths, version).c_str()));
    bool anyLoaded = std::any_of(loaded.begin(), loaded.end(), [](const Loaded& l) { return l.object != nullptr; });
    if (anyLoaded && trie.fd < 0) return abandon("the identity map was not pinned");
    if (trie.fd >= 0) {
      // A re-apply of the same version rewrites the same trie: clear it first.
      std::vector<mb_lpm_key> old = mapKeys<mb_lpm_key>(trie.fd);
      std::set<std::string> keep;
      for (const auto& e : entries) {
        if (bpf_map_update_elem(trie.fd, &e.key, &e.value, BPF_ANY) != 0)
          return abandon(std::string("cannot fill the identity map: ") + std::strerror(errno));
        keep.insert(std::string(reinterpret_cast<const char*>(&e.key), sizeof e.key));
      }
      for (const auto& k : old)
        if (!keep.count(std::string(reinterpret_cast<const char*>(&k), sizeof k))) bpf_map_delete_elem(trie.fd, &k);
    }
  }

  if (std::any_of(loaded.begin(), loaded.end(), [](const Loaded& l) { return l.object != nullptr; }) &&
      !addOwnedAddresses(paths, loaded, &why))
    return abandon(why);

  // 5. Attach or swap. Everything that can fail without changing the node
  // has succeeded; from here each step is one atomic kernel operation.
  ApplyReport r;
  r.version = version;
  r.previousVersion = previous ? previous->version : "";
  State next;
  next.version = version;
  next.artifactDir = fs::absolute(dir).string();
  next.host = node.hostAddresses;
  if (previous) next.learned = previous->learned;
  // cls_bpf filters of endpoints that are no longer enforced here.
  auto dropStaleTc = [&] {
    if (!previous) return;
    for (const auto& old : previous->endpoints) {
      if (old.mode != "tc") continue;
      bool kept = std::any_of(next.endpoints.begin(), next.endpoints.end(), [&](const EndpointState& e) {
        return e.key == old.key && e.mode == "tc" && e.interface == old.interface;
      });
      if (kept) continue;
      for (const auto& h : old.hooks)
        if (const Hook* hook = hookNamed(h); hook && detachTc(old.interface, hook->ingress)) ++r.detached;
    }
  };
  struct Done {
    Fd link;
    Fd oldProg;
    std::string pin;
    bool created;
    std::string tcInterface;  // cls_bpf: where, to restore or remove
    bool tcIngress = false;
  };
  std::vector<Done> done;
  auto rollback = [&] {
    for (auto& d : done) {
      if (!d.tcInterface.empty()) {
        if (d.oldProg.fd >= 0) attachTc(d.oldProg.fd, d.tcInterface, d.tcIngress, nullptr);
        else detachTc(d.tcInterface, d.tcIngress);
      } else if (d.created) {
        unlink(d.pin.c_str());
      } else if (d.oldProg.fd >= 0) {
        bpf_link_update(d.link.fd, d.oldProg.fd, nullptr);
      }
    }
  };
  bool useTc = paths.attach == "tc" || (paths.attach == "auto" && !tcxSupported());
  auto dropNewVersion = [&] {
    if (versionIsNew && (!previous || previous->version != version)) {
      std::error_code rec;
      fs::remove_all(paths.bpffsRoot + "/versions/" + version, rec);
    }
  };
  LibbpfLog quiet;  // libbpf's tc messages ("Parent Qdisc doesn't exists") are not errors here
  for (auto& l : loaded) {
    EndpointState es{l.endpoint.key(), l.id, l.classId, l.endpoint.interface, l.endpoint.cgroup, {}};
    ++r.endpoints;
    if (l.classId) {
      for (const auto& h : kHooks) {
        if (h.tc != !l.endpoint.interface.empty()) continue;
        bpf_program* prog = bpf_object__find_program_by_name(l.object, h.program);
        int progFd = prog ? bpf_program__fd(prog) : -1;
        if (h.tc && useTc) {
          // cls_bpf: attaching replaces the filter's program in one step.
          uint32_t oldId = tcProgramId(l.endpoint.interface, h.ingress);
          Fd oldProg(oldId ? bpf_prog_get_fd_by_id(oldId) : -1);
          if (!attachTc(progFd, l.endpoint.interface, h.ingress, &why)) {
            rollback();
            closeAll(loaded);
            if (error) *error = "attaching " + es.key + " " + h.name + ": " + why + " (rolled back)";
            dropNewVersion();
            return false;
          }
          done.push_back({Fd(), std::move(oldProg), "", oldId == 0, l.endpoint.interface, h.ingress});
          (oldId ? r.swapped : r.attached)++;
          es.hooks.push_back(h.name);
          es.mode = "tc";
          continue;
        }
        std::string pin = linkPin(paths, l.endpoint.key(), h.name);
        Fd existing(bpf_obj_get(pin.c_str()));
        // A link whose interface or cgroup went away (severed), or that sits
        // where the endpoint no longer is, cannot be swapped: replace it.
        const EndpointState* before = nullptr;
        if (previous)
          for (const auto& pe : previous->endpoints)
            if (pe.key == es.key) before = &pe;
        bool moved = before && (before->interface != es.interface || before->cgroup != es.cgroup);
        if (existing.fd >= 0 && (moved || linkProgramId(existing.fd) == 0 || linkSevered(existing.fd))) {
          bpf_link_detach(existing.fd);
          existing.reset();
          unlink(pin.c_str());
        }
        if (existing.fd >= 0) {
          Fd oldProg(bpf_prog_get_fd_by_id(linkProgramId(existing.fd)));
          if (!updateLink(existing.fd, progFd, oldProg.fd, &why)) {
            rollback();
            closeAll(loaded);
            if (error) *error = "swapping " + es.key + " " + h.name + ": " + why + " (rolled back)";
            dropNewVersion();
            return false;
          }
          done.push_back({std::move(existing), std::move(oldProg), pin, false, "", false});
          ++r.swapped;
        } else {
          int fd = h.tc ? attachTcx(progFd, l.endpoint.interface, h.ingress, &why)
                        : attachCgroup(progFd, l.endpoint.cgroup, h.ingress, &why);
          if (fd < 0 || bpf_obj_pin(fd, pin.c_str()) != 0) {
            if (fd >= 0) close(fd);
            rollback();
            closeAll(loaded);
            if (error) *error = "attaching " + es.key + " " + h.name + ": " + (fd < 0 ? why : std::strerror(errno)) + " (rolled back)";
            dropNewVersion();
            return false;
          }
          done.push_back({Fd(fd), Fd(), pin, true, "", false});
          ++r.attached;
        }
        es.hooks.push_back(h.name);
      }
    }
    next.endpoints.push_back(es);
  }
  closeAll(loaded);  // the links hold the programs now

  // 6. Endpoints no longer enforced (gone, or now unrestricted) lose their links.
  dropStaleTc();
  std::error_code ec;
  for (auto it = fs::directory_iterator(paths.bpffsRoot + "/links", ec); !ec && it != fs::directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    bool wanted = false;
    for (const auto& es : next.endpoints)
      for (const auto& h : es.hooks)
        if (es.mode == "link" && fs::path(linkPin(paths, es.key, h.c_str())).filename().string() == name) wanted = true;
    if (!wanted) {
      // Detach now: dropping the last reference frees a link later, from a
      // workqueue, and until then the old program would still run.
      Fd link(bpf_obj_get(it->path().c_str()));
      if (link.fd >= 0) bpf_link_detach(link.fd);
      fs::remove(it->path(), ec);
      ++r.detached;
    }
  }

  pruneOwnedAddresses(paths, loaded);

  // 7. Record, then drop the previous version's trie (no program uses it).
  fs::create_directories(paths.stateDir, ec);
  if (!writeFileAtomically(fs::path(paths.stateDir) / "manifest.json", manifestText, error) ||
      !writeFileAtomically(fs::path(paths.stateDir) / "state.json", next.toJson().dump(2) + "\n", error))
    return false;
  if (previous && previous->version != version) {
    fs::remove_all(paths.bpffsRoot + "/versions/" + previous->version, ec);
    // Rule ids are numbered per compile: counters of the previous version
    // would be credited to other rules. They start over with the version.
    Fd stats(bpf_obj_get((paths.bpffsRoot + "/maps/mb_rule_stats").c_str()));
    if (stats.fd >= 0) resetRuleCounters(stats.fd);
  }
  if (report) *report = r;
  return true;
}

bool detachAll(const Paths& paths, std::string* error) {
  std::error_code ec;
  if (auto state = State::load(paths)) {
    // cls_bpf filters are not pinned: they are found by interface, in the
    // network namespace they were attached in. Keep the state if any is
    // left, so a second try (with --netns) can still find them.
    std::string missed;
    for (const auto& e : state->endpoints)
      if (e.mode == "tc")
        for (const auto& h : e.hooks)
          if (const Hook* hook = hookNamed(h); hook && tcProgramId(e.interface, hook->ingress) != 0 &&
                                               !detachTc(e.interface, hook->ingress))
            missed += " " + e.interface;
    for (const auto& e : state->endpoints)
      if (e.mode == "tc" && !e.hooks.empty() && if_nametoindex(e.interface.c_str()) == 0)
        missed += " " + e.interface;
    if (!missed.empty()) {
      if (error) *error = "cls_bpf filters on" + missed + " are not visible here; run detach with the --netns they were applied with";
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
  ec.clear();
  for (const char* sub : {"links", "versions", "maps"}) fs::remove_all(fs::path(paths.bpffsRoot) / sub, ec);
  fs::remove(fs::path(paths.stateDir) / "state.json", ec);
  fs::remove(fs::path(paths.stateDir) / "manifest.json", ec);
  if (ec) {
    if (error) *error = ec.message();
    return false;
  }
  return true;
}

namespace {

bool rewriteIdentities(const Paths& paths, State& state, std::string* error) {
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return false;
  std::vector<identity::TrieEntry> entries;
  if (!identityEntries(*manifest, state.learned, state.host, entries, error)) return false;
  Fd trie(bpf_obj_get(identityPin(paths, state.version).c_str()));
  if (trie.fd < 0) {
    if (error) *error = "no identity map for version " + state.version + " under " + paths.bpffsRoot;
    return false;
  }
  for (const auto& e : entries)
    if (bpf_map_update_elem(trie.fd, &e.key, &e.value, BPF_ANY) != 0) {
      if (error) *error = std::string("cannot update the identity map: ") + std::strerror(errno);
      return false;
    }
  return writeFileAtomically(fs::path(paths.stateDir) / "state.json", state.toJson().dump(2) + "\n", error);
}

}  // namespace

bool endpointAdd(const NodeEndpoint& endpoint, const Paths& paths, std::string* error) {
  auto state = State::load(paths);
  if (!state) {
    if (error) *error = "nothing applied on this node";
    return false;
  }
  if (!endpoint.labels || endpoint.addresses.empty()) {
    if (error) *error = "an endpoint needs labels and at least one address";
    return false;
  }
  // Re-adding an endpoint replaces it: addresses it no longer has go.
  Fd trie(bpf_obj_get(identityPin(paths, state->version).c_str()));
  for (const auto& old : state->learned)
    if (old.key() == endpoint.key())
      for (const auto& a : old.addresses)
        if (std::find(endpoint.addresses.begin(), endpoint.addresses.end(), a) == endpoint.addresses.end()) {
          mb_lpm_key key = identity::keyFor(a);
          if (trie.fd >= 0) bpf_map_delete_elem(trie.fd, &key);
        }
  std::erase_if(state->learned, [&](const NodeEndpoint& e) { return e.key() == endpoint.key(); });
  state->learned.push_back(endpoint);
  return rewriteIdentities(paths, *state, error);
}

bool endpointRemove(const std::string& ns, const std::string& name, const Paths& paths, std::string* error) {
  auto state = State::load(paths);
  if (!state) {
    if (error) *error = "nothing applied on this node";
    return false;
  }
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
  return rewriteIdentities(paths, *state, error);
}

std::optional<Status> status(const Paths& paths, std::string* error) {
  auto state = State::load(paths);
  if (!state) {
    if (error) *error = "nothing applied on this node (no state in " + paths.stateDir + ")";
    return std::nullopt;
  }
  auto manifest = loadAppliedManifest(paths, error);
  if (!manifest) return std::nullopt;
  Status s;
  s.version = state->version;
  s.artifactDir = state->artifactDir;
  for (const auto& e : state->endpoints) {
    EndpointStatus es{e.key, e.id, e.classId, e.interface.empty() ? e.cgroup : e.interface, {}};
    for (const auto& h : e.hooks) {
      if (e.mode == "tc") {
        const Hook* hook = hookNamed(h);
        es.programs[h] = hook ? tcProgramId(e.interface, hook->ingress) : 0;
        continue;
      }
      Fd link(bpf_obj_get(linkPin(paths, e.key, h.c_str()).c_str()));
      es.programs[h] = link.fd >= 0 ? linkProgramId(link.fd) : 0;
    }
    s.endpoints.push_back(es);
  }
  int cpus = libbpf_num_possible_cpus();
  Fd stats(bpf_obj_get((paths.bpffsRoot + "/maps/mb_rule_stats").c_str()));
  auto ruleCounter = [&](uint32_t id, RuleCounter rc) {
    std::vector<mb_rule_stats> v(static_cast<size_t>(std::max(cpus, 1)));
    if (stats.fd >= 0 && bpf_map_lookup_elem(stats.fd, &id, v.data()) == 0)
      for (const auto& x : v) rc.packets += x.packets, rc.bytes += x.bytes;
    rc.id = id;
    s.rules.push_back(rc);
  };
  ruleCounter(0, {0, "", "default deny", "", 0, 0});
  for (const auto& r : manifest->rules) ruleCounter(r.id, {r.id, r.policy, r.text, r.location, 0, 0});
  Fd reasons(bpf_obj_get((paths.bpffsRoot + "/maps/mb_reasons").c_str()));
  static const char* names[] = {"allowed-new", "established", "reply", "denied-rule", "denied-default", "unparseable",
                                "fragment", "unknown-l3", "ipv6-ext", "open", "always", "spoofed"};
  for (uint32_t r = 0; r < sizeof names / sizeof names[0]; ++r) {
    std::vector<uint64_t> v(static_cast<size_t>(std::max(cpus, 1)));
    uint64_t sum = 0;
    if (reasons.fd >= 0 && bpf_map_lookup_elem(reasons.fd, &r, v.data()) == 0)
      for (auto x : v) sum += x;
    s.reasons[names[r]] = sum;
  }
  return s;
}

std::optional<artifacts::Manifest> appliedManifest(const Paths& paths, std::string* error) {
  return loadAppliedManifest(paths, error);
}

}  // namespace membrane::loader
