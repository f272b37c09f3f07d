#include "support/source.h"

#include <algorithm>

#include "io/file.h"

namespace membrane {

std::optional<FileId> SourceManager::load(const std::string& path, std::string* error, size_t maxBytes,
                                          const std::string& what) {
  auto text = io::readRegularFile(path, maxBytes, what, error);
  if (!text) return std::nullopt;
  return add(path, std::move(*text));
}

FileId SourceManager::add(std::string path, std::string text) {
  File f{std::move(path), std::move(text), {0}, {}};
  for (uint32_t i = 0; i < f.text.size(); ++i)
    if (f.text[i] == '\n') f.lineStarts.push_back(i + 1);
  files_.push_back(std::move(f));
  return static_cast<FileId>(files_.size() - 1);
}

std::string_view SourceManager::lineText(FileId id, uint32_t line) const {
  const File& f = files_.at(id);
  if (line == 0 || line > f.lineStarts.size()) return {};
  uint32_t start = f.lineStarts[line - 1];
  uint32_t end = line < f.lineStarts.size() ? f.lineStarts[line] : f.text.size();
  std::string_view sv(f.text.data() + start, end - start);
  while (!sv.empty() && (sv.back() == '\n' || sv.back() == '\r')) sv.remove_suffix(1);
  return sv;
}

std::string_view SourceManager::slice(const SourceRange& range) const {
  if (!range.valid()) return {};
  const std::string& t = files_.at(range.begin.file).text;
  if (range.begin.offset >= t.size()) return {};
  return std::string_view(t).substr(range.begin.offset, range.length);
}

SourceLoc SourceManager::locate(FileId id, uint32_t offset) const {
  const File& f = files_.at(id);
  auto it = std::upper_bound(f.lineStarts.begin(), f.lineStarts.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - f.lineStarts.begin());
  return SourceLoc{id, line, offset - f.lineStarts[line - 1] + 1, offset};
}

std::string SourceManager::describe(const SourceLoc& at) const {
  if (at.file == kNoFile) return "<unknown>";
  SourceLoc loc = original(SourceRange{at, 0}).begin;
  return path(loc.file) + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

void SourceManager::setLineOrigins(FileId generated, std::vector<SourceRange> origins) {
  files_.at(generated).lineOrigins = std::move(origins);
}

SourceRange SourceManager::original(const SourceRange& range) const {
  if (range.begin.file == kNoFile || range.begin.file >= files_.size()) return range;
  const auto& origins = files_[range.begin.file].lineOrigins;
  if (range.begin.line == 0 || range.begin.line > origins.size()) return range;
  const SourceRange& o = origins[range.begin.line - 1];
  return o.valid() ? o : range;
}

}  // namespace membrane
