// Differential test for process rules (docs/process.md): random classes
// whose egress allow rules carry random process conditions (one to three of
// a few executables; deny, audit and plain rules mixed in), through the
// generated code in the kernel (http_wrapper.c linked with the class, run
// with BPF_PROG_TEST_RUN: decision_wrapper.h), against the reference
// evaluator:
//  - random packets (peers; TCP, UDP and ICMP echo; ports) go to mb_decide_egress:
//    allowed, denied, or MB_VERDICT_PROCESS exactly where the evaluator's
//    verdict on a packet says needsProcess, with its rule and audit bits;
//  - random calls — the same flows made by one of the executables, or by
//    one no rule names — go to mb_process_decide_egress with that
//    executable's bits (codegen::classExecutables' numbering): verdict, rule
//    and audit bits as the evaluator decides the call.
// Process conditions are attached to the IR here (the policies give peers
// and ports), so the test does not depend on the language's front end.
// The second test writes them in the policies instead, with `processes`
// clauses (docs/process.md): one or two policies' clauses on the class
// (intersecting), rules' own `with process` beside them, and classes whose
// egress only the clauses isolate; lowering restricts the rules, and the
// evaluator holds the clauses themselves.
// Seeded: MEMBRANE_PROCESS_DIFF_SEED picks the first seed,
// MEMBRANE_PROCESS_DIFF_CASES the number of probes (default 20000). A
// failure prints the seed, the rules and the probe.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>

#include "codegen/class_compiler.h"
#include "codegen/decision_codegen.h"
#include "decision_wrapper.h"
#include "environment.h"  // testkit: MB_REQUIRE_BPF
#include "evaluator/evaluator.h"
#include "pipeline/pipeline.h"

