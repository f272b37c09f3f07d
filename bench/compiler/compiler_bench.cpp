// Section 3 of docs/benchmarks.md: the compiler.
//
// Generates policy sets and inventories into a temporary directory, runs
// `membranec compile` on them as a child process (wall time, peak RSS from
// wait4's rusage), and compiles the same classes the way per-endpoint
// compilation did before templating: one C file per class (the skeleton plus
// the decision as plain C) through `clang -O2 -target bpf -c`, sequentially
// and two at a time. Prints one markdown section on stdout; progress on
// stderr. Exit status: 0 done, 1 a compile failed, 2 usage.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/program.h"
#include "common/report.h"
#include "common/scenario.h"
#include "compiler/plain_c.h"
#include "codegen/decision_codegen.h"
#include "pipeline/pipeline.h"

namespace fs = std::filesystem;

namespace membrane::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool quick = false;
  size_t clangSample = 0;  // 0: compile every class with clang; else at most this many, extrapolated
  std::string workdir;     // "" = a fresh temporary directory, removed afterwards
  std::vector<size_t> classCounts = {10, 100, 1000};
  size_t bigRules = 10000;
  std::vector<size_t> portRules = {2500, 5000, 10000, 40000};
  // Reading inputs at scale.
  std::vector<size_t> fileCounts = {1000, 3000};
  size_t inventoryEndpoints = 1000000;
  std::string part = "all";  // all, compile or inputs
};

struct ChildResult {
  double seconds = 0;     // wall
  double cpuSeconds = 0;  // user + system, all children
  long maxRssKiB = 0;
};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    FILE* out = std::fopen(log.c_str(), "w");
    if (out) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror(args[0]);
    _exit(127);
  }
  return pid;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) fail("cannot write " + path.string());
}

