// Reading manifests (multi-document YAML, JSON, List kinds), dispatching
// objects to the converters, naming, and writing the result as text.
#include "k8s/import.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "format/formatter.h"
#include "frontend/parser.h"
#include "k8s/convert.h"

namespace membrane::k8s {

using nlohmann::json;

bool isManifestPath(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml") return true;
  if (ext != ".json") return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  json j = json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_array()) return std::all_of(j.begin(), j.end(), [](const json& rule) { return rule.is_object(); });
  return j.is_object() && (j.contains("apiVersion") || j.contains("kind"));
}

std::string ruleArrayName(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string(), name;
  for (char c : stem) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok || ((l == '-' || l == '.') && !name.empty() && name.back() != '-' && name.back() != '.'))
      name += l;
    else if (!name.empty() && name.back() != '-' && name.back() != '.')
      name += '-';
    if (name.size() >= 200) break;  // room for a numbered suffix within the 253 of a name
  }
  while (!name.empty() && (name.back() == '-' || name.back() == '.')) name.pop_back();
  return name.empty() ? "cilium-rules" : name;
}

namespace {

// The group of an apiVersion: `policy.networking.k8s.io` of
// `policy.networking.k8s.io/v1alpha1`, empty for the core group's `v1`.
std::string apiGroup(const std::string& apiVersion) {
  auto slash = apiVersion.find('/');
  return slash == std::string::npos ? "" : apiVersion.substr(0, slash);
}

}  // namespace

bool isPolicyLike(const std::string& apiVersion, const std::string& kind) {
  if (kind.ends_with("Policy")) return true;
  std::string group = apiGroup(apiVersion);
  return std::any_of(std::begin(kPolicyGroups), std::end(kPolicyGroups),
                     [&](const char* g) { return group == g; });
}

bool skipKindMatches(const std::string& pattern, const std::string& apiVersion, const std::string& kind) {
  auto slash = pattern.find('/');
  if (slash == std::string::npos) return pattern == kind;
  std::string k = pattern.substr(slash + 1);
  return pattern.substr(0, slash) == apiGroup(apiVersion) && (k == "*" || k == kind);
}

std::string checkSkipKind(const std::string& pattern) {
  auto slash = pattern.find('/');
  std::string group = slash == std::string::npos ? "" : pattern.substr(0, slash);
  std::string kind = slash == std::string::npos ? pattern : pattern.substr(slash + 1);
  auto isKindChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto isGroupChar = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; };
  bool kindOk = !kind.empty() && (kind == "*" ? slash != std::string::npos
                                              : std::all_of(kind.begin(), kind.end(), isKindChar));
  bool groupOk = slash == std::string::npos || (!group.empty() && std::all_of(group.begin(), group.end(), isGroupChar));
  if (kindOk && groupOk) return "";
  return "'" + pattern + "' is not a kind: expected KIND (GlobalNetworkPolicy), GROUP/KIND "
         "(crd.projectcalico.org/NetworkPolicy) or GROUP/* (security.istio.io/*)";
}

namespace {

// The policy kinds membrane reads, and the apiVersion it reads them in.
bool isAdminKind(const std::string& kind) {
  return kind == "AdminNetworkPolicy" || kind == "BaselineAdminNetworkPolicy";
}
bool isPolicyKind(const std::string& kind) {
  return kind == "NetworkPolicy" || kind == "CiliumNetworkPolicy" || kind == "CiliumClusterwideNetworkPolicy" ||
         isAdminKind(kind);
}
const char* policyApiVersion(const std::string& kind) {
  if (kind == "NetworkPolicy") return "networking.k8s.io/v1";
  // v1alpha1 is the version with these kinds; later versions of the group
  // replace them (v1alpha2's ClusterNetworkPolicy) and are refused as
  // policies membrane does not enforce.
  if (isAdminKind(kind)) return "policy.networking.k8s.io/v1alpha1";
  return "cilium.io/v2";
}

struct Importer {
  const SourceManager& sources;
  DiagnosticEngine& diags;
  const ImportOptions& options;
  ImportResult result;
  std::vector<Policy> policies;
  InventoryBuilder inventory;
  std::map<std::string, SourceRange> objectAt;  // "Kind ns/name" → first definition
  std::set<std::string> ruleArrayNames;         // the names given to Cilium rule arrays

