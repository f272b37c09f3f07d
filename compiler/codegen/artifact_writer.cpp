#include "codegen/artifact_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "abi/datapath.h"
#include "artifacts/programs.h"
#include "codegen/decision_codegen.h"
#include "codegen/http_codegen.h"
#include "identity/identity_table.h"
#include "io/file.h"

namespace membrane::codegen {

namespace fs = std::filesystem;

std::string objectName(uint32_t classId) { return "class-" + std::to_string(classId) + ".o"; }

static artifacts::DirectionSummary summary(const ir::DirectionPolicy& d) {
  artifacts::DirectionSummary s{d.enforced, d.audited, {}, {}, {}};
  // The parts of one rule (egress named ports, one per number) are adjacent.
  auto ids = [](const std::vector<ir::Rule>& rules, std::vector<uint32_t>& out) {
    for (const auto& r : rules)
      if (out.empty() || out.back() != r.id) out.push_back(r.id);
  };
  ids(d.admin, s.admin);
  ids(d.rules, s.rules);
  ids(d.baseline, s.baseline);
  return s;
}

ir::EndpointClass openClass(const ir::Program& program) {
  ir::EndpointClass open;
  open.id = static_cast<uint32_t>(program.classes.size());
  for (const auto& e : program.endpoints)
    if (!e.classIndex) open.endpoints.push_back(e.key());
  return open;
}

artifacts::Manifest describeArtifacts(const ir::Program& program) {
  artifacts::Manifest m;
  m.abiVersion = MB_ABI_VERSION;
  // What a node must offer to load these objects; each program lists what
  // its kind needs besides.
  m.requiredFeatures = artifacts::skeletonFeatures();
  for (const auto& s : program.selectors) {
    artifacts::SelectorEntry e;
    static_cast<labels::PeerCondition&>(e) = s;
    e.bit = s.bit;
    e.text = s.str();
    m.selectors.push_back(std::move(e));
  }
  if (std::any_of(program.selectors.begin(), program.selectors.end(), [](const auto& s) { return s.definesPort; }))
    m.requiredFeatures.push_back(artifacts::kNamedPortPeersFeature);
  for (const auto& i : program.identities)
    m.identities.push_back({i.id, i.ns, i.labels, i.namespaceLabels, i.ports, i.selectorBits});
  const uint32_t openId = static_cast<uint32_t>(program.classes.size());
  for (const auto& e : program.endpoints)
    m.endpoints.push_back(
        {e.name, e.ns, e.identity, e.addresses, e.classIndex ? program.classes.at(*e.classIndex).id : openId});
  m.policies = program.policies;
  for (const auto& [id, r] : program.rules)
    m.rules.push_back({id, r.policy, ir::directionName(r.direction), ir::actionName(r.action), r.audit, r.text, r.location});
  // The IR's classes, then the open class for the endpoints no policy selects.
  auto describe = [&](const ir::EndpointClass& cls) {
    artifacts::ClassEntry e;
    e.id = cls.id;
    e.object = objectName(cls.id);
    e.policies = cls.policies;
    e.endpoints = cls.endpoints;
    e.ingressNamedPorts = cls.ingressNamedPorts;
    // Where the socket layer reads requests: every port an http rule covers.
    auto spans = [](const ir::DirectionPolicy& d) {
      std::vector<artifacts::PortSpan> out;
      for (const auto& r : httpPorts(d)) out.push_back({r.first, r.last});
      return out;
    };
    e.l7.httpIngress = spans(cls.ingress);
    e.l7.httpEgress = spans(cls.egress);
    e.ingress = summary(cls.ingress);
    e.egress = summary(cls.egress);
    e.programs = artifacts::skeletonProgramEntries();
    // Process rules: the executables the node resolves, and the programs
    // that decide the socket calls (docs/process.md).
    e.executables = classExecutables(cls);
    if (!e.executables.empty())
      for (auto& prog : artifacts::processProgramEntries()) e.programs.push_back(std::move(prog));
    m.classes.push_back(std::move(e));
  };
  for (const auto& cls : program.classes) describe(cls);
  describe(openClass(program));
  return m;
}

Artifacts buildArtifacts(ClassCompiler& compiler, const ir::Program& program, const CompileOptions& options) {
  Artifacts out;
  artifacts::Manifest& m = out.manifest;
  m = describeArtifacts(program);
  m.compilerVersion = options.compilerVersion;
  const ir::EndpointClass open = openClass(program);
  std::vector<const ir::EndpointClass*> classes;
  for (const auto& c : program.classes) classes.push_back(&c);
  classes.push_back(&open);

  PeerLowering lowering =
      PeerLowering::choose(program, options.cidrFoldLimit, options.decisionMode, options.codedPortSearchLimit);
  bool tables = false;
  for (const auto* cls : classes) tables |= lowering.usesTable(cls->ingress) || lowering.usesTable(cls->egress);
  if (tables) m.requiredFeatures.push_back("helper:bpf_loop");  // mb_table_match
  for (const auto& [cidr, bit] : lowering.cidrBits) m.cidrs.push_back({bit, cidr.prefix, cidr.except});
  std::sort(m.cidrs.begin(), m.cidrs.end(), [](const auto& a, const auto& b) { return a.bit < b.bit; });
  // Table-driven classes decide the peer sets known now by table lookup
  // (PeerLowering::peerSets): every trie entry the manifest gives, without
  // the node's own addresses, which it alone knows.
  if (tables) {
    std::vector<identity::TrieEntry> entries;
    std::string error;
    if (!identity::buildEntries(m, {}, entries, &error)) throw std::runtime_error(error);
    std::vector<const identity::TrieEntry*> firsts;
    m.peerSets = identity::peerSets(entries, &firsts);
    for (const auto* e : firsts) lowering.peerSets.push_back(*e);
    std::string keys;
    for (const auto& k : m.peerSets) keys += k;
    lowering.peerSetsDigest = artifacts::sha256Hex(keys);
  }

  // Classes are independent: compile them on every core. Each worker has its
  // own compiler (LLVM contexts are not shared across threads); results land
  // in their class's slot, so the output does not depend on scheduling.
  size_t n = classes.size();
  std::vector<ClassObject> objects(n);
  std::vector<std::string> hashes(n);  // each object's, taken as it is made or read
  ClassCache* cache = options.emit.llvmIr || options.emit.assembly ? nullptr : options.cache;
  size_t workers = std::min<size_t>(options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency()), n);
  std::atomic<size_t> next{0}, done{0};
  std::mutex progressMutex;
  std::exception_ptr failure;
  auto work = [&](ClassCompiler& cc) {
    try {
      for (size_t i; (i = next++) < n && !failure;) {
        ClassObject& obj = objects[i];
        std::string key;
        std::optional<ClassCache::Entry> kept;
        if (cache) kept = cache->load(key = cache->key(*classes[i], lowering));
        if (kept) {
          obj.classId = classes[i]->id;
          obj.stats = kept->stats;
          hashes[i] = std::move(kept->sha256);
          // Handed on as the open entry (linked, not copied, into the
          // output), or read when the caller keeps the objects.
          std::string error;
          if (options.onObject)
            obj.cached = std::move(kept->object);
          else if (!kept->object->read(obj.elf, &error))
            throw std::runtime_error(error);
        } else {
          obj = cc.compile(program, *classes[i], lowering, options.emit);
          hashes[i] = artifacts::sha256Hex(obj.elf);
          if (cache) cache->store(key, obj, hashes[i]);
        }
        if (options.onObject) {
          // What the manifest needs of it, then it goes.
          std::string error;
          if (!options.onObject(obj, &error)) throw std::runtime_error(error);
          // Swapped out, not assigned: assigning an empty string keeps the
          // old buffer, so the memory would stay held.
          std::string().swap(obj.elf);
          std::string().swap(obj.llvmIr);
          std::string().swap(obj.assembly);
          obj.cached.reset();  // its descriptor: a thousand would not stay open
        }
        std::lock_guard<std::mutex> lock(progressMutex);
        if (options.progress) options.progress(done++, n, *classes[i]);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(progressMutex);
      if (!failure) failure = std::current_exception();
      next = n;
    }
  };
  std::vector<std::unique_ptr<ClassCompiler>> extra;
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) {
    std::string error;
    auto cc = ClassCompiler::create(&error);
    if (!cc) throw std::runtime_error(error);
    extra.push_back(std::move(cc));
    threads.emplace_back(work, std::ref(*extra.back()));
  }
  work(compiler);
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  for (size_t i = 0; i < n; ++i) {
    ClassObject& obj = objects[i];
    artifacts::ClassEntry& e = m.classes[i];
    e.sha256 = hashes[i];
    e.portIntervals = obj.stats.intervals;
    e.leafRuleTests = obj.stats.leafRuleTests;
    e.maxLeafRules = obj.stats.maxLeafRules;
    e.foldedCidrs = obj.stats.foldedCidrs;
    e.tableLeaves = obj.stats.tableLeaves;
    e.tableEntries = obj.stats.tableEntries;
    e.verdictColumns = obj.stats.denseColumns;
    out.objects.push_back(std::move(obj));
  }
  return out;
}

