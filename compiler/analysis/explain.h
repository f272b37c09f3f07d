// `membranec explain`: why one connection is allowed or denied — the verdict
// of the source's egress and of the destination's ingress as the reference
// evaluator (evaluator/evaluator.h, evaluateFlow) gives them, the rule that decided
// each, and why the other rules that could have applied did not.
// Documented in docs/explain.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evaluator/evaluator.h"
#include "ir/ir.h"
#include "support/source.h"

namespace membrane::analysis {

// Parses `tcp/8080`, `udp/53`, `sctp/N`, `icmp/echo-request` or `icmp/8`,
// `icmpv6/TYPE`. nullopt and `error` set when it is not one of those.
std::optional<ir::Traffic> parseTraffic(const std::string& spec, std::string* error);
std::string trafficText(const ir::Traffic& t);  // back to "tcp/8080", "icmp/echo-request", "udp/53 query a.example.com"
// A DNS name as `explain --query` and `--learned` take it: normalized
// (names/dns.h), without '*'. nullopt and `error` set when it is not one.
std::optional<std::string> parseDnsName(const std::string& written, std::string* error);
// The request `explain --request 'GET /api/v1/orders' --header 'Host: a'`
// names: the bytes a client would send (`METHOD TARGET HTTP/1.1`, each
// header, the empty line), read by the reference reader
// (features::http::readRequest), so the same reading rules apply — two Host
// headers, say, make it unreadable. nullopt and `error` set only when the
// text cannot be a request line or header line at all (a line break in it,
// a header without ':', more than METHOD and TARGET).
std::optional<ir::HttpMessage> parseHttpRequest(const std::string& requestLine,
                                                const std::vector<std::string>& headers, std::string* error);
// The executable `explain --exe PATH` names (docs/process.md): a path as
// process rules write it (labels::executablePathProblem). nullopt and
// `error` set, with the offending byte, when it is not one.
std::optional<std::string> parseExecutable(const std::string& written, std::string* error);

// One end of the connection to explain, as the user named it:
//   `namespace/pod` or `pod`            an endpoint
//   `namespace/workload` or `workload`  every endpoint of a workload
//   `app=api,tier=web`, `shop/app=api`  every endpoint with those labels
//                                       (in that namespace)
//   an IPv4 or IPv6 address             the endpoint with that address, or
//                                       an outside peer
//   `host`                              the node itself
struct ResolvedEnd {
  enum class Kind { Endpoints, Host, Outside } kind = Kind::Endpoints;
  std::vector<const ir::Endpoint*> endpoints;  // Kind::Endpoints: sorted by key, at least one
  std::optional<net::Address> address;         // Kind::Outside, or the address that named an endpoint
  // The names this end's address was learned under by the other end's DNS
  // lookups (explain --learned): what name peers match.
  std::vector<std::string> learnedNames;
};
// nullopt and `error` set when the name matches nothing (with a
// did-you-mean when something is close) or is malformed.
std::optional<ResolvedEnd> resolveEnd(const ir::Program& program, const std::string& spec, std::string* error);

// One rule of a side, and what it did for this connection.
struct RuleVerdict {
  enum class Status {
    Decides,           // matched and decided the verdict
    AlsoMatches,       // matched; another rule of the same action (in a tier: any earlier one) decided first
    OverriddenByDeny,  // an allow rule that matched, but a deny rule matched too
    AuditOnly,         // matched, but its policy is in audit mode: logged, not enforced
    PeerMismatch,      // the peer is not one the rule names
    ProtocolMismatch,  // the rule names other protocols
    PortMismatch,      // the protocol matches, the port or ICMP type is outside the rule's
    DnsMismatch,       // protocol and port match; the DNS query's name is not one the rule lists
    HttpMismatch,      // protocol and port match; no request item of the rule matches the request
    ProcessMismatch,   // protocol and port match; the calling executable is not one the rule lists
    NotSelected,       // would match, but its policy does not select the subject
    Passes,            // an admin-tier `pass` that matched first: the ordinary policies decide
    NotReached,        // matched, but an earlier tier decided (docs/language.md, "Tiers")
  };
  uint32_t id = 0;
  Status status = Status::PeerMismatch;
  std::string detail;  // the why, e.g. "port 8080 is not in 80,443"
  ir::Action action = ir::Action::Allow;
  ir::Tier tier = ir::Tier::Network;
  bool audit = false;
  std::string policy, text, location;
  // The source line the rule starts on, and where the caret goes (1-based
  // column, length), for a snippet like a diagnostic's; empty without sources.
  std::string sourceLine;
  uint32_t line = 0, column = 0, length = 0;
};

struct SideExplanation {
  ir::Direction direction = ir::Direction::Egress;
  std::string subject;                // endpoint key, "namespace/name"
  std::optional<uint32_t> classId;    // none: no policy selects the subject
  std::vector<std::string> policies;  // the policies that select the subject
  std::string peer;                   // the other end, as the rules see it
  ir::Verdict verdict;
  bool tiered = false;  // tier policies have rules in this direction
  // HTTP: the connection's requests are decided one by one (Verdict::
  // inspectsHttp of the connection itself, also when a request is given).
  bool inspectsHttp = false;
  // Process (docs/process.md): the flow is allowed only on sockets whose
  // call (connect, sendmsg) by one of these executables the socket hooks
  // let through — the verdict's needsProcess on a packet (no --exe) — and
  // the rules with a process condition that allow it. Filled whenever the
  // connection as a packet needs it, also for a call (--exe), so that a call
  // by another executable can say which ones may make it.
  bool needsProcess = false;  // the verdict's (false for a call)
  struct ProcessGrant {
    uint32_t rule = 0;
    std::string location, text;
    std::vector<std::string> executables;
  };
  std::vector<ProcessGrant> processGrants;              // by rule id
  std::vector<std::string> processExecutables() const;  // theirs, sorted, unique
  std::optional<RuleVerdict> deciding;  // Reason::AllowedByRule or DeniedByRule
  std::optional<RuleVerdict> audit;     // an audit-mode deny that would have denied
  // The side's other rules (deny rules, then allow rules, by id), then rules
  // of policies that do not select the subject but would match.
  std::vector<RuleVerdict> others;
};

struct Explanation {
  std::string src, dst;  // the ends as resolved: "shop/frontend-0", "198.19.66.5", "host"
  std::string traffic;   // "tcp/8080"
  std::optional<SideExplanation> egress;   // when the source is an endpoint
  std::optional<SideExplanation> ingress;  // when the destination is an endpoint
  bool allowed = true;
  // A DNS query denied only for its name: the datapath answers it REFUSED
  // (tc) rather than dropping it silently.
  bool refusedByName = false;
  // Process: the call's executable (explain --exe), absent for a packet.
  std::optional<std::string> executable;
  // The source's egress allows the connection only for calls by the
  // executables its process rules list (SideExplanation::needsProcess).
  bool needsProcess = false;
  // A call (--exe) denied for its executable only: connect() or sendmsg()
  // fails with EPERM, while calls by the rules' executables are allowed.
  bool deniedForExecutable = false;
  std::vector<std::string> notes;  // e.g. which endpoints a workload name stood for
};

// Explains the connection from `src` to `dst`. Ends naming several
// endpoints are explained for one pair only when every pair gets the same
// verdicts from the same rules; otherwise nullopt and `error` lists the
// candidates. `sources` (optional) provides the source lines of rules.
std::optional<Explanation> explainFlow(const ir::Program& program, const SourceManager* sources,
                                       const ResolvedEnd& src, const ResolvedEnd& dst, const ir::Traffic& traffic,
                                       std::string* error);

std::string renderExplanationText(const Explanation& e);
std::string renderExplanationJson(const Explanation& e);
const char* statusName(RuleVerdict::Status s);  // "decides", "peer-mismatch", ...

}  // namespace membrane::analysis