  void file(FileId id) {
    Context ctx(id, sources, diags);
    if (!ctx.checkText()) return;
    std::vector<YAML::Node> docs;
    try {
      docs = loadDocuments(sources.text(id));
    } catch (const YAML::Exception& e) {
      ctx.error(ctx.at(e.mark), "invalid YAML: " + e.msg);
      return;
    }
    bool json = std::filesystem::path(ctx.path()).extension() == ".json";
    for (const auto& doc : docs) {
      if (!doc.IsDefined() || doc.IsNull()) continue;  // empty document, e.g. after a trailing `---`
      if (!ctx.checkDocument(doc)) continue;
      try {
        if (json && doc.IsSequence())
          ruleArray(ctx, doc);
        else
          object(ctx, doc, "", "");
      } catch (const YAML::Exception& e) {
        // Node access that yaml-cpp refuses; report it rather than crash.
        ctx.error(ctx.at(e.mark.is_null() ? doc.Mark() : e.mark), "cannot read this object: " + e.msg);
      } catch (const std::logic_error& e) {
        // A converter bug (a name that no policy word can hold got past the
        // name rules): refuse the document rather than write it.
        if (Diagnostic* d = ctx.error(doc, std::string("internal error converting this object: ") + e.what()))
          d->internal = true;
      }
    }
  }

