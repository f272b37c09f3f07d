// The catalogue of lint checks. Ids are stable: a check may be retired, but
// its id is never reused. docs/lint.md documents each one with an example.
#include <algorithm>
#include <cctype>

#include "lint/lint.h"
#include "support/text.h"

namespace membrane::lint {

const std::vector<CheckInfo>& catalogue() {
  static const std::vector<CheckInfo> kChecks = {
      {"MB001", "malformed-suppression", Severity::Warning, "A lint suppression comment is malformed",
       "A `membrane-lint: disable` comment must name at least one known check id and give a reason after `--`. "
       "A suppression without a reason, or one naming an unknown check, suppresses nothing: the reason is what a "
       "reviewer reads instead of the finding.",
       "Write `# membrane-lint: disable MB101 -- why this is fine`, with a check id from docs/lint.md."},
      {"MB002", "unused-suppression", Severity::Warning, "A lint suppression comment suppresses nothing",
       "A `membrane-lint: disable` comment names a check that reports nothing on the line it applies to (its own "
       "line, or for a comment on a line of its own the next line with code). Stale suppressions hide future "
       "findings that nobody has reviewed.",
       "Delete the comment, or move it to the line the finding is reported on."},
      {"MB101", "redundant-rule", Severity::Warning, "A rule is fully covered by other rules of the same kind",
       "Every connection this rule matches is also matched by other rules with the same action, in the same "
       "direction, of policies that apply to at least the same endpoints (the same policy, or one whose `selects` "
       "is implied by this one's). Removing the rule changes no verdict. Coverage is computed exactly over a finite "
       "partition of the peer space (known endpoints, the host, outside address ranges cut by every CIDR the "
       "policies mention, and endpoints not yet in the inventory that a selector would match) times protocols and "
       "port intervals. When several rules cover each other, the one written last is reported.",
       "Delete the rule, or narrow the broader rule if this one was meant to be the only grant."},
      {"MB102", "dead-allow", Severity::Warning, "An allow rule is always overridden by deny rules",
       "Deny wins over allow in membrane, wherever the rules are written. Every connection this allow rule matches "
       "is also matched by deny rules that apply to at least the same endpoints in the same direction, so the rule "
       "never allows anything. This is usually a deny written too broadly, or an allow left behind.",
       "Narrow the deny (e.g. with `except` or tighter ports), or delete the allow."},
      {"MB103", "peer-matches-nothing", Severity::Warning, "A peer selector matches no endpoint of the inventory",
       "A `pods`, `namespace` or `namespaces` peer of a rule matches no endpoint of the inventory given with -i. "
       "The rule part is dead for this inventory, which usually means a typo in a label value or a namespace name. "
       "Only run with an inventory.",
       "Fix the selector, or suppress the finding if the endpoints are deployed later.",
       true},
      {"MB104", "policy-selects-nothing", Severity::Warning, "A policy selects no endpoint of the inventory",
       "The policy's `selects` (in its namespace, or in every namespace when clusterwide) matches no endpoint of the "
       "inventory given with -i, so none of its sections or rules has any effect. Only run with an inventory.",
       "Fix the selector or the namespace, or delete the policy.",
       true},
      {"MB105", "unknown-label-key", Severity::Warning, "A selector uses a label key no endpoint or namespace has",
       "A pod selector names a label key that no endpoint of the inventory carries (for namespace selectors: no "
       "namespace), usually a typo; a close known key is suggested. Requirements that hold when the key is absent "
       "(`!key`, `!=`, `notin`) are only reported when a known key is close to it, since guarding against a label "
       "that does not exist yet is legitimate. Only run with an inventory.",
       "Use the key the inventory has (see the hint).",
       true},
      {"MB106", "broad-allow", Severity::Warning, "An allow rule opens every port to anything outside the cluster",
       "An allow rule with peer `world`, `all`, `0.0.0.0/0` or `::/0` matches every port: with no `on`, with "
       "`any`, or with a whole transport protocol (`tcp`, `udp`, `sctp`). On ingress this exposes every service "
       "of the selected endpoints; on egress it allows exfiltration anywhere.",
       "List the protocols and ports that are needed, or narrow the peer to the networks that need them."},
      {"MB107", "exposed-sensitive-port", Severity::Error,
       "An ingress allow exposes an administrative or database port to the internet",
       "An ingress allow rule with peer `world`, `all`, `0.0.0.0/0` or `::/0` covers a port that should never be "
       "reachable from anywhere: 22 (SSH), 23 (telnet), 445 (SMB), 1433 (SQL Server), 1521 (Oracle), 2375-2376 "
       "(Docker API), 2379-2380 (etcd), 3306 (MySQL), 3389 (RDP), 5432 (PostgreSQL), 5900 (VNC), 5984 (CouchDB), "
       "6379 (Redis), 9042 (Cassandra), 9200 and 9300 (Elasticsearch), 10250 (kubelet), 11211 (memcached), 27017 "
       "(MongoDB).",
       "Allow those ports only from the peers that need them (pods, namespaces or a narrow CIDR)."},
      {"MB108", "ineffective-except", Severity::Warning, "A CIDR `except` removes everything or nothing",
       "The `except` prefixes of a `cidr` peer together cover the whole prefix, so the peer matches no address, or "
       "one `except` lies inside another and removes nothing more. Either is a mistake in the address plan.",
       "Remove the redundant `except`; if everything is excluded, drop the peer."},
      {"MB109", "overlapping-ports", Severity::Warning, "Port ranges of a rule or ports definition overlap",
       "Two protocol items of one rule (or of one `ports` definition) match the same port or ICMP type: duplicates "
       "such as `tcp/{80, 80}`, ranges that overlap such as `tcp/{8000-8100, 8080}`, a port next to its whole "
       "protocol (`tcp, tcp/443`), or anything next to `any`. Nothing changes, but the list does not say what the "
       "author meant.",
       "Merge the items into one list without overlaps."},
      {"MB110", "unused-definition", Severity::Warning, "A selector, ports or peers definition is never used",
       "No policy uses the definition, directly or through other definitions, in the files linted together. "
       "Definitions are global across the files of one run, so lint all policy files of a cluster together.",
       "Delete the definition, or use it."},
      {"MB111", "audit-policy", Severity::Warning, "A policy is in audit mode",
       "A `mode audit` policy never changes a verdict; it only reports connections it would deny. Audit mode is "
       "meant for trying a policy before enforcing it, and a policy left in audit mode gives a false sense of "
       "protection.",
       "Switch it to `mode enforce` (or remove `mode`) once its reports are clean, or suppress with the reason and a "
       "date."},
      {"MB112", "unrestricted-ports", Severity::Note, "An allow rule does not restrict protocol or port",
       "An allow rule without `on` (or with `on any`) allows every protocol and port to or from its peers. Least "
       "privilege says to name them. Off by default; turn on with `--enable MB112`.",
       "Add `on` with the protocols and ports the peers use.",
       false, false},
      {"MB113", "dns-match-all", Severity::Warning, "A DNS name list holds \"*\" alone",
       "The pattern \"*\" matches every name. In `with dns { ... }` it lets the selected endpoints look up any "
       "name (and learn any address); as a name peer, `dns \"*\"`, it allows every address they learn.",
       "List the domains that are needed, e.g. \"*.example.com\"."},
      {"MB114", "dns-name-not-looked-up", Severity::Warning,
       "A name peer's name can never be learned: no DNS rule lets the endpoints look it up",
       "A name peer (`to dns \"NAME\"`) matches only addresses the endpoints learned from answers to their own "
       "lookups, and only lookups a `with dns { ... }` rule allows teach (docs/dns.md). No allow rule with a dns "
       "condition in this policy, or in a policy that applies to at least the same endpoints, has a name or pattern "
       "covering NAME, so the peer matches nothing.",
       "Add the name (or a pattern covering it) to the `with dns` rule that lets the endpoints reach their resolver."},
      {"MB115", "http-request-shadowed", Severity::Warning,
       "An HTTP request item is already matched by an earlier one",
       "Every request this item of a `with http { ... }` condition matches is also matched by an earlier item of "
       "the same rule, or of an earlier rule of the same policy with the same action, peers and ports (as "
       "written). Coverage is shown part by part: an absent method, path, host or header covers anything; a path "
       "pattern covers another segment by segment (`*` covers any segment, a final `/**` what is below it), a host "
       "pattern label by label, a required header the same header (with the same value, if it gives one). The item "
       "changes no verdict.",
       "Delete the item, or narrow the earlier one if this one was meant to differ."},
      {"MB116", "http-rule-restricts-nothing", Severity::Warning,
       "An allow rule with `with http` restricts nothing: plain allow rules already allow its connections",
       "Allow rules without an http condition, in this policy or in policies that apply to at least the same "
       "endpoints, already allow every connection this rule matches, and so every request on them: its request "
       "items allow nothing more, and read alone they suggest the port is restricted to those requests. Coverage "
       "of connections is computed as for MB101.",
       "Narrow or delete the plain allow rule so that the http rule decides the port's requests, or delete the "
       "http rule."},
      {"MB117", "process-exe-in-writable-dir", Severity::Warning,
       "A process rule names an executable under /tmp/, /var/tmp/ or /dev/shm/",
       "A `with process { exe \"...\" }` rule (docs/process.md) lets the file at that path connect. Anyone who runs "
       "in the pod can create files under /tmp/, /var/tmp/ and /dev/shm/ (world-writable directories), so whatever "
       "is put at the path, or swapped in for the file, gets the rule's connections: the condition restricts "
       "little.",
       "Install the executable where only its owner can write (e.g. /usr/local/bin) and name that path."},
      {"MB118", "process-rule-restricts-nothing", Severity::Warning,
       "An allow rule with `with process` restricts nothing: plain allow rules already allow its connections",
       "Allow rules without a process condition, in this policy or in policies that apply to at least the same "
       "endpoints, already allow every connection this rule matches, for every executable: its executables allow "
       "nothing more, and read alone they suggest the connections are restricted to them. Coverage of connections "
       "is computed as for MB101.",
       "Narrow or delete the plain allow rule so that the process rule decides which executables connect, or "
       "delete the process rule."},
      {"MB119", "process-exe-interpreter", Severity::Warning,
       "A process rule names an interpreter (python3, node, sh, ...)",
       "The executable a process rule tests is the file the kernel ran (docs/process.md): for a script, its "
       "interpreter. A rule naming /usr/bin/python3 lets every Python script in the pod connect, and `python3 -c` "
       "code too; it cannot tell one script from another.",
       "Copy the interpreter to a path of its own for this service (e.g. /opt/app/bin/python3), run the service "
       "with it, and name that path."},
      {"MB120", "process-exe-not-in-inventory", Severity::Warning,
       "A process rule or `processes` clause names an executable the inventory lists for none of its endpoints",
       "The inventory may list the executables of each endpoint (`executables`, docs/inventory.md). A "
       "`with process` rule or a policy's `processes` clause names a path that none of the endpoints its policy "
       "selects lists: it would match no call, usually a typo or a path from another image. Reported only when "
       "every endpoint the policy selects lists its executables; an endpoint without the field may run anything. "
       "Only run with an inventory.",
       "Name the path the image installs (see the inventory's `executables`), or add it to the inventory if the "
       "image has it.",
       true},
      {"MB121", "tier-rule-shadowed", Severity::Warning,
       "A tier rule never decides: earlier rules of its tier match every connection it matches",
       "In the admin and baseline tiers (docs/language.md, \"Tiers\") the first matching rule decides, whatever "
       "its action: admin policies by priority, then name; baseline policies by name; a policy's rules in the "
       "order written. Earlier rules of the tier, in policies that apply to at least the same endpoints, match "
       "every connection this rule matches, so it never decides. Coverage of connections is computed as for "
       "MB101.",
       "Move the rule before the rules that cover it (or give its policy a lower priority number), narrow them, or "
       "delete it."},
  };
  return kChecks;
}


const CheckInfo* findCheck(const std::string& idOrName) {
  std::string want = lowercase(idOrName);
  for (const auto& c : catalogue())
    if (lowercase(c.id) == want || c.name == want) return &c;
  return nullptr;
}

std::string suggestCheck(const std::string& word) {
  std::vector<std::string> candidates;
  for (const auto& c : catalogue()) {
    candidates.push_back(c.id);
    candidates.push_back(c.name);
  }
  std::string w = word;
  // Ids are compared in upper case, names in lower case.
  std::string up = word;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  std::string guess = closestMatch(up, candidates);
  if (guess.empty()) guess = closestMatch(lowercase(w), candidates);
  return guess;
}

}  // namespace membrane::lint
