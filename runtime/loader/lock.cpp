// See lock.h: the node lock, an flock on <state dir>/lock naming its holder.
#include "loader/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/file.h"
#include "io/json.h"

namespace membrane::loader {

namespace fs = std::filesystem;

namespace {

std::string utcNow() {
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// The note in the lock file only helps waiters name the holder; failing to
// write or clear it changes nothing about the lock.
void ignoreResult(long) {}

std::string secondsText(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

std::string NodeLock::lockPath(const std::string& stateDir) { return (fs::path(stateDir) / "lock").string(); }

std::string NodeLock::holder(const std::string& stateDir) {
  auto text = io::readRegularFile(lockPath(stateDir), 64 * 1024, "the lock file", nullptr);
  if (!text || text->empty()) return "";
  auto doc = io::parseJsonStrictly(*text, nullptr);
  if (!doc || !doc->value.is_object()) return "";
  const auto& j = doc->value;
  std::string out = "pid " + (j.contains("pid") ? j["pid"].dump() : std::string("?"));
  std::string command = j.value("command", std::string());
  std::string started = j.value("started", std::string());
  out += " (" + command + (command.empty() || started.empty() ? "" : ", ") +
         (started.empty() ? "" : "since " + started) + ")";
  return out;
}

std::optional<NodeLock> NodeLock::acquire(const std::string& stateDir, const std::string& command,
                                          std::chrono::milliseconds timeout,
                                          const std::function<void(const std::string&)>& onWait, std::string* error) {
  std::error_code ec;
  fs::create_directories(stateDir, ec);
  std::string path = lockPath(stateDir);
  // O_NOFOLLOW and the S_ISREG check: the lock is this file, not whatever a
  // symlink or a FIFO planted there leads to.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) {
    if (error) *error = "cannot open the lock '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  NodeLock lock(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (error) *error = "the lock '" + path + "' is not a regular file";
    return std::nullopt;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool told = false;
  std::string who;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      if (error) *error = "cannot lock '" + path + "': " + std::strerror(errno);
      return std::nullopt;
    }
    // The holder writes who it is right after it took the lock: an empty
    // file is one that has not yet; wait a moment for its name.
    if (std::string now = holder(stateDir); !now.empty()) who = now;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      if (error)
        *error = std::string(kNodeBusy) + ": " + (who.empty() ? "a process holding " + path : who) +
                 "; gave up after " + secondsText(timeout) + " (--lock-timeout)";
      return std::nullopt;
    }
    if (!told && onWait &&
        (!who.empty() ||
         timeout - std::chrono::duration_cast<std::chrono::milliseconds>(left) >= std::chrono::milliseconds(200))) {
      onWait("waiting for " + (who.empty() ? "the process holding " + path : who) + " to finish (up to " +
             secondsText(timeout) + ")");
      told = true;
    }
    // Tried again every 2 ms for the first 200 ms, then every 20: a join
    // behind the agent's trie write (which holds the lock a few ms, often)
    // would otherwise miss the moments it is free for a poll interval each.
    auto waited = timeout - left;
    auto every = waited < std::chrono::milliseconds(200) ? std::chrono::milliseconds(2) : std::chrono::milliseconds(20);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, every));
  }
  lock.held_ = true;
  nlohmann::json me = {{"pid", getpid()}, {"command", command}, {"started", utcNow()}};
  std::string text = me.dump() + "\n";
  // Best effort: the lock holds whether or not the note is written.
  if (ftruncate(fd, 0) == 0) ignoreResult(pwrite(fd, text.data(), text.size(), 0));
  return lock;
}

NodeLock::NodeLock(NodeLock&& other) noexcept : fd_(other.fd_), held_(other.held_) { other.fd_ = -1; }

NodeLock::~NodeLock() {
  if (fd_ < 0) return;
  // Nobody holds it after this: a waiter reading the file must not name us.
  if (held_) ignoreResult(ftruncate(fd_, 0));
  close(fd_);  // releases the flock
}

}  // namespace membrane::loader