  void object(Context& ctx, const YAML::Node& node, const std::string& defaultApiVersion,
              const std::string& defaultKind) {
    if (!node.IsMap()) {
      ctx.error(node, "expected a Kubernetes object (a map with `apiVersion` and `kind`)");
      return;
    }
    YAML::Node apiNode = ctx.get(node, "apiVersion"), kindNode = ctx.get(node, "kind");
    std::string apiVersion = defaultApiVersion, kind = defaultKind;
    if (apiNode.IsDefined()) {
      auto s = ctx.string(apiNode, "apiVersion");
      if (!s) return;
      apiVersion = *s;
    }
    if (kindNode.IsDefined()) {
      auto s = ctx.string(kindNode, "kind");
      if (!s) return;
      kind = *s;
    }
    if (kind.empty() || apiVersion.empty()) {
      ctx.error(node, "not a Kubernetes object: `apiVersion` and `kind` are required");
      return;
    }
    // List, PodList, NamespaceList, ...: items of a typed list may omit kind.
    if (kind == "List" || (kind.size() > 4 && kind.ends_with("List") && ctx.get(node, "items").IsDefined())) {
      YAML::Node items = ctx.get(node, "items");
      if (!items.IsDefined()) return;
      if (!ctx.isSequence(items, kind + ".items")) return;
      std::string itemKind = kind == "List" ? "" : kind.substr(0, kind.size() - 4);
      for (const auto& item : items) object(ctx, item, kind == "List" ? "" : apiVersion, itemKind);
      return;
    }
    ++result.objects;

    ObjectRef obj{node, apiVersion, kind, "", ""};
    YAML::Node metadata = ctx.get(node, "metadata");
    bool enforced = isPolicyKind(kind) && apiVersion == policyApiVersion(kind);
    if (!enforced && isPolicyLike(apiVersion, kind)) {
      unenforcedPolicy(ctx, node, apiNode, metadata, apiVersion, kind);
      return;
    }
    bool modelled = enforced || isWorkloadKind(apiVersion, kind) || isServiceKind(apiVersion, kind) ||
                    isNodeKind(apiVersion, kind);
    if (!modelled) {
      ++result.skipped;
      // (A policy kind in an apiVersion membrane does not read is refused
      // above as policy-like, so this is never one.)
      if (options.noteSkipped)
        ctx.note(node, "skipped " + apiVersion + " " + kind + shownName(ctx, metadata) +
                           ": membrane does not model this kind");
      return;
    }
    if (!metadata.IsDefined() || !ctx.isMap(metadata, "metadata")) {
      if (!metadata.IsDefined()) ctx.error(node, kind + " without `metadata`");
      return;
    }
    YAML::Node nameNode = ctx.get(metadata, "name");
    if (!nameNode.IsDefined()) {
      ctx.error(metadata, kind + " without `metadata.name`",
                ctx.get(metadata, "generateName").IsDefined() ? "generateName is not supported; give a name" : "");
      return;
    }
    // Names as the API server checks them: a Namespace's is a DNS label,
    // every other kind's here a DNS subdomain. Nothing else can reach policy
    // text, file names or the inventory.
    auto name = ctx.name(nameNode, kind == "Namespace" ? NameRule::Namespace : NameRule::ObjectName, "metadata.name");
    if (!name) return;
    obj.name = *name;
    bool clusterScoped = kind == "Namespace" || kind == "Node" || kind == "CiliumClusterwideNetworkPolicy" ||
                         isAdminKind(kind);
    if (isAdminKind(kind)) {
      // The API server drops the namespace of a cluster-scoped object, so a
      // policy its author meant for one namespace would apply to all that
      // its subject selects: refused rather than silently widened.
      if (YAML::Node nsNode = ctx.get(metadata, "namespace"); nsNode.IsDefined()) {
        auto ns = ctx.string(nsNode, "metadata.namespace");
        if (!ns) return;
        if (!ns->empty()) {
          ctx.error(nsNode,
                    kind + " " + obj.name + " has a namespace, but it is cluster-scoped: the API server ignores "
                        "metadata.namespace, and the policy applies to every namespace its subject selects",
                    "remove metadata.namespace; to limit the policy to namespace " + shown(*ns) +
                        ", select it in spec.subject (kubernetes.io/metadata.name: " + shown(*ns) + ")");
          return;
        }
      }
    }
    if (!clusterScoped) {
      obj.ns = "default";
      if (YAML::Node nsNode = ctx.get(metadata, "namespace"); nsNode.IsDefined()) {
        auto ns = ctx.string(nsNode, "metadata.namespace");
        if (!ns) return;
        if (!ns->empty()) {
          if (!ctx.checkName(nsNode, *ns, NameRule::Namespace, "metadata.namespace")) return;
          obj.ns = *ns;
        }
      }
    }
    std::string id = kind + " " + (obj.ns.empty() ? obj.name : obj.ns + "/" + obj.name);
    if (auto prev = objectAt.find(id); prev != objectAt.end()) {
      ctx.error(nameNode, id + " is defined twice", "first defined at " + sources.describe(prev->second.begin));
      return;
    }
    objectAt[id] = ctx.at(node);

    if (!isPolicyKind(kind)) {
      if (isServiceKind(apiVersion, kind))
        convertServicePart(ctx, obj, inventory);
      else if (isNodeKind(apiVersion, kind))
        convertNode(ctx, obj, inventory);
      else
        convertWorkload(ctx, obj, inventory);
      return;
    }
    // The path goes into a comment: no line break or stray byte may end it.
    std::string path = shown(ctx.path(), SIZE_MAX);
    std::string where = " (" + path + ":" + std::to_string(ctx.at(node).begin.line) + ")";
    std::string header = "from " + apiVersion + " " + kind + " " + (obj.ns.empty() ? "" : obj.ns + "/") + obj.name;
    if (kind == "NetworkPolicy" || isAdminKind(kind)) {
      if (auto p = kind == "NetworkPolicy" ? convertNetworkPolicy(ctx, obj) : convertAdminNetworkPolicy(ctx, obj)) {
        p->header = header + where;
        policies.push_back(std::move(*p));
      }
      return;
    }
    auto converted = convertCiliumPolicy(ctx, obj);
    bool several = converted.size() > 1 || ctx.get(node, "specs").IsDefined();
    size_t specsIndex = 0;
    for (auto& p : converted) {
      // Point at the rule within the object when there are several.
      if (several) where = " (" + path + ":" + std::to_string(p.origin.begin.line) + ")";
      std::string part;
      if (several) {
        bool fromSpec = ctx.get(node, "spec").IsDefined() && &p == &converted.front();
        part = fromSpec ? " spec" : " specs[" + std::to_string(specsIndex++) + "]";
      }
      p.header = header + part + where;
      policies.push_back(std::move(p));
    }
  }

  // A Cilium rule array (isManifestPath): the rules of a
  // CiliumClusterwideNetworkPolicy named after the file. Cilium applies the
  // rules it imports through its API (`cilium policy import`) to every
  // namespace unless a rule's selectors name one, and that is what a
  // clusterwide policy's rules mean; the converter is the same one.
  void ruleArray(Context& ctx, const YAML::Node& doc) {
    ++result.objects;
    std::string base = ruleArrayName(ctx.path()), name = base;
    for (int i = 2; !ruleArrayNames.insert(name).second; ++i) name = base + "-" + std::to_string(i);
    if (!ctx.checkName(doc, name, NameRule::ObjectName, "the name of a Cilium rule array (from its file name)")) return;
    ObjectRef obj{doc, "cilium.io/v2", "CiliumClusterwideNetworkPolicy", name, ""};
    std::string path = shown(ctx.path(), SIZE_MAX);
    auto converted = convertCiliumRuleArray(ctx, obj);
    for (auto& p : converted) {
      // The index of the rule: converted policies keep the rules' order, but
      // a rule with errors gives none.
      size_t index = 0;
      while (index < doc.size() && ctx.at(doc[index]).begin.offset != p.origin.begin.offset) ++index;
      p.header = "from Cilium rule array " + name + " [" + std::to_string(index) + "] (" + path + ":" +
                 std::to_string(p.origin.begin.line) + ")";
      policies.push_back(std::move(p));
    }
  }

