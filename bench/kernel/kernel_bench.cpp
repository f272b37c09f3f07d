// Section 1 of docs/benchmarks.md: what a packet costs in the kernel.
//
// For policies of 10 to 10,000 rules per direction, four programs run the
// same crafted packets through BPF_PROG_TEST_RUN (tc, the endpoint's
// ingress):
//   floor 1   an empty tc program (bench/bpf/empty.c);
//   floor 2   membrane's skeleton with an "allow" decision (decide_allow.c);
//   generic   the skeleton with a map-driven decision (decide_generic.c),
//             its maps filled from the same IR;
//   membrane  the class object membrane's compiler builds for the policy.
// Prints one markdown section on stdout; progress on stderr. Exit status:
// 0 done, 1 a program disagreed with the reference evaluator (the figures
// would be meaningless) or could not be built or loaded, 2 usage.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "features/l4/l4.h"
#include "abi/datapath.h"
#include "codegen/artifact_writer.h"
#include "common/program.h"
#include "common/report.h"
#include "common/scenario.h"
#include "pipeline/pipeline.h"
#include "identity/identity_table.h"
#include "inventory/inventory.h"
#include "evaluator/evaluator.h"
#include "kernel/generic_policy.h"
#include "loader/dispatch.h"
#include "loader/identity_maps.h"
#include "loader/kernel.h"
#include "libbpf/libbpf_log.h"
#include "loader/object_config.h"
#include "dns_packets.h"
#include "packets.h"

namespace membrane::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool quick = false;
  uint32_t repeat = 1000000;   // BPF_PROG_TEST_RUN repeats per run
  int runs = 5;                // runs per figure; the median is reported
  uint32_t freshFlows = 20000; // repeat=1 runs for the new-flow-with-insert figure
  std::vector<size_t> sizes = {10, 100, 1000, 10000};
  std::vector<size_t> portSizes = {10000, 40000};  // the port-vocabulary classes
};

constexpr uint32_t kEndpointId = 1;
constexpr uint32_t kLoopbackIfindex = 1;
constexpr int kTcOk = 0, kTcShot = 2;
// Issue #18's goal for a new flow at the largest size, as a multiple of floor 2.
constexpr double kNewFlowGoal = 1.1;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- loading ----------------------------------------------------------------

std::string setRodata(bpf_object* obj, const char* name, const void* value, size_t size) {
  bpf_map* rodata = nullptr;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    if (std::strstr(bpf_map__name(m), ".rodata")) rodata = m;
  }
  const btf* btf = bpf_object__btf(obj);
  int sec_id = rodata && btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
  if (sec_id < 0) return "no .rodata";
  const btf_type* sec = btf__type_by_id(btf, sec_id);
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++) {
    const btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (std::strcmp(btf__name_by_offset(btf, var->name_off), name) != 0) continue;
    if (vars[i].size != size) return std::string("size mismatch for ") + name;
    size_t total = 0;
    const void* initial = bpf_map__initial_value(rodata, &total);
    std::vector<uint8_t> data(static_cast<const uint8_t*>(initial), static_cast<const uint8_t*>(initial) + total);
    std::memcpy(data.data() + vars[i].offset, value, size);
    if (bpf_map__set_initial_value(rodata, data.data(), data.size()) != 0) return "bpf_map__set_initial_value failed";
    return "";
  }
  return std::string("no .rodata variable ") + name;
}

// One loaded program under test, with what loading it cost.
struct Loaded {
  bpf_object* object = nullptr;
  bpf_object* dispatcher = nullptr;  // the node's dispatchers, in front of a class program
  int fd = -1;  // what packets are run through: the dispatcher, or the program itself
  double loadMs = 0;
  uint32_t verifiedInsns = 0;
  uint32_t xlatedInsns = 0;

  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    if (dispatcher) bpf_object__close(dispatcher);
    if (object) bpf_object__close(object);
  }
  int mapFd(const char* name) const {
    bpf_map* map = bpf_object__find_map_by_name(object, name);
    if (!map) fail(std::string("no map ") + name);
    return bpf_map__fd(map);
  }
};

// Opens an object (file or ELF in memory), lets `configure` adjust it, loads
// it with private maps and measures the load (verification included).
std::unique_ptr<Loaded> loadObject(const std::string& pathOrElf, bool inMemory, const char* program,
                                   const std::function<void(bpf_object*)>& configure = {}) {
  libbpf::LibbpfLog log;
  auto out = std::make_unique<Loaded>();
  out->object = inMemory ? bpf_object__open_mem(pathOrElf.data(), pathOrElf.size(), nullptr)
                         : bpf_object__open_file(pathOrElf.c_str(), nullptr);
  if (!out->object) fail("opening " + std::string(inMemory ? "a class object" : pathOrElf) + ": " + log.text());
  bpf_map* map;
  bpf_object__for_each_map(map, out->object) { bpf_map__set_pin_path(map, nullptr); }
  // The empty program has no mb_config; every other object has one, set as
  // the node loader sets a class's shared load: no endpoint of its own, so
  // every packet goes through the node's dispatcher, which finds its
  // endpoint and load in mb_endpoints and tail-calls the program (below).
  bool skeleton = std::string(program) != "bench_empty";
  if (skeleton) {
    mb_config config{};
    std::string error;
    if (!loader::setConfig(out->object, config, &error)) fail(error);
  }
  if (configure) configure(out->object);
  auto start = Clock::now();
  if (int err = bpf_object__load(out->object))
    fail(std::string("loading ") + program + " failed (" + std::strerror(-err) + "):\n" + log.tail(30));
  out->loadMs = secondsSince(start) * 1000;
  bpf_program* prog = bpf_object__find_program_by_name(out->object, program);
  if (!prog) fail(std::string("no program ") + program);
  out->fd = bpf_program__fd(prog);
  if (skeleton) {
    std::string_view dispatch = loader::dispatch::embeddedObject();
    out->dispatcher = bpf_object__open_mem(dispatch.data(), dispatch.size(), nullptr);
    if (!out->dispatcher) fail("opening the dispatchers: " + log.text());
    bpf_object__for_each_map(map, out->dispatcher) { bpf_map__set_pin_path(map, nullptr); }
    if (int err = bpf_object__load(out->dispatcher))
      fail(std::string("loading the dispatchers failed (") + std::strerror(-err) + "):\n" + log.tail(30));
    bool from = std::string(program) == MB_PROG_TC_FROM_ENDPOINT;
    auto dispatcherMap = [&](const char* name) { return bpf_map__fd(bpf_object__find_map_by_name(out->dispatcher, name)); };
    // BPF_PROG_TEST_RUN runs tc programs on the loopback device; slot 0 is
    // active, load 0 is this program.
    mb_endpoint_key key{MB_ENDPOINT_BY_IFINDEX, 0, kLoopbackIfindex};
    mb_endpoint_entry entry{{{kEndpointId, 0}, {0, MB_LOAD_NONE}}};
    uint32_t index = 0;
    if (bpf_map_update_elem(dispatcherMap("mb_endpoints"), &key, &entry, BPF_ANY) != 0 ||
        bpf_map_update_elem(dispatcherMap(from ? MB_MAP_DISPATCH_TC_FROM : MB_MAP_DISPATCH_TC_TO), &index, &out->fd,
                            BPF_ANY) != 0)
      fail(std::string("filling the dispatchers' maps: ") + std::strerror(errno));
    out->fd = bpf_program__fd(bpf_object__find_program_by_name(
        out->dispatcher, from ? MB_PROG_DISPATCH_TC_FROM : MB_PROG_DISPATCH_TC_TO));
  }
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) {
    out->verifiedInsns = info.verified_insns;
    out->xlatedInsns = info.xlated_prog_len / sizeof(bpf_insn);
  }
  return out;
}

