#include "topology.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace membrane::e2e {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kNetnsDir = "/run/netns";

std::string errnoText(int e) { return std::system_category().message(e); }

[[noreturn]] void throwErrno(const std::string& what, int e = errno) {
  throw std::runtime_error(what + ": " + errnoText(e));
}

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// One random token per process: with the pid it makes names unique even
// when a crashed run's pid is reused.
const std::string& processToken() {
  static const std::string token = [] {
    std::random_device rd;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", static_cast<unsigned>(rd() & 0xffff));
    return std::string(buf);
  }();
  return token;
}

std::atomic<int> topologySeq{0};

std::string findExecutable(const std::string& name) {
  if (name.empty())
    return {};
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  if (const char* env = std::getenv("PATH"); env && *env)
    path = std::string(env) + ":/usr/sbin:/sbin";  // ip often lives in sbin
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty())
      continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC

// The cgroup v2 hierarchy: /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup.
std::string cgroup2Root() {
  for (const char* dir : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs fs {};
    if (::statfs(dir, &fs) == 0 && static_cast<long>(fs.f_type) == kCgroup2Magic)
      return dir;
  }
  return {};
}

// Kills everything in cgroup directory `dir` (and below), then removes its
// subdirectories and itself, waiting up to 2 s for the dying. Never throws.
void killAndRemoveCgroup(const std::string& dir) noexcept {
  std::vector<std::string> dirs = {dir};
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        dirs.insert(dirs.begin(), dir + "/" + e->d_name);  // children first
    ::closedir(d);
  } else {
    return;  // already gone
  }
  for (const auto& d : dirs) {
    const int fd = ::open((d + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t ignored = ::write(fd, "1", 1);
      ::close(fd);
    }
  }
  const auto deadline = Clock::now() + Millis(2000);
  for (const auto& d : dirs) {
    while (::rmdir(d.c_str()) != 0 && errno == EBUSY && Clock::now() < deadline)
      std::this_thread::sleep_for(Millis(2));
  }
}

// In a forked child (async-signal-safe calls only): a private mount
// namespace whose changes do not propagate back, then each bind mount.
bool applyOverlays(const std::vector<FileOverlay>& overlays) {
  if (::unshare(CLONE_NEWNS) != 0)
    return false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return false;
  for (const auto& o : overlays)
    if (::mount(o.source.c_str(), o.target.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return false;
  return true;
}

std::string netnsPath(const std::string& ns) {
  return ns.empty() || ns[0] == '/' ? ns : std::string(kNetnsDir) + "/" + ns;
}

// Runs `fn` on a fresh thread that has joined network namespace `ns`; only
// that thread changes namespace. Exceptions propagate.
void inNamespace(const std::string& ns, const std::function<void()>& fn) {
  Fd nsFd(::open(netnsPath(ns).c_str(), O_RDONLY | O_CLOEXEC));
  if (nsFd.get() < 0)
    throwErrno("open netns " + ns);
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      if (::setns(nsFd.get(), CLONE_NEWNET) != 0)
        throwErrno("setns " + ns);
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure)
    std::rethrow_exception(failure);
}

void writeSysctl(const std::string& ns, const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/" + key;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0)
    throwErrno("open " + path + " in " + ns);
  const std::string line = value + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throwErrno("write " + path + " = " + value + " in " + ns);
}

bool validName(std::string_view s, std::size_t maxLen, bool allowUpperDot) {
  if (s.empty() || s.size() > maxLen)
    return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           (allowUpperDot && ((c >= 'A' && c <= 'Z') || c == '_' || c == '.'));
  });
}

// "<prefix>-<pid>-<token>-..." -> pid and token, if `name` has that form.
bool parseName(std::string_view name, std::string_view prefix, pid_t& pid, std::string& token) {
  if (name.size() <= prefix.size() + 1 || name.substr(0, prefix.size()) != prefix ||
      name[prefix.size()] != '-')
    return false;
  std::string_view rest = name.substr(prefix.size() + 1);
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 9 || digits >= rest.size() || rest[digits] != '-')
    return false;
  pid = static_cast<pid_t>(std::stol(std::string(rest.substr(0, digits))));
  rest = rest.substr(digits + 1);
  token = std::string(rest.substr(0, rest.find('-')));
  return true;
}