  // " NAME" of an object for a message, when it has a name.
  static std::string shownName(Context& ctx, const YAML::Node& metadata) {
    if (!metadata.IsMap() || !ctx.get(metadata, "name").IsScalar()) return "";
    return " " + shown(ctx.get(metadata, "name").Scalar());
  }

  // An object of a policy-like kind membrane does not enforce: dropping it
  // unnoticed would leave traffic open that its author meant to close (or
  // the reverse), so it is an error unless the user named it in
  // --skip-kind, and then still a warning.
  void unenforcedPolicy(Context& ctx, const YAML::Node& node, const YAML::Node& apiNode, const YAML::Node& metadata,
                        const std::string& apiVersion, const std::string& kind) {
    std::string what = apiVersion + " " + kind + shownName(ctx, metadata);
    for (const auto& pattern : options.skipKinds) {
      if (!skipKindMatches(pattern, apiVersion, kind)) continue;
      ++result.skipped;
      ctx.warning(node, "skipped " + what + " (--skip-kind " + pattern + "): its rules are not enforced");
      return;
    }
    std::string group = apiGroup(apiVersion);
    std::string hint = "remove it from the inputs, or pass --skip-kind " + (group.empty() ? "" : group + "/") + kind +
                       " to go on without it (each object skipped is reported as a warning)";
    // A kind membrane reads, in an apiVersion it does not (Calico's
    // NetworkPolicy, the old extensions/v1beta1 one): at the apiVersion.
    bool otherVersion = isPolicyKind(kind);
    ctx.error(otherVersion && apiNode.IsDefined() ? apiNode : node,
              what + ": membrane does not enforce this kind of policy" +
                  (otherVersion ? std::string(" (it reads ") + kind + " in apiVersion " + policyApiVersion(kind) +
                                      " only)"
                                : "") +
                  "; ignoring it would drop its rules",
              hint);
  }

  // Policies of different kinds may share a name where they share a
  // namespace (NetworkPolicy shop/api and CiliumNetworkPolicy shop/api), or
  // are all clusterwide (an AdminNetworkPolicy and a
  // CiliumClusterwideNetworkPolicy, or an AdminNetworkPolicy named default and
  // the BaselineAdminNetworkPolicy). Kubernetes' own kinds keep their names,
  // in the order NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy
  // (two objects of one of these kinds never share one: that is an object
  // defined twice); then the Cilium policies in manifest order. A policy whose
  // name is taken gets a suffix for its kind.
  void nameCollisions() {
    auto rank = [](const Policy& p) {
      if (p.kind == "NetworkPolicy") return 0;
      if (p.kind == "AdminNetworkPolicy") return 1;
      if (p.kind == "BaselineAdminNetworkPolicy") return 2;
      return 3;
    };
    auto suffix = [](const Policy& p) {
      return p.kind == "AdminNetworkPolicy"               ? "-anp"
             : p.kind == "BaselineAdminNetworkPolicy"     ? "-banp"
             : p.kind == "CiliumClusterwideNetworkPolicy" ? "-ccnp"
                                                          : "-cnp";
    };
    std::vector<Policy*> order;
    for (auto& p : policies) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(), [&](const Policy* a, const Policy* b) { return rank(*a) < rank(*b); });
    std::set<std::string> taken;
    auto key = [](const Policy& p, const std::string& name) { return p.clusterwide ? name : p.ns + "/" + name; };
    for (Policy* p : order) {
      std::string name = p->name;
      if (taken.count(key(*p, name))) {
        std::string base = p->name + suffix(*p);
        name = base;
        for (int i = 2; taken.count(key(*p, name)); ++i) name = base + "-" + std::to_string(i);
        diags.report({Severity::Note, p->origin,
                      "policy '" + p->name + "' is renamed '" + name + "': a policy of another kind has that name",
                      "",
                      {}});
      }
      p->name = name;
      taken.insert(key(*p, name));
    }
  }

