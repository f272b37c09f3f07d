// Captures libbpf's messages (verifier logs included) for the duration of an
// operation, so they can go into an error message instead of stderr. libbpf
// has one process-wide print callback: captures are serialized. Within one,
// worker threads can capture their own messages (ThreadLog).
#pragma once

#include <mutex>
#include <string>

namespace membrane::libbpf {

// The text a capture collected.
class CapturedText {
 public:
  const std::string& text() const { return text_; }
  void clear() { text_.clear(); }
  // The last lines: where a verifier gave up and why.
  std::string tail(size_t lines = 12) const;

 protected:
  std::string text_;
};

// Installs the capturing print callback; messages of threads without a
// ThreadLog land here.
class LibbpfLog : public CapturedText {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  void* previous_;
};

// While alive (and a LibbpfLog is), libbpf's messages on this thread go here.
class ThreadLog : public CapturedText {
 public:
  ThreadLog();
  ~ThreadLog();
  ThreadLog(const ThreadLog&) = delete;
  ThreadLog& operator=(const ThreadLog&) = delete;

 private:
  std::string* previous_;
};

}  // namespace membrane::libbpf
