#include "libbpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>

namespace membrane::libbpf {

namespace {
std::mutex captureMutex;
std::string* active = nullptr;
std::mutex activeMutex;  // worker threads append to `active` too
thread_local std::string* threadCapture = nullptr;

int collect(enum libbpf_print_level level, const char* format, va_list args) {
  if (!active || level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), format, args);
  line.pop_back();
  if (threadCapture) {
    *threadCapture += line;
  } else {
    std::lock_guard<std::mutex> guard(activeMutex);
    *active += line;
  }
  return 0;
}
}  // namespace

LibbpfLog::LibbpfLog() : lock_(captureMutex) {
  active = &text_;
  previous_ = reinterpret_cast<void*>(libbpf_set_print(collect));
}

LibbpfLog::~LibbpfLog() {
  libbpf_set_print(reinterpret_cast<libbpf_print_fn_t>(previous_));
  active = nullptr;
}

ThreadLog::ThreadLog() : previous_(threadCapture) { threadCapture = &text_; }
ThreadLog::~ThreadLog() { threadCapture = previous_; }

std::string CapturedText::tail(size_t lines) const {
  size_t pos = text_.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) pos = text_.rfind('\n', pos - 1);
  return pos == std::string::npos ? text_ : text_.substr(pos + 1);
}

}  // namespace membrane::libbpf