  void finishInventory() {
    json endpoints = json::array();
    for (auto& e : inventory.endpoints) {
      if (e.contains("k8s.template")) {
        // Real pods of this workload were given: they stand for it.
        if (inventory.podWorkloads.count(e["namespace"].get<std::string>() + "/" + e["workload"].get<std::string>()))
          continue;
        e.erase("k8s.template");
      }
      endpoints.push_back(e);
    }
    result.inventory = {{"namespaces", inventory.namespaces}, {"endpoints", endpoints}};
    if (!inventory.services.empty()) result.inventory["services"] = finishServices(inventory);
    if (!inventory.nodes.empty()) result.inventory["nodes"] = inventory.nodes;
  }
};

std::vector<SourceLine> policyLines(const Policy& p) {
  std::vector<SourceLine> out;
  out.push_back({"policy " + word(p.name) + " {", p.origin});
  out.push_back({p.clusterwide ? "  clusterwide" : "  namespace " + word(p.ns), p.origin});
  if (p.tier != Policy::Tier::None) out.push_back({"  " + p.tierLine.text, p.tierLine.origin});
  out.push_back({"  selects " + p.selects.text, p.selects.origin});
  for (const auto& more : p.selects.continued) out.push_back({"    " + more.text, more.origin});
  auto section = [&](const Section& s, const char* name, const char* dir) {
    if (!s.present) return;
    if (s.rules.empty()) {
      out.push_back({std::string("  ") + name + " {}", s.origin});
      return;
    }
    out.push_back({std::string("  ") + name + " {", s.origin});
    // One peer or protocol item per line, so each maps to its own YAML node.
    for (const auto& r : s.rules) {
      if (r.comment) out.push_back({"    " + r.comment->text, r.comment->origin});
      out.push_back({std::string("    ") + (r.action == Rule::Action::Pass   ? "pass "
                                                  : r.action == Rule::Action::Deny ? "deny "
                                                                                   : "allow ") + dir, r.origin});
      for (size_t i = 0; i < r.peers.size(); ++i) {
        out.push_back({std::string("      ") + (i ? ", " : "") + r.peers[i].text, r.peers[i].origin});
        for (const auto& more : r.peers[i].continued) out.push_back({"        " + more.text, more.origin});
      }
      if (r.protos.empty()) continue;
      out.push_back({"      on", r.origin});
      for (size_t i = 0; i < r.protos.size(); ++i)
        out.push_back({std::string("      ") + (i ? ", " : "") + r.protos[i].text, r.protos[i].origin});
      if (!r.dnsNames.empty()) {
        out.push_back({"      with dns {", r.origin});
        for (size_t i = 0; i < r.dnsNames.size(); ++i)
          out.push_back({std::string("        ") + (i ? ", " : "") + r.dnsNames[i].text, r.dnsNames[i].origin});
        out.push_back({"      }", r.origin});
      }
      if (!r.httpItems.empty()) {
        out.push_back({"      with http {", r.origin});
        for (size_t i = 0; i < r.httpItems.size(); ++i)
          out.push_back({std::string("        ") + (i ? "; " : "") + r.httpItems[i].text, r.httpItems[i].origin});
        out.push_back({"      }", r.origin});
      }
    }
    out.push_back({"  }", s.origin});
  };
  section(p.ingress, "ingress", "from");
  section(p.egress, "egress", "to");
  out.push_back({"}", p.origin});
  return out;
}

// The structure a policy's text must parse back to (verifyParsed).
std::string shapeOf(const Policy& p) {
  std::string out = p.name + "|" + (p.clusterwide ? "*" : p.ns) + "|" + std::to_string(p.selectsCount);
  if (!p.selectsIn.empty()) out += "|in " + p.selectsIn;
  if (p.tier == Policy::Tier::Admin) out += "|admin " + std::to_string(p.priority);
  if (p.tier == Policy::Tier::Baseline) out += "|baseline";
  auto section = [&](const Section& s, char dir) {
    if (!s.present) return;
    out += std::string("|") + dir;
    for (const auto& r : s.rules)
      out += std::string(" ") + (r.action == Rule::Action::Pass ? "p" : r.action == Rule::Action::Deny ? "d" : "a") + std::to_string(r.peers.size()) + "/" +
             std::to_string(r.protos.size()) + (r.dnsNames.empty() && r.httpItems.empty() ? "" : "+with");
  };
  section(p.ingress, 'I');
  section(p.egress, 'E');
  return out;
}