// Kills every process (other than this one) whose network namespace is one
// of `names` and waits (up to 2 s) until they are dead, then unmounts and
// unlinks the namespace files, as `ip netns delete` does. Never throws.
void killAndDelete(const std::vector<std::string>& names) noexcept {
  std::set<std::pair<dev_t, ino_t>> ids;
  for (const auto& n : names) {
    struct stat st {};
    if (::stat(netnsPath(n).c_str(), &st) == 0)
      ids.insert({st.st_dev, st.st_ino});
  }
  std::vector<pollfd> dying;
  if (!ids.empty()) {
    if (DIR* proc = ::opendir("/proc")) {
      const pid_t self = ::getpid();
      while (const dirent* e = ::readdir(proc)) {
        char* end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == self)
          continue;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
        struct stat st {};
        if (::stat(path, &st) != 0 || !ids.count({st.st_dev, st.st_ino}))
          continue;
        // Through a pidfd: no pid-reuse race, and we can wait for the end.
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0)
          dying.push_back({pidfd, POLLIN, 0});
        else if (pidfd >= 0)
          ::close(pidfd);
        else
          ::kill(static_cast<pid_t>(pid), SIGKILL);
      }
      ::closedir(proc);
    }
  }
  const auto deadline = Clock::now() + Millis(2000);
  while (!dying.empty() && Clock::now() < deadline) {
    const int ms = static_cast<int>(
        std::max<long>(1, std::chrono::ceil<Millis>(deadline - Clock::now()).count()));
    if (::poll(dying.data(), dying.size(), ms) < 0 && errno != EINTR)
      break;
    std::vector<pollfd> still;
    for (const pollfd& p : dying) {
      if (p.revents)
        ::close(p.fd);
      else
        still.push_back({p.fd, POLLIN, 0});
    }
    dying = std::move(still);
  }
  for (const pollfd& p : dying)
    ::close(p.fd);
  for (const auto& n : names) {
    const std::string path = netnsPath(n);
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
  }
}

// In a forked child (async-signal-safe): installs each of `from` as fd
// `to[i]`, without CLOEXEC, whatever numbers they had (even 0..3 or each
// other's targets).
bool installFds(const int* from, const int* to, int n) {
  int moved[8];
  for (int i = 0; i < n; ++i)
    if ((moved[i] = ::fcntl(from[i], F_DUPFD_CLOEXEC, 16)) < 0)
      return false;
  for (int i = 0; i < n; ++i)
    if (::dup2(moved[i], to[i]) < 0)
      return false;
  return true;
}

void setNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0)
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

// Pod k's addresses: 198.18.A.B and 2001:2::A:B, A = k / 200, B = 10 + k % 200.
std::pair<std::string, std::string> podAddresses(int k) {
  const int a = k / 200;
  const int b = 10 + k % 200;
  char v4[32];
  char v6[48];
  std::snprintf(v4, sizeof v4, "198.18.%d.%d", a, b);
  if (a == 0)
    std::snprintf(v6, sizeof v6, "2001:2::%d", b);
  else
    std::snprintf(v6, sizeof v6, "2001:2::%d:%d", a, b);
  return {v4, v6};
}

}  // namespace

// ---------------------------------------------------------------- ExecResult

std::string ExecResult::describe() const {
  std::ostringstream os;
  if (timedOut)
    os << "timed out (killed)";
  else if (termSignal)
    os << "killed by signal " << termSignal;
  else
    os << "exit " << exitCode;
  os << " after " << elapsed.count() << " ms";
  if (!out.empty())
    os << "; stdout: " << trimmed(out);
  if (!err.empty())
    os << "; stderr: " << trimmed(err);
  return os.str();
}

// ------------------------------------------------------------------- Process

Process::~Process() { release(); }

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    outFd_ = std::exchange(other.outFd_, -1);
    errFd_ = std::exchange(other.errFd_, -1);
    exited_ = std::exchange(other.exited_, false);
    status_ = std::exchange(other.status_, 0);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
    started_ = other.started_;
    ended_ = other.ended_;
  }
  return *this;
}

void Process::release() noexcept {
  if (pid_ > 0 && !exited_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
  }
  for (int* fd : {&pidfd_, &outFd_, &errFd_}) {
    if (*fd >= 0)
      ::close(*fd);
    *fd = -1;
  }
  pid_ = -1;
}

void Process::signal(int sig) {
  if (pid_ <= 0 || exited_)
    return;
  reapIfExited();  // never signal a reaped (and possibly reused) pid
  if (exited_)
    return;
  if (::kill(-pid_, sig) != 0)
    ::kill(pid_, sig);
}

void Process::reapIfExited() {
  if (pid_ <= 0 || exited_)
    return;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    status_ = r == pid_ ? st : 0;
    ended_ = Clock::now();
  }
}

// Reads whatever the pipes hold without blocking; closes them at EOF.
void Process::drain() {
  char buf[16384];
  for (auto [fd, into] : {std::pair{&outFd_, &out_}, std::pair{&errFd_, &err_}}) {
    while (*fd >= 0) {
      const ssize_t n = ::read(*fd, buf, sizeof buf);
      if (n > 0) {
        into->append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        ::close(*fd);
        *fd = -1;
      }
      break;
    }
  }
}

template <typename Done>
bool Process::pump(Clock::time_point deadline, Done done) {
  for (;;) {
    reapIfExited();
    drain();
    if (done())
      return true;
    if (pid_ <= 0 || (exited_ && outFd_ < 0 && errFd_ < 0))
      return false;
    const auto now = Clock::now();
    if (now >= deadline)
      return false;
    pollfd fds[3];
    nfds_t n = 0;
    if (outFd_ >= 0)
      fds[n++] = {outFd_, POLLIN, 0};
    if (errFd_ >= 0)
      fds[n++] = {errFd_, POLLIN, 0};
    if (!exited_ && pidfd_ >= 0)
      fds[n++] = {pidfd_, POLLIN, 0};
    auto ms = std::chrono::ceil<Millis>(deadline - now).count();
    if (!exited_ && pidfd_ < 0)
      ms = std::min<decltype(ms)>(ms, 10);  // no pidfd: poll for the exit
    ms = std::min<decltype(ms)>(ms, 60000);
    if (::poll(fds, n, static_cast<int>(ms)) < 0 && errno != EINTR)
      return done();
  }
}

