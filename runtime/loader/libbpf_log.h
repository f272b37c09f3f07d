// Captures libbpf's messages (verifier logs included) for the duration of an
// operation, so they can go into an error message instead of stderr. libbpf
// has one process-wide print callback: captures are serialized.
#pragma once

#include <mutex>
#include <string>

namespace membrane::loader {

class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  const std::string& text() const { return text_; }
  void clear() { text_.clear(); }
  // The last lines: where a verifier gave up and why.
  std::string tail(size_t lines = 12) const;

 private:
  std::unique_lock<std::mutex> lock_;
  std::string text_;
  void* previous_;
};

}  // namespace membrane::loader
