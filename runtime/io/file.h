// Reading input files that may be hostile: a path named on a command line or
// in a manifest can be a FIFO, a device (/dev/zero never ends), a directory
// or a file far larger than any real input. Every reader of policies,
// inventories, manifests, NODE.json, state and objects goes through here, so
// all of them refuse such paths the same way, with the same words.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace membrane::io {

constexpr size_t kMiB = size_t{1} << 20;

// The whole content of `path` if it is a regular file (symlinks are followed)
// of at most `maxBytes`. Otherwise nullopt, and `error` says why, naming
// `what` ("policy file", "NODE.json", ...) and the path:
//   "cannot open 'x': No such file or directory"
//   "'x' is not a regular file (a FIFO); a policy file must be a file"
//   "'x' is 120 MiB; membrane reads policy files of at most 64 MiB"
// Opening never blocks (a FIFO without a writer is refused, not waited on).
std::optional<std::string> readRegularFile(const std::string& path, size_t maxBytes, const std::string& what,
                                           std::string* error);

// "64 MiB", "512 KiB", "100 bytes": sizes in messages.
std::string sizeText(size_t bytes);

// Replaces `path` with `data` through a temporary file of its own next to it
// ("<path>.tmp.XXXXXX"), synced, and a rename, so a reader sees the old
// content or the new, never a part, even with other writers of `path` at
// once or after a crash (state files the node and its agent keep). False
// with `error` set when it cannot; the temporary file is then gone.
// `synced` false skips the sync, for files whose readers detect a torn
// write themselves (the compiler's cache entries carry their hash).
bool writeFileAtomically(const std::string& path, std::string_view data, std::string* error, bool synced = true);

}  // namespace membrane::io
