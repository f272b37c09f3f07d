// The node lock: every command that changes the node (apply, detach,
// endpoint add/remove) holds it from before it reads the state until after
// it wrote it, so two of them never interleave. Two applies at once would
// otherwise each swap some hooks, each record their own version, and the
// second would unpin the trie the first one's programs read.
//
// It is an exclusive flock(2) on <state dir>/lock. The holder writes its pid,
// command and start time into the file, so that a waiting command can say
// whom it waits for; the kernel drops the lock when the holder exits, however
// it exits, so a crash never leaves the node locked. Read-only commands
// (status, events) do not take it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace membrane::loader {

// How the error of a command that gave up waiting for the node lock begins
// (loader::nodeBusy tells it apart).
inline constexpr std::string_view kNodeBusy = "another membrane is changing this node";

class NodeLock {
 public:
  // Takes the lock of `stateDir` (created if missing) for `command`. When
  // another process holds it, calls `onWait` once with a line naming the
  // holder, and retries until `timeout` has passed (0: do not wait). On
  // failure returns nullopt, `error` naming the holder:
  //   "another membrane is changing this node: pid 4242 (membrane apply /x
  //    --node n.json, since 2026-12-04T05:40:01Z); gave up after 60 s"
  static std::optional<NodeLock> acquire(const std::string& stateDir, const std::string& command,
                                         std::chrono::milliseconds timeout,
                                         const std::function<void(const std::string&)>& onWait, std::string* error);

  NodeLock(NodeLock&& other) noexcept;
  NodeLock& operator=(NodeLock&&) = delete;
  NodeLock(const NodeLock&) = delete;
  ~NodeLock();  // releases it

  // "pid 4242 (membrane apply ..., since 2026-12-04T05:40:01Z)" from the lock
  // file of `stateDir`, or "" when nobody has written one there.
  static std::string holder(const std::string& stateDir);
  static std::string lockPath(const std::string& stateDir);

 private:
  explicit NodeLock(int fd) : fd_(fd) {}
  int fd_ = -1;
  bool held_ = false;  // only the holder clears the note on release
};

}  // namespace membrane::loader