std::string bpfObjectPath(const char* name) { return std::string(MEMBRANE_BENCH_BPF_DIR) + "/" + name + ".bpf.o"; }

// The identity trie and the words past its values' bits, as the node fills them.
void fillTrie(const Loaded& l, const std::vector<identity::TrieEntry>& entries) {
  std::string error;
  if (!membrane::loader::syncIdentityMaps(l.mapFd("mb_identity"), l.mapFd("mb_more_peer_bits"), entries, true, &error))
    fail("filling the identity trie: " + error);
}

void clearConntrack(const Loaded& l) {
  int fd = l.mapFd("mb_conntrack");
  for (const auto& k : membrane::loader::mapKeys<mb_ct_key>(fd)) bpf_map_delete_elem(fd, &k);
}

// ---- running ----------------------------------------------------------------

struct RunResult {
  double nsPerPacket = 0;  // the kernel's own measurement, per repeat
  int retval = -1;
};

RunResult testRun(int fd, const mbtest::Bytes& frame, uint32_t repeat) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = uint32_t(frame.size()),
              .repeat = int(repeat));
  if (bpf_prog_test_run_opts(fd, &opts) != 0) fail(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(errno));
  return {double(opts.duration), int(opts.retval)};
}

double medianRun(int fd, const mbtest::Bytes& frame, const Options& o) {
  std::vector<double> samples;
  for (int i = 0; i < o.runs; ++i) samples.push_back(testRun(fd, frame, o.repeat).nsPerPacket);
  return median(samples);
}

// ---- the scenario -----------------------------------------------------------

// A packet the benchmark sends to the endpoint, with the verdict the
// reference evaluator gives it.
struct Probe {
  std::string description;
  net::Address peer;
  uint8_t proto = ir::kTCP;
  uint16_t port = 0;
  bool allowed = false;
};

mbtest::Bytes packet(const net::Address& src, const net::Address& dst, uint8_t proto, uint16_t sport,
                     uint16_t dport, uint8_t tcpFlags) {
  mbtest::Addr s = mbtest::Addr::parse(src.str()), d = mbtest::Addr::parse(dst.str());
  mbtest::Bytes l4 = proto == ir::kTCP ? mbtest::tcp(sport, dport, tcpFlags) : mbtest::udp(sport, dport);
  return mbtest::frame(mbtest::ip(s, d, proto, l4));
}

struct Scenario {
  pipeline::Compilation compilation;
  const ir::Endpoint* target = nullptr;
  const ir::EndpointClass* cls = nullptr;
};

// One class of `rules` rules whose ports are drawn as `v` says
// (common/scenario.h: the compile-time workloads of the compiler section).
std::unique_ptr<Scenario> buildPortScenario(size_t rules, PortVocabulary v) {
  auto s = std::make_unique<Scenario>();
  std::string error;
  if (!inventory::loadInventoryText("ports-inventory.json", generatePortInventory(), s->compilation.inventory, &error))
    fail(error);
  pipeline::runText({{"ports.policy", generatePortPolicy(rules, v, uint32_t(7 + rules))}}, s->compilation);
  if (s->compilation.diags.hasErrors() || !s->compilation.ir) fail("the generated port policy does not compile");
  s->target = s->compilation.ir->findEndpoint(kBenchNamespace, "target-0");
  if (!s->target || !s->target->classIndex) fail("the port policy's target has no class");
  s->cls = &s->compilation.ir->classes[*s->target->classIndex];
  return s;
}

// A policy of `selectors` rules with selectors of their own in a namespace
// without endpoints: compiled first (its key sorts first), it takes peer
// bits 0..selectors-1 and moves every other policy's bits up by as many.
std::string bitsTakingPolicy(size_t selectors) {
  std::string p = "namespace aaa-bits\npolicy takes-bits {\n  selects {}\n  ingress {\n";
  for (size_t i = 0; i < selectors; ++i) p += "    allow from pods { app = none-" + std::to_string(i) + " } on tcp/1\n";
  return p + "  }\n}\n";
}

// With `bitsPastTrie`, the same policy with every peer bit past the trie
// value's (bitsTakingPolicy first): matching looks words up in
// mb_more_peer_bits instead of loading them.
std::unique_ptr<Scenario> buildScenario(size_t rules, bool bitsPastTrie = false) {
  auto s = std::make_unique<Scenario>();
  std::string error;
  if (!inventory::loadInventoryText("bench-inventory.json", generateInventory("target", 1), s->compilation.inventory,
                                    &error))
    fail(error);
  std::vector<std::pair<std::string, std::string>> texts = {
      {"bench.policy", generatePolicy("bench", "target0", rules, rules, 7)}};
  if (bitsPastTrie) texts.push_back({"bits.policy", bitsTakingPolicy(MB_PEER_BITS)});
  pipeline::runText(texts, s->compilation);
  if (s->compilation.diags.hasErrors() || !s->compilation.ir) fail("the generated policy does not compile");
  s->target = s->compilation.ir->findEndpoint(kBenchNamespace, "target0-0");
  if (!s->target || !s->target->classIndex) fail("the target endpoint has no class");
  s->cls = &s->compilation.ir->classes[*s->target->classIndex];
  if (s->cls->ingress.rules.size() != rules) fail("unexpected rule count in the generated policy");
  return s;
}

ir::Peer peerFor(const ir::Program& program, const net::Address& a) {
  if (const ir::Endpoint* e = program.endpointByAddress(a)) return ir::Peer::endpoint(program.identity(e->identity), a);
  return ir::Peer::world(a);
}

// An address of the given family that `rule`'s peer side matches: inside
// one of its CIDRs, or of an endpoint one of its selectors selects.
std::optional<net::Address> peerMatching(const ir::Program& program, const ir::Rule& rule, net::Family family) {
  for (const ir::CidrMatch& c : rule.peer.cidrs)
    if (c.prefix.family() == family) {
      net::Address a = c.prefix.addr;
      a.bytes[family == net::Family::V4 ? 3 : 15] |= 1;
      return a;
    }
  for (const ir::Endpoint& e : program.endpoints) {
    const ir::Identity* id = program.identity(e.identity);
    for (uint32_t bit : rule.peer.selectorBits)
      if (id && id->hasBit(bit))
        for (const net::Address& a : e.addresses)
          if (a.family == family) return a;
  }
  return std::nullopt;
}

