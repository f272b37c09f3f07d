// Differential test for HTTP rules (docs/http.md): random classes whose
// rules carry random http conditions (methods, path patterns with '*' and
// "/**", host patterns with wildcards, headers with and without values;
// deny and audit rules; plain rules mixed in), and random requests near the
// patterns' edges (paths that almost match, non-canonical and long paths:
// escapes of unreserved and reserved bytes in either case, malformed
// escapes, dot segments, double slashes; repeated headers, a missing or odd
// Host), through the generated code in the kernel, against the reference
// evaluator:
//  - each request is written as a raw header block, read with
//    features::http::readRequest and evaluated; the same block goes to the
//    datapath's reader (lib/http_read.h) in http_wrapper.c (linked with the
//    class, run with BPF_PROG_TEST_RUN): both must find it readable or
//    unreadable alike, for its path or for other bytes alike;
//  - a readable request goes to the class's mb_http_decide_* twice: as the
//    datapath's reader read it, and filled into struct mb_http_request from
//    the reference's reading (which holds the decision to the evaluator
//    whatever the reader does): verdict, rule and audit bits must agree;
//  - random connections (peers, ports) go to mb_decide_*: allowed, denied
//    or MB_VERDICT_L7 as the evaluator's allowed and inspectsHttp say.
// `with http` is built into the IR here (the policies give peers and ports;
// http conditions are attached to their rules), so the test does not depend
// on the language's front end. Seeded: MEMBRANE_HTTP_DIFF_SEED picks the
// first seed, MEMBRANE_HTTP_DIFF_CASES the number of requests (default
// 10000; connections are a quarter of that on top). A failure prints the
// seed, the rules and the request.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "abi/datapath.h"
#include "codegen/class_compiler.h"
#include "codegen/decision_codegen.h"
#include "codegen/http_codegen.h"
#include "codegen/object_linker.h"
#include "environment.h"  // testkit: MB_REQUIRE_BPF
#include "evaluator/evaluator.h"
#include "features/http/http.h"
#include "http_requests.h"
#include "decision_wrapper.h"
#include "loaded_object.h"
#include "names/http.h"
#include "pipeline/pipeline.h"
#include "seeded_random.h"