namespace membrane::testing {
namespace {

const std::vector<std::string> kExecutables = {"/opt/app/server", "/usr/bin/python3", "/usr/local/bin/worker"};

const std::vector<std::string> kEgress = {
    "allow to pods { app = server } on tcp/8080",
    "allow to pods { app = server } on tcp/8080, tcp/9090",
    "allow to pods { tier = back } on udp/9090",
    "deny to cidr 198.19.66.0/24 on tcp/80",
    "allow to world on tcp/80",
    "allow to cidr 198.19.0.0/16 on tcp/80, tcp/8080, udp/9090",
    "deny to pods { app = server } on tcp/9090",
    "allow to pods { app = web }",
    "allow to cidr 198.19.0.0/16 on icmp/echo-request",
};

std::string randomPolicy(Random& r) {
  auto section = [&] {
    std::string out;
    size_t n = 2 + r.below(5);
    for (size_t i = 0; i < n; ++i) out += "    " + r.pick(kEgress) + "\n";
    return out;
  };
  std::string p = "namespace h\n";
  p += "policy web {\n  selects { app = web }\n  egress {\n" + section() + "  }\n}\n";
  if (r.chance(0.5)) p += "policy watch {\n  selects { app = web }\n  mode audit\n  egress {\n" + section() + "  }\n}\n";
  return p;
}

ir::ProcessCondition randomCondition(Random& r) {
  ir::ProcessCondition c;
  for (const auto& e : kExecutables)
    if (r.chance(0.5)) c.executables.push_back(e);
  if (c.executables.empty()) c.executables.push_back(r.pick(kExecutables));
  return c;  // kExecutables is sorted, so this is too
}

// Executables as a `with process` body or clause: `core` always (so that no
// intersection is empty), the others at random.
std::string processBody(Random& r, const std::string& core) {
  std::string out = "exe \"" + core + "\"";
  for (const auto& e : kExecutables)
    if (e != core && r.chance(0.4)) out += ", exe \"" + e + "\"";
  return out;
}

// Policies selecting h/web with `processes` clauses: web's always, also's
// sometimes; rules with their own `with process` sometimes; and, a third of
// the time, no egress section at all (the clauses alone isolate it).
std::string randomClausePolicy(Random& r) {
  const std::string core = r.pick(kExecutables);
  const bool isolated = r.chance(0.67);
  auto section = [&] {
    std::string out;
    size_t n = 2 + r.below(5);
    for (size_t i = 0; i < n; ++i) {
      std::string rule = r.pick(kEgress);
      // (`with process` is refused on a rule naming ICMP; the clause still
      // restricts it.)
      if (rule.rfind("allow", 0) == 0 && rule.find("icmp") == std::string::npos && r.chance(0.4))
        rule += " with process { " + processBody(r, core) + " }";
      out += "    " + rule + "\n";
    }
    return out;
  };
  std::string p = "namespace h\n";
  p += "policy web {\n  selects { app = web }\n  processes { " + processBody(r, core) + " }\n";
  if (isolated) p += "  egress {\n" + section() + "  }\n";
  p += "}\n";
  if (r.chance(0.5)) {
    p += "policy also {\n  selects { app = web }\n";
    if (r.chance(0.6)) p += "  processes { " + processBody(r, core) + " }\n";
    if (isolated && r.chance(0.5)) p += "  egress {\n" + section() + "  }\n";
    p += "}\n";
  }
  if (isolated && r.chance(0.5))
    p += "policy watch {\n  selects { app = web }\n  mode audit\n  egress {\n" + section() + "  }\n}\n";
  return p;
}

struct Checked {
  size_t packets = 0, calls = 0, process = 0, callsAllowed = 0, mismatches = 0;
  size_t clauseClasses = 0, isolatedByClause = 0, refusedByClause = 0;
};

// `clauses`: the policies hold the process conditions (randomClausePolicy);
// else they are attached to the IR here.
void runScenario(uint64_t seed, size_t probes, codegen::ClassCompiler& compiler, Checked& total,
                 bool clauses = false) {
  Random r(seed);
  std::string policy = clauses ? randomClausePolicy(r) : randomPolicy(r);
  pipeline::Compilation c;
  std::string error;
  ASSERT_TRUE(inventory::loadInventoryText("inventory.json", kInventory, c.inventory, &error)) << error;
  pipeline::runText({{"random.policy", policy}}, c);
  std::ostringstream diagnostics;
  c.diags.print(diagnostics, false);
  ASSERT_FALSE(c.diags.hasErrors()) << policy << diagnostics.str();
  ir::Program& program = *c.ir;
  // Process conditions on allow rules: every rule sharing an id gets the same one.
  std::string rules;
  std::map<uint32_t, std::optional<ir::ProcessCondition>> chosen;
  for (auto& cls : program.classes)
    for (auto& rule : cls.egress.rules) {
      auto [it, added] = chosen.emplace(rule.id, std::nullopt);
      if (clauses) {
        if (const auto* written = rule.condition<ir::ProcessCondition>()) it->second = *written;
      } else {
        if (added && rule.action == ir::Action::Allow && r.chance(0.6)) it->second = randomCondition(r);
        if (it->second) rule.conditions.push_back(*it->second);
      }
      std::string execs;
      if (it->second)
        for (const auto& e : it->second->executables) execs += " " + e;
      rules += "  rule " + std::to_string(rule.id) + (rule.audit ? " (audit) " : " ") +
               (rule.action == ir::Action::Deny ? "deny" : "allow") + (it->second ? " process" + execs : "") + "\n";
    }
  codegen::PeerLowering lowering = codegen::PeerLowering::choose(program);
  auto fail = [&](const std::string& what) {
    ++total.mismatches;
    ADD_FAILURE() << "seed " << seed << ": " << what << "\npolicy:\n" << policy << "process conditions:\n" << rules;
  };

  const ir::Endpoint* subject = program.findEndpoint("h", "web");
  ASSERT_TRUE(subject && subject->classIndex);
  const ir::EndpointClass& cls = program.classes.at(*subject->classIndex);
  if (clauses) {
    ASSERT_FALSE(cls.egress.processClauses.empty()) << policy;
    total.clauseClasses += 1;
    total.isolatedByClause += policy.find("egress") == std::string::npos;
  }
  codegen::ClassObject object = compiler.compile(program, cls, lowering, {});
  auto wrapped = Wrapped::load(object.elf, &error);
  ASSERT_TRUE(wrapped) << "seed " << seed << ": " << error << "\n" << policy << rules;
  const std::vector<std::string> numbered = codegen::classExecutables(cls);
  const std::vector<uint16_t> ports = {80, 8080, 9090, 443};

  for (size_t i = 0; i < probes && total.mismatches < 5; ++i) {
    PeerCase p = randomPeer(r, program);
    HttpCase hc{};
    fillPeer(hc, p);
    // TCP, UDP, or ICMP echo (a ping socket's connect(); ICMP's "port" is
    // its type): allow rules on ICMP meet a `processes` clause too.
    const size_t kind = r.below(20);
    const bool udp = kind >= 12 && kind < 17, icmp = kind >= 17;
    uint16_t port = icmp ? uint16_t(r.chance(0.8) ? 8 : 0) : r.pick(ports);
    hc.in.proto = icmp ? ir::kICMP : udp ? ir::kUDP : ir::kTCP;
    hc.in.port = port;
    hc.egress = 1;
    std::string flow = std::string(icmp ? "icmp type " : udp ? "udp/" : "tcp/") + std::to_string(port) + " to " +
                       p.address.str();

    // The packet.
    hc.request = kConnection;
    ir::Verdict v = ir::evaluate(cls.egress, p.peer, ir::Traffic{hc.in.proto, port});
    uint64_t result = wrapped->run(hc);
    ++total.packets;
    total.process += v.allowed && v.needsProcess;
    if (!agrees(v, result, true))
      fail("packet " + flow + ": the datapath says " + resultText(result) + ", the evaluator " + verdictText(v));

    // The call, by one of the executables (its bit, if the class numbers
    // it), or by one no rule names. A class without process rules has no
    // socket calls' decision (its stand-in is never asked).
    if (numbered.empty()) continue;
    ir::Traffic call{hc.in.proto, port};
    call.executable = r.chance(0.2) ? "/bin/sh" : r.pick(kExecutables);
    auto at = std::find(numbered.begin(), numbered.end(), *call.executable);
    hc.in.exe = at == numbered.end() ? 0 : uint64_t(1) << (at - numbered.begin());
    hc.request = kCall;
    ir::Verdict cv = ir::evaluate(cls.egress, p.peer, call);
    result = wrapped->run(hc);
    ++total.calls;
    total.refusedByClause += !ir::allowedByClauses(cls.egress, *call.executable);
    total.callsAllowed += cv.allowed;
    if (!agrees(cv, result, false))
      fail("call " + flow + " by " + *call.executable + ": the socket calls' decision says " + resultText(result) +
           ", the evaluator " + verdictText(cv));
  }
}

// Scenarios from MEMBRANE_PROCESS_DIFF_SEED (1) on, `probes` probes each,
// until MEMBRANE_PROCESS_DIFF_CASES (`budget`) calls or the first mismatch.
Checked runScenarios(size_t budget, size_t probes, bool clauses, size_t& scenarios) {
  Checked total;
  scenarios = 0;
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  EXPECT_TRUE(compiler) << error;
  if (!compiler) return total;
  uint64_t seed = 1;
  if (const char* s = std::getenv("MEMBRANE_PROCESS_DIFF_SEED")) seed = std::strtoull(s, nullptr, 10);
  if (const char* s = std::getenv("MEMBRANE_PROCESS_DIFF_CASES")) budget = std::strtoull(s, nullptr, 10);
  while (total.calls < budget && total.mismatches == 0) {
    runScenario(seed + scenarios, probes, *compiler, total, clauses);
    ++scenarios;
    if (::testing::Test::HasFatalFailure()) break;
  }
  return total;
}

TEST(ProcessDifferential, PacketsAndCallsAgreeWithTheEvaluator) {
  MB_REQUIRE_BPF();
  size_t scenarios = 0;
  auto started = std::chrono::steady_clock::now();
  Checked total = runScenarios(20000, 500, false, scenarios);
  if (::testing::Test::HasFatalFailure()) return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "process differential: " << scenarios << " classes, " << total.packets << " packets (" << total.process
            << " left to the socket calls), " << total.calls << " calls (" << total.callsAllowed << " allowed), "
            << total.mismatches << " mismatches, " << seconds << " s\n";
  EXPECT_EQ(total.mismatches, 0u);
  // The probes reach every kind of answer.
  EXPECT_GT(total.process, total.packets / 20);
  EXPECT_GT(total.callsAllowed, total.calls / 20);
  EXPECT_LT(total.callsAllowed, total.calls * 19 / 20);
}

TEST(ProcessDifferential, ClassesWithProcessesClausesAgreeWithTheEvaluator) {
  MB_REQUIRE_BPF();
  size_t scenarios = 0;
  Checked total = runScenarios(10000, 250, true, scenarios);
  if (::testing::Test::HasFatalFailure()) return;
  std::cout << "process clause differential: " << scenarios << " classes (" << total.isolatedByClause
            << " isolated by their clauses alone), " << total.packets << " packets (" << total.process
            << " left to the socket calls), " << total.calls << " calls (" << total.callsAllowed << " allowed, "
            << total.refusedByClause << " by executables a clause does not list), " << total.mismatches
            << " mismatches\n";
  EXPECT_EQ(total.mismatches, 0u);
  EXPECT_EQ(total.clauseClasses, scenarios);
  EXPECT_GT(total.isolatedByClause, scenarios / 10) << "classes only the clauses isolate are probed";
  EXPECT_GT(total.process, total.packets / 20);
  EXPECT_GT(total.callsAllowed, total.calls / 20);
  EXPECT_GT(total.refusedByClause, total.calls / 20);
}

}  // namespace
}  // namespace membrane::testing
