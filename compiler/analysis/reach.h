// `membranec reach`: the connectivity the policies allow for an inventory —
// who can reach whom, on which protocols and ports. Built on the reference
// evaluator (evaluator/evaluator.h), which alone decides what "allowed" means.
// Documented in docs/reach.md (the JSON output is a stable contract).
//
// Peers:
//  - workloads, "namespace/name" (ir::Endpoint::workload), each standing for
//    all its endpoints. A workload pair's connections are those allowed
//    between EVERY member endpoint pair (the intersection), so a listed
//    connection holds whichever pod of the source talks to whichever pod of
//    the destination;
//  - "host", the node itself (its address is not known at compile time, so
//    CIDR rules never match it);
//  - external ranges "first-last": the disjoint address ranges into which
//    the rules' CIDR prefixes and excepts cut the IPv4 and IPv6 spaces, each
//    evaluated as a world peer at an address of the range that no endpoint
//    has;
//  - names "dns NAME", one per name or pattern of the rules' name peers
//    (docs/dns.md), as destinations only: an outside address, outside every
//    CIDR the rules name, that the workload learned from a lookup of NAME
//    (of a name the pattern matches: '*' read as "x"). Whether it may look
//    NAME up is its flow to its resolver.
// Flows are reported only where at least one side is a workload; a
// workload to itself and pairs with nothing allowed are left out.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaluator/evaluator.h"
#include "ir/ir.h"
#include "net/address.h"

namespace membrane::analysis {

// The connections allowed on one flow.
struct Conns {
  bool all = false;  // every protocol, every port and type
  // When not `all`: each allowed protocol with its ports (TCP, UDP, SCTP) or
  // message types (ICMP, ICMPv6), in the order TCP, UDP, SCTP, ICMP, ICMPv6,
  // other numbered protocols, then "other" (every protocol no rule names;
  // it has no port list). Ranges sorted, merged, non-adjacent.
  struct Protocol {
    std::string name;  // "TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "47", "other"
    bool hasPorts = true;
    std::vector<ir::PortRange> ports;
    friend bool operator==(const Protocol&, const Protocol&) = default;
  };
  std::vector<Protocol> protocols;
  bool empty() const { return !all && protocols.empty(); }
  // "all", or e.g. "TCP 80,8000-8080; UDP 53; other".
  std::string str() const;
  friend bool operator==(const Conns&, const Conns&) = default;
};

struct ReachPeer {
  enum class Kind { Workload, Host, External, Name } kind = Kind::Workload;
  std::string name;                    // "shop/api", "host", "10.0.0.0-10.255.255.255", "dns *.example.com"
  std::vector<std::string> endpoints;  // Workload: member endpoints, "namespace/name"
  net::Address first, last;            // External: the range
  net::Address representative;         // External: the address evaluated
  std::string learnedName;             // Name: the name the address was learned under
};

// TCP ports of a flow on which HTTP rules apply (docs/http.md): the
// connection is let through to the socket layer, which decides each request
// by these items of the rules that match the flow ("GET \"/api/*\"", as
// written). `allowed` empty: no allow rule restricts the requests (a rule
// without an http condition allows them all), only `denied` ones are.
struct HttpPorts {
  std::vector<ir::PortRange> ports;
  std::vector<std::string> allowed, denied;
  friend bool operator==(const HttpPorts&, const HttpPorts&) = default;
};

// Connections of a flow that only rules with a process condition allow
// (docs/process.md): the source's egress lets them through only on sockets
// whose call (connect, or sendmsg with an address) by one of `executables`
// the socket hooks allowed; a call by any other executable fails with
// EPERM. `executables`: those of the process rules that match the
// connection on some probe of the pair, sorted.
struct ProcessConns {
  Conns conns;
  std::vector<std::string> executables;
  friend bool operator==(const ProcessConns&, const ProcessConns&) = default;
};

struct Flow {
  std::string src, dst;
  Conns conns;
  std::vector<HttpPorts> http;  // by first port; empty when no HTTP rule applies
  // Grouped by executables; empty when every connection is allowed for
  // every executable. The connections stay in `conns` too.
  std::vector<ProcessConns> process;
};

struct Reachability {
  // Workloads (by name), then host, then external ranges (IPv4, then IPv6,
  // by address). Ranges whose every address belongs to an endpoint are left
  // out: those addresses are the endpoints.
  std::vector<ReachPeer> peers;
  // Sorted by (src, dst) in the order of `peers`.
  std::vector<Flow> flows;
};

struct ReachOptions {
  bool host = true;      // include the node as peer "host"
  bool external = true;  // include external address ranges
  bool names = true;     // include the names of name peers
};

Reachability computeReach(const ir::Program& program, const ReachOptions& options = {});

// ---- the pieces computeReach is made of, shared with `diff` (analysis/diff.h) ----

// What connectivity is evaluated over: the peers, the protocol and port
// intervals ("atoms", one probe each) and the external address ranges. Built
// from one or several programs over the SAME inventory, so that two versions
// of a policy set compared over one space have the same peers and port
// intervals: every CIDR and port of either version cuts the space.
class ReachSpace {
 public:
  ReachSpace(const std::vector<const ir::Program*>& programs, const ReachOptions& options = {});
  ~ReachSpace();
  ReachSpace(const ReachSpace&) = delete;
  ReachSpace& operator=(const ReachSpace&) = delete;