// Runs each command line, at most `parallel` at a time. Wall time for all,
// peak RSS of the largest child.
ChildResult runAll(const std::vector<std::vector<std::string>>& commands, size_t parallel, const std::string& logDir) {
  ChildResult r;
  auto start = Clock::now();
  std::map<pid_t, size_t> running;
  size_t next = 0;
  while (next < commands.size() || !running.empty()) {
    while (next < commands.size() && running.size() < parallel) {
      running[spawn(commands[next], logDir + "/cmd" + std::to_string(next) + ".log")] = next;
      ++next;
    }
    int status = 0;
    rusage usage{};
    pid_t pid = wait4(-1, &status, 0, &usage);
    if (pid < 0) fail(std::string("wait4: ") + std::strerror(errno));
    auto it = running.find(pid);
    if (it == running.end()) continue;
    r.maxRssKiB = std::max(r.maxRssKiB, usage.ru_maxrss);
    r.cpuSeconds += double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string log = readFile(logDir + "/cmd" + std::to_string(it->second) + ".log");
      fail("command failed: " + commands[it->second][0] + " ...\n" + log.substr(0, 4000));
    }
    running.erase(it);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

// A generated workload on disk.
struct Workload {
  std::string label;
  fs::path dir, policies, inventory, out;
  size_t classes = 0;
};

Workload writeWorkload(const fs::path& root, const std::string& label, size_t classes, size_t rulesPerClass) {
  Workload w;
  w.label = label;
  w.classes = classes;
  w.dir = root / label;
  w.policies = w.dir / "policies";
  w.inventory = w.dir / "inventory.json";
  w.out = w.dir / "out";
  fs::create_directories(w.policies);
  writeFile(w.inventory, generateInventory("c", classes));
  size_t ingress = (rulesPerClass + 1) / 2, egress = rulesPerClass / 2;
  for (size_t i = 0; i < classes; ++i)
    writeFile(w.policies / ("p" + std::to_string(i) + ".policy"),
              generatePolicy("p" + std::to_string(i), "c" + std::to_string(i), ingress, egress, uint32_t(1000 + i)));
  return w;
}

// A one-class workload of `generatePortPolicy`.
Workload writePortWorkload(const fs::path& root, size_t rules, PortVocabulary v) {
  Workload w;
  w.label = thousands(rules) + " rules, " + vocabularyName(v);
  w.classes = 1;
  w.dir = root / ("ports-" + std::to_string(rules) + "-" + std::to_string(int(v)));
  w.policies = w.dir / "policies";
  w.inventory = w.dir / "inventory.json";
  w.out = w.dir / "out";
  fs::create_directories(w.policies);
  writeFile(w.inventory, generatePortInventory());
  writeFile(w.policies / "ports.policy", generatePortPolicy(rules, v, uint32_t(7 + rules)));
  return w;
}

// Without a cache (whatever $MEMBRANE_CACHE_DIR says), or with `cache`.
ChildResult runMembranec(const Workload& w, const fs::path& cache = {}) {
  std::vector<std::string> cmd = {MEMBRANEC_PATH, "compile", "-q", "-i", w.inventory.string(), "-o", w.out.string(),
                                  w.policies.string()};
  if (cache.empty()) {
    cmd.push_back("--no-cache");
  } else {
    cmd.push_back("--cache");
    cmd.push_back(cache.string());
  }
  return runAll({cmd}, 1, w.dir.string());
}

// Changes the first port of p0.policy, as a reviewer's one-line edit would.
void changeOnePort(const Workload& w) {
  fs::path p0 = w.policies / "p0.policy";
  std::string text = readFile(p0.string());
  std::smatch m;
  std::regex firstPort("on tcp/([0-9]+)");
  if (!std::regex_search(text, m, firstPort)) fail("no port to change in " + p0.string());
  text.replace(size_t(m.position(1)), size_t(m.length(1)), "999");
  writeFile(p0, text);
}

// With --cache: empty, then unchanged, then after a one-port change.
struct CacheRuns {
  ChildResult cold, warm, changed;
};
CacheRuns runWithCache(const Workload& w) {
  fs::path cache = w.dir / "cache";
  fs::remove_all(cache);
  CacheRuns r;
  r.cold = runMembranec(w, cache);
  r.warm = runMembranec(w, cache);
  changeOnePort(w);
  r.changed = runMembranec(w, cache);
  return r;
}

// The IR of a workload, for the plain C model.
std::unique_ptr<pipeline::Compilation> lower(const Workload& w) {
  auto c = std::make_unique<pipeline::Compilation>();
  pipeline::run(pipeline::Inputs{{w.policies.string()}, {w.inventory.string()}}, *c);
  if (c->outcome() != pipeline::Outcome::Ok || !c->ir) fail("the generated workload " + w.label + " does not compile");
  return c;
}

std::vector<std::string> clangCommand(const fs::path& source) {
  std::string root = MEMBRANE_SOURCE_DIR;
  return {MEMBRANE_BENCH_CLANG, "-target", "bpf", "-O2", "-g", "-nostdinc", "-I", root + "/bpf-templates",
          "-I", root + "/runtime/abi", "-c", source.string(), "-o", source.string() + ".o"};
}

struct ClangResult {
  size_t compiled = 0;  // classes actually compiled
  ChildResult sequential, parallel;
  double seqTotal = 0, parTotal = 0;  // for every class (extrapolated when compiled < classes)
  double cpuTotal = 0;                // CPU seconds of the sequential run, for every class
};

ClangResult runClang(const Workload& w, const ir::Program& program, const Options& o, size_t sampleLimit) {
  fs::path cdir = w.dir / "plain-c";
  fs::create_directories(cdir);
  size_t n = program.classes.size();
  size_t compiled = sampleLimit ? std::min(n, sampleLimit) : n;
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < compiled; ++i) {
    // Spread the sample over the classes.
    const ir::EndpointClass& cls = program.classes[i * n / compiled];
    fs::path source = cdir / ("class" + std::to_string(cls.id) + ".c");
    writeFile(source, plainCDecision(program, cls));
    commands.push_back(clangCommand(source));
  }
  ClangResult r;
  r.compiled = compiled;
  r.sequential = runAll(commands, 1, cdir.string());
  // Two at a time only means something with two files or more.
  r.parallel = commands.size() > 1 ? runAll(commands, 2, cdir.string()) : r.sequential;
  double scale = double(n) / double(compiled);
  r.seqTotal = r.sequential.seconds * scale;
  r.parTotal = r.parallel.seconds * scale;
  r.cpuTotal = r.sequential.cpuSeconds * scale;
  (void)o;
  return r;
}

