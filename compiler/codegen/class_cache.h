// `membranec compile --cache DIR`: class objects kept between compiles,
// addressed by everything that determines them, so a compile recompiles
// only the classes an edit touched.
//
// A class's object is a function of its decision (its rules, their ids,
// peers and conditions, its named ports), of how peers are lowered for it
// (the decision mode, the bit of each CIDR it tests and, for a table-driven
// class, the program's peer sets its verdicts are built for) and of the compiler
// itself (the running executable's build id, which covers the embedded
// skeleton, and LLVM). The key is the SHA-256 of all of that; nothing else
// reaches the object, so a compile with the cache writes the same bytes as
// one without (tested).
//
// An entry is two files in `<dir>/v1/<2 hex>/`: `<62 hex>.o`, the object
// exactly, and `<62 hex>.meta`, one line naming the format, the key, the
// object's length and SHA-256 and the lowering counts the manifest reports.
// An entry whose object does not have that length and hash (a truncated
// write, a flipped bit) or whose line is not that (another format, another
// key) is a miss and is rewritten, never used. Files are written to a
// temporary name and renamed into place (io::writeFileAtomically, unsynced:
// the checks above catch a torn entry after a crash), never in place, so
// compiles sharing a cache at once see whole files, an object linked into
// an output directory stays as it was verified, and a directory removed or
// emptied is only a cold cache.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "codegen/class_compiler.h"
#include "codegen/decision_codegen.h"
#include "ir/ir.h"

namespace membrane::codegen {

// A verified entry's object, open: linked into an output directory by
// ArtifactStaging (the descriptor, not the name, so it is the file that was
// verified), or read.
struct CachedObjectFile {
  int fd = -1;
  size_t size = 0;
  explicit CachedObjectFile(int f, size_t n) : fd(f), size(n) {}
  ~CachedObjectFile();
  CachedObjectFile(const CachedObjectFile&) = delete;
  CachedObjectFile& operator=(const CachedObjectFile&) = delete;
  // Its bytes; false (and `error` set) on a read error.
  bool read(std::string& out, std::string* error) const;
};

class ClassCache {
 public:
  // The cache at `dir`, made if missing. Null (and `error` set) when it
  // cannot be made or written.
  static std::unique_ptr<ClassCache> open(const std::string& dir, std::string* error);

  // The key of a class's object: hex SHA-256.
  std::string key(const ir::EndpointClass& cls, const PeerLowering& lowering) const;

  struct Entry {
    std::shared_ptr<const CachedObjectFile> object;
    std::string sha256;  // hex, of the object (checked)
    DecisionStats stats;
  };
  // The entry under `key`, or none: missing, or damaged (counted in
  // damaged(); the next store replaces it).
  std::optional<Entry> load(const std::string& key);
  // Keeps `object` under `key`. A failure to write is not an error: the
  // compile has its object; the cache just stays cold for it (counted).
  void store(const std::string& key, const ClassObject& object, const std::string& sha256);

  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }
  size_t damaged() const { return damaged_; }
  size_t unwritten() const { return unwritten_; }
  const std::string& dir() const { return dir_; }

  // What identifies this compiler in every key (the build id of the running
  // executable, LLVM's version, the ABI); exposed for tests.
  const std::string& compilerIdentity() const { return identity_; }

 private:
  ClassCache(std::string dir, std::string identity) : dir_(std::move(dir)), identity_(std::move(identity)) {}
  std::string pathOf(const std::string& key, const char* suffix) const;
  std::string dir_, identity_;
  std::atomic<size_t> hits_{0}, misses_{0}, damaged_{0}, unwritten_{0};
};

}  // namespace membrane::codegen
