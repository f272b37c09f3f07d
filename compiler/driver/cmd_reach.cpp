#include "driver/cmd_reach.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "analysis/reach.h"
#include "driver/pipeline.h"

namespace membrane::driver {

ReachCommand::ReachCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("reach", "Show who can reach whom, on which protocols and ports, for an inventory");
  cmd_->add_option("paths", paths_, "Policy files, Kubernetes manifests, or directories searched recursively for both")
      ->required()
      ->type_name("FILES|DIRS");
  cmd_->add_option("-i,--inventory", inventory_,
                   "Inventory JSON (membrane's own, or `kubectl get pods/namespaces -o json`); repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  cmd_->add_option("--format", format_,
                   "text (default), json (the stable contract in docs/reach.md), csv, md (a Markdown table) or dot "
                   "(graphviz)")
      ->check(CLI::IsMember({"text", "json", "csv", "md", "dot"}));
  cmd_->add_option("-o,--output", output_, "Write the output here instead of standard output")->type_name("FILE");
  cmd_->add_option("--color", color_, "Colour diagnostics: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd_->footer(
      "Peers are workloads (namespace/name), the node (host) and the external address ranges the policies tell "
      "apart (first-last).\nA workload pair lists what every pod of the source may open to every pod of the "
      "destination.\n\nExample:\n  membranec reach --inventory policies/shop/inventory.json --format md policies/shop");
}

int ReachCommand::run() const {
  Compilation c;
  driver::run({paths_, inventory_}, c);
  for (const auto& e : c.inputErrors) std::cerr << "membranec: error: " << e << "\n";
  bool color = color_ == "always" ||
               (color_ == "auto" && isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr);
  c.diags.print(std::cerr, color);
  switch (c.outcome()) {
    case Outcome::InputErrors: return 2;
    case Outcome::PolicyErrors: return 1;
    case Outcome::Ok: break;
  }
  if (!c.ir) return 1;
  // Manifests among the paths bring their own inventory.
  if (inventory_.empty() && c.inventory.endpoints.empty())
    std::cerr << "membranec: warning: no --inventory given: there are no endpoints, so no flows\n";

  std::string text = analysis::render(analysis::computeReach(*c.ir), format_);
  if (output_.empty() || output_ == "-") {
    std::cout << text;
    return std::cout.flush() ? 0 : 2;
  }
  std::ofstream out(output_, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::cerr << "membranec: error: cannot write '" << output_ << "'\n";
    return 2;
  }
  return 0;
}

}  // namespace membrane::driver
