// `membranec compile`: every endpoint class to a BPF object, plus the
// manifest, written to a directory all at once or not at all.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "artifacts/manifest.h"
#include "codegen/class_cache.h"
#include "codegen/class_compiler.h"
#include "ir/ir.h"

namespace membrane::codegen {

struct CompileOptions {
  EmitOptions emit;
  std::string compilerVersion;
  size_t cidrFoldLimit = PeerLowering::kDefaultFoldLimit;
  DecisionMode decisionMode = DecisionMode::Auto;
  size_t codedPortSearchLimit = PeerLowering::kCodedPortSearchLimit;
  // Objects kept from earlier compiles (--cache): a class whose key is
  // there is read, not compiled; every class compiled is stored. Not used
  // with --emit (a cached class has no IR or assembly to show).
  ClassCache* cache = nullptr;
  // Threads compiling classes; 0 = one per core.
  size_t jobs = 0;
  // Called as each class is done: (how many before it, total, class).
  std::function<void(size_t, size_t, const ir::EndpointClass&)> progress;
  // If set, each class's object goes here as soon as it is compiled (from
  // the worker threads, for different classes at once), and Artifacts::objects holds
  // only the classes' ids: a thousand objects of about 600 KB are not all
  // held at once (ArtifactStaging writes them as they come). False stops
  // the compile: buildArtifacts then throws with `error`.
  std::function<bool(const ClassObject&, std::string* error)> onObject;
};

struct Artifacts {
  artifacts::Manifest manifest;
  std::vector<ClassObject> objects;  // same order as manifest.classes (only ids with onObject)
};

// The class of the endpoints no policy selects, numbered after the IR's
// classes: policy leaves both directions open, but they still get programs,
// because every packet an endpoint sends must carry its own address
// (bpf-templates/lib/source.h) and only a program at its hooks can check that.
// Its manifest entry has no policies.
ir::EndpointClass openClass(const ir::Program& program);

// The manifest's description of `program`: selectors, identities, endpoints,
// policies, rules and classes with their programs (the open class last),
// all from the IR, without what depends on
// how the classes are lowered and compiled (CIDR bits, objects' hashes and
// lowering counts, compiler version). `membranec verify` compares it with
// the manifest it is given.
artifacts::Manifest describeArtifacts(const ir::Program& program);

// Every class of `program` and the open class, compiled; the manifest lists
// them in that order. Throws std::runtime_error on a class that cannot be
// lowered.
Artifacts buildArtifacts(ClassCompiler& compiler, const ir::Program& program, const CompileOptions& options);

// The object file name of a class.
std::string objectName(uint32_t classId);

// The largest manifest.json writeArtifacts reads to tell earlier output from
// a foreign directory.
inline constexpr size_t kMaxManifestBytes = size_t{64} << 20;

// Writes manifest.json, the objects and any --emit files into `dir`, replacing
// a previous membrane output there. Everything is written to a temporary
// sibling directory first and renamed into place, so a failure leaves `dir`
// as it was. A non-empty `dir` is replaced only if it is membrane's output:
// a manifest.json whose "format" is "membrane-artifacts" and nothing but
// class-N.o/.ll/.s files besides; anything else is refused and left alone.
bool writeArtifacts(const std::string& dir, const Artifacts& artifacts, std::string* error);

// writeArtifacts in steps, for a compile that writes each object as it is
// done: open() checks `dir` as writeArtifacts does and makes the staging
// directory (so a directory that would be refused is refused before any
// class is compiled), write() puts one class's files there, commit() the
// manifest and then everything into place. Destroyed without commit(), it
// removes the staging directory: `dir` stays as it was.
class ArtifactStaging {
 public:
  static std::unique_ptr<ArtifactStaging> open(const std::string& dir, std::string* error);
  ~ArtifactStaging();
  ArtifactStaging(const ArtifactStaging&) = delete;
  ArtifactStaging& operator=(const ArtifactStaging&) = delete;

  bool write(const ClassObject& object, std::string* error);
  bool commit(const artifacts::Manifest& manifest, std::string* error);

 private:
  ArtifactStaging(std::string dirName, std::string dir, std::string staging)
      : dirName_(std::move(dirName)), dir_(std::move(dir)), staging_(std::move(staging)) {}
  std::string dirName_, dir_, staging_;
  bool committed_ = false;
};

}  // namespace membrane::codegen