namespace {

// Written and synced, so a crash right after the rename cannot leave a
// manifest pointing at empty objects.
bool writeFile(const fs::path& path, const std::string& data, std::string* error) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    ok = n > 0;
    done += ok ? static_cast<size_t>(n) : 0;
  }
  ok = ok && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (!ok && error) *error = "cannot write '" + path.string() + "': " + std::strerror(errno);
  return ok;
}

// A cached object (class_cache.h) into the output: a hard link to the
// entry when both are on one filesystem (entries are replaced, never
// written in place, so the output keeps what was verified), else a copy.
// Synced like a written file.
bool linkCached(const CachedObjectFile& object, const fs::path& path, std::string* error) {
  std::string self = "/proc/self/fd/" + std::to_string(object.fd);
  if (linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
    if (fsync(object.fd) == 0) return true;
    ::unlink(path.c_str());  // a filesystem that cannot sync it this way: copy it
  }
  std::string bytes;
  return object.read(bytes, error) && writeFile(path, bytes, error);
}

// The names writeArtifacts gives files: manifest.json and class-N.o, .ll, .s.
bool isArtifactName(const std::string& name) {
  if (name == "manifest.json") return true;
  if (!name.starts_with("class-")) return false;
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 6) return false;
  std::string ext = name.substr(dot);
  bool digits = std::all_of(name.begin() + 6, name.begin() + static_cast<std::ptrdiff_t>(dot),
                            [](char c) { return c >= '0' && c <= '9'; });
  return digits && (ext == ".o" || ext == ".ll" || ext == ".s");
}