namespace membrane::testing {
namespace {


// ---- random conditions (requests: http_requests.h) ------------------------

ir::HttpCondition randomCondition(Random& r) {
  std::set<ir::HttpRequestMatch> items;
  size_t n = 1 + r.below(3);
  while (items.size() < n) {
    ir::HttpRequestMatch m;
    if (r.chance(0.5)) m.method = r.pick(kMethods);
    if (r.chance(0.65)) m.path = randomPathPattern(r);
    if (r.chance(0.25)) m.host = r.pick(kHostPatterns);
    if (r.chance(0.3)) {
      std::set<std::string> names;
      size_t k = 1 + r.below(2);
      while (names.size() < k) names.insert(r.pick(kHeaderNames));
      for (const auto& name : names) {
        ir::HttpHeaderMatch h{name, std::nullopt};
        if (r.chance(0.5)) h.value = r.pick(kValues);
        m.headers.push_back(h);
      }
    }
    items.insert(m);
  }
  return {std::vector<ir::HttpRequestMatch>(items.begin(), items.end())};
}

std::string describe(const ir::HttpCondition& c) {
  std::string out = "with http {";
  for (const auto& m : c.requests) {
    out += " [" + m.method + " \"" + m.path + "\"" + (m.host.empty() ? "" : " host " + m.host);
    for (const auto& h : m.headers) out += " header " + h.name + (h.value ? "=" + *h.value : "");
    out += "];";
  }
  return out + " }";
}

// The request as the socket layer hands it to the decision (docs/http.md,
// runtime/abi/datapath.h struct mb_http_request).
void fill(mb_http_request& q, const ir::HttpRequest& req, const std::vector<std::string>& headerTable) {
  std::memset(&q, 0, sizeof q);
  if (req.method.size() <= MB_HTTP_METHOD_BYTES) {
    q.method_len = static_cast<uint8_t>(req.method.size());
    std::memcpy(q.method, req.method.data(), req.method.size());
  }
  // A readable request's path is canonical and within the limit.
  std::string_view path = features::http::pathOf(req);
  EXPECT_TRUE(path.size() <= names::kHttpPathMaxBytes && names::httpPathCanonical(path)) << path;
  q.path_len = static_cast<uint16_t>(std::min<size_t>(path.size(), names::kHttpPathMaxBytes));
  std::memcpy(q.path, path.data(), q.path_len);
  size_t hosts = 0;
  std::string host;
  for (const auto& [name, value] : req.headers)
    if (names::asciiLower(name) == "host") ++hosts, host = names::asciiLower(value);
  if (hosts == 1) {
    q.flags |= MB_HTTP_REQ_HOST;
    size_t colon = host.rfind(':');
    if (colon != std::string::npos && colon + 1 < host.size() &&
        host.find_first_not_of("0123456789", colon + 1) == std::string::npos)
      host.resize(colon);
    if (!host.empty() && host.back() == '.') host.pop_back();
    q.host_len = static_cast<uint16_t>(host.size());
    std::memcpy(q.host, host.data(), std::min<size_t>(host.size(), MB_HTTP_HOST_BYTES));
  }
  for (size_t i = 0; i < headerTable.size(); ++i) {
    size_t n = 0;
    for (const auto& [name, value] : req.headers)
      if (names::asciiLower(name) == headerTable[i]) {
        if (n++ == 0) {
          q.value_len[i] = static_cast<uint16_t>(value.size());
          std::memcpy(q.value[i], value.data(), std::min<size_t>(value.size(), MB_HTTP_VALUE_BYTES));
        }
      }
    if (n) q.header_seen |= 1u << i;
    if (n > 1) q.header_repeated |= 1u << i;
  }
}

// ---- scenarios -----------------------------------------------------------


const std::vector<std::string> kIngress = {
    "allow from pods { app = web } on tcp/8080",
    "allow from pods { tier = back } on tcp/8080, tcp/9090",
    "deny from pods { app = batch } on tcp/9090",
    "allow from pods { app = batch } on tcp/8080",
    "allow from cidr 198.19.0.0/16 on tcp/8080",
    "deny from cidr 198.19.66.0/24 on tcp/8080",
    "allow from world on tcp/80",
    "allow from pods { app = web }",
    "deny from pods { tier = front } on tcp/8080",
};
const std::vector<std::string> kEgress = {
    "allow to pods { app = server } on tcp/8080",
    "allow to pods { app = server } on tcp/8080, tcp/9090",
    "deny to cidr 198.19.66.0/24 on tcp/80",
    "allow to world on tcp/80",
    "allow to cidr 198.19.0.0/16 on tcp/80, tcp/8080",
    "deny to pods { app = server } on tcp/9090",
};

std::string section(Random& r, const std::vector<std::string>& lines) {
  std::string out;
  size_t n = 2 + r.below(4);
  for (size_t i = 0; i < n; ++i) out += "    " + r.pick(lines) + "\n";
  return out;
}

std::string randomPolicy(Random& r) {
  std::string p = "namespace h\n";
  p += "policy server {\n  selects { app = server }\n  ingress {\n" + section(r, kIngress) + "  }\n}\n";
  p += "policy web {\n  selects { app = web }\n  egress {\n" + section(r, kEgress) + "  }\n}\n";
  if (r.chance(0.6))
    p += "policy watch {\n  selects { app = server }\n  mode audit\n  ingress {\n" + section(r, kIngress) +
         "    deny from pods { app = web } on tcp/8080\n  }\n}\n";
  return p;
}

struct Checked {
  size_t requests = 0, allowed = 0, auditDenied = 0, unreadable = 0, pathUnreadable = 0, connections = 0, l7 = 0,
         passed = 0, mismatches = 0;
};


void runScenario(uint64_t seed, size_t requests, codegen::ClassCompiler& compiler, Checked& total) {
  Random r(seed);
  std::string policy = randomPolicy(r);
  pipeline::Compilation c;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c.inventory, &error)) << error;
  pipeline::runText({{"random.policy", policy}}, c);
  ASSERT_FALSE(c.diags.hasErrors()) << policy;
  ir::Program& program = *c.ir;
  // Attach http conditions: every rule sharing an id gets the same one.
  std::string rules;
  std::map<uint32_t, std::optional<ir::HttpCondition>> chosen;
  for (auto& cls : program.classes)
    for (auto* dp : {&cls.ingress, &cls.egress})
      for (auto& rule : dp->rules) {
        auto [it, added] = chosen.emplace(rule.id, std::nullopt);
        if (added && r.chance(0.6)) it->second = randomCondition(r);
        if (it->second) rule.conditions.push_back(*it->second);
        rules += "  rule " + std::to_string(rule.id) + (rule.audit ? " (audit) " : " ") +
                 (rule.action == ir::Action::Deny ? "deny" : "allow") +
                 (it->second ? " " + describe(*it->second) : "") + "\n";
      }
  codegen::PeerLowering lowering = codegen::PeerLowering::choose(program);
  auto fail = [&](const std::string& what) {
    ++total.mismatches;
    ADD_FAILURE() << "seed " << seed << ": " << what << "\npolicy:\n" << policy << "http conditions:\n" << rules;
  };

