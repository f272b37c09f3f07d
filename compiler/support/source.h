// Source files and locations. Every AST node, IR rule and diagnostic points
// back into the policy text through a SourceRange.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace membrane {

// The largest policy file and Kubernetes manifest membranec reads
// (docs/cli.md#inputs). Far above real files (10,000 rules are about 600 KB),
// and low enough that one file cannot exhaust memory: parsing keeps about 150
// bytes per token, so 8 MiB of the densest text (`{}` repeated) peaks at
// 1.6 GB, and 8 MiB of ordinary policies (46,000 of them) check in 0.85 GB.
inline constexpr size_t kMaxPolicyFileBytes = size_t{8} << 20;
inline constexpr size_t kMaxManifestFileBytes = size_t{64} << 20;

using FileId = uint32_t;
inline constexpr FileId kNoFile = UINT32_MAX;

struct SourceLoc {
  FileId file = kNoFile;
  uint32_t line = 0;    // 1-based; 0 = unknown
  uint32_t column = 0;  // 1-based, in bytes
  uint32_t offset = 0;  // byte offset in the file

  bool valid() const { return file != kNoFile && line != 0; }
  friend auto operator<=>(const SourceLoc&, const SourceLoc&) = default;
};

struct SourceRange {
  SourceLoc begin;
  uint32_t length = 0;  // bytes from begin; 0 = a point

  bool valid() const { return begin.valid(); }
};

class SourceManager {
 public:
  // Reads a regular file of at most `maxBytes`; nullopt (and `error` set,
  // naming `what`) when it cannot be read, is not a regular file (a FIFO,
  // a device, a directory) or is larger.
  std::optional<FileId> load(const std::string& path, std::string* error, size_t maxBytes = kMaxPolicyFileBytes,
                             const std::string& what = "a policy file");
  FileId add(std::string path, std::string text);

  const std::string& path(FileId id) const { return files_.at(id).path; }
  const std::string& text(FileId id) const { return files_.at(id).text; }
  std::string_view lineText(FileId id, uint32_t line) const;
  // The exact source text a range covers.
  std::string_view slice(const SourceRange& range) const;
  size_t fileCount() const { return files_.size(); }
  // Line and column of a byte offset.
  SourceLoc locate(FileId id, uint32_t offset) const;
  // "path:line:col", of the original location (see setLineOrigins).
  std::string describe(const SourceLoc& loc) const;

  // Text generated from another file (policies converted from Kubernetes
  // manifests): `origins[i]` is where line i+1 of `generated` came from.
  // Diagnostics and `describe` then point at the original, not the generated
  // text the user never sees.
  void setLineOrigins(FileId generated, std::vector<SourceRange> origins);
  // The original of a range in generated text; other ranges unchanged.
  SourceRange original(const SourceRange& range) const;

 private:
  struct File {
    std::string path;
    std::string text;
    std::vector<uint32_t> lineStarts;
    std::vector<SourceRange> lineOrigins;  // empty unless generated
  };
  std::vector<File> files_;
};

}  // namespace membrane
