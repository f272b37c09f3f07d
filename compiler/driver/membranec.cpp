// membranec: the policy compiler's command line.
//
// Exit codes (all subcommands): 0 success, 1 the policies have errors,
// 2 usage or input errors (missing files, bad inventory).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>

#include "codegen/artifact_writer.h"
#include "driver/cmd_diff.h"
#include "driver/cmd_explain.h"
#include "driver/cmd_fmt.h"
#include "driver/cmd_lint.h"
#include "driver/cmd_import.h"
#include "driver/cmd_reach.h"
#include "driver/cmd_verify.h"
#include "driver/command_support.h"
#include "pipeline/pipeline.h"
#include "ir_print/ir_json.h"
#include "support/text.h"

namespace {

using namespace membrane;

using driver::kExitInputErrors;
using driver::kExitOk;
using driver::kExitPolicyErrors;

struct CommonOptions {
  pipeline::Inputs inputs;
  std::string color = "auto";
  bool quiet = false;
};

void addCommon(CLI::App* cmd, CommonOptions& opts) {
  driver::addPolicyInputs(
      cmd, opts.inputs,
      "Policy files, Kubernetes manifests (*.yaml, *.yml, *.json), or directories searched recursively for both");
  driver::addColorOption(cmd, opts.color);
  cmd->add_flag("-q,--quiet", opts.quiet, "Print diagnostics only, no summary");
}

// Runs the pipeline and prints diagnostics; returns the exit code.
int compileAndReport(const CommonOptions& opts, pipeline::Compilation& c) {
  return driver::loadAndReport(opts.inputs, opts.color, c, kExitPolicyErrors);
}

int runCheck(const CommonOptions& opts) {
  pipeline::Compilation c;
  int rc = compileAndReport(opts, c);
  if (!opts.quiet && rc != kExitInputErrors) {
    size_t policies = c.checked ? c.checked->policies.size() : 0;
    std::cerr << "checked " << plural(c.files.size(), "file", "files");
    if (rc == kExitOk) {
      std::cerr << ": " << plural(policies, "policy", "policies");
      if (c.ir && !c.ir->endpoints.empty()) {
        std::cerr << ", " << plural(c.ir->endpoints.size(), "endpoint", "endpoints") << " in "
                  << plural(c.ir->classes.size(), "class", "classes");
      }
    }
    std::cerr << "; " << plural(c.diags.errorCount(), "error", "errors") << ", "
              << plural(c.diags.warningCount(), "warning", "warnings") << "\n";
  }
  return rc;
}

int runIr(const CommonOptions& opts, const std::string& output, const std::string& format) {
  pipeline::Compilation c;
  int rc = compileAndReport(opts, c);
  if (rc != kExitOk) return rc;
  std::string text = format == "json" ? ir::toJson(*c.ir).dump(2) + "\n" : ir::toText(*c.ir);
  return driver::writeOutput(output, text) ? kExitOk : kExitInputErrors;
}

struct CompileCommandOptions {
  std::string output;
  std::vector<std::string> emit;
  std::string decision = "auto";
  size_t jobs = 0;
  bool progress = false;  // progress lines even when standard error is no terminal
  std::string cache;      // --cache, else $MEMBRANE_CACHE_DIR; empty: none
  bool noCache = false;
};

int runCompile(const CommonOptions& opts, const CompileCommandOptions& copts) {
  auto start = std::chrono::steady_clock::now();
  // The IR and the manifest of a large compile take a noticeable time to
  // free (0.5 s for 1,000 classes of 50 rules), which a process about to
  // exit need not spend: on success they are left to the exit.
  auto compilation = std::make_unique<pipeline::Compilation>();
  pipeline::Compilation& c = *compilation;
  int rc = compileAndReport(opts, c);
  if (rc != kExitOk) return rc;
  std::string error;
  auto compiler = codegen::ClassCompiler::create(&error);
  if (!compiler) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  codegen::CompileOptions options;
  options.compilerVersion = MEMBRANE_VERSION;
  options.jobs = copts.jobs;
  if (copts.decision == "folded") options.decisionMode = codegen::DecisionMode::Folded;
  if (copts.decision == "table") options.decisionMode = codegen::DecisionMode::Table;
  for (const auto& e : copts.emit) {
    if (e == "llvm") options.emit.llvmIr = true;
    if (e == "asm") options.emit.assembly = true;
  }
  // On a terminal, one line rewritten after every class; with --progress
  // elsewhere (a CI log), a line at every tenth of the classes, and the last.
  bool tty = driver::showProgress(opts.quiet);
  auto elapsed = [start] {
    return secondsText(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  if (tty) {
    options.progress = [elapsed](size_t i, size_t n, const ir::EndpointClass& cls) {
      std::cerr << "\r\033[Kcompiling class " << cls.id << " (" << i + 1 << "/" << n << ", "
                << plural(cls.endpoints.size(), "endpoint", "endpoints") << ", " << elapsed() << ")" << std::flush;
    };
  } else if (copts.progress) {
    options.progress = [elapsed](size_t i, size_t n, const ir::EndpointClass&) {
      size_t done = i + 1, step = std::max<size_t>(1, n / 10);
      if (done % step == 0 || done == n)
        std::cerr << "compiled " << done << "/" << n << " classes (" << elapsed() << ")\n";
    };
  }
  // Objects of earlier compiles, by content (codegen/class_cache.h).
  std::unique_ptr<codegen::ClassCache> cache;
  std::string cacheDir = copts.cache;
  if (cacheDir.empty())
    if (const char* env = std::getenv("MEMBRANE_CACHE_DIR")) cacheDir = env;
  if (!cacheDir.empty() && !copts.noCache) {
    cache = codegen::ClassCache::open(cacheDir, &error);
    if (!cache) {
      std::cerr << "membranec: error: " << error << "\n";
      return kExitInputErrors;
    }
    options.cache = cache.get();
    if (!copts.emit.empty() && !opts.quiet)
      std::cerr << "membranec: note: --emit compiles every class: the cache is not read or written\n";
  }
  // The output directory is checked before any class is compiled, and each
  // object is written as it is done rather than all held until the end.
  auto staging = codegen::ArtifactStaging::open(copts.output, &error);
  if (!staging) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  std::atomic<bool> writeFailed{false};
  options.onObject = [&](const codegen::ClassObject& obj, std::string* why) {
    bool ok = staging->write(obj, why);
    if (!ok) writeFailed = true;
    return ok;
  };
  auto built = std::make_unique<codegen::Artifacts>();
  codegen::Artifacts& artifacts = *built;
  try {
    artifacts = codegen::buildArtifacts(*compiler, *c.ir, options);
  } catch (const std::exception& e) {
    if (tty) std::cerr << "\r\033[K";
    std::cerr << "membranec: error: " << e.what() << "\n";
    return writeFailed ? kExitInputErrors : kExitPolicyErrors;
  }
  if (tty) std::cerr << "\r\033[K";
  if (!staging->commit(artifacts.manifest, &error)) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  if (!opts.quiet) {
    std::string took = elapsed();
    size_t enforced = 0;
    for (const auto& e : c.ir->endpoints) enforced += e.classIndex.has_value();
    // The last object is the open class's (unrestricted endpoints).
    std::cerr << "wrote " << plural(artifacts.objects.size(), "object", "objects") << " ("
              << plural(enforced, "policed endpoint", "policed endpoints") << ", "
              << c.ir->endpoints.size() - enforced << " unrestricted) and manifest.json to " << copts.output
              << " in " << took << "; ";
    if (cache && copts.emit.empty()) {
      std::cerr << cache->hits() << " of " << artifacts.objects.size() << " from the cache";
      if (cache->damaged()) std::cerr << " (" << plural(cache->damaged(), "damaged entry", "damaged entries") << " recompiled)";
      if (cache->unwritten()) std::cerr << " (" << cache->unwritten() << " not stored: cannot write " << cache->dir() << ")";
      std::cerr << "; ";
    }
    std::cerr << plural(c.diags.warningCount(), "warning", "warnings") << "\n";
  }
  (void)compilation.release();  // left to the exit (above)
  (void)built.release();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "membranec — compiles microservice network policy into eBPF programs.\n\n"
      "Policies are written in the membrane policy language (*.policy, see docs/language.md).\n"
      "Exit codes: 0 success, 1 policy errors, 2 usage or input errors.",
      "membranec"};
  app.set_version_flag("--version", "membranec " MEMBRANE_VERSION);
  app.require_subcommand(1);

  CommonOptions checkOpts;
  auto* check = app.add_subcommand("check", "Parse and check policies; report every error with file:line:col");
  addCommon(check, checkOpts);
  check->footer("Example:\n  membranec check --inventory policies/shop/inventory.json policies/");

  CommonOptions irOpts;
  std::string irOutput;
  std::string irFormat = "json";
  auto* irCmd = app.add_subcommand("ir", "Print the policy IR (endpoint classes, selector bits, rules) as JSON");
  addCommon(irCmd, irOpts);
  irCmd->add_option("-o,--output", irOutput, "Write the output here instead of standard output")->type_name("FILE");
  irCmd->add_option("--format", irFormat, "json (default) or text, a readable listing")
      ->check(CLI::IsMember({"json", "text"}));

  CommonOptions compileOpts;
  CompileCommandOptions compileCmdOpts;
  auto* compileCmd = app.add_subcommand(
      "compile", "Compile policies into one BPF object per endpoint class plus manifest.json");
  addCommon(compileCmd, compileOpts);
  compileCmd->add_option("-o,--output", compileCmdOpts.output,
                         "Output directory (replaced as a whole; a failed compile leaves it untouched)")
      ->required()
      ->type_name("DIR");
  compileCmd->add_option("--emit", compileCmdOpts.emit,
                         "Also write class-N.ll (llvm: optimized LLVM IR) or class-N.s (asm: BPF assembly); repeatable")
      ->check(CLI::IsMember({"llvm", "asm"}))
      ->type_name("llvm|asm")
      ->allow_extra_args(false);  // one value per --emit, so paths after it stay paths
  compileCmd->add_option("-j,--jobs", compileCmdOpts.jobs, "Classes compiled in parallel (default: one per core)");
  compileCmd->add_flag("--progress", compileCmdOpts.progress,
                       "Print progress when standard error is not a terminal too (a CI log): a line at every tenth "
                       "of the classes, with the time so far (a terminal gets one line, rewritten, unless -q)");
  compileCmd->add_option("--decision", compileCmdOpts.decision,
                         "Where rules live: folded into code, in .rodata tables, or auto (tables past " +
                             std::to_string(codegen::PeerLowering::kTableRuleThreshold) + " rules in a direction)")
      ->check(CLI::IsMember({"auto", "folded", "table"}));
  compileCmd
      ->add_option("--cache", compileCmdOpts.cache,
                   "Keep each class's object in DIR, keyed by everything that determines it, and reuse it: a "
                   "compile recompiles only the classes an edit touched, and writes the same bytes as without "
                   "the cache. Default: $MEMBRANE_CACHE_DIR, if set (docs/cli.md)")
      ->type_name("DIR");
  compileCmd->add_flag("--no-cache", compileCmdOpts.noCache, "Use no cache, even if $MEMBRANE_CACHE_DIR is set");
  compileCmd->footer(
      "Example:\n  membranec compile --inventory policies/shop/inventory.json -o out/ policies/shop\n"
      "  membranec compile --cache ~/.cache/membrane -o out/ policies/   # CI: persist the directory");
  auto fmtCmd = driver::addFmtCommand(app);
  driver::ReachCommand reachCmd(app);
  driver::DiffCommand diffCmd(app);
  driver::ExplainCommand explainCmd(app);
  driver::LintCommand lintCmd(app);
  auto importCmd = driver::addImportCommand(app);
  driver::VerifyCommand verifyCmd(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitInputErrors;
  }
  if (check->parsed()) return runCheck(checkOpts);
  if (irCmd->parsed()) return runIr(irOpts, irOutput, irFormat);
  if (compileCmd->parsed()) return runCompile(compileOpts, compileCmdOpts);
  if (fmtCmd.command->parsed()) return fmtCmd.run();
  if (reachCmd.parsed()) return reachCmd.run();
  if (diffCmd.parsed()) return diffCmd.run();
  if (explainCmd.parsed()) return explainCmd.run();
  if (lintCmd.parsed()) return lintCmd.run();
  if (importCmd.command->parsed()) return importCmd.run();
  if (verifyCmd.parsed()) return verifyCmd.run();
  return kExitInputErrors;
}