  for (const char* name : {"server", "web"}) {
    const ir::Endpoint* subject = program.findEndpoint("h", name);
    ASSERT_TRUE(subject && subject->classIndex);
    const ir::EndpointClass& cls = program.classes.at(*subject->classIndex);
    codegen::ClassObject object = compiler.compile(program, cls, lowering, {});
    auto wrapped = Wrapped::load(object.elf, &error);
    ASSERT_TRUE(wrapped) << "seed " << seed << ": " << error << "\n" << policy << rules;
    codegen::HttpTables tables(cls);
    bool egress = std::string(name) == "web";
    const ir::DirectionPolicy& dir = egress ? cls.egress : cls.ingress;
    bool httpRules = false;
    for (const auto& rule : dir.rules) httpRules |= rule.condition<ir::HttpCondition>() != nullptr;
    const std::vector<uint16_t> ports = {80, 8080, 9090, 443};

    // Connections.
    for (size_t i = 0; i < requests / 4 && total.mismatches < 5; ++i) {
      PeerCase p = randomPeer(r, program);
      HttpCase hc{};
      fillPeer(hc, p);
      bool udp = r.chance(0.1);
      uint16_t port = r.pick(ports);
      hc.in.proto = udp ? ir::kUDP : ir::kTCP;
      hc.in.port = port;
      hc.egress = egress;
      hc.request = kConnection;
      ir::Verdict v = ir::evaluate(dir, p.peer, ir::Traffic{hc.in.proto, port});
      uint64_t result = wrapped->run(hc);
      ++total.connections;
      total.l7 += v.allowed && v.inspectsHttp;
      total.passed += v.allowed && !v.inspectsHttp;
      if (!agrees(v, result, true))
        fail(std::string(name) + " connection " + (udp ? "udp/" : "tcp/") + std::to_string(port) + " from " +
             p.address.str() + ": the datapath says " + resultText(result) + ", the evaluator " + verdictText(v));
    }
    if (!httpRules) continue;  // no request is asked about in this direction
    // Requests.
    std::vector<std::string> patterns = tables.paths();
    for (size_t i = 0; i < requests && total.mismatches < 5; ++i) {
      RandomRequest req = randomRequest(r, patterns);
      std::string shown = req.block;
      for (size_t at; (at = shown.find("\r\n")) != std::string::npos;) shown.replace(at, 2, " | ");
      // The datapath's reader must read what the reference reads, and refuse
      // the rest for the same kind of reason.
      HttpCase rc{};
      rc.egress = egress;
      wrapped->read(rc, req.block);
      int32_t want = req.readable ? kReadOk : req.pathUnreadable ? kReadPath : -1;
      if (rc.read != want) {
        fail(std::string(name) + " request " + shown + ": the datapath's reader returns " + std::to_string(rc.read) +
             ", the reference " + (req.readable ? "reads it" : "refuses it (" + std::to_string(want) + ")"));
        continue;
      }
      if (!req.readable) {
        // The socket layer answers it 400: not the decision's question.
        ++total.unreadable;
        total.pathUnreadable += req.pathUnreadable;
        continue;
      }
      // Mostly on connections the socket layer reads, where requests are
      // asked about; sometimes on any.
      PeerCase p = randomPeer(r, program);
      uint16_t port = r.pick(ports);
      bool wantL7 = r.chance(0.85);
      for (int tries = 0; wantL7 && tries < 30; ++tries) {
        ir::Verdict cv = ir::evaluate(dir, p.peer, ir::Traffic{ir::kTCP, port});
        if (cv.allowed && cv.inspectsHttp) break;
        p = randomPeer(r, program);
        port = r.pick(ports);
      }
      HttpCase hc{};
      fillPeer(hc, p);
      hc.in.proto = ir::kTCP;
      hc.in.port = port;
      hc.egress = egress;
      hc.request = kRequest;
      fill(hc.req, req.read, tables.headers());
      ir::Traffic t{ir::kTCP, port};
      t.http = ir::HttpMessage::of(req.read);
      ir::Verdict v = ir::evaluate(dir, p.peer, t);
      uint64_t result = wrapped->run(hc);
      HttpCase bc = hc;  // the same question, on the request the datapath's reader reads
      uint64_t readDecided = wrapped->read(bc, req.block);
      ++total.requests;
      total.allowed += v.allowed;
      total.auditDenied += v.auditWouldDeny;
      std::string where = std::string(name) + " request on tcp/" + std::to_string(port) + " from " +
                          p.address.str() + ": " + shown + ": ";
      if (!agrees(v, result, false))
        fail(where + "the decision says " + resultText(result) + ", the evaluator " + verdictText(v));
      else if (bc.read != kReadOk || !agrees(v, readDecided, false))
        fail(where + "as the datapath's reader reads it, the decision says " + resultText(readDecided) +
             " (reader " + std::to_string(bc.read) + "), the evaluator " + verdictText(v));
    }
  }
}

