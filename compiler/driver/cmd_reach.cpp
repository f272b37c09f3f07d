#include "driver/cmd_reach.h"

#include <iostream>

#include "analysis/reach.h"
#include "driver/command_support.h"

namespace membrane::driver {

ReachCommand::ReachCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("reach", "Show who can reach whom, on which protocols and ports, for an inventory");
  addPolicyInputs(cmd_, inputs_, "Policy files, Kubernetes manifests, or directories searched recursively for both");
  cmd_->add_option("--format", format_,
                   "text (default), json (the stable contract in docs/reach.md), csv, md (a Markdown table) or dot "
                   "(graphviz)")
      ->check(CLI::IsMember({"text", "json", "csv", "md", "dot"}));
  cmd_->add_option("-o,--output", output_, "Write the output here instead of standard output")->type_name("FILE");
  addColorOption(cmd_, color_);
  cmd_->footer(
      "Peers are workloads (namespace/name), the node (host) and the external address ranges the policies tell "
      "apart (first-last).\nA workload pair lists what every pod of the source may open to every pod of the "
      "destination.\n\nExample:\n  membranec reach --inventory policies/shop/inventory.json --format md policies/shop");
}

int ReachCommand::run() const {
  pipeline::Compilation c;
  if (int rc = loadAndReport(inputs_, color_, c, kExitPolicyErrors)) return rc;
  if (!c.ir) return kExitPolicyErrors;
  // Manifests among the paths bring their own inventory.
  if (inputs_.inventory.empty() && c.inventory.endpoints.empty())
    std::cerr << "membranec: warning: no --inventory given: there are no endpoints, so no flows\n";

  std::string text = analysis::render(analysis::computeReach(*c.ir), format_);
  return writeOutput(output_, text) ? kExitOk : kExitInputErrors;
}

}  // namespace membrane::driver
