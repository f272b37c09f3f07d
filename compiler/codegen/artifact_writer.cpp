#include "codegen/artifact_writer.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "abi/datapath.h"

namespace membrane::codegen {

namespace fs = std::filesystem;

std::string objectName(uint32_t classId) { return "class-" + std::to_string(classId) + ".o"; }

static artifacts::NamespaceScope scopeOf(ir::NamespaceScope s) {
  switch (s) {
    case ir::NamespaceScope::Exact: return artifacts::NamespaceScope::Exact;
    case ir::NamespaceScope::Selector: return artifacts::NamespaceScope::Selector;
    case ir::NamespaceScope::Any: return artifacts::NamespaceScope::Any;
  }
  return artifacts::NamespaceScope::Exact;
}

static artifacts::DirectionSummary summary(const ir::DirectionPolicy& d) {
  artifacts::DirectionSummary s{d.enforced, d.audited, {}};
  for (const auto& r : d.rules) s.rules.push_back(r.id);
  return s;
}

Artifacts buildArtifacts(ClassCompiler& compiler, const ir::Program& program, const sema::CheckedProgram& checked,
                         const CompileOptions& options) {
  Artifacts out;
  artifacts::Manifest& m = out.manifest;
  m.abiVersion = MB_ABI_VERSION;
  m.compilerVersion = options.compilerVersion;
  // What a node must offer to load these objects.
  m.requiredFeatures = {"btf",          "map:lpm_trie",    "map:lru_hash", "map:percpu_array",
                        "map:ringbuf",  "prog:sched_cls",  "prog:cgroup_skb"};
  for (const auto& s : program.selectors) {
    artifacts::SelectorEntry e;
    e.bit = s.bit;
    e.pods = s.pods;
    e.scope = scopeOf(s.scope);
    e.ns = s.ns;
    e.namespaces = s.namespaces;
    e.text = s.str();
    m.selectors.push_back(std::move(e));
  }
  for (const auto& i : program.identities)
    m.identities.push_back({i.id, i.ns, i.labels, i.namespaceLabels, i.selectorBits});
  for (const auto& e : program.endpoints) {
    std::optional<uint32_t> cls;
    if (e.classIndex) cls = program.classes.at(*e.classIndex).id;
    m.endpoints.push_back({e.name, e.ns, e.identity, e.addresses, cls});
  }
  for (const auto& p : checked.policies) m.policies.push_back({p.key(), p.ns, p.clusterwide, p.audit, p.selects});
  for (const auto& [id, r] : program.rules)
    m.rules.push_back({id, r.policy, ir::directionName(r.direction), ir::actionName(r.action), r.audit, r.text, r.location});

  PeerLowering lowering = PeerLowering::choose(program, options.cidrFoldLimit, options.decisionMode);
  for (const auto& [cidr, bit] : lowering.cidrBits) m.cidrs.push_back({bit, cidr.prefix, cidr.except});
  std::sort(m.cidrs.begin(), m.cidrs.end(), [](const auto& a, const auto& b) { return a.bit < b.bit; });

  for (size_t i = 0; i < program.classes.size(); ++i) {
    const auto& cls = program.classes[i];
    if (options.progress) options.progress(i, program.classes.size(), cls);
    ClassObject obj = compiler.compile(program, cls, lowering, options.emit);
    artifacts::ClassEntry e;
    e.id = cls.id;
    e.object = objectName(cls.id);
    e.sha256 = artifacts::sha256Hex(obj.elf);
    e.policies = cls.policies;
    e.endpoints = cls.endpoints;
    e.ingress = summary(cls.ingress);
    e.egress = summary(cls.egress);
    e.portIntervals = obj.stats.intervals;
    e.leafRuleTests = obj.stats.leafRuleTests;
    e.maxLeafRules = obj.stats.maxLeafRules;
    e.foldedCidrs = obj.stats.foldedCidrs;
    e.tableLeaves = obj.stats.tableLeaves;
    e.tableEntries = obj.stats.tableEntries;
    m.classes.push_back(std::move(e));
    out.objects.push_back(std::move(obj));
  }
  return out;
}

namespace {

bool writeFile(const fs::path& path, const std::string& data, std::string* error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.flush();
  if (!f) {
    if (error) *error = "cannot write '" + path.string() + "'";
    return false;
  }
  return true;
}

}  // namespace

bool writeArtifacts(const std::string& dirName, const Artifacts& artifacts, std::string* error) {
  std::error_code ec;
  fs::path dir = fs::absolute(dirName, ec);
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      if (error) *error = "'" + dirName + "' exists and is not a directory";
      return false;
    }
    if (!fs::is_empty(dir, ec) && !fs::exists(dir / "manifest.json", ec)) {
      if (error) *error = "'" + dirName + "' is not empty and holds no membrane output (no manifest.json); refusing to replace it";
      return false;
    }
  }
  fs::path parent = dir.parent_path();
  fs::create_directories(parent, ec);
  std::string suffix = "." + std::to_string(getpid());
  fs::path staging = parent / ("." + dir.filename().string() + ".new" + suffix);
  fs::path old = parent / ("." + dir.filename().string() + ".old" + suffix);
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec)) {
    if (error) *error = "cannot create '" + staging.string() + "': " + ec.message();
    return false;
  }
  auto fail = [&](const std::string& message) {
    fs::remove_all(staging, ec);
    if (error && error->empty()) *error = message;
    return false;
  };
  for (const auto& obj : artifacts.objects) {
    std::string base = "class-" + std::to_string(obj.classId);
    if (!writeFile(staging / (base + ".o"), obj.elf, error)) return fail("");
    if (!obj.llvmIr.empty() && !writeFile(staging / (base + ".ll"), obj.llvmIr, error)) return fail("");
    if (!obj.assembly.empty() && !writeFile(staging / (base + ".s"), obj.assembly, error)) return fail("");
  }
  if (!writeFile(staging / "manifest.json", artifacts.manifest.toJson(), error)) return fail("");

  // Swap into place: the old output is moved aside first, and restored if
  // the rename of the new one fails.
  bool hadOld = fs::exists(dir, ec);
  if (hadOld) {
    fs::rename(dir, old, ec);
    if (ec) return fail("cannot replace '" + dirName + "': " + ec.message());
  }
  fs::rename(staging, dir, ec);
  if (ec) {
    std::string why = ec.message();
    if (hadOld) fs::rename(old, dir, ec);
    return fail("cannot move the output into '" + dirName + "': " + why);
  }
  if (hadOld) fs::remove_all(old, ec);
  return true;
}

}  // namespace membrane::codegen