TEST(HttpDifferential, RequestsAndConnectionsAgreeWithTheEvaluator) {
  MB_REQUIRE_BPF();
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  uint64_t seed = envOr("MEMBRANE_HTTP_DIFF_SEED", 1);
  size_t budget = envOr("MEMBRANE_HTTP_DIFF_CASES", 10000);
  Checked total;
  size_t scenarios = 0;
  while (total.requests < budget && total.mismatches == 0) {
    runScenario(seed++, 400, *compiler, total);
    if (HasFatalFailure()) return;
    ++scenarios;
  }
  std::cout << "http differential: " << total.requests << " requests (" << total.allowed << " allowed, "
            << total.auditDenied << " audit would deny; " << total.unreadable << " unreadable, "
            << total.pathUnreadable << " of them for their path, refused by both readers), "
            << total.connections << " connections (" << total.l7 << " to the socket layer, " << total.passed
            << " passed) over " << scenarios << " scenarios, " << total.mismatches << " mismatches\n";
  EXPECT_EQ(total.mismatches, 0u);
  // Every outcome must be well represented, or the test proves little.
  EXPECT_GT(total.allowed, total.requests / 10);
  EXPECT_LT(total.allowed, total.requests * 9 / 10);
  EXPECT_GT(total.auditDenied, 0u);
  EXPECT_GT(total.pathUnreadable, total.requests / 10) << "paths that are not canonical or too long";
  EXPECT_GT(total.unreadable, total.pathUnreadable) << "unreadable for other reasons too";
  EXPECT_GT(total.l7, total.connections / 20);
  EXPECT_GT(total.passed, total.connections / 50);
}

