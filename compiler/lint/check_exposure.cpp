// Allow rules that open too much: MB106 broad-allow, MB107
// exposed-sensitive-port, MB112 unrestricted-ports (off by default).
// Audit-mode policies allow nothing, so their rules are skipped.
#include <algorithm>

#include "features/l4/l4.h"
#include "lint/check.h"

namespace membrane::lint {

namespace {

struct SensitivePort {
  uint16_t first, last;
  const char* what;
};
// Administrative and database ports that should never face the internet.
constexpr SensitivePort kSensitive[] = {
    {22, 22, "SSH"},          {23, 23, "telnet"},           {445, 445, "SMB"},
    {1433, 1433, "SQL Server"}, {1521, 1521, "Oracle"},     {2375, 2376, "Docker API"},
    {2379, 2380, "etcd"},     {3306, 3306, "MySQL"},        {3389, 3389, "RDP"},
    {5432, 5432, "PostgreSQL"}, {5900, 5900, "VNC"},        {5984, 5984, "CouchDB"},
    {6379, 6379, "Redis"},    {9042, 9042, "Cassandra"},    {9200, 9200, "Elasticsearch"},
    {9300, 9300, "Elasticsearch"}, {10250, 10250, "kubelet"}, {11211, 11211, "memcached"},
    {27017, 27017, "MongoDB"},
};

bool isTransport(uint8_t p) { return p == ir::kTCP || p == ir::kUDP || p == ir::kSCTP; }

// `world`, `all`, or a /0 prefix (with or without excepts).
bool isOutsideWide(const sema::PeerSpec& s) {
  if (s.kind == sema::PeerSpec::Kind::Entity) return s.entity == ast::Entity::World || s.entity == ast::Entity::All;
  if (s.kind == sema::PeerSpec::Kind::Cidr) return s.cidr.prefix.length == 0;
  return false;
}

std::string peerText(const Context& ctx, const sema::PeerSpec& s) {
  if (s.kind == sema::PeerSpec::Kind::Cidr) return "cidr " + s.cidr.prefix.str();
  return std::string(ctx.sources().slice(s.range));
}

}  // namespace

void checkExposure(Context& ctx) {
  for (const auto& pol : ctx.checked().policies) {
    if (pol.audit) continue;
    for (const auto& rule : pol.rules) {
      if (rule.action != ir::Action::Allow) continue;
      bool ingress = rule.direction == ir::Direction::Ingress;
      const char* fromTo = ingress ? "from" : "to";
      auto wide = std::find_if(rule.peers.begin(), rule.peers.end(), isOutsideWide);
      bool broadReported = false;
      if (wide != rule.peers.end()) {
        SourceRange where = within(wide->range, rule.range) ? wide->range : rule.range;
        std::string peer = peerText(ctx, *wide);
        // MB106: every port.
        std::string everything;
        if (features::l4::specsOf(rule).empty()) {
          everything = "every protocol and port";
        } else {
          for (const auto& l4 : features::l4::specsOf(rule))
            if (isTransport(l4.protocol) && l4.allPorts) {
              everything = "every " + ir::protocolName(l4.protocol) + " port";
              break;
            }
        }
        if (!everything.empty()) {
          broadReported = ctx.report("MB106", where, rule.range,
                                     "allow rule opens " + everything + " " + fromTo + " `" + peer + "`",
                                     ingress ? "every service of the selected endpoints is exposed; list the ports they serve"
                                             : "the selected endpoints may connect anywhere on any port; list the ports "
                                               "they need") != nullptr;
        }
        // MB107: explicit ports that are administrative or databases.
        if (ingress) {
          std::vector<std::string> hits;
          const features::l4::L4Spec* first = nullptr;
          for (const auto& l4 : features::l4::specsOf(rule)) {
            if (!isTransport(l4.protocol) || l4.allPorts) continue;
            for (const auto& s : kSensitive) {
              bool hit = std::any_of(l4.ports.begin(), l4.ports.end(),
                                     [&](const ir::PortRange& r) { return r.first <= s.last && s.first <= r.last; });
              if (!hit) continue;
              std::string text = (s.first == s.last ? std::to_string(s.first)
                                                     : std::to_string(s.first) + "-" + std::to_string(s.last)) +
                                 " (" + s.what + ")";
              if (std::find(hits.begin(), hits.end(), text) == hits.end()) hits.push_back(text);
              if (!first) first = &l4;
            }
          }
          if (!hits.empty()) {
            std::string list;
            for (const auto& h : hits) list += (list.empty() ? "" : ", ") + h;
            SourceRange at = within(first->range, rule.range) ? first->range : where;
            ctx.report("MB107", at, rule.range,
                       "allow rule exposes " + std::string(hits.size() == 1 ? "port " : "ports ") + list + " to `" +
                           peer + "`",
                       "allow it only from the peers that need it: pods, namespaces or a narrow CIDR");
          }
        }
      }
      // MB112: no `on` at all.
      if (features::l4::specsOf(rule).empty() && !broadReported) {
        ctx.report("MB112", rule.range, rule.range,
                   std::string("allow rule matches every protocol and port ") + fromTo + " its peers",
                   "add `on` with the protocols and ports that are used");
      }
    }
  }
}

}  // namespace membrane::lint