std::string mib(long kib) { return fixed(double(kib) / 1024.0, 0); }

// ---- reading inputs at scale ---------------------------------------------------------

struct InputRow {
  std::string input, size;
  ChildResult check;
};

ChildResult runCheck(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> cmd = {MEMBRANEC_PATH, "check", "-q"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  return runAll({cmd}, 1, dir.string());
}

// `membranec check` on many small policy files (and the same policies in
// one file), and on a very large inventory: the costs of reading inputs,
// without code generation.
std::string inputsSection(const fs::path& root, const Options& o) {
  std::vector<InputRow> rows;
  for (size_t n : o.fileCounts) {
    std::cerr << "bench compiler: " << n << " policy files\n";
    fs::path dir = root / ("files" + std::to_string(n));
    fs::create_directories(dir / "policies");
    std::string all;
    for (size_t i = 0; i < n; ++i) {
      std::string text = generateSmallPolicy(i);
      writeFile(dir / "policies" / ("p" + std::to_string(i) + ".policy"), text);
      all += text;
    }
    writeFile(dir / "all.policy", all);
    rows.push_back({thousands(n) + " policy files", thousands(all.size() / 1024) + " KiB",
                    runCheck({(dir / "policies").string()}, dir)});
    rows.push_back({"the same " + thousands(n) + " policies in one file", thousands(all.size() / 1024) + " KiB",
                    runCheck({(dir / "all.policy").string()}, dir)});
  }
  if (o.inventoryEndpoints) {
    std::cerr << "bench compiler: an inventory of " << o.inventoryEndpoints << " endpoints\n";
    fs::path dir = root / "inventory";
    fs::create_directories(dir);
    std::string inventory = generateLargeInventory(o.inventoryEndpoints);
    writeFile(dir / "inventory.json", inventory);
    writeFile(dir / "p.policy", generateSmallPolicy(0));
    rows.push_back({"inventory of " + thousands(o.inventoryEndpoints) + " endpoints, one policy",
                    thousands(inventory.size() >> 20) + " MiB",
                    runCheck({"-i", (dir / "inventory.json").string(), (dir / "p.policy").string()}, dir)});
  }
  std::ostringstream out;
  out << "### Reading inputs at scale\n\n"
      << "`membranec check -q` (parse, check, lower to the IR; no code generation), timed as a child process, on "
         "inputs generated by `bench/common/scenario.cpp`: small policies (one ingress and one egress rule each, "
         "in 50 namespaces) one per file in a directory, and the same policies in one file; and an inventory in "
         "membrane's format (one address and one named port per endpoint) with one policy. A directory of files "
         "should cost what one file of the same policies costs.\n\n";
  Table t({"input", "size", "wall s", "CPU s", "peak MiB"});
  for (const InputRow& r : rows)
    t.row({r.input, r.size, fixed(r.check.seconds, 2), fixed(r.check.cpuSeconds, 2), mib(r.check.maxRssKiB)});
  out << t.markdown() << "\n";
  return out.str();
}

const char* kDescription =
    "Section 3 of docs/benchmarks.md: membranec compile time and peak memory for 10, 100 and 1,000\n"
    "endpoint classes of 50 rules and one class of 10,000 rules, against clang compiling one C file\n"
    "per class (sequentially and two at a time), and a recompile after a one-rule change; then\n"
    "membranec check on 1,000 and 3,000 policy files (and the same policies in one file) and on a\n"
    "1,000,000-endpoint inventory. Prints a markdown section on stdout. --quick: 10 and 50 classes\n"
    "and a 500-rule class, clang on a sample of 2 classes per workload, extrapolated; 100 and 300\n"
    "files and 100,000 endpoints.";
const char* kExitCodes = "Exit status: 0 done; 1 a compile failed; 2 usage.";

void run(const Options& o) {
  std::optional<ScratchDir> scratch;
  fs::path root = o.workdir;
  if (root.empty()) {
    scratch.emplace("membrane-bench");
    root = scratch->path();
  } else {
    fs::create_directories(root);
  }
  if (o.part == "inputs") {
    std::cout << "## 3. The compiler\n\n" << inputsSection(root, o);
    return;
  }

  struct Row {
    std::string label;
    size_t classes, rules;
    ChildResult membranec;
    ClangResult clang;
    CacheRuns cache;
  };
  std::vector<Row> rows;
  // First one small class (2 rules): what a pipeline compiling a small
  // policy set waits for, process start to exit (issue #18's < 100 ms).
  std::vector<std::pair<size_t, size_t>> workloads = {{1, 2}};
  for (size_t k : o.classCounts) workloads.push_back({k, 50});
  workloads.push_back({1, o.bigRules});
  Workload recompileTarget;
  ChildResult recompile, clangOne;
  long peakRss = 0;
  for (auto [classes, rules] : workloads) {
    std::string label = thousands(classes) + " × " + thousands(rules) + " rules";
    std::cerr << "bench compiler: " << label << "\n";
    Workload w = writeWorkload(root, std::to_string(classes) + "x" + std::to_string(rules), classes, rules);
    Row row{label, classes, rules, runMembranec(w), {}, {}};
    if (classes == 1 && rules == 2) {
      // Tens of milliseconds: the median of 9 runs, not one.
      std::vector<ChildResult> runs = {row.membranec};
      for (int i = 0; i < 8; ++i) runs.push_back(runMembranec(w));
      std::sort(runs.begin(), runs.end(), [](const ChildResult& a, const ChildResult& b) { return a.seconds < b.seconds; });
      row.membranec = runs[runs.size() / 2];
    }
    peakRss = std::max(peakRss, row.membranec.maxRssKiB);
    auto c = lower(w);
    if (c->ir->classes.size() != classes) fail("workload " + label + " has an unexpected class count");
    size_t sample = o.clangSample;
    row.clang = runClang(w, *c->ir, o, sample);
    // The cache: cold, warm, and warm after a one-port change (which edits
    // the workload: last).
    if (!(classes == 1 && rules == 2)) {
      row.cache = runWithCache(w);
      peakRss = std::max({peakRss, row.cache.cold.maxRssKiB, row.cache.changed.maxRssKiB});
    }
    rows.push_back(row);

    // The same one-rule change in the largest class workload without the
    // cache: membranec recompiles the whole set; the per-endpoint model
    // recompiles the one class.
    if (!o.classCounts.empty() && classes == o.classCounts.back() && rules == 50) {
      recompile = runMembranec(w);
      peakRss = std::max(peakRss, recompile.maxRssKiB);
      auto changed = lower(w);
      fs::path one = w.dir / "plain-c" / "changed.c";
      writeFile(one, plainCDecision(*changed->ir, changed->ir->classes[0]));
      clangOne = runAll({clangCommand(one)}, 1, w.dir.string());
      recompileTarget = w;
    }
  }

  // Port vocabularies: the same rule counts with few ports, a port per rule,
  // and five ports per rule.
  struct PortRow {
    size_t rules;
    ChildResult result[3];
  };
  std::vector<PortRow> portRows;
  for (size_t rules : o.portRules) {
    PortRow row{rules, {}};
    for (int v = 0; v < 3; ++v) {
      Workload w = writePortWorkload(root, rules, PortVocabulary(v));
      std::cerr << "bench compiler: " << w.label << "\n";
      row.result[v] = runMembranec(w);
      peakRss = std::max(peakRss, row.result[v].maxRssKiB);
    }
    portRows.push_back(row);
  }

  std::ostringstream out;
  out << "## 3. The compiler\n\n"
      << "`build/bench/membrane_bench_compiler" << (o.quick ? " --quick" : "")
      << "`: generated workloads (`bench/common/scenario.cpp`; N classes = N policies, each selecting one endpoint, "
         "rules split evenly between ingress and egress) compiled by `membranec compile` (all cores, its default "
         "`-j`), timed as a child process; peak memory is the child's `ru_maxrss`. The per-endpoint model is what "
         "compiling one program per endpoint costs: each class written as one C file (the skeleton plus its decision "
         "as plain C, one `if` per rule, `bench/compiler/plain_c.cpp`) and compiled with `"
      << fs::path(MEMBRANE_BENCH_CLANG).filename().string()
      << " -O2 -g -target bpf -c` (`-g` because the skeleton needs BTF to load), one after another and two at a "
         "time (`-j2`, both cores, as membranec uses them).";
  bool extrapolated = false;
  for (const Row& r : rows) extrapolated |= r.clang.compiled < r.classes;
  if (extrapolated)
    out << " **clang figures marked ≈ are extrapolated** from the classes actually compiled (column \"clang "
           "sample\") to all of them.";
  out << "\n\n";
  Table t({"workload", "membranec wall s", "membranec CPU s", "membranec peak MiB", "clang sample", "clang seq wall s",
           "clang -j2 wall s", "clang CPU s", "clang peak MiB", "membranec CPU ms / class", "clang CPU ms / class",
           "speed-up (CPU)", "speed-up (wall, vs clang -j2)"});
  for (const Row& r : rows) {
    std::string approx = r.clang.compiled < r.classes ? "≈ " : "";
    double n = double(r.classes);
    t.row({r.label, fixed(r.membranec.seconds, 2), fixed(r.membranec.cpuSeconds, 2), mib(r.membranec.maxRssKiB),
           thousands(r.clang.compiled), approx + fixed(r.clang.seqTotal, 1), approx + fixed(r.clang.parTotal, 1),
           approx + fixed(r.clang.cpuTotal, 1), mib(r.clang.sequential.maxRssKiB),
           fixed(r.membranec.cpuSeconds * 1000 / n, 1), fixed(r.clang.sequential.cpuSeconds * 1000 / double(r.clang.compiled), 0),
           approx + fixed(r.clang.cpuTotal / r.membranec.cpuSeconds, 1) + "×",
           approx + fixed(r.clang.parTotal / r.membranec.seconds, 1) + "×"});
  }
  out << t.markdown() << "\n";
  out << "CPU time is user + system of the child processes (`wait4`). On a shared, busy machine wall times "
         "stretch with the load while CPU times stay close to the work done, so the speed-up is judged on CPU "
         "time; wall times are what a user waits on this machine as it was during the run.\n\n";
  if (!recompileTarget.label.empty())
    out << "**One-rule change** (one port of one rule of one policy, " << thousands(recompileTarget.classes)
        << " classes × 50 rules): without the cache `membranec compile` recompiles the whole set in "
        << fixed(recompile.seconds, 2) << " s wall, " << fixed(recompile.cpuSeconds, 2)
        << " s CPU; the per-endpoint model recompiles only the affected class, one clang run: "
        << fixed(clangOne.seconds, 2) << " s wall, " << fixed(clangOne.cpuSeconds, 2)
        << " s CPU. With the cache, see below.\n\n";

  out << "### The cache\n\n"
      << "`membranec compile --cache DIR` on each workload (docs/cli.md, \"The cache\"): cold (an empty "
         "cache: every class compiled and stored), warm (run again, nothing changed: every class read), and "
         "warm after the one-port change above (one class compiled, the rest read). Every run writes the whole "
         "output directory (objects of about 390 KB each), as a compile without the cache does.\n\n";
  {
    Table ct({"workload", "no cache wall s", "cold wall s", "cold CPU s", "warm wall s", "warm CPU s",
              "one port changed wall s", "one port changed CPU s", "peak MiB"});
    for (const Row& r : rows) {
      if (r.classes == 1 && r.rules == 2) continue;
      ct.row({r.label, fixed(r.membranec.seconds, 2), fixed(r.cache.cold.seconds, 2),
              fixed(r.cache.cold.cpuSeconds, 2), fixed(r.cache.warm.seconds, 2), fixed(r.cache.warm.cpuSeconds, 2),
              fixed(r.cache.changed.seconds, 2), fixed(r.cache.changed.cpuSeconds, 2),
              mib(std::max({r.cache.cold.maxRssKiB, r.cache.warm.maxRssKiB, r.cache.changed.maxRssKiB}))});
    }
    out << ct.markdown() << "\n";
  }

  out << "### Port vocabulary\n\n"
      << "One class whose ingress has N rules `allow from pods { app = pK } on tcp/P` (" << kPortPeers
      << " peer apps), with ports drawn from 420 values, one per rule from 1024-60000 (nearly all distinct), "
         "or five per rule: `membranec compile`, CPU seconds (wall in brackets). Past "
      << codegen::PeerLowering::kCodedPortSearchLimit
      << " port intervals in a table-driven class the port search is data (`mb_port_leaf` in "
         "`bpf-templates/decision.c`) rather than code.\n\n";
  {
    Table pt({"rules", vocabularyName(PortVocabulary::Small), vocabularyName(PortVocabulary::Distinct),
              vocabularyName(PortVocabulary::Sets), "a port per rule / 420 values"});
    for (const PortRow& r : portRows) {
      auto cell = [](const ChildResult& c) { return fixed(c.cpuSeconds, 2) + " (" + fixed(c.seconds, 2) + ")"; };
      pt.row({thousands(r.rules), cell(r.result[0]), cell(r.result[1]), cell(r.result[2]),
              fixed(r.result[1].cpuSeconds / r.result[0].cpuSeconds, 2) + "×"});
    }
    out << pt.markdown() << "\n";
  }

  out << "### Goals\n\n";
  auto verdict = [](bool met) { return met ? "**met**" : "**not met**"; };
  {
    const PortRow* ten = nullptr;
    const PortRow* forty = nullptr;
    for (const PortRow& r : portRows) {
      if (r.rules == 10000) ten = &r;
      if (r.rules == 40000) forty = &r;
    }
    if (ten) {
      double ratio = ten->result[1].cpuSeconds / ten->result[0].cpuSeconds;
      out << "- 10,000 rules with a port per rule within 2× the time of 10,000 rules with 420 port values (CPU): "
          << verdict(ratio <= 2) << " (" << fixed(ratio, 2) << "×).\n";
    }
    if (ten && forty) {
      double growth = forty->result[1].cpuSeconds / ten->result[1].cpuSeconds;
      out << "- A port per rule, 10,000 to 40,000 rules, at most 5× (CPU): " << verdict(growth <= 5) << " ("
          << fixed(growth, 2) << "×: " << fixed(ten->result[1].cpuSeconds, 2) << " → "
          << fixed(forty->result[1].cpuSeconds, 2) << " s).\n";
    }
  }
  const Row* thousand = nullptr;
  const Row* small = nullptr;
  for (const Row& r : rows) {
    if (r.classes == 1000 && r.rules == 50) thousand = &r;
    if (r.classes == 1 && r.rules == 2) small = &r;
  }
  if (small)
    out << "- One small class (2 rules) in under 100 ms wall, process start to exit: "
        << verdict(small->membranec.seconds < 0.1) << " (" << fixed(small->membranec.seconds * 1000, 0) << " ms wall, "
        << fixed(small->membranec.cpuSeconds * 1000, 0) << " ms CPU, the median of 9 runs).\n";
  if (thousand)
    out << "- 1,000 classes × 50 rules in under 10 s: " << verdict(thousand->membranec.seconds < 10) << " ("
        << fixed(thousand->membranec.seconds, 2) << " s wall, " << fixed(thousand->membranec.cpuSeconds, 2)
        << " s CPU, so at best " << fixed(thousand->membranec.cpuSeconds / 2, 1)
        << " s wall on two otherwise idle cores).\n";
  else
    out << "- 1,000 classes × 50 rules in under 10 s: not measured in this run (no 1,000-class workload; --quick leaves it out).\n";
  if (thousand)
    out << "- 1,000 classes × 50 rules, warm cache and one rule changed, in under 1 s: "
        << verdict(thousand->cache.changed.seconds < 1) << " (" << fixed(thousand->cache.changed.seconds, 2)
        << " s wall, " << fixed(thousand->cache.changed.cpuSeconds, 2) << " s CPU; warm and unchanged "
        << fixed(thousand->cache.warm.seconds, 2) << " s wall).\n";
  bool faster = true;
  std::string worst;
  double worstRatio = 1e9;
  for (const Row& r : rows) {
    double ratio = r.clang.cpuTotal / r.membranec.cpuSeconds;
    if (ratio < worstRatio) {
      worstRatio = ratio;
      worst = r.label;
    }
    faster &= ratio >= 20;
  }
  out << "- At least 20× faster than clang per endpoint (CPU time): " << verdict(faster) << " (lowest: "
      << fixed(worstRatio, 1) << "× for " << worst << ")";
  // membranec's cost splits into a fixed start-up (the skeleton is compiled
  // once per run) and a cost per class; the two largest class workloads of
  // 50 rules give both, and the per-class figure is what each further
  // endpoint class costs against a whole clang run.
  std::vector<const Row*> classRows;
  for (const Row& r : rows)
    if (r.rules == 50) classRows.push_back(&r);
  if (classRows.size() >= 2) {
    const Row& a = *classRows[classRows.size() - 2];
    const Row& b = *classRows.back();
    double marginal = (b.membranec.cpuSeconds - a.membranec.cpuSeconds) / double(b.classes - a.classes);
    double fixedCost = a.membranec.cpuSeconds - marginal * double(a.classes);
    double clangPerClass = b.clang.cpuTotal / double(b.classes);
    if (marginal > 0 && fixedCost < 0)
      out << "; membranec's CPU per class grows with the class count (" << fixed(a.membranec.cpuSeconds * 1000 / double(a.classes), 1)
          << " ms at " << thousands(a.classes) << " classes, " << fixed(b.membranec.cpuSeconds * 1000 / double(b.classes), 1)
          << " ms at " << thousands(b.classes) << "), so no fixed start-up fits; each further class costs "
          << fixed(marginal * 1000, 1) << " ms against " << fixed(clangPerClass * 1000, 0) << " ms for each class clang compiles ("
          << fixed(clangPerClass / marginal, 0) << "× cheaper)";
    else if (marginal > 0)
      out << "; membranec's CPU time fits a fixed start-up of " << fixed(fixedCost, 2) << " s (process start, "
          << "reading the policies, the threads' compilers) plus " << fixed(marginal * 1000, 1)
          << " ms per class of 50 rules, against "
          << fixed(clangPerClass * 1000, 0) << " ms for each class clang compiles, so each further class is "
          << fixed(clangPerClass / marginal, 0) << "× cheaper and the start-up is what small workloads and the "
          << "single large class pay";
  }
  out << ".\n";
  out << "- Peak memory under 1 GiB: " << verdict(peakRss < 1024 * 1024) << " (largest membranec run: " << mib(peakRss)
      << " MiB).\n\n";
  if (o.part == "all") out << inputsSection(root, o);
  std::cout << out.str();
}

}  // namespace
}  // namespace membrane::bench

