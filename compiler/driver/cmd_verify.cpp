#include "driver/cmd_verify.h"

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "driver/command_support.h"
#include "support/text.h"
#include "verify/verify.h"

namespace membrane::driver {

namespace {

constexpr int kExitDiffers = kExitFinding;

// 1234567 -> "1,234,567"
std::string thousands(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string renderText(const verify::Report& r) {
  std::ostringstream out;
  for (const auto& d : r.manifestDifferences) out << "DIFFERS " << d << "\n";
  for (const auto& m : r.mismatches) {
    out << "MISMATCH class " << m.classId;
    if (!m.hook.empty()) out << " " << m.hook << ": " << m.peer << " " << m.address << " " << m.traffic;
    out << ": the object " << m.object;
    if (!m.evaluator.empty()) out << "; the policies: " << m.evaluator;
    out << "\n";
  }
  if (r.mismatchCount > r.mismatches.size())
    out << "... and " << thousands(r.mismatchCount - r.mismatches.size()) << " more mismatches\n";
  for (const auto& c : r.classes) {
    out << "class " << c.id << " (" << c.object << (c.open ? ", open" : "") << "): " << thousands(c.regions)
        << " regions, " << thousands(c.probes) << " probes, " << secondsText(c.seconds)
        << (c.mismatches ? ", " + thousands(c.mismatches) + " mismatches" : "") << "\n";
    for (const auto& s : c.skipped) out << "  not a policy decision: " << s << "\n";
  }
  out << (r.equal() ? "verified " : "NOT verified ") << r.artifactDir << ": " << r.classes.size() << " classes, "
      << thousands(r.regions) << " regions, " << thousands(r.probes) << " probes in " << secondsText(r.seconds) << "; ";
  if (r.equal())
    out << "every object decides as the policies say\n";
  else
    out << thousands(r.mismatchCount) << " mismatches, " << r.manifestDifferences.size()
        << " manifest differences\n";
  return out.str();
}

std::string renderJson(const verify::Report& r) {
  nlohmann::json j = {{"artifacts", r.artifactDir},
                      {"equal", r.equal()},
                      {"regions", r.regions},
                      {"probes", r.probes},
                      {"seconds", r.seconds},
                      {"manifestDifferences", r.manifestDifferences},
                      {"mismatchCount", r.mismatchCount},
                      {"classes", nlohmann::json::array()},
                      {"mismatches", nlohmann::json::array()}};
  for (const auto& c : r.classes)
    j["classes"].push_back({{"id", c.id},
                            {"object", c.object},
                            {"open", c.open},
                            {"regions", c.regions},
                            {"probes", c.probes},
                            {"mismatches", c.mismatches},
                            {"seconds", c.seconds},
                            {"skipped", c.skipped}});
  for (const auto& m : r.mismatches)
    j["mismatches"].push_back({{"class", m.classId},
                               {"hook", m.hook},
                               {"peer", m.peer},
                               {"address", m.address},
                               {"traffic", m.traffic},
                               {"object", m.object},
                               {"policies", m.evaluator}});
  return j.dump(2) + "\n";
}

}  // namespace

VerifyCommand::VerifyCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("verify",
                            "Prove compiled artifacts decide exactly as the policies say, on every region of the "
                            "packet space (needs root)");
  cmd_->add_option("artifacts", artifacts_, "The directory `membranec compile` wrote")->required()->type_name("DIR");
  addPolicyInputs(cmd_, inputs_, "The policies (and manifests) the artifacts were compiled from");
  cmd_->add_option("-o,--output", format_, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  cmd_->add_option("--max-listed", maxListed_, "List at most this many mismatches (default 20)");
  cmd_->add_flag("-q,--quiet", quiet_, "No progress on the terminal");
  addColorOption(cmd_, color_);
  cmd_->footer(
      "Compiles the policies' IR again (nothing is generated), checks that the manifest describes them and that\n"
      "every object matches its SHA-256, then loads each class object into the kernel with private maps\n"
      "(nothing is attached) and runs one packet at both ends of every region its rules cut the packet space\n"
      "into: every identity the inventory has, the host and the world, times every address range the rules'\n"
      "CIDRs cut, times every port or ICMP-type interval, both directions, tc and cgroup hooks. Each verdict,\n"
      "its rule and audit finding, and the reply of every allowed flow, must be what the reference evaluator\n"
      "says. Pass the same inputs as to `membranec compile`.\n\n"
      "Exit codes: 0 verified, 1 not (mismatches or manifest differences are listed), 2 usage or input errors\n"
      "(also unreadable or tampered artifacts, or no permission to load BPF programs), 3 policy errors.\n\n"
      "Example:\n"
      "  membranec compile -i policies/shop/inventory.json -o out/ policies/shop\n"
      "  sudo membranec verify out/ -i policies/shop/inventory.json policies/shop");
}

int VerifyCommand::run() const {
  pipeline::Compilation c;
  if (int rc = loadAndReport(inputs_, color_, c, kExitReviewPolicyErrors)) return rc;
  if (!c.ir || !c.checked) return kExitReviewPolicyErrors;

  verify::Options options;
  options.maxListed = maxListed_;
  const bool tty = showProgress(quiet_);
  if (tty)
    options.progress = [](size_t done, size_t total, uint32_t id) {
      std::cerr << "\r\033[Kverifying class " << id << " (" << done + 1 << "/" << total << ")" << std::flush;
    };
  verify::Report report;
  std::string error;
  bool ran = verify::verifyArtifacts(artifacts_, *c.ir, options, &report, &error);
  if (tty) std::cerr << "\r\033[K";
  if (!ran) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  if (!writeOutput("", format_ == "json" ? renderJson(report) : renderText(report))) return kExitInputErrors;
  return report.equal() ? kExitOk : kExitDiffers;
}

}  // namespace membrane::driver