// Probes for one address family: TCP packets from peers that allowed rules
// early, in the middle and late in the rule list name, and one from a client
// on a port no rule mentions (default deny).
std::vector<Probe> chooseProbes(const Scenario& s, net::Family family) {
  const ir::Program& program = *s.compilation.ir;
  std::vector<const ir::Rule*> allows;
  for (const ir::Rule& r : s.cls->ingress.rules)
    if (r.action == ir::Action::Allow && !features::l4::matchesOf(r).empty() && features::l4::matchesOf(r)[0].protocol == ir::kTCP) allows.push_back(&r);
  std::vector<Probe> probes;
  for (double at : {0.1, 0.5, 0.9}) {
    for (size_t i = size_t(at * double(allows.size())); i < allows.size(); ++i) {
      const ir::Rule& rule = *allows[i];
      std::optional<net::Address> peer = peerMatching(program, rule, family);
      if (!peer) continue;
      uint16_t port = features::l4::matchesOf(rule)[0].ports.empty() ? 80 : features::l4::matchesOf(rule)[0].ports[0].first;
      ir::Verdict v = ir::evaluate(program, *s.target, ir::Direction::Ingress, peerFor(program, *peer), {ir::kTCP, port});
      if (!v.allowed) continue;  // an earlier deny rule shadows it for this peer
      probes.push_back({"allowed by rule " + std::to_string(v.rule), *peer, ir::kTCP, port, true});
      break;
    }
  }
  net::Address client = *net::Address::parse(clientAddress(1, family == net::Family::V6));
  ir::Verdict v = ir::evaluate(program, *s.target, ir::Direction::Ingress, peerFor(program, client), {ir::kTCP, 9});
  if (v.allowed) fail("the default-deny probe is allowed");
  probes.push_back({"default deny", client, ir::kTCP, 9, false});
  if (probes.size() < 2) fail("no allowed probe found");
  return probes;
}

// Every program that decides must agree with the reference evaluator on a
// sample of packets before its figures mean anything. RST packets create no
// conntrack entries, so each run is decided afresh.
void checkAgreement(const char* name, const Loaded& l, const Scenario& s, net::Family family, size_t samples) {
  const ir::Program& program = *s.compilation.ir;
  const net::Address self = s.target->addresses[family == net::Family::V4 ? 0 : 1];
  std::mt19937 rng(23);
  size_t allowed = 0;
  for (size_t i = 0; i < samples; ++i) {
    net::Address peer;
    uint16_t port = uint16_t(990 + rng() % 560);
    // Half the sample aims at a rule (its peer, its first port), so small
    // policies see allowed packets too; the rest is random.
    const ir::Rule& aimed = s.cls->ingress.rules[rng() % s.cls->ingress.rules.size()];
    std::optional<net::Address> aimedPeer = peerMatching(program, aimed, family);
    if (i % 2 == 0 && aimedPeer && !features::l4::matchesOf(aimed).empty() && features::l4::matchesOf(aimed)[0].protocol == ir::kTCP) {
      peer = *aimedPeer;
      port = features::l4::matchesOf(aimed)[0].ports.empty() ? port : features::l4::matchesOf(aimed)[0].ports[0].first;
    } else if (rng() % 4) {
      peer = *net::Address::parse(clientAddress(rng() % kClients, family == net::Family::V6));
    } else {
      unsigned k = rng() % 50;
      std::ostringstream a;
      if (family == net::Family::V4)
        a << "198.19." << k << ".7";
      else
        a << "2001:2:1:" << k << "::7";
      peer = *net::Address::parse(a.str());
    }
    ir::Verdict v = ir::evaluate(program, *s.target, ir::Direction::Ingress, peerFor(program, peer), {ir::kTCP, port});
    int rv = testRun(l.fd, packet(peer, self, ir::kTCP, 30000, port, mbtest::kRst | mbtest::kAck), 1).retval;
    if ((rv == kTcOk) != v.allowed)
      fail(std::string(name) + " disagrees with the evaluator: from " + peer.str() + " tcp/" + std::to_string(port) +
           " the evaluator says " + (v.allowed ? "allow" : "deny") + " (rule " + std::to_string(v.rule) + ")");
    allowed += v.allowed;
  }
  if (allowed == 0 || allowed == samples)
    fail(std::string("the agreement sample for ") + name + " has only " + (allowed ? "allowed" : "denied") + " packets");
}

// ---- measurements -----------------------------------------------------------

struct Figures {
  double newFlow = 0;     // mean over probes of the median ns per packet
  double established = 0;
  double freshFlow = 0;   // median ns of repeat=1 runs, each a new tuple (conntrack insert included)
  std::vector<double> perProbe;  // new flow, by probe
};

enum Program { kFloor1, kFloor2, kGeneric, kMembrane, kPrograms };
const char* const kProgramNames[] = {"floor 1 (empty)", "floor 2 (allow-all decision)", "generic (map-driven)",
                                     "membrane (specialized)"};

Figures measure(const Loaded& l, Program which, const std::vector<Probe>& probes, const net::Address& self,
                const Options& o) {
  Figures f;
  const bool decides = which == kGeneric || which == kMembrane;
  std::vector<double> perProbe;
  for (const Probe& p : probes) {
    mbtest::Bytes frame = packet(p.peer, self, p.proto, 40000, p.port, mbtest::kRst | mbtest::kAck);
    int rv = testRun(l.fd, frame, 1).retval;
    bool expectPass = which == kFloor1 || which == kFloor2 || p.allowed;
    if ((rv == kTcOk) != expectPass)
      fail(std::string(kProgramNames[which]) + ": probe " + p.description + " from " + p.peer.str() + " returned " +
           std::to_string(rv));
    perProbe.push_back(medianRun(l.fd, frame, o));
  }
  f.newFlow = mean(perProbe);
  f.perProbe = perProbe;
  (void)decides;

  // Established: the first allowed probe's flow, opened by one SYN, then
  // ACKs that hit its conntrack entry on every repeat.
  const Probe& open = probes[0];
  if (which != kFloor1) {
    int rv = testRun(l.fd, packet(open.peer, self, open.proto, 40001, open.port, mbtest::kSyn), 1).retval;
    if (rv != kTcOk) fail(std::string(kProgramNames[which]) + ": the SYN opening the established flow was dropped");
  }
  f.established = medianRun(l.fd, packet(open.peer, self, open.proto, 40001, open.port, mbtest::kAck), o);

  // New flows with their conntrack insert: one run per tuple (repeat=1), so
  // each lookup misses; the kernel's per-run figure then also holds one
  // timer read, which floor 1 measured the same way shows.
  std::vector<double> fresh;
  for (uint32_t i = 0; i < o.freshFlows; ++i) {
    uint16_t sport = uint16_t(1024 + i % 60000);
    fresh.push_back(testRun(l.fd, packet(open.peer, self, open.proto, sport, open.port, mbtest::kSyn), 1).nsPerPacket);
  }
  f.freshFlow = median(fresh);
  if (which != kFloor1) clearConntrack(l);
  return f;
}

// A scenario's class compiled, and loaded twice with the same identity
// trie: as membrane built it, and as floor 2 (the skeleton with an allow-all
// decision), so identity lookups cost both the same.
struct LoadedScenario {
  codegen::DecisionStats stats;
  double compileMs = 0;
  std::unique_ptr<Loaded> membrane, floor2;
};