// The request decision's size for N path rules on one port (GET
// "/api/v1/itemsK/*" and "/staticK/**" alternately): it must load, with
// the whole class object, and decide a matching and a near-miss request.
// Prints the compile time and the verifier's instruction count (the
// wrapper's, which includes every global function it reaches: the request
// decision, the packet decision, the automaton walk).
TEST(HttpDifferential, AThousandPathRulesOnOnePortLoad) {
  MB_REQUIRE_BPF();
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  ASSERT_TRUE(compiler) << error;
  for (size_t n : {10, 100, 1000}) {
    pipeline::Compilation c;
    ASSERT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c.inventory, &error)) << error;
    pipeline::runText({{"p.policy", "namespace h\npolicy server {\n  selects { app = server }\n  ingress {\n"
                                    "    allow from pods { app = web } on tcp/8080\n  }\n}\n"}},
                      c);
    ASSERT_FALSE(c.diags.hasErrors());
    ir::Program& program = *c.ir;
    const ir::Endpoint* server = program.findEndpoint("h", "server");
    ir::EndpointClass& cls = program.classes.at(*server->classIndex);
    ir::Rule base = cls.ingress.rules.at(0);
    cls.ingress.rules.clear();
    for (size_t k = 0; k < n; ++k) {
      ir::Rule rule = base;
      rule.id = static_cast<uint32_t>(100 + k);
      std::string path = k % 2 ? "/api/v1/items" + std::to_string(k) + "/*" : "/static" + std::to_string(k) + "/**";
      rule.conditions.push_back(ir::HttpCondition{{ir::HttpRequestMatch{"GET", path, "", {}}}});
      cls.ingress.rules.push_back(rule);
    }
    auto start = std::chrono::steady_clock::now();
    codegen::ClassObject object = compiler->compile(program, cls, codegen::PeerLowering::choose(program), {});
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto whole = LoadedObject::load(object.elf, 1, &error);
    ASSERT_TRUE(whole) << n << " rules: the class object does not load: " << error;
    auto wrapped = Wrapped::load(object.elf, &error);
    ASSERT_TRUE(wrapped) << n << " rules: " << error;

    const ir::Endpoint* web = program.findEndpoint("h", "web");
    PeerCase peer{ir::Peer::endpoint(program.identity(web->identity), web->addresses[0]), web->addresses[0]};
    codegen::HttpTables tables(cls);
    uint32_t want = static_cast<uint32_t>(100 + n - 1);  // the last rule: an items rule (n is even)
    for (const auto& [target, allowed] : std::vector<std::pair<std::string, bool>>{
             {"/api/v1/items" + std::to_string(n - 1) + "/42", true},
             {"/api/v1/items" + std::to_string(n - 1) + "/42/x", false}}) {
      HttpCase hc{};
      fillPeer(hc, peer);
      hc.in.proto = ir::kTCP;
      hc.in.port = 8080;
      hc.request = kRequest;
      ir::HttpRequest req{"GET", target, {{"Host", "a.test"}}};
      fill(hc.req, req, tables.headers());
      uint64_t result = wrapped->run(hc);
      EXPECT_EQ(!(result & MB_RESULT_DENY), allowed) << n << " rules, " << target << ": " << resultText(result);
      if (allowed) {
        EXPECT_EQ(result & MB_RESULT_RULE_MASK, want);
      }
    }
    std::cout << "http request decision, " << n << " path rules on one port: compiled in " << static_cast<int>(ms)
              << " ms, " << tables.automaton().states() << " automaton states, " << wrapped->verifiedInstructions()
              << " verified instructions\n";
  }
}

}  // namespace
}  // namespace membrane::testing