bool Process::running() {
  pump(Clock::now(), [] { return false; });
  return pid_ > 0 && !exited_;
}

bool Process::waitForOutput(std::string_view needle, Millis timeout) {
  return pump(Clock::now() + timeout, [&] { return out_.find(needle) != std::string::npos; });
}

ExecResult Process::result(bool timedOut) const {
  ExecResult r;
  if (WIFEXITED(status_))
    r.exitCode = WEXITSTATUS(status_);
  else if (WIFSIGNALED(status_))
    r.termSignal = WTERMSIG(status_);
  r.timedOut = timedOut;
  r.out = out_;
  r.err = err_;
  r.elapsed = std::chrono::duration_cast<Millis>((exited_ ? ended_ : Clock::now()) - started_);
  return r;
}

ExecResult Process::wait(Millis timeout) {
  if (pid_ <= 0)
    throw std::logic_error("Process::wait on an empty Process");
  bool timedOut = false;
  if (!pump(Clock::now() + timeout, [&] { return exited_; })) {
    timedOut = true;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    pump(Clock::now() + Millis(5000), [&] { return exited_; });
    if (!exited_) {  // stuck in the kernel: block until it goes
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
      exited_ = true;
      status_ = st;
      ended_ = Clock::now();
    }
  }
  // Output still in the pipes; a grandchild holding them open must not keep
  // us here for long.
  pump(Clock::now() + Millis(200), [&] { return outFd_ < 0 && errFd_ < 0; });
  return result(timedOut);
}

ExecResult Process::stop(Millis grace) {
  if (pid_ <= 0)
    throw std::logic_error("Process::stop on an empty Process");
  signal(SIGTERM);
  return wait(grace);
}

