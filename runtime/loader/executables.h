// The executables of process rules, as the node finds them (docs/process.md):
// each path of a class's manifest entry resolved in an endpoint's root to
// the file it names, by (device, inode) as the kernel sees a task's
// executable, and written into that endpoint's mb_process_exe.
//
// Resolution follows symbolic links, inside the root: an absolute link or
// ".." never leaves it (openat2 RESOLVE_IN_ROOT). What is resolved is the
// file at apply time: a file later put at the path (a new inode) is not
// allowed until the next apply; one written over in place (the same inode)
// still is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "abi/datapath.h"

namespace membrane::loader {

// `path` (absolute, labels::executablePathProblem-clean) under `root`, to
// the regular file it names; nullopt with `why` when there is none.
std::optional<mb_process_exe_key> resolveExecutable(const std::string& root, const std::string& path,
                                                    std::string* why);

// Fills mb_process_exe (`mapFd`): each resolved file → the bits of every
// path of `executables` naming it (bit i for executables[i]). Paths that
// name nothing there go to `missing` with why; a rule naming only those
// lets no call through on this endpoint. False with `error` when the map
// refuses an entry.
bool fillExecutables(int mapFd, const std::vector<std::string>& executables, const std::string& root,
                     std::vector<std::string>* missing, std::string* error);

}  // namespace membrane::loader
