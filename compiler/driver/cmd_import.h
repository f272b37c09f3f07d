// `membranec import k8s`: Kubernetes manifests → *.policy files and an
// inventory.json (docs/kubernetes.md, docs/cli.md).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace membrane::driver {

struct ImportCommand {
  CLI::App* command;         // parsed() says whether to run it
  std::function<int()> run;  // returns the exit code
};

// Registers `import` and its `k8s` subcommand on `app`.
ImportCommand addImportCommand(CLI::App& app);

}  // namespace membrane::driver
