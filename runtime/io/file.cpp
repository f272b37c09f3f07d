// See file.h: bounded reads of regular files only.
#include "io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace membrane::io {

namespace {

const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

bool fail(std::string* error, const std::string& message) {
  if (error) *error = message;
  return false;
}

}  // namespace

std::string sizeText(size_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kMiB) return std::to_string((bytes + kMiB / 2) / kMiB) + " MiB";
  if (bytes >= 1024) return std::to_string((bytes + 512) / 1024) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

std::optional<std::string> readRegularFile(const std::string& path, size_t maxBytes, const std::string& what,
                                           std::string* error) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  FdCloser f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    fail(error, "cannot open '" + path + "': " + std::strerror(errno));
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    fail(error, "cannot read '" + path + "': " + std::strerror(errno));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    fail(error, "'" + path + "' is not a regular file (" + kindOf(st.st_mode) + "); " + what + " must be a file");
    return std::nullopt;
  }
  // `size` is known from stat; a file that grew while read is only known to
  // be past the cap.
  auto tooBig = [&](std::optional<size_t> size) {
    fail(error, "'" + path + "' is " + (size ? sizeText(*size) : "larger than " + sizeText(maxBytes)) +
                    "; membrane reads " + what + " of at most " + sizeText(maxBytes));
    return std::nullopt;
  };
  if (static_cast<unsigned long long>(st.st_size) > maxBytes) return tooBig(static_cast<size_t>(st.st_size));
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t have = 0;
  // The file may change while it is read: read until EOF, but never past the cap.
  for (;;) {
    if (have == text.size()) {
      if (text.size() > maxBytes) return tooBig(std::nullopt);
      text.resize(std::min(maxBytes + 1, std::max<size_t>(text.size() * 2, 4096)));
    }
    ssize_t n = ::read(f.fd, text.data() + have, text.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(error, "cannot read '" + path + "': " + std::strerror(errno));
      return std::nullopt;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > maxBytes) return tooBig(std::nullopt);
  text.resize(have);
  return text;
}

bool writeFileAtomically(const std::string& path, std::string_view data, std::string* error, bool synced) {
  // A temporary name of this write's own: writers of one path at once (the
  // node and its agent, two commands) must not write into one file.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const std::string& what) {
    int saved = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    if (error) *error = "cannot write '" + what + "': " + std::strerror(saved);
    return false;
  };
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(tmp);
    done += static_cast<size_t>(n);
  }
  // On disk before it takes the name: after a crash the file is the old
  // content or the new, never an empty one. mkostemp creates 0600; these
  // files are read by others (a node's state, fetched artifacts), as a
  // plain create would leave them.
  if (::fchmod(fd, 0644) != 0 || (synced && ::fsync(fd) != 0)) return fail(tmp);
  if (::close(fd) != 0) {
    fd = -1;
    return fail(tmp);
  }
  fd = -1;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail(path);
  return true;
}

}  // namespace membrane::io