LoadedScenario compileAndLoad(const Scenario& s, codegen::ClassCompiler& compiler) {
  LoadedScenario l;
  auto start = Clock::now();
  codegen::Artifacts artifacts = codegen::buildArtifacts(compiler, *s.compilation.ir, {});
  l.compileMs = secondsSince(start) * 1000;
  const codegen::ClassObject& object = artifacts.objects.at(*s.target->classIndex);
  l.stats = object.stats;
  std::vector<identity::TrieEntry> trie;
  std::string error;
  if (!identity::buildEntries(artifacts.manifest, {}, trie, &error)) fail(error);
  l.membrane = loadObject(object.elf, true, MB_PROG_TC_TO_ENDPOINT);
  fillTrie(*l.membrane, trie);
  l.floor2 = loadObject(bpfObjectPath("decide_allow"), false, MB_PROG_TC_TO_ENDPOINT);
  fillTrie(*l.floor2, trie);
  return l;
}

struct SizeResult {
  size_t rules = 0;
  std::string decisionMode;
  double compileMs = 0;
  Figures figures[2][kPrograms];  // [v4, v6][program]
  double loadMs[kPrograms] = {};
  uint32_t verified[kPrograms] = {}, xlated[kPrograms] = {};
  size_t genericEntries = 0;
  codegen::DecisionStats stats;
  std::vector<std::string> probes[2];  // descriptions
};

SizeResult benchSize(size_t rules, const Options& o, codegen::ClassCompiler& compiler, const Loaded& floor1) {
  SizeResult r;
  r.rules = rules;
  std::cerr << "bench kernel: " << rules << " rules per direction\n";
  auto s = buildScenario(rules);
  const ir::Program& program = *s->compilation.ir;
  LoadedScenario loaded = compileAndLoad(*s, compiler);
  r.compileMs = loaded.compileMs;
  r.stats = loaded.stats;
  r.decisionMode = r.stats.tableLeaves ? "table" : "folded";
  auto& membrane = loaded.membrane;
  auto& floor2 = loaded.floor2;

  GenericPolicy g = buildGenericPolicy(program, *s->cls);
  auto generic = loadObject(bpfObjectPath("decide_generic"), false, MB_PROG_TC_TO_ENDPOINT, [&](bpf_object* obj) {
    for (int d = 0; d < 2; ++d) {
      const char* map = d == 0 ? "bench_policy_ingress" : "bench_policy_egress";
      bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, map), uint32_t(std::max<size_t>(1, g.entries[d].size())));
      uint32_t enforced = g.enforced[d] ? 1 : 0;
      std::string err = setRodata(obj, d == 0 ? "bench_enforced_ingress" : "bench_enforced_egress", &enforced, 4);
      if (!err.empty()) fail(err);
    }
  });
  for (int d = 0; d < 2; ++d) {
    int fd = generic->mapFd(d == 0 ? "bench_policy_ingress" : "bench_policy_egress");
    for (const auto& [key, value] : g.entries[d])
      if (bpf_map_update_elem(fd, &key, &value, BPF_NOEXIST) != 0)
        fail(std::string("filling the generic policy map: ") + std::strerror(errno));
  }
  std::vector<identity::TrieEntry> genericTrie;
  for (const GenericTrieEntry& e : g.trie) {
    identity::TrieEntry t;
    t.key = identity::keyFor(e.prefix);
    t.value.flags = e.flags;
    t.value.identity = e.identity;
    genericTrie.push_back(t);
  }
  fillTrie(*generic, genericTrie);
  r.genericEntries = g.entries[0].size() + g.entries[1].size();

  const Loaded* programs[kPrograms] = {&floor1, floor2.get(), generic.get(), membrane.get()};
  for (int p = 0; p < kPrograms; ++p) {
    r.loadMs[p] = programs[p]->loadMs;
    r.verified[p] = programs[p]->verifiedInsns;
    r.xlated[p] = programs[p]->xlatedInsns;
  }
  for (int f = 0; f < 2; ++f) {
    net::Family family = f == 0 ? net::Family::V4 : net::Family::V6;
    checkAgreement("membrane", *membrane, *s, family, o.quick ? 200 : 1000);
    checkAgreement("generic", *generic, *s, family, o.quick ? 200 : 1000);
    clearConntrack(*membrane);
    clearConntrack(*generic);
    std::vector<Probe> probes = chooseProbes(*s, family);
    for (const Probe& p : probes) r.probes[f].push_back(p.description + ", tcp/" + std::to_string(p.port));
    const net::Address self = s->target->addresses[f];
    for (int p = 0; p < kPrograms; ++p) r.figures[f][p] = measure(*programs[p], Program(p), probes, self, o);
  }
  return r;
}

// ---- peer bits past the trie value ------------------------------------------

// The same class with its peer bits in the trie value and, moved past
// MB_PEER_BITS, looked up in mb_more_peer_bits: membrane's new flow both
// ways, and floor 2 for scale.
struct BitsPastTrieResult {
  size_t rules = 0;
  std::string decisionMode;
  size_t lookups = 0;                // mb_peer_word calls in the decision's code
  Figures inValue[2], lookedUp[2], floor2[2];  // [v4, v6]
};

BitsPastTrieResult benchBitsPastTrie(size_t rules, const Options& o, codegen::ClassCompiler& compiler) {
  BitsPastTrieResult r;
  r.rules = rules;
  std::cerr << "bench kernel: " << rules << " rules, peer bits past the trie value\n";
  auto plain = buildScenario(rules);
  auto moved = buildScenario(rules, true);
  LoadedScenario a = compileAndLoad(*plain, compiler);
  LoadedScenario b = compileAndLoad(*moved, compiler);
  r.decisionMode = b.stats.tableLeaves ? "table" : "folded";
  r.lookups = b.stats.morePeerWords;
  for (int f = 0; f < 2; ++f) {
    net::Family family = f == 0 ? net::Family::V4 : net::Family::V6;
    checkAgreement("membrane, bits looked up", *b.membrane, *moved, family, o.quick ? 200 : 1000);
    clearConntrack(*b.membrane);
    // The probes of the plain scenario: the same rules, peers and ports.
    std::vector<Probe> probes = chooseProbes(*plain, family);
    const net::Address self = plain->target->addresses[f];
    r.inValue[f] = measure(*a.membrane, kMembrane, probes, self, o);
    r.lookedUp[f] = measure(*b.membrane, kMembrane, probes, self, o);
    r.floor2[f] = measure(*a.floor2, kFloor2, probes, self, o);
  }
  return r;
}

// ---- anti-spoofing ----------------------------------------------------------

// What checking the source of every packet an endpoint sends costs: the same
// established flow through the floor 2 skeleton, arriving (mb_tc_to_endpoint,
// no source check) and leaving (mb_tc_from_endpoint, one mb_endpoint_addrs
// lookup first), and a spoofed packet, dropped by that lookup.
struct SourceCheckFigures {
  double arriving = 0, leaving = 0, spoofed = 0;
};