std::string shapeOf(const ast::Policy& p) {
  std::string out = p.name.text + "|" + (p.clusterwide ? "*" : p.ns ? p.ns->text : "?") + "|" +
                    (p.selects && !p.selects->ref ? std::to_string(p.selects->requirements.size()) : "?");
  if (p.selectsIn)
    out += "|in " + (p.selectsIn->kind == ast::NamespaceRef::Kind::ByName ? std::string("name")
                     : p.selectsIn->selector.ref                          ? std::string("?")
                                                       : std::to_string(p.selectsIn->selector.requirements.size()));
  if (p.tier && p.tier->kind == ast::TierStatement::Kind::Admin)
    out += "|admin " + (p.tier->priority ? p.tier->priority->text : "?");
  if (p.tier && p.tier->kind == ast::TierStatement::Kind::Baseline) out += "|baseline";
  if (p.mode) out += "|mode";
  for (const auto& s : p.sections) {
    out += std::string("|") + (s.direction == ast::Direction::Ingress ? 'I' : 'E');
    for (const auto& r : s.rules)
      out += std::string(" ") +
             (r.action == ast::Action::Pass ? "p" : r.action == ast::Action::Deny ? "d" : "a") +
             std::to_string(r.peers.size()) + "/" +
             std::to_string(r.l4.size()) + (r.extensions.empty() ? "" : "+with");
  }
  if (!p.repeated.empty()) out += "|repeated";
  return out;
}

}  // namespace

std::string verifyParsed(const std::vector<ImportedPolicy>& policies, const ast::File& parsed) {
  if (!parsed.selectors.empty() || !parsed.ports.empty() || !parsed.peers.empty())
    return "the text has definitions no manifest gave";
  if (parsed.policies.size() != policies.size())
    return "the text has " + std::to_string(parsed.policies.size()) + " policies, the manifests " +
           std::to_string(policies.size());
  for (size_t i = 0; i < policies.size(); ++i) {
    std::string got = shapeOf(parsed.policies[i]);
    if (got != policies[i].shape)
      return "policy " + std::to_string(i + 1) + " (" + policies[i].header + ") reads back as [" + got +
             "], expected [" + policies[i].shape + "]";
  }
  return "";
}

ImportResult importManifests(const std::vector<FileId>& files, const SourceManager& sources,
                             DiagnosticEngine& diags, const ImportOptions& options) {
  Importer imp{sources, diags, options, {}, {}, {}, {}, {}};
  for (FileId id : files) imp.file(id);
  imp.nameCollisions();
  imp.finishInventory();
  for (const auto& p : imp.policies) {
    ImportedPolicy out;
    out.name = p.name;
    out.ns = p.ns;
    out.clusterwide = p.clusterwide;
    out.kind = p.kind;
    out.header = p.header;
    out.shape = shapeOf(p);
    try {
      out.lines = policyLines(p);
    } catch (const std::logic_error& e) {
      // A name no policy word can hold got past the name rules: a bug,
      // reported rather than written.
      diags.error(p.origin, std::string("internal error converting this policy: ") + e.what()).internal = true;
      continue;
    }
    imp.result.policies.push_back(std::move(out));
  }
  return std::move(imp.result);
}

GeneratedText renderForCompiler(const std::vector<ImportedPolicy>& policies) {
  GeneratedText g;
  for (const auto& p : policies) {
    g.text += "# " + p.header + "\n";
    g.origins.push_back(p.lines.front().origin);
    for (const auto& line : p.lines) {
      g.text += line.text + "\n";
      g.origins.push_back(line.origin);
    }
  }
  return g;
}

std::string renderForOutput(const std::vector<ImportedPolicy>& policies, const std::string& fileComment) {
  std::string text;
  if (!fileComment.empty()) text += "# " + fileComment + "\n\n";
  for (const auto& p : policies) {
    text += "# " + p.header + "\n";
    for (const auto& line : p.lines) text += line.text + "\n";
    text += "\n";
  }
  std::string errors;
  auto formatted = format::formatPolicy(text, &errors, "<converted>");
  if (!formatted) throw std::runtime_error("converted policies do not parse:\n" + errors + "\n" + text);
  // What is written must read back as exactly the converted policies, header
  // comments included (they hold the manifest's path).
  SourceManager sources;
  DiagnosticEngine diags(sources);
  FileId id = sources.add("<converted>", *formatted);
  auto parsed = frontend::parseFile(id, sources, diags);
  if (!parsed) throw std::runtime_error("formatted converted policies do not parse:\n" + *formatted);
  if (std::string why = verifyParsed(policies, *parsed); !why.empty())
    throw std::runtime_error("converted policies do not read back as converted: " + why);
  return *formatted;
}

}  // namespace membrane::k8s