int main(int argc, char** argv) {
  using namespace membrane::bench;
  Options o;
  o.clangSample = 100;
  BenchProgram program("bench/compiler", kDescription, kExitCodes);
  auto* sample = program.app()
                     .add_option("--clang-sample", o.clangSample,
                                 "Compile at most N classes per workload with clang (spread over them) and "
                                 "extrapolate; 0 = all")
                     ->capture_default_str();
  program.app().add_option("--workdir", o.workdir, "Generate into DIR (kept) instead of a temporary directory");
  auto* classes = program.app()
                      .add_option("--classes", o.classCounts, "Class counts of 50 rules, comma-separated")
                      ->delimiter(',')
                      ->capture_default_str();
  auto* big = program.app()
                  .add_option("--big-rules", o.bigRules, "Rules of the single large class")
                  ->capture_default_str();
  auto* files = program.app()
                    .add_option("--files", o.fileCounts, "Policy file counts to check, comma-separated")
                    ->delimiter(',')
                    ->capture_default_str();
  auto* endpoints = program.app()
                        .add_option("--inventory-endpoints", o.inventoryEndpoints,
                                    "Endpoints of the large inventory to check (0: none)")
                        ->capture_default_str();
  program.app()
      .add_option("--part", o.part, "all, compile (the compile workloads) or inputs (reading inputs at scale)")
      ->check(CLI::IsMember({"all", "compile", "inputs"}))
      ->capture_default_str();
  if (auto rc = program.parse(argc, argv)) return *rc;
  o.quick = program.quick;
  if (o.quick) {
    if (!classes->count()) o.classCounts = {10, 50};
    if (!big->count()) o.bigRules = 500;
    if (!sample->count()) o.clangSample = 2;
    o.portRules = {2500, 10000};
    if (!files->count()) o.fileCounts = {100, 300};
    if (!endpoints->count()) o.inventoryEndpoints = 100000;
  }
  return program.run([&] {
    run(o);
    return 0;
  });
}