SourceCheckFigures measureSourceCheck(net::Family family, const Options& o) {
  const bool v4 = family == net::Family::V4;
  const net::Address self = *net::Address::parse(v4 ? "198.18.0.1" : "2001:2::1");
  const net::Address peer = *net::Address::parse(v4 ? "198.18.7.7" : "2001:2::7:7");
  const net::Address other = *net::Address::parse(v4 ? "198.18.7.8" : "2001:2::7:8");
  SourceCheckFigures f;
  auto to = loadObject(bpfObjectPath("decide_allow"), false, MB_PROG_TC_TO_ENDPOINT);
  auto from = loadObject(bpfObjectPath("decide_allow"), false, MB_PROG_TC_FROM_ENDPOINT);
  mb_endpoint_addr_key own = identity::ownedAddressKey(kEndpointId, self);
  uint32_t one = 1;
  if (bpf_map_update_elem(from->mapFd("mb_endpoint_addrs"), &own, &one, BPF_ANY) != 0)
    fail(std::string("filling mb_endpoint_addrs: ") + std::strerror(errno));
  if (testRun(to->fd, packet(peer, self, ir::kTCP, 40000, 80, mbtest::kSyn), 1).retval != kTcOk ||
      testRun(from->fd, packet(self, peer, ir::kTCP, 40000, 80, mbtest::kSyn), 1).retval != kTcOk)
    fail("anti-spoofing: the SYN opening the established flow was dropped");
  if (testRun(from->fd, packet(other, peer, ir::kTCP, 40000, 80, mbtest::kSyn), 1).retval != kTcShot)
    fail("anti-spoofing: a packet from an address the endpoint does not own left it");
  f.arriving = medianRun(to->fd, packet(peer, self, ir::kTCP, 40000, 80, mbtest::kAck), o);
  f.leaving = medianRun(from->fd, packet(self, peer, ir::kTCP, 40000, 80, mbtest::kAck), o);
  f.spoofed = medianRun(from->fd, packet(other, peer, ir::kTCP, 40000, 80, mbtest::kAck), o);
  return f;
}

// ---- DNS responses -----------------------------------------------------------

// What reading a DNS response costs at ingress (bpf-templates/lib/dns_response.h):
// a UDP response with N A answers (owners compressed to the question, as
// resolvers send them) to a query the endpoint made, through
// mb_tc_to_endpoint of decide_dns.c, beside the same packet through floor 2
// (decide_allow.c, no DNS tables: an established flow). A response teaches
// once (its pending record is deleted), so every run is a single
// BPF_PROG_TEST_RUN after the record is put back from userspace; the figure
// is the median of the kernel's own time for those runs, and the floor is
// measured the same way. "new": the learned map emptied before each run (an
// insert per address); "known": the addresses already learned under the
// name (a deadline refresh per address); "unsolicited": no record (header,
// question and a lookup).
struct DnsFigures {
  int answers = 0;
  double floor = 0, known = 0, fresh = 0, unsolicited = 0;
};

std::vector<DnsFigures> measureDns(const Options& o) {
  const mbtest::Addr self = mbtest::Addr::parse("198.18.0.1"), resolver = mbtest::Addr::parse("198.18.0.53");
  const uint16_t kId = 0x4242, kClientPort = 40000;
  const std::string kName = "api.example.com";
  const int samples = o.quick ? 200 : 2000;
  auto floor2 = loadObject(bpfObjectPath("decide_allow"), false, MB_PROG_TC_TO_ENDPOINT);
  auto dns = loadObject(bpfObjectPath("decide_dns"), false, MB_PROG_TC_TO_ENDPOINT);
  int pendingFd = dns->mapFd("mb_dns_pending"), learnedFd = dns->mapFd("mb_dns_learned");

  mb_dns_pending_key key{};
  key.endpoint = kEndpointId;
  key.family = MB_FAMILY_V4;
  key.proto = mbtest::kUdp;
  key.id = htons(kId);
  key.client_port = htons(kClientPort);
  key.resolver_port = htons(53);
  std::memcpy(key.client, self.bytes.data(), 4);
  std::memcpy(key.resolver, resolver.bytes.data(), 4);
  mb_dns_pending value{};
  value.rule_id = 1;
  std::memcpy(value.name, kName.data(), kName.size());
  auto putPending = [&] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns()'s clock
    value.expires_ns = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec) + MB_DNS_PENDING_NS;
    if (bpf_map_update_elem(pendingFd, &key, &value, BPF_ANY) != 0)
      fail(std::string("filling mb_dns_pending: ") + std::strerror(errno));
  };
  auto learnedCount = [&] { return membrane::loader::mapKeys<mb_dns_learned_key>(learnedFd).size(); };
  auto clearLearned = [&] {
    for (const auto& k : membrane::loader::mapKeys<mb_dns_learned_key>(learnedFd)) bpf_map_delete_elem(learnedFd, &k);
  };
  auto medianOf = [&](int fd, const mbtest::Bytes& frame, const std::function<void()>& before) {
    std::vector<double> ns;
    for (int i = 0; i < samples; ++i) {
      if (before) before();
      RunResult r = testRun(fd, frame, 1);
      if (r.retval != kTcOk) fail("DNS: the response was dropped");
      ns.push_back(r.nsPerPacket);
    }
    return median(ns);
  };

  std::vector<DnsFigures> out;
  for (int answers : {1, 8, 32}) {
    std::cerr << "bench kernel: DNS response, " << answers << " answers\n";
    std::vector<mbtest::Bytes> records;
    for (int i = 0; i < answers; ++i)
      records.push_back(mbtest::dnsA(mbtest::dnsPointer(mbtest::kDnsQuestionAt), "198.18.6." + std::to_string(i + 1)));
    mbtest::Bytes frame = mbtest::frame(
        mbtest::ip(resolver, self, mbtest::kUdp, mbtest::udpDatagram(53, kClientPort, mbtest::dnsResponse(kId, kName, records))));
    DnsFigures f;
    f.answers = answers;
    // The first run opens the flow in each object's conntrack (ingress
    // allows it: rule 1); every measured run is then a conntrack hit.
    testRun(floor2->fd, frame, 1);
    testRun(dns->fd, frame, 1);
    f.floor = medianOf(floor2->fd, frame, {});
    clearLearned();
    putPending();
    if (testRun(dns->fd, frame, 1).retval != kTcOk || learnedCount() != size_t(answers))
      fail("DNS: the response did not teach its " + std::to_string(answers) + " addresses");
    f.known = medianOf(dns->fd, frame, putPending);
    f.fresh = medianOf(dns->fd, frame, [&] {
      clearLearned();
      putPending();
    });
    if (learnedCount() != size_t(answers)) fail("DNS: a measured response taught nothing");
    bpf_map_delete_elem(pendingFd, &key);
    f.unsolicited = medianOf(dns->fd, frame, {});
    out.push_back(f);
  }
  return out;
}

// ---- port vocabulary --------------------------------------------------------

// The new-flow cost of a class with very many port intervals (a port per
// rule), beside the same rule count with 420 port values and floor 2.
struct PortSearchResult {
  size_t rules = 0;
  PortVocabulary vocabulary = PortVocabulary::Small;
  codegen::DecisionStats stats;
  uint32_t verified = 0;
  double compileMs = 0;
  Figures membrane, floor2;
};

