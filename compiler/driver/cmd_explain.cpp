#include "driver/cmd_explain.h"

#include <iostream>

#include "analysis/explain.h"
#include "driver/command_support.h"

namespace membrane::driver {

namespace {
constexpr int kExitDenied = kExitFinding;  // with --exit-code
}  // namespace

ExplainCommand::ExplainCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("explain", "Explain why one connection is allowed or denied, rule by rule");
  addPolicyInputs(cmd_, inputs_, kPolicyPathsHelp);
  cmd_->add_option("--from", from_,
                   "The source: namespace/pod, pod, namespace/workload, labels (shop/app=api,tier=web), an IP "
                   "address, or host")
      ->required()
      ->type_name("SRC");
  cmd_->add_option("--to", to_, "The destination, named like --from")->required()->type_name("DST");
  cmd_->add_option("--port", port_, "tcp/PORT, udp/PORT, sctp/PORT, icmp/TYPE or icmpv6/TYPE (number or name)")
      ->required()
      ->type_name("PROTO/N");
  cmd_->add_option("--query", query_,
                   "The packet is a DNS query for NAME (on a port a `with dns` rule reads): which rule lets the "
                   "source look it up, or why it is refused")
      ->type_name("NAME");
  auto* request = cmd_->add_option(
      "--request", request_,
      "The connection carries this HTTP request, 'METHOD TARGET' (on a port a `with http` rule reads): which rule "
      "decides it, and why each http rule does or does not match");
  request->type_name("'METHOD /PATH'");
  cmd_->add_option("--header", headers_, "A header of the --request, 'Name: value' (repeatable; Host is one)")
      ->type_name("'NAME: VALUE'")
      ->allow_extra_args(false)
      ->needs(request);
  cmd_->add_option("--learned", learned_,
                   "The destination's address was learned from the source's lookup of NAME (repeatable): what "
                   "name peers (`to dns \"...\"`) match")
      ->type_name("NAME")
      ->allow_extra_args(false);  // one name per --learned, so paths after it stay paths
  exeOption_ = cmd_->add_option("--exe", exe_,
                                "The connection is opened by a call (connect, sendmsg) of this executable, an absolute "
                                "path as the source pod sees it: which rule with a process condition lets it through, "
                                "or why the call fails with EPERM (docs/process.md)")
                   ->type_name("PATH");
  cmd_->add_option("--format", format_, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  cmd_->add_flag("--exit-code", exitCode_, "Exit with 1 when the connection is denied");
  addColorOption(cmd_, color_);
  cmd_->footer(
      "Shows the verdict of the source's egress and the destination's ingress, the rule that decided each\n"
      "(with its source line), and why the other rules did not apply.\n\n"
      "Exit codes: 0 explained (with --exit-code: allowed), 1 denied (--exit-code only), 2 usage or input\n"
      "errors (also an unknown or ambiguous name), 3 policy errors.\n\n"
      "Examples:\n"
      "  membranec explain -i policies/shop/inventory.json policies/shop --from shop/frontend --to shop/api "
      "--port tcp/8080\n"
      "  membranec explain ... --from shop/api --to kube-system/coredns --port udp/53 --query api.stripe.com\n"
      "  membranec explain ... --from shop/api --to 198.51.100.7 --port tcp/443 --learned api.stripe.com\n"
      "  membranec explain ... --from shop/frontend --to shop/api --port tcp/8080 --request 'GET /api/v1/orders' "
      "--header 'Host: api'\n"
      "  membranec explain ... --from shop/api --to shop/postgres --port tcp/5432 --exe /usr/local/bin/api");
}

int ExplainCommand::run() const {
  pipeline::Compilation c;
  if (int rc = loadAndReport(inputs_, color_, c, kExitReviewPolicyErrors)) return rc;
  if (!c.ir) return kExitReviewPolicyErrors;

  std::string error;
  auto traffic = analysis::parseTraffic(port_, &error);
  if (!traffic) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  if (exeOption_->count()) {
    auto exe = analysis::parseExecutable(exe_, &error);
    if (!exe) {
      std::cerr << "membranec: error: --exe: " << error << "\n";
      return kExitInputErrors;
    }
    traffic->executable = std::move(*exe);
  }
  if (!query_.empty()) {
    auto name = analysis::parseDnsName(query_, &error);
    if (!name) {
      std::cerr << "membranec: error: --query: " << error << "\n";
      return kExitInputErrors;
    }
    traffic->dns = ir::DnsMessage::query(*name);
  }
  if (!request_.empty()) {
    if (traffic->protocol != ir::kTCP) {
      std::cerr << "membranec: error: --request: HTTP requests are read on TCP ports only, not " << port_ << "\n";
      return kExitInputErrors;
    }
    auto message = analysis::parseHttpRequest(request_, headers_, &error);
    if (!message) {
      std::cerr << "membranec: error: " << error << "\n";
      return kExitInputErrors;
    }
    traffic->http = std::move(*message);
  }
  auto src = analysis::resolveEnd(*c.ir, from_, &error);
  if (!src) {
    std::cerr << "membranec: error: --from: " << error << "\n";
    return kExitInputErrors;
  }
  auto dst = analysis::resolveEnd(*c.ir, to_, &error);
  if (!dst) {
    std::cerr << "membranec: error: --to: " << error << "\n";
    return kExitInputErrors;
  }
  for (const auto& written : learned_) {
    auto name = analysis::parseDnsName(written, &error);
    if (!name) {
      std::cerr << "membranec: error: --learned: " << error << "\n";
      return kExitInputErrors;
    }
    dst->learnedNames.push_back(*name);
  }
  auto explanation = analysis::explainFlow(*c.ir, &c.sources, *src, *dst, *traffic, &error);
  if (!explanation) {
    std::cerr << "membranec: error: " << error << "\n";
    return kExitInputErrors;
  }
  std::cout << (format_ == "json" ? analysis::renderExplanationJson(*explanation)
                                  : analysis::renderExplanationText(*explanation));
  if (!std::cout.flush()) return kExitInputErrors;
  return exitCode_ && !explanation->allowed ? kExitDenied : kExitOk;
}

}  // namespace membrane::driver
