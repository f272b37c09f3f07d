// Captures libbpf's messages (verifier logs included) for the duration of an
// operation, so they can go into an error message instead of stderr. libbpf
// has one process-wide print callback: captures are serialized. Within one,
// worker threads can capture their own messages (ThreadLog).
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

// While alive (and a LibbpfLog is), libbpf's messages on this thread go here
// instead of into the LibbpfLog.
class ThreadLog {
 public:
  ThreadLog();
  ~ThreadLog();
  ThreadLog(const ThreadLog&) = delete;
  ThreadLog& operator=(const ThreadLog&) = delete;

  const std::string& text() const { return text_; }
  void clear() { text_.clear(); }
  std::string tail(size_t lines = 12) const;

 private:
  std::string text_;
  std::string* previous_;
};

// The last `lines` lines of `text`.
std::string lastLines(const std::string& text, size_t lines);

}  // namespace membrane::loader