PortSearchResult benchPortSearch(size_t rules, PortVocabulary v, const Options& o, codegen::ClassCompiler& compiler) {
  std::cerr << "bench kernel: " << rules << " rules, " << vocabularyName(v) << "\n";
  PortSearchResult r;
  r.rules = rules;
  r.vocabulary = v;
  auto s = buildPortScenario(rules, v);
  LoadedScenario loaded = compileAndLoad(*s, compiler);
  r.compileMs = loaded.compileMs;
  r.stats = loaded.stats;
  auto& membrane = loaded.membrane;
  auto& floor2 = loaded.floor2;
  r.verified = membrane->verifiedInsns;
  checkAgreement("membrane", *membrane, *s, net::Family::V4, o.quick ? 200 : 2000);
  clearConntrack(*membrane);
  std::vector<Probe> probes = chooseProbes(*s, net::Family::V4);
  const net::Address self = s->target->addresses[0];
  r.membrane = measure(*membrane, kMembrane, probes, self, o);
  r.floor2 = measure(*floor2, kFloor2, probes, self, o);
  return r;
}

// ---- the report -------------------------------------------------------------

std::string ratio(double a, double b) { return b > 0 ? fixed(a / b, 2) + "×" : "n/a"; }

// The DNS subsection (also printed alone with --dns-only).
std::string dnsSubsection(const std::vector<DnsFigures>& dns, const Options& o) {
  std::ostringstream out;
  out << "### DNS responses (ns per response)\n\n"
      << "A UDP response to a recorded query, with N A answers whose owners point at the question, through "
         "`mb_tc_to_endpoint` of a class with DNS rules (`bench/bpf/decide_dns.c`: floor 2 with the DNS tables, a "
         "name table matching every name), beside the same packet through floor 2 (no DNS tables). Both are "
         "conntrack hits; the difference is reading the response and learning from it. A response teaches once, "
         "so each figure is the median of "
      << (o.quick ? 200 : 2000)
      << " single runs (repeat = 1, the pending record put back from userspace between runs), floor included: a "
         "repeat-1 figure holds the harness's timer read. **new**: the addresses not yet learned (an LRU insert "
         "each); **known**: already learned under the name (a deadline refresh each); **unsolicited**: no "
         "recorded query (header, question, one lookup).\n\n";
  Table t({"answers", "floor 2", "new", "new - floor 2", "known", "known - floor 2", "unsolicited",
           "unsolicited - floor 2"});
  for (const DnsFigures& f : dns)
    t.row({std::to_string(f.answers), fixed(f.floor), fixed(f.fresh), fixed(f.fresh - f.floor), fixed(f.known),
           fixed(f.known - f.floor), fixed(f.unsolicited), fixed(f.unsolicited - f.floor)});
  out << t.markdown() << "\n";
  return out.str();
}

std::string bitsPastTrieSubsection(const std::vector<BitsPastTrieResult>& results) {
  std::ostringstream out;
  out << "### Peer bits past the trie value (ns per packet, new flow)\n\n"
      << "An identity trie value holds the first " << thousands(MB_PEER_BITS)
      << " peer bits; a policy set with more selectors (and lowered CIDRs) has the rest looked up in "
         "`mb_more_peer_bits`, one hash lookup per 64-bit word a port leaf tests (docs/datapath.md, \"Peer bits\"); "
         "a table-driven class decides a peer set the compiler knew of from its verdicts by peer set and looks up "
         "nothing (a set it did not know is scanned, one lookup per entry whose word is past the value's). "
         "The policy above, compiled alone (bits in the value) and after a policy of "
      << thousands(MB_PEER_BITS)
      << " selectors of its own that takes the first bits (every bit of the class looked up); the same probes, "
         "checked against the evaluator first.\n\n";
  Table t({"rules", "decision", "lookups in code", "family", "floor 2", "bits in value", "bits looked up",
           "looked up - in value", "looked up / floor 2"});
  for (const BitsPastTrieResult& r : results)
    for (int f = 0; f < 2; ++f)
      t.row({thousands(r.rules), r.decisionMode, thousands(r.lookups), f == 0 ? "IPv4" : "IPv6",
             fixed(r.floor2[f].newFlow), fixed(r.inValue[f].newFlow), fixed(r.lookedUp[f].newFlow),
             fixed(r.lookedUp[f].newFlow - r.inValue[f].newFlow), ratio(r.lookedUp[f].newFlow, r.floor2[f].newFlow)});
  out << t.markdown() << "\n";
  return out.str();
}