Process spawnProcess(const std::string& ns, const std::vector<std::string>& argv,
                     const std::string* input, const std::string& cgroup,
                     const std::vector<FileOverlay>& overlays) {
  if (argv.empty())
    throw std::invalid_argument("spawnProcess: empty argv");
  const std::string path = findExecutable(argv[0]);
  if (path.empty())
    throw std::runtime_error("spawnProcess: cannot find executable '" + argv[0] + "'");

  Fd nsFd;
  if (!ns.empty()) {
    nsFd = Fd(::open(netnsPath(ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (nsFd.get() < 0)
      throwErrno("spawnProcess: open netns " + netnsPath(ns));
  }
  Fd procs;
  if (!cgroup.empty()) {
    procs = Fd(::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (procs.get() < 0)
      throwErrno("spawnProcess: open " + cgroup + "/cgroup.procs");
  }
  Fd in;
  if (input) {
    in = Fd(static_cast<int>(::syscall(SYS_memfd_create, "mbe2e-stdin", MFD_CLOEXEC)));
    if (in.get() < 0)
      throwErrno("spawnProcess: memfd_create");
    std::size_t done = 0;
    while (done < input->size()) {
      const ssize_t n = ::write(in.get(), input->data() + done, input->size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        throwErrno("spawnProcess: write stdin");
      done += static_cast<std::size_t>(n);
    }
    ::lseek(in.get(), 0, SEEK_SET);
  } else {
    in = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (in.get() < 0)
      throwErrno("spawnProcess: open /dev/null");
  }
  int outPipe[2], errPipe[2], failPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0)
    throwErrno("pipe2");
  Fd outR(outPipe[0]), outW(outPipe[1]);
  if (::pipe2(errPipe, O_CLOEXEC) != 0)
    throwErrno("pipe2");
  Fd errR(errPipe[0]), errW(errPipe[1]);
  if (::pipe2(failPipe, O_CLOEXEC) != 0)
    throwErrno("pipe2");
  Fd failR(failPipe[0]), failW(failPipe[1]);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const auto started = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0)
    throwErrno("fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only (the parent may have threads).
    int failure[2] = {0, 0};
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
      ::sigaction(sig, &dfl, nullptr);
    if (nsFd.get() >= 0 && ::setns(nsFd.get(), CLONE_NEWNET) != 0) {
      failure[0] = 1;
    } else if (procs.get() >= 0 && ::write(procs.get(), "0", 1) != 1) {
      failure[0] = 4;
    } else if (!overlays.empty() && !applyOverlays(overlays)) {
      failure[0] = 5;
    } else if (const int from[] = {in.get(), outW.get(), errW.get()}, to[] = {0, 1, 2};
               !installFds(from, to, 3)) {
      failure[0] = 2;
    } else {
      ::execve(path.c_str(), args.data(), environ);
      failure[0] = 3;
    }
    failure[1] = errno;
    [[maybe_unused]] ssize_t ignored = ::write(failW.get(), failure, sizeof failure);
    ::_exit(127);
  }
  outW.reset();
  errW.reset();
  failW.reset();
  int failure[2] = {0, 0};
  ssize_t n;
  while ((n = ::read(failR.get(), failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    static const char* stages[] = {"", "setns", "dup2", "execve", "join cgroup", "mount file overlays"};
    const std::string stage = failure[0] >= 1 && failure[0] <= 5 ? stages[failure[0]] : "?";
    throw std::runtime_error("spawnProcess: cannot start " + path + " in netns '" + ns +
                             "': " + stage + ": " + errnoText(failure[1]));
  }

  Process p;
  p.pid_ = pid;
  p.started_ = started;
  p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  p.outFd_ = outR.release();
  p.errFd_ = errR.release();
  setNonBlocking(p.outFd_);
  setNonBlocking(p.errFd_);
  return p;
}

// ----------------------------------------------------------------------- Pod

ExecResult Pod::exec(const std::vector<std::string>& argv, Millis timeout) const {
  return spawnProcess(netns_, argv, nullptr, cgroup_, overlays_).wait(timeout);
}

Process Pod::spawn(const std::vector<std::string>& argv) const {
  return spawnProcess(netns_, argv, nullptr, cgroup_, overlays_);
}

void Pod::overlayFile(const std::string& target, const std::string& source) {
  if (target.empty() || target[0] != '/' || source.empty() || source[0] != '/')
    throw std::invalid_argument("Pod::overlayFile: paths must be absolute ('" + target + "', '" + source + "')");
  for (auto& o : overlays_)
    if (o.target == target) {
      o.source = source;
      return;
    }
  overlays_.push_back({target, source});
}

// ------------------------------------------------------------------ Topology

Topology::Topology(std::string prefix) : prefix_(std::move(prefix)) {
  if (!validName(prefix_, 24, true))
    throw std::invalid_argument("Topology: bad prefix '" + prefix_ +
                                "' (want [A-Za-z0-9_.-], 1..24 characters)");
  ip_ = findExecutable("ip");
  if (ip_.empty())
    throw std::runtime_error("Topology: iproute2 'ip' not found");
  tag_ = prefix_ + "-" + std::to_string(::getpid()) + "-" + processToken() + "-" +
         std::to_string(++topologySeq);
  hostNs_ = tag_ + "-host";
  if (const std::string root = cgroup2Root(); root.empty())
    cgroupUnavailable_ = "no cgroup v2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup";
  else if (::access(root.c_str(), W_OK) != 0)
    cgroupUnavailable_ = root + " is not writable: " + errnoText(errno);
  else
    cgroupDir_ = root + "/" + tag_;
  removeStale(prefix_);
  startGuardian();
}

Topology::~Topology() {
  down();
  if (guardianFd_ >= 0)
    ::close(guardianFd_);  // the guardian sees EOF, finds nothing left, exits
}

// The guardian: a shell, detached (own session, reparented away from us so a
// process-tree kill of this process does not reach it), that waits for EOF on
// a pipe only this process holds and then kills and deletes whatever
// namespaces with our tag are left. It does nothing after a normal down().
void Topology::startGuardian() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    throwErrno("Topology: pipe2");
  Fd readEnd(p[0]), writeEnd(p[1]);
  // The guardian reports on this one that it is in place (its fd 4).
  if (::pipe2(p, O_CLOEXEC) != 0)
    throwErrno("Topology: pipe2");
  Fd readyRead(p[0]), readyWrite(p[1]);
  Fd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (devNull.get() < 0)
    throwErrno("Topology: open /dev/null");
  // The tag and ip_ are safe inside single quotes: [A-Za-z0-9_.-] and a path
  // we found on disk (checked here).
  if (ip_.find('\'') != std::string::npos)
    throw std::runtime_error("Topology: unusable ip path " + ip_);
  std::string cgroupCleanup;
  if (!cgroupDir_.empty()) {
    const std::string d = "'" + cgroupDir_ + "'";
    cgroupCleanup = " for c in " + d + "/*/ " + d + "/; do [ -d \"$c\" ] && echo 1 > \"${c}cgroup.kill\"; done;"
                    " for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do"
                    " rmdir " + d + "/*/ " + d + "; [ -d " + d + " ] || break; sleep 0.1; done;";
  }
  const std::string script =
      "( trap '' HUP INT TERM QUIT; echo ready >&4; exec 4>&-;"
      " while read -r _; do :; done;"
      " for f in " + std::string(kNetnsDir) + "/" + tag_ + "-*; do"
      " [ -e \"$f\" ] || continue; n=\"${f##*/}\";"
      " for p in $('" + ip_ + "' netns pids \"$n\" 2>/dev/null); do kill -9 \"$p\"; done;"
      " '" + ip_ + "' netns delete \"$n\";"
      " done;" + cgroupCleanup +
      " ) <&3 3<&- >/dev/null 2>&1 &";
  const char* args[] = {"sh", "-c", script.c_str(), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0)
    throwErrno("Topology: fork");
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int from[] = {devNull.get(), devNull.get(), devNull.get(), readEnd.get(),
                        readyWrite.get()};
    const int to[] = {0, 1, 2, 3, 4};
    if (!installFds(from, to, 5))
      ::_exit(126);
    ::execve("/bin/sh", const_cast<char* const*>(args), environ);
    ::_exit(127);
  }
  readyWrite.reset();
  readEnd.reset();
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  // "ready" once the guardian runs with its pipe; EOF without it if not.
  char buf[8] = {};
  ssize_t n;
  while ((n = ::read(readyRead.get(), buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n < 5 || std::strncmp(buf, "ready", 5) != 0)
    throw std::runtime_error("Topology: cannot start the cleanup guardian (/bin/sh)");
  guardianFd_ = writeEnd.release();
}

Pod& Topology::addPod(const std::string& name, const std::string& onNode) {
  if (!validName(name, 32, false) || name == "host")
    throw std::invalid_argument("Topology: bad pod name '" + name +
                                "' (want [a-z0-9-], 1..32 characters, not 'host')");
  const std::string& hostNetns = onNode.empty() ? hostNs_ : node(onNode).netns;
  for (const auto& p : pods_)
    if (p->name_ == name)
      throw std::invalid_argument("Topology: pod '" + name + "' already exists");
  auto pod = std::make_unique<Pod>();
  pod->name_ = name;
  pod->index_ = nextIndex_++;
  pod->netns_ = tag_ + "-" + name;
  pod->hostInterface_ = "mbh" + std::to_string(pod->index_);
  pod->hostNetns_ = hostNetns;
  pod->node_ = onNode;
  if (!cgroupDir_.empty())
    pod->cgroup_ = cgroupDir_ + "/" + name;
  std::tie(pod->address4_, pod->address6_) = podAddresses(pod->index_);
  Pod& ref = *pod;
  pods_.push_back(std::move(pod));
  if (up_)
    createPods({&ref});
  return ref;
}

const std::string& Topology::addNode(const std::string& name) {
  if (!validName(name, 32, false))
    throw std::invalid_argument("Topology: bad node name '" + name + "' (want [a-z0-9-], 1..32 characters)");
  for (const auto& n : nodes_)
    if (n->name == name)
      throw std::invalid_argument("Topology: node '" + name + "' already exists");
  const int k = static_cast<int>(nodes_.size()) + 1;
  if (k > 250)
    throw std::invalid_argument("Topology: at most 250 nodes");
  auto n = std::make_unique<Node>();
  n->name = name;
  n->netns = tag_ + "-node." + name;
  n->address4 = "198.19.254." + std::to_string(k);
  n->address6 = "2001:2:0:fffe::" + std::to_string(k);
  n->fabric = "mbn" + std::to_string(k);
  nodes_.push_back(std::move(n));
  if (up_)
    createPods({});
  return nodes_.back()->netns;
}

const Topology::Node& Topology::node(const std::string& name) const {
  for (const auto& n : nodes_)
    if (n->name == name)
      return *n;
  throw std::invalid_argument("Topology: no node '" + name + "'");
}

const std::string& Topology::nodeNamespace(const std::string& name) const { return node(name).netns; }

// A CIDR as `ip` reads it: only its characters get into a batch.
static void checkPrefix(const char* who, const std::string& prefix) {
  if (prefix.empty() || prefix.find_first_not_of("0123456789abcdefABCDEF.:/") != std::string::npos)
    throw std::invalid_argument(std::string(who) + ": bad prefix '" + prefix + "'");
}

void Topology::routePrefixToNode(const std::string& name, const std::string& prefix) {
  const Node& n = node(name);
  if (!n.created)
    throw std::logic_error("Topology::routePrefixToNode: node '" + name + "' is not up");
  checkPrefix("Topology::routePrefixToNode", prefix);
  const bool v6 = prefix.find(':') != std::string::npos;
  ipBatch(hostNs_, "route add " + prefix + " via " + (v6 ? n.address6 : n.address4) + " dev " + n.fabric + "\n");
}

void Topology::routePrefixToPod(const std::string& name, const std::string& prefix) {
  const Pod& p = pod(name);
  if (!p.created_)
    throw std::logic_error("Topology::routePrefixToPod: pod '" + name + "' is not up");
  if (!p.node_.empty())
    throw std::logic_error("Topology::routePrefixToPod: pod '" + name + "' is on a node");
  // Validated by `ip` itself; only the characters of a CIDR get through, so
  // nothing else can reach its batch.
  checkPrefix("Topology::routePrefixToPod", prefix);
  // Via the pod's own address, not on-link: the node then resolves one
  // neighbour (the pod), not one per address of the prefix, which would
  // overflow its neighbour table (gc_thresh3, 1,024 entries) and need the pod
  // to answer ARP/NDP for addresses it holds only as a local route.
  const bool v6 = prefix.find(':') != std::string::npos;
  ipBatch(hostNs_, "route add " + prefix + " via " + (v6 ? p.address6_ : p.address4_) + " dev " + p.hostInterface_ +
                       " onlink\n");
  ipBatch(p.netns_, "route add local " + prefix + " dev lo\n");
}

void Topology::removePod(const std::string& name) {
  auto it = std::find_if(pods_.begin(), pods_.end(), [&](const auto& p) { return p->name_ == name; });
  if (it == pods_.end())
    throw std::invalid_argument("Topology: no pod '" + name + "'");
  const bool created = (*it)->created_;
  const std::string hostInterface = (*it)->hostInterface_;
  const std::string hostNetns = (*it)->hostNetns_;
  std::string fabricRoutes;  // the host namespace's routes to a node's pod
  if (!(*it)->node_.empty())
    for (const auto* a : {&(*it)->address4_, &(*it)->address6_})
      fabricRoutes += "route del " + *a + (a == &(*it)->address4_ ? "/32" : "/128") + "\n";
  if (created)
    killAndDelete({(*it)->netns_});
  if (!(*it)->cgroup_.empty())
    killAndRemoveCgroup((*it)->cgroup_);
  pods_.erase(it);
  if (!created || !hostCreated_)
    return;
  if (!fabricRoutes.empty())
    exec(hostNs_, {ip_, "-batch", "-"}, Millis(10000), &fabricRoutes);  // best effort: unused when gone
  // The kernel dismantles a namespace asynchronously: until then the pod
  // still answers. Its veth leaving the host namespace marks the end.
  inNamespace(hostNetns, [&] {
    const auto deadline = Clock::now() + Millis(10000);
    while (::if_nametoindex(hostInterface.c_str()) != 0) {
      if (Clock::now() > deadline)
        throw std::runtime_error("Topology: " + hostInterface + " still in " + hostNetns +
                                 " 10 s after its pod was deleted");
      std::this_thread::sleep_for(Millis(2));
    }
  });
}

void Topology::up() {
  if (up_)
    return;
  std::vector<Pod*> pending;
  for (auto& p : pods_)
    if (!p->created_)
      pending.push_back(p.get());
  createPods(pending);
  up_ = true;
}

void Topology::ipBatch(const std::string& ns, const std::string& batch) const {
  ExecResult r = exec(ns, {ip_, "-batch", "-"}, Millis(10000), &batch);
  if (!r.succeeded())
    throw std::runtime_error("Topology: ip -batch in netns '" + (ns.empty() ? "(root)" : ns) +
                             "' failed: " + r.describe() + "\n--- batch ---\n" + batch);
}

void Topology::createPods(const std::vector<Pod*>& pods) {
  auto run = [&](const std::string& ns, const std::string& batch) { ipBatch(ns, batch); };

  // 0. Cgroups: <root>/<tag>/<pod>. Without a usable hierarchy pods simply
  // have none (cgroupUnavailable() says why).
  if (!cgroupDir_.empty() && ::mkdir(cgroupDir_.c_str(), 0755) != 0 && errno != EEXIST) {
    cgroupUnavailable_ = "cannot create " + cgroupDir_ + ": " + errnoText(errno);
    cgroupDir_.clear();
    for (auto& p : pods_)
      p->cgroup_.clear();
  }
  for (Pod* p : pods)
    if (!p->cgroup_.empty() && ::mkdir(p->cgroup_.c_str(), 0755) != 0 && errno != EEXIST)
      throwErrno("Topology: mkdir " + p->cgroup_);

  // 1. The namespaces (in the root namespace: only `netns add`).
  std::string batch;
  std::vector<std::string> fresh;
  std::vector<Node*> freshNodes;
  std::set<std::string> routers;  // namespaces that forward: the host's, the nodes'
  routers.insert(hostNs_);
  if (!hostCreated_)
    fresh.push_back(hostNs_);
  for (auto& n : nodes_) {
    routers.insert(n->netns);
    if (!n->created) {
      freshNodes.push_back(n.get());
      fresh.push_back(n->netns);
    }
  }
  for (Pod* p : pods)
    fresh.push_back(p->netns_);
  for (const auto& ns : fresh)
    batch += "netns add " + ns + "\n";
  if (!hostCreated_)
    hostCreated_ = true;  // down() deletes it even if the batch fails halfway
  for (Node* n : freshNodes)
    n->created = true;
  for (Pod* p : pods)
    p->created_ = true;
  run("", batch);

  // 2. Sysctls, before any veth exists so `default` applies to the new ones.
  const std::string anyGroup = "0 2147483647";
  for (const auto& ns : fresh) {
    const bool router = routers.count(ns) != 0;
    inNamespace(ns, [&] {
      if (router) {
        writeSysctl(ns, "net/ipv4/ip_forward", "1");
        writeSysctl(ns, "net/ipv6/conf/all/forwarding", "1");
        writeSysctl(ns, "net/ipv6/conf/default/forwarding", "1");
      } else {
        writeSysctl(ns, "net/ipv6/conf/default/accept_ra", "0");
        writeSysctl(ns, "net/ipv6/conf/default/router_solicitations", "0");
      }
      writeSysctl(ns, "net/ipv6/conf/all/accept_dad", "0");
      writeSysctl(ns, "net/ipv6/conf/default/accept_dad", "0");
      writeSysctl(ns, "net/ipv4/ping_group_range", anyGroup);
    });
  }

  // 3. The host side: loopback, one fabric veth per new node (peer created
  // directly in the node's namespace), one veth per pod (peer created
  // directly in the pod's namespace as eth0) in the host namespace or its
  // node's, the node's addresses, a route per pod; and in the host
  // namespace a route per node pod to its node.
  std::map<std::string, std::string> batches;  // namespace → its batch
  std::map<std::string, std::vector<std::string>> hostIfaces;  // namespace → veths to wait for
  if (fresh.front() == hostNs_)
    batches[hostNs_] += "link set lo up\n";
  for (Node* n : freshNodes) {
    std::string& b = batches[hostNs_];
    b += "link add " + n->fabric + " type veth peer name fabric netns " + n->netns + "\n";
    b += "link set " + n->fabric + " up\n";
    b += "addr add " + std::string(kFabric4) + "/32 dev " + n->fabric + "\n";
    b += "addr add " + std::string(kFabric6) + "/128 dev " + n->fabric + " nodad\n";
    b += "route add " + n->address4 + "/32 dev " + n->fabric + "\n";
    b += "route add " + n->address6 + "/128 dev " + n->fabric + "\n";
    hostIfaces[hostNs_].push_back(n->fabric);
  }
  for (Pod* p : pods) {
    const std::string& h = p->hostInterface_;
    std::string& b = batches[p->hostNetns_];
    b += "link add " + h + " type veth peer name " + p->interface_ + " netns " + p->netns_ + "\n";
    b += "link set " + h + " up\n";
    b += "addr add " + std::string(kNode4) + "/32 dev " + h + "\n";
    b += "addr add " + std::string(kNode6) + "/128 dev " + h + " nodad\n";
    b += "route add " + p->address4_ + "/32 dev " + h + "\n";
    b += "route add " + p->address6_ + "/128 dev " + h + "\n";
    hostIfaces[p->hostNetns_].push_back(h);
    if (!p->node_.empty()) {
      const Node& n = node(p->node_);
      batches[hostNs_] += "route add " + p->address4_ + "/32 via " + n.address4 + " dev " + n.fabric + "\n";
      batches[hostNs_] += "route add " + p->address6_ + "/128 via " + n.address6 + " dev " + n.fabric + "\n";
    }
  }
  // The host namespace first: it holds the fabric veths the nodes' sides
  // need.
  if (auto it = batches.find(hostNs_); it != batches.end())
    run(hostNs_, it->second);
  for (Node* n : freshNodes) {
    std::string b = "link set lo up\nlink set fabric up\n";
    b += "addr add " + n->address4 + "/32 dev fabric\n";
    b += "addr add " + n->address6 + "/128 dev fabric nodad\n";
    b += "route add " + std::string(kFabric4) + "/32 dev fabric scope link\n";
    b += "route add default via " + std::string(kFabric4) + " dev fabric\n";
    b += "route add " + std::string(kFabric6) + "/128 dev fabric\n";
    b += "route add ::/0 via " + std::string(kFabric6) + " dev fabric\n";
    batches[n->netns] = b + batches[n->netns];
    hostIfaces[n->netns].push_back("fabric");
  }
  for (const auto& [ns, b] : batches)
    if (ns != hostNs_)
      run(ns, b);

  // 4. Pod sides, concurrently: addresses and routes via the node.
  std::vector<std::pair<Process, std::string>> running;
  for (Pod* p : pods) {
    const std::string& e = p->interface_;
    std::string b;
    b += "link set lo up\n";
    b += "link set " + e + " up\n";
    b += "addr add " + p->address4_ + "/32 dev " + e + "\n";
    b += "addr add " + p->address6_ + "/128 dev " + e + " nodad\n";
    b += "route add " + std::string(kNode4) + "/32 dev " + e + " scope link\n";
    b += "route add default via " + std::string(kNode4) + " dev " + e + "\n";
    b += "route add " + std::string(kNode6) + "/128 dev " + e + "\n";
    b += "route add ::/0 via " + std::string(kNode6) + " dev " + e + "\n";
    running.emplace_back(spawnProcess(p->netns_, {ip_, "-batch", "-"}, &b), std::move(b));
  }
  std::string failures;
  for (std::size_t i = 0; i < running.size(); ++i) {
    ExecResult r = running[i].first.wait(Millis(10000));
    if (!r.succeeded())
      failures += "ip -batch in netns '" + pods[i]->netns_ + "' failed: " + r.describe() +
                  "\n--- batch ---\n" + running[i].second;
  }
  if (!failures.empty())
    throw std::runtime_error("Topology: " + failures);

  // 5. Wait until both ends of every veth are running (carrier on, qdisc
  // attached): until then the first packets would be dropped.
  auto waitRunning = [](const std::string& ns, const std::vector<std::string>& ifaces) {
    inNamespace(ns, [&] {
      Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (s.get() < 0)
        throwErrno("socket in " + ns);
      const auto deadline = Clock::now() + Millis(5000);
      for (const auto& name : ifaces) {
        for (;;) {
          ifreq ifr{};
          std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name.c_str());
          if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0 &&
              (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING))
            break;
          if (Clock::now() > deadline)
            throw std::runtime_error("Topology: " + name + " in " + ns + " not running after 5 s");
          std::this_thread::sleep_for(Millis(2));
        }
      }
    });
  };
  for (Pod* p : pods)
    waitRunning(p->netns_, {p->interface_});
  for (const auto& [ns, ifaces] : hostIfaces)
    waitRunning(ns, ifaces);
}

void Topology::down() noexcept {
  const std::vector<std::string> names = namespaces();
  killAndDelete(names);
  if (!cgroupDir_.empty())
    killAndRemoveCgroup(cgroupDir_);
  for (auto& p : pods_)
    p->created_ = false;
  for (auto& n : nodes_)
    n->created = false;
  hostCreated_ = false;
  up_ = false;
}

Pod& Topology::pod(const std::string& name) {
  for (auto& p : pods_)
    if (p->name_ == name)
      return *p;
  throw std::invalid_argument("Topology: no pod '" + name + "'");
}

const Pod& Topology::pod(const std::string& name) const {
  return const_cast<Topology*>(this)->pod(name);
}

std::vector<Pod*> Topology::pods() {
  std::vector<Pod*> out;
  for (auto& p : pods_)
    out.push_back(p.get());
  return out;
}

std::vector<std::string> Topology::namespaces() const {
  std::vector<std::string> out;
  for (const auto& p : pods_)
    if (p->created_)
      out.push_back(p->netns_);
  for (const auto& n : nodes_)
    if (n->created)
      out.push_back(n->netns);
  if (hostCreated_)
    out.push_back(hostNs_);
  return out;
}

ExecResult Topology::exec(const std::string& ns, const std::vector<std::string>& argv,
                          Millis timeout, const std::string* input) {
  return spawnProcess(ns, argv, input).wait(timeout);
}

Process Topology::spawn(const std::string& ns, const std::vector<std::string>& argv) {
  return spawnProcess(ns, argv);
}

std::vector<std::string> Topology::listNamespaces(std::string_view prefix) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(kNetnsDir);
  if (!dir)
    return out;
  while (const dirent* e = ::readdir(dir)) {
    pid_t pid = 0;
    std::string token;
    if (parseName(e->d_name, prefix, pid, token))
      out.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t Topology::removeStale(std::string_view prefix) {
  // Stale: made by a process that is gone, or by an earlier process that had
  // our pid (another token).
  auto stale = [&](const char* name) {
    pid_t pid = 0;
    std::string token;
    if (!parseName(name, prefix, pid, token))
      return false;
    return pid == ::getpid() ? token != processToken() : ::kill(pid, 0) != 0 && errno == ESRCH;
  };
  std::vector<std::string> names;
  for (const auto& name : listNamespaces(prefix))
    if (stale(name.c_str()))
      names.push_back(name);
  killAndDelete(names);
  // Cgroup directories: <root>/<prefix>-<pid>-<token>-<n>.
  if (const std::string root = cgroup2Root(); !root.empty()) {
    std::vector<std::string> dirs;
    if (DIR* d = ::opendir(root.c_str())) {
      while (const dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && stale(e->d_name))
          dirs.push_back(root + "/" + e->d_name);
      ::closedir(d);
    }
    for (const auto& dir : dirs)
      killAndRemoveCgroup(dir);
  }
  return names.size();
}

// ------------------------------------------------------------------- helpers

std::string proberPath() {
  if (const char* env = std::getenv("MEMBRANE_E2E_PROBER"); env && *env)
    return env;
#ifdef MEMBRANE_E2E_PROBER
  return MEMBRANE_E2E_PROBER;
#else
  return "membrane_e2e_prober";
#endif
}

std::optional<std::string> missingPrivileges() {
  std::ifstream status("/proc/self/status");
  unsigned long long eff = 0;
  bool found = false;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("CapEff:", 0) == 0) {
      eff = std::strtoull(line.c_str() + 7, nullptr, 16);
      found = true;
      break;
    }
  }
  std::string missing;
  if (!found)
    missing = "cannot read CapEff from /proc/self/status";
  else {
    constexpr int kNetAdmin = 12, kSysAdmin = 21;
    if (!(eff & (1ULL << kNetAdmin)))
      missing += "CAP_NET_ADMIN";
    if (!(eff & (1ULL << kSysAdmin)))
      missing += std::string(missing.empty() ? "" : " and ") + "CAP_SYS_ADMIN";
    if (!missing.empty())
      missing = "missing " + missing;
  }
  if (findExecutable("ip").empty())
    missing += std::string(missing.empty() ? "" : "; ") + "iproute2 'ip' not found";
  if (::access("/bin/sh", X_OK) != 0)
    missing += std::string(missing.empty() ? "" : "; ") + "/bin/sh not found";
  if (missing.empty())
    return std::nullopt;
  return missing;
}

}  // namespace membrane::e2e