  // In the order of Reachability::peers.
  const std::vector<ReachPeer>& peers() const;
  size_t atomCount() const;
  // The traffic probed for an atom (its first port or type).
  ir::Traffic probe(size_t atom) const;
  // A set of atoms (indexed like probe()) as connections.
  Conns conns(const std::vector<bool>& atoms) const;

 private:
  friend class ReachEvaluator;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One program's verdicts over a space.
class ReachEvaluator {
 public:
  ReachEvaluator(const ir::Program& program, const ReachSpace& space);
  ~ReachEvaluator();
  ReachEvaluator(const ReachEvaluator&) = delete;
  ReachEvaluator& operator=(const ReachEvaluator&) = delete;

  // Whether a peer pair is a flow at all: not a peer to itself, and at
  // least one side a workload.
  bool isFlow(size_t src, size_t dst) const;
  // The atoms allowed from every member endpoint of peer `src` to every one
  // of peer `dst` (the intersection, see above). Only for isFlow pairs.
  std::vector<bool> allowed(size_t src, size_t dst);

  // The evaluator's verdicts behind one atom of a pair: one per member
  // endpoint pair and address pair that computeReach evaluates.
  struct Probe {
    const ir::Endpoint* src = nullptr;  // null: not a workload's endpoint
    const ir::Endpoint* dst = nullptr;
    ir::FlowVerdict verdict;
  };
  std::vector<Probe> probes(size_t src, size_t dst, size_t atom) const;
  // Where the socket layer decides this atom's requests on some probe of
  // the pair: the request items of the http rules matching it there
  // ("allow"/"deny" by action); nullopt when no probe's connection is read.
  std::optional<std::pair<std::vector<std::string>, std::vector<std::string>>> httpItems(size_t src, size_t dst,
                                                                                        size_t atom) const;
  // The rules behind httpItems: on each probe of the pair whose connection
  // is allowed and read, on each side that reads it, the matching rules with
  // an http condition (allow and deny) and the matching allow rules without
  // one (which allow every request the denies leave). In probe order, each
  // (side, rule) once; nullopt exactly when httpItems is.
  struct HttpRule {
    ir::Direction direction = ir::Direction::Ingress;  // the side: the source's egress or the destination's ingress
    const ir::Rule* rule = nullptr;
  };
  std::optional<std::vector<HttpRule>> httpRules(size_t src, size_t dst, size_t atom) const;
  // Process (docs/process.md): where some probe of the pair allows this
  // atom only for calls by the executables of the source's matching
  // process rules (the verdict's needsProcess), those rules (each once, in
  // probe order); nullopt when no probe needs an executable.
  std::optional<std::vector<const ir::Rule*>> processRules(size_t src, size_t dst, size_t atom) const;
  // The executables of processRules, sorted and unique; nullopt with it
  // (every executable may open the connection).
  std::optional<std::vector<std::string>> processExecutables(size_t src, size_t dst, size_t atom) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Renderers. Every one ends with a newline.
std::string renderText(const Reachability& r);      // a table for people
std::string renderJson(const Reachability& r);      // the contract: {"flows": [...]}
std::string renderCsv(const Reachability& r);       // src,dst,protocol,ports
std::string renderMarkdown(const Reachability& r);  // a table for a PR comment
std::string renderDot(const Reachability& r);       // graphviz digraph
// By name: text, json, csv, md, dot. Unknown names give "".
std::string render(const Reachability& r, std::string_view format);
// A flow's process connections as the text renderer shows them, one line
// per group: "TCP 5432; UDP 53 process: /opt/app/server, /usr/bin/python3".
std::string processText(const ProcessConns& p);
// Request items in words, as the text renderer shows them after "HTTP: ":
// "GET \"/a\"; POST \"/b\"; denied DELETE", or "every request" when
// `allowed` is empty (no item restricts them).
std::string httpItemsText(const std::vector<std::string>& allowed, const std::vector<std::string>& denied);
// A flow's "conns" in the JSON contract: "all" or {"TCP": ["80", "8000-8080"], ...}.
nlohmann::ordered_json connsToJson(const Conns& c);

}  // namespace membrane::analysis