void printSection(const std::vector<SizeResult>& results, const SourceCheckFigures (&source)[2],
                  const std::vector<PortSearchResult>& ports, const std::vector<DnsFigures>& dns,
                  const std::vector<BitsPastTrieResult>& bitsPastTrie, const Options& o) {
  std::ostringstream out;
  out << "## 1. Per-packet cost in the kernel\n\n";
  out << "`build/bench/membrane_bench_kernel" << (o.quick ? " --quick" : "") << "`: BPF_PROG_TEST_RUN on the tc "
      << "program that guards the endpoint's ingress (`mb_tc_to_endpoint`), " << thousands(o.repeat)
      << " repeats per run, median of " << o.runs << " runs, nanoseconds per packet as the kernel measures them. "
      << "Every program is loaded and run as the node runs a class's programs, once for all of its endpoints, "
      << "behind the node's tc dispatcher (`bpf-templates/dispatch.c`): each packet goes through it, which finds the "
      << "endpoint in `mb_endpoints` by the interface it runs on (one hash lookup), reads the active version slot "
      << "and tail-calls the program (floors 2 and generic too; floor 1 runs alone). "
      << "Policies of N generated rules per direction (both directions; a mix of selectors, namespace-scoped "
      << "selectors, port ranges, IPv4 and IPv6 CIDRs and deny rules, see `bench/common/scenario.cpp`).\n\n";
  out << "- **floor 1**: an empty tc program (`bench/bpf/empty.c`): the cost of the test harness itself.\n"
      << "- **floor 2**: membrane's skeleton with the decision replaced by \"allow\" (`bench/bpf/decide_allow.c`): "
         "parsing, conntrack, identity lookup, counters.\n"
      << "- **generic**: the same skeleton with a map-driven decision (`bench/bpf/decide_generic.c`, the Cilium "
         "model): identity, then a hash map keyed by {identity, protocol, port} with any-port and any-protocol "
         "fallbacks, filled from the same IR.\n"
      << "- **membrane**: the class object `membranec` builds (`codegen::ClassCompiler`), identity trie filled from "
         "its manifest.\n\n";
  out << "What is measured:\n\n"
      << "- **new flow**: every repeat is decided by policy. A repeated packet that policy allows would create a "
         "conntrack entry on the first repeat and hit it on all the others, so the probes are TCP RST packets: "
         "parsed, looked up in conntrack in both orientations (miss), identity lookup, decision, counters, exactly "
         "as a first packet, but an RST never creates an entry. The figure is the mean over probes allowed by rules "
         "early, in the middle and late in the rule list, and one default-deny probe. It leaves out the conntrack "
         "insert, which is the same code in floor 2, generic and membrane; leaving it out makes the ratios stricter.\n"
      << "- **new flow + insert**: a SYN on a fresh tuple per run (repeat = 1, " << thousands(o.freshFlows)
      << " runs, median): the whole first-packet path including the conntrack insert. A repeat-1 figure also holds "
         "the harness's timer read, as floor 1 measured the same way shows.\n"
      << "- **established**: an ACK of a flow opened by one SYN; every repeat hits its conntrack entry.\n\n"
      << "Every program that decides is first checked against the reference evaluator (`ir::evaluate`) on "
      << (o.quick ? 200 : 1000) << " sampled packets per family and on every probe; any disagreement aborts the "
         "benchmark.\n\n";

  for (int f = 0; f < 2; ++f) {
    out << "### New flow, " << (f == 0 ? "IPv4" : "IPv6") << " (ns per packet)\n\n";
    Table t({"rules", "floor 1", "floor 2", "generic", "membrane", "membrane / floor 1", "membrane / floor 2",
             "membrane / generic"});
    for (const SizeResult& r : results) {
      const Figures* fig = r.figures[f];
      t.row({thousands(r.rules), fixed(fig[kFloor1].newFlow), fixed(fig[kFloor2].newFlow), fixed(fig[kGeneric].newFlow),
             fixed(fig[kMembrane].newFlow), ratio(fig[kMembrane].newFlow, fig[kFloor1].newFlow),
             ratio(fig[kMembrane].newFlow, fig[kFloor2].newFlow), ratio(fig[kMembrane].newFlow, fig[kGeneric].newFlow)});
    }
    out << t.markdown() << "\n";
  }
  for (int f = 0; f < 2; ++f) {
    out << "### Established flow and new flow + insert, " << (f == 0 ? "IPv4" : "IPv6") << " (ns per packet)\n\n";
    Table t({"rules", "est. floor 2", "est. generic", "est. membrane", "est. membrane / floor 2", "+insert floor 1",
             "+insert floor 2", "+insert generic", "+insert membrane", "+insert membrane / floor 2"});
    for (const SizeResult& r : results) {
      const Figures* fig = r.figures[f];
      t.row({thousands(r.rules), fixed(fig[kFloor2].established), fixed(fig[kGeneric].established),
             fixed(fig[kMembrane].established), ratio(fig[kMembrane].established, fig[kFloor2].established),
             fixed(fig[kFloor1].freshFlow), fixed(fig[kFloor2].freshFlow), fixed(fig[kGeneric].freshFlow),
             fixed(fig[kMembrane].freshFlow), ratio(fig[kMembrane].freshFlow, fig[kFloor2].freshFlow)});
    }
    out << t.markdown() << "\n";
  }

  out << "### Anti-spoofing (ns per packet)\n\n"
      << "Every packet an endpoint sends is first checked against its own addresses (`mb_endpoint_addrs`, one "
         "hash lookup; `bpf-templates/lib/source.h`), enforced direction or not. The same established flow "
         "through the floor 2 skeleton, arriving (`mb_tc_to_endpoint`, no check) and leaving "
         "(`mb_tc_from_endpoint`, with it); and a packet from an address the endpoint does not own, dropped by "
         "the check.\n\n";
  {
    Table t({"family", "established, arriving", "established, leaving", "leaving - arriving", "spoofed (dropped)"});
    for (int f = 0; f < 2; ++f)
      t.row({f == 0 ? "IPv4" : "IPv6", fixed(source[f].arriving), fixed(source[f].leaving),
             fixed(source[f].leaving - source[f].arriving), fixed(source[f].spoofed)});
    out << t.markdown() << "\n";
  }

  out << dnsSubsection(dns, o);
  if (!bitsPastTrie.empty()) out << bitsPastTrieSubsection(bitsPastTrie);

  if (!ports.empty()) {
    out << "### Port vocabulary (ns per packet, IPv4 new flow)\n\n"
        << "One class of N rules `allow from pods { app = pK } on tcp/P` (the compiler section's port-vocabulary "
           "workloads), ports from 420 values or one per rule. Past "
        << codegen::PeerLowering::kCodedPortSearchLimit
        << " intervals in a table-driven class the port search is data (`mb_port_leaf`, a fixed 17-step "
           "binary search over `.rodata`) rather than a tree of comparisons in code. Checked against the evaluator "
           "first, as above.\n\n";
    Table t({"rules", "ports", "port intervals", "searched as", "verifier insns", "compile ms", "floor 2", "membrane",
             "membrane / floor 2"});
    for (const PortSearchResult& r : ports)
      t.row({thousands(r.rules), vocabularyName(r.vocabulary), thousands(r.stats.intervals),
             r.stats.dataPortIntervals ? "data" : "code", thousands(r.verified), fixed(r.compileMs, 0),
             fixed(r.floor2.newFlow), fixed(r.membrane.newFlow), ratio(r.membrane.newFlow, r.floor2.newFlow)});
    out << t.markdown() << "\n";
  }

  out << "### Programs: verifier and load\n\n"
      << "Processed instructions are the verifier's count (`bpf_prog_info.verified_insns`) for the program "
         "measured; translated instructions are its size after verification. Load time is `bpf_object__load` "
         "(map creation, verification of every program in the object, JIT) measured around the call; membrane's "
         "compile time is `codegen::buildArtifacts` in-process for the whole policy.\n\n";
  Table t({"rules", "program", "verifier processed insns", "xlated insns", "load ms", "notes"});
  for (const SizeResult& r : results)
    for (int p = 0; p < kPrograms; ++p) {
      if (p == kFloor1 && &r != &results.front()) continue;
      std::string notes;
      if (p == kGeneric) notes = thousands(r.genericEntries) + " policy map entries";
      if (p == kMembrane)
        notes = r.decisionMode + " decision (" + thousands(r.stats.intervals) + " port leaves, longest leaf " +
                thousands(r.stats.maxLeafRules) + " rules" +
                (r.stats.tableLeaves ? ", " + thousands(r.stats.tableEntries) + " table entries, " +
                                           thousands(r.stats.denseColumns) + " verdict columns by peer set"
                                     : std::string()) +
                "), compiled in " + fixed(r.compileMs, 0) + " ms";
      t.row({p == kFloor1 ? "any" : thousands(r.rules), kProgramNames[p], thousands(r.verified[p]),
             thousands(r.xlated[p]), fixed(r.loadMs[p], 1), notes});
    }
  out << t.markdown() << "\n";

  // Where the time goes at the largest size, probe by probe.
  if (!results.empty()) {
    const SizeResult& big = results.back();
    out << "### New flow by probe at " << thousands(big.rules) << " rules (ns per packet)\n\n";
    Table byProbe({"family", "probe", "floor 2", "generic", "membrane", "membrane / floor 2"});
    for (int f = 0; f < 2; ++f)
      for (size_t i = 0; i < big.probes[f].size(); ++i) {
        const Figures* fig = big.figures[f];
        byProbe.row({f == 0 ? "IPv4" : "IPv6", big.probes[f][i], fixed(fig[kFloor2].perProbe[i]),
               fixed(fig[kGeneric].perProbe[i]), fixed(fig[kMembrane].perProbe[i]),
               ratio(fig[kMembrane].perProbe[i], fig[kFloor2].perProbe[i])});
      }
    out << byProbe.markdown() << "\n";
  }

  // Goals.
  out << "### Goals\n\n";
  if (results.empty()) {
    out << "No sizes measured.\n";
    std::cout << out.str();
    return;
  }
  const SizeResult& first = results.front();
  const SizeResult& last = results.back();
  auto verdict = [](bool met) { return met ? "**met**" : "**not met**"; };
  for (int f = 0; f < 2; ++f) {
    const char* fam = f == 0 ? "IPv4" : "IPv6";
    const Figures* L = last.figures[f];
    double newRatio = L[kMembrane].newFlow / L[kFloor2].newFlow;
    double estRatio = L[kMembrane].established / L[kFloor2].established;
    double growth = last.figures[f][kMembrane].newFlow / first.figures[f][kMembrane].newFlow;
    bool faster = true;
    std::string slowerAt;
    for (const SizeResult& r : results)
      if (r.figures[f][kMembrane].newFlow >= r.figures[f][kGeneric].newFlow) {
        faster = false;
        slowerAt += (slowerAt.empty() ? "" : ", ") + thousands(r.rules);
      }
    out << "- " << fam << ", new flow at " << thousands(last.rules) << " rules ≤ " << fixed(kNewFlowGoal, 1) << "× floor 2: "
        << verdict(newRatio <= kNewFlowGoal) << " (" << fixed(newRatio, 2) << "×: " << fixed(L[kMembrane].newFlow) << " ns vs "
        << fixed(L[kFloor2].newFlow) << " ns; the decision adds " << fixed(L[kMembrane].newFlow - L[kFloor2].newFlow)
        << " ns to a path whose fixed part is " << fixed(L[kFloor2].newFlow - L[kFloor1].newFlow)
        << " ns above the harness floor).\n";
    out << "- " << fam << ", established flow at " << thousands(last.rules) << " rules the same as floor 2 (within 5%): "
        << verdict(estRatio <= 1.05) << " (" << fixed(estRatio, 2)
        << "×; conntrack hits never reach the decision, so any difference is noise or code layout).\n";
    out << "- " << fam << ", new-flow cost grows at most 10% from " << thousands(first.rules) << " to "
        << thousands(last.rules) << " rules: " << verdict(growth <= 1.10) << " (" << fixed((growth - 1) * 100)
        << "%: " << fixed(first.figures[f][kMembrane].newFlow) << " → " << fixed(last.figures[f][kMembrane].newFlow)
        << " ns; " << first.decisionMode << " decision at " << thousands(first.rules) << " rules, " << last.decisionMode
        << " at " << thousands(last.rules) << ").\n";
    out << "- " << fam << ", always faster than the generic program (new flow): " << verdict(faster)
        << (faster ? "" : " (not faster at " + slowerAt + " rules)") << ".\n";
  }
  bool anyMissed = false;
  for (int f = 0; f < 2; ++f) {
    const Figures* L = last.figures[f];
    anyMissed |= L[kMembrane].newFlow > kNewFlowGoal * L[kFloor2].newFlow ||
                 last.figures[f][kMembrane].newFlow > 1.1 * first.figures[f][kMembrane].newFlow;
    for (const SizeResult& r : results) anyMissed |= r.figures[f][kMembrane].newFlow >= r.figures[f][kGeneric].newFlow;
  }
  if (anyMissed) {
    out << "\nCause of the new-flow goals missed: ";
    bool tables = false;
    for (const SizeResult& r : results) tables |= r.decisionMode == "table";
    if (tables)
      out << "past " << codegen::PeerLowering::kTableRuleThreshold
          << " rules in a direction membrane's decision is table-driven: the port search is still code (data past "
          << codegen::PeerLowering::kCodedPortSearchLimit
          << " intervals), and each port leaf's verdict is data in .rodata: for a peer set the compiler knew of, one "
             "load from `mb_dense_cells` (0 verdict columns above: none, the leaf's entries are scanned by "
             "`mb_table_match` with `bpf_loop` until the first hit, paying per entry scanned), while the generic "
             "program pays three hash lookups whatever the rule count; the per-probe table shows which probes.";
    else
      out << "the folded decision's per-packet path (protocol switch, port search, the leaf's rule tests) costs "
             "more than the generic program's hash lookups at the sizes marked above; the per-probe table shows "
             "which probes.";
    out << "\n";
  }
  out << "\n";
  std::cout << out.str();
}