// The string value of the top-level "format" key of a JSON document, or ""
// (not JSON, not an object, no such string). Read as events and left at
// that key: a large compile's manifest (16 MB for 1,000 classes of 50
// rules) costs a quarter of a second to build as a document.
std::string topLevelFormat(const std::string& text) {
  struct Reader : nlohmann::json_sax<nlohmann::json> {
    int depth = 0;
    bool atFormat = false;
    std::string format;
    bool value() {
      atFormat = false;
      return true;
    }
    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool string(string_t& s) override {
      if (!atFormat) return value();
      format = s;
      return false;  // found: stop reading
    }
    bool start_object(std::size_t) override {
      atFormat = false;
      return ++depth, true;
    }
    bool end_object() override { return --depth, true; }
    bool start_array(std::size_t) override {
      atFormat = false;
      return ++depth, true;
    }
    bool end_array() override { return --depth, true; }
    bool key(string_t& k) override {
      atFormat = depth == 1 && k == "format";
      return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
  } reader;
  nlohmann::json::sax_parse(text, &reader);
  return reader.format;
}

// Whether `dir`, an existing non-empty directory, is earlier output that may
// be replaced as a whole: its manifest.json says it is membrane's
// ("format": "membrane-artifacts") and every other entry is a plain file
// named like membrane's. Anything else, a folder of a web app that happens to
// hold a manifest.json say, is refused: `error` says why.
bool isMembraneOutput(const fs::path& dir, const std::string& dirName, std::string* error) {
  auto refuse = [&](const std::string& why) {
    if (error) *error = "'" + dirName + "' " + why + "; refusing to replace it";
    return false;
  };
  std::error_code ec;
  std::vector<std::string> foreign;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    // symlink_status: a link is not one of membrane's files, whatever it names.
    if (!isArtifactName(name) || !fs::is_regular_file(it->symlink_status(ec))) foreign.push_back(name);
  }
  if (ec) return refuse("cannot be listed (" + ec.message() + ")");
  if (!foreign.empty()) {
    std::sort(foreign.begin(), foreign.end());
    std::string list = "'" + foreign[0] + "'";
    if (foreign.size() > 1) list += " and " + std::to_string(foreign.size() - 1) + " more";
    return refuse("is not membrane's output: it holds " + list + ", which membrane does not write");
  }
  std::string why;
  auto text = io::readRegularFile((dir / "manifest.json").string(), kMaxManifestBytes, "a manifest", &why);
  if (!text) return refuse("holds no readable manifest.json (" + why + ")");
  if (topLevelFormat(*text) != artifacts::kFormatName)
    return refuse(std::string("holds a manifest.json that is not membrane's (no \"format\": \"") +
                  artifacts::kFormatName + "\")");
  return true;
}

}  // namespace