const char* kDescription =
    "Section 1 of docs/benchmarks.md: per-packet cost of membrane's datapath in the kernel\n"
    "(BPF_PROG_TEST_RUN), against an empty program, an allow-all decision and a generic map-driven\n"
    "decision. Prints a markdown section on stdout. --quick: 20,000 repeats, 3 runs, 1,000 fresh flows.";
const char* kExitCodes =
    "Needs root (bpf()). Exit status: 0 done (or, without root and CI unset, a section saying it was\n"
    "not measured); 1 a program failed to build or load, or disagreed with the reference evaluator,\n"
    "or under CI=true not root; 2 usage.";

}  // namespace
}  // namespace membrane::bench

int main(int argc, char** argv) {
  using namespace membrane::bench;
  Options o;
  BenchProgram program("bench/kernel", kDescription, kExitCodes);
  auto* repeat = program.app()
                     .add_option("--repeat", o.repeat, "Repeats per BPF_PROG_TEST_RUN")
                     ->capture_default_str()
                     ->check(CLI::Range(1, 100000000));
  auto* runs = program.app()
                   .add_option("--runs", o.runs, "Runs per figure, median reported")
                   ->capture_default_str()
                   ->check(CLI::Range(1, 1000));
  program.app()
      .add_option("--sizes", o.sizes, "Rules per direction, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  bool dnsOnly = false;
  program.app().add_flag("--dns-only", dnsOnly, "Only the DNS responses subsection");
  if (auto rc = program.parse(argc, argv)) return *rc;
  o.quick = program.quick;
  if (o.quick) {
    if (!repeat->count()) o.repeat = 20000;
    if (!runs->count()) o.runs = 3;
    o.freshFlows = 1000;
    o.portSizes = {10000};
  }
  program.needsRoot("## 1. Per-packet cost in the kernel", "bpf()");
  return program.run([&] {
    std::string error;
    if (dnsOnly) {
      std::cout << "## 1. Per-packet cost in the kernel (DNS only)\n\n" << dnsSubsection(measureDns(o), o);
      return 0;
    }
    auto compiler = membrane::codegen::ClassCompiler::create(&error);
    if (!compiler) throw std::runtime_error("creating the class compiler: " + error);
    auto floor1 = loadObject(bpfObjectPath("empty"), false, "bench_empty");
    std::vector<SizeResult> results;
    for (size_t rules : o.sizes) results.push_back(benchSize(rules, o, *compiler, *floor1));
    SourceCheckFigures source[2] = {measureSourceCheck(membrane::net::Family::V4, o),
                                    measureSourceCheck(membrane::net::Family::V6, o)};
    std::vector<PortSearchResult> ports;
    for (size_t rules : o.portSizes)
      for (PortVocabulary v : {PortVocabulary::Small, PortVocabulary::Distinct})
        ports.push_back(benchPortSearch(rules, v, o, *compiler));
    std::vector<DnsFigures> dns = measureDns(o);
    std::vector<BitsPastTrieResult> bitsPastTrie;
    for (size_t rules : o.sizes)
      if (rules == o.sizes.front() || rules == o.sizes.back())
        bitsPastTrie.push_back(benchBitsPastTrie(rules, o, *compiler));
    printSection(results, source, ports, dns, bitsPastTrie, o);
    return 0;
  });
}