std::unique_ptr<ArtifactStaging> ArtifactStaging::open(const std::string& dirName, std::string* error) {
  std::error_code ec;
  fs::path dir = fs::absolute(dirName, ec);
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      if (error) *error = "'" + dirName + "' exists and is not a directory";
      return nullptr;
    }
    if (!fs::is_empty(dir, ec) && !isMembraneOutput(dir, dirName, error)) return nullptr;
  }
  fs::path parent = dir.parent_path();
  fs::create_directories(parent, ec);
  std::string suffix = "." + std::to_string(getpid());
  fs::path staging = parent / ("." + dir.filename().string() + ".new" + suffix);
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec)) {
    if (error) *error = "cannot create '" + staging.string() + "': " + ec.message();
    return nullptr;
  }
  return std::unique_ptr<ArtifactStaging>(new ArtifactStaging(dirName, dir.string(), staging.string()));
}

ArtifactStaging::~ArtifactStaging() {
  std::error_code ec;
  if (!committed_) fs::remove_all(staging_, ec);
}

bool ArtifactStaging::write(const ClassObject& obj, std::string* error) {
  fs::path staging = staging_;
  std::string base = "class-" + std::to_string(obj.classId);
  return (obj.cached ? linkCached(*obj.cached, staging / (base + ".o"), error)
                     : writeFile(staging / (base + ".o"), obj.elf, error)) &&
         (obj.llvmIr.empty() || writeFile(staging / (base + ".ll"), obj.llvmIr, error)) &&
         (obj.assembly.empty() || writeFile(staging / (base + ".s"), obj.assembly, error));
}

bool ArtifactStaging::commit(const artifacts::Manifest& manifest, std::string* error) {
  fs::path staging = staging_, dir = dir_;
  if (!writeFile(staging / "manifest.json", manifest.toJson(), error)) return false;
  // Into place in one step: a new directory is renamed over; an old one is
  // exchanged with the staging directory (renameat2 RENAME_EXCHANGE), so at
  // every moment `dir` is either all old or all new.
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::rename(staging, dir, ec);
    if (ec) {
      if (error) *error = "cannot move the output into '" + dirName_ + "': " + ec.message();
      return false;
    }
    committed_ = true;
    return true;
  }
  if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (error) *error = "cannot replace '" + dirName_ + "': " + std::strerror(errno);
    return false;
  }
  // The staging path now holds the previous output: the destructor removes it.
  return true;
}

bool writeArtifacts(const std::string& dirName, const Artifacts& artifacts, std::string* error) {
  auto staging = ArtifactStaging::open(dirName, error);
  if (!staging) return false;
  for (const auto& obj : artifacts.objects)
    if (!staging->write(obj, error)) return false;
  return staging->commit(artifacts.manifest, error);
}

}  // namespace membrane::codegen
