// End-to-end test topology: "pods" are network namespaces, each joined by a
// veth pair to one "host" namespace that routes between them (IPv4 and IPv6
// forwarding, no NAT). Nothing is created in the root namespace: the host
// side of every veth lives in the host namespace (or, for a pod on a node,
// in the node's namespace: see "Nodes" below), which is where the node
// loader attaches its tc programs.
//
//   Topology t("mbe2e");
//   Pod& a = t.addPod("x-a");
//   Pod& b = t.addPod("x-b");
//   t.up();
//   Process server = b.spawn({proberPath(), "serve", "--tcp", "8080"});
//   server.waitForOutput("ready", 2s);
//   ExecResult r = a.exec({proberPath(), "probe", "tcp", b.address4(), "8080"});
//
// Addresses: pod k (1, 2, ... in the order added) gets 198.18.A.B/32 and
// 2001:2::A:B/128 (A = k / 200, B = 10 + k % 200, both written in decimal),
// on `eth0`, default routes via the node. The node (every host-side veth)
// has 198.19.255.254/32 and 2001:2:0:ffff::1/128, and a /32 and /128 route
// per pod through that pod's veth. Every Topology is its own set of
// namespaces, so two of them may use the same addresses and pod names.
//
// Namespace names: <prefix>-<pid>-<token>-<n>-host and <prefix>-<pid>-<token>
// -<n>-<pod name> (visible to `ip netns`), host-side veths mbh<k>.
//
// Nodes (addNode), for tests of several nodes: each its own namespace
// (<tag>-node.<name>), joined to the host namespace, which then routes
// between nodes as a fabric would, by a veth pair (`fabric` in the node,
// mbn<k> in the host namespace). A pod added on a node has its host-side
// veth in the node's namespace; the node routes to it exactly as the host
// namespace does to its own pods (the same node addresses), and the host
// namespace routes its addresses to the node. Node k's own addresses are
// 198.19.254.k/32 and 2001:2:0:fffe::k/128 on `fabric`; the host namespace's
// side of every fabric veth has kFabric4 and kFabric6, the nodes' default
// routes.
//
// Each pod also gets a cgroup v2 directory, <root>/<tag>/<pod> (root:
// /sys/fs/cgroup/unified or /sys/fs/cgroup, whichever is cgroup2), holding
// the processes Pod::exec()/spawn() start.
//
// Cleanup: the destructor (or down()) kills every process inside the
// topology's namespaces and cgroups and deletes them; the veths die with them. A
// guardian process (one small `sh`, in its own session) does the same if
// this process dies without running destructors (SIGKILL, abort, ctest
// timeout). Constructing a Topology also removes namespaces with the same
// prefix left by processes that no longer exist.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "environment.h"  // testkit

namespace membrane::e2e {

using Millis = std::chrono::milliseconds;

// How a finished (or killed) process ended, and what it printed.
struct ExecResult {
  int exitCode = -1;      // exit status; -1 when ended by a signal
  int termSignal = 0;     // the signal that ended it, or 0
  bool timedOut = false;  // we killed it because it ran out of time
  std::string out;        // stdout
  std::string err;        // stderr
  Millis elapsed{0};      // from start to exit

  bool succeeded() const { return exitCode == 0 && !timedOut; }
  // One line for assertion messages: exit status, time, output.
  std::string describe() const;
};

// A file that processes see at `target` in place of what is there: `source`
// bind-mounted over it in a mount namespace of their own (as `ip netns exec`
// does with /etc/netns/NS/*, which spawnProcess does not apply).
struct FileOverlay {
  std::string target;  // absolute; must exist (a symlink is followed)
  std::string source;  // absolute
};

// A child process running in a network namespace, its stdout/stderr read
// through pipes. Destroying a Process that is still running kills it
// (SIGKILL to its process group) and reaps it. Move-only.
class Process {
 public:
  Process() = default;
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool valid() const { return pid_ > 0; }
  // Whether it is still running (reads pending output, never blocks).
  bool running();

  // Waits until stdout contains `needle`; false on timeout or if the
  // process exited without printing it.
  bool waitForOutput(std::string_view needle, Millis timeout);
  // Waits for the process to exit; after `timeout` kills it (timedOut).
  ExecResult wait(Millis timeout);
  // SIGTERM to the process group, then wait; SIGKILL after `grace`
  // (timedOut is then set).
  ExecResult stop(Millis grace = Millis(2000));
  // Sends `sig` to the process group.
  void signal(int sig);

  // Output read so far.
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  friend Process spawnProcess(const std::string&, const std::vector<std::string>&,
                              const std::string*, const std::string&, const std::vector<FileOverlay>&);
  template <typename Done>
  bool pump(std::chrono::steady_clock::time_point deadline, Done done);
  void drain();
  void reapIfExited();
  ExecResult result(bool timedOut) const;
  void release() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int outFd_ = -1;
  int errFd_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string out_;
  std::string err_;
  std::chrono::steady_clock::time_point started_{};
  std::chrono::steady_clock::time_point ended_{};
};

// Starts argv in network namespace `ns` (a name under /run/netns, an absolute
// path to a netns file, or "" for this process's own namespace) and, if
// `cgroup` is given, in that cgroup v2 directory. With `overlays`, the child
// gets a private mount namespace (a copy of this one, so /sys/fs/bpf and the
// cgroup hierarchy stay visible) with each source bind-mounted over its
// target; nothing changes for other processes. argv[0] is looked up in
// PATH unless it contains '/'. The child gets its own process group, stdin
// from `input` (or /dev/null), default signal dispositions and an empty
// signal mask. Throws std::runtime_error if it cannot be started. Only the
// network namespace changes (setns, no `ip netns exec`): mounts such as
// /sys/fs/bpf and the cgroup hierarchy stay visible.
Process spawnProcess(const std::string& ns, const std::vector<std::string>& argv,
                     const std::string* input = nullptr, const std::string& cgroup = {},
                     const std::vector<FileOverlay>& overlays = {});

class Topology;

class Pod {
 public:
  const std::string& name() const { return name_; }
  // The pod's network namespace (a name for `ip netns exec`).
  const std::string& netns() const { return netns_; }
  // The pod-side veth, inside netns().
  const std::string& interface() const { return interface_; }
  // The host-side veth, inside hostNetns(): where the node loader attaches
  // tc programs for this pod.
  const std::string& hostInterface() const { return hostInterface_; }
  // The namespace holding hostInterface(): Topology::hostNamespace(), or
  // the namespace of the node the pod was added on.
  const std::string& hostNetns() const { return hostNetns_; }
  // The node the pod was added on, or "".
  const std::string& node() const { return node_; }
  const std::string& address4() const { return address4_; }
  const std::string& address6() const { return address6_; }
  // 1, 2, ... in the order pods were added to the topology.
  int index() const { return index_; }
  // The pod's cgroup v2 directory (<cgroup2 root>/<tag>/<name>), where
  // exec() and spawn() put their processes: for cgroup-attached programs.
  // Empty when cgroup v2 is unavailable (Topology::cgroupUnavailable()).
  const std::string& cgroup() const { return cgroup_; }

  // Run argv in the pod: its network namespace, its cgroup and its file
  // overlays.
  ExecResult exec(const std::vector<std::string>& argv, Millis timeout = Millis(10000)) const;
  Process spawn(const std::vector<std::string>& argv) const;

  // From now on, processes this pod starts see `source` at `target` (e.g. a
  // resolv.conf naming the pod's DNS server over /etc/resolv.conf): the
  // per-pod files `ip netns exec` takes from /etc/netns/<ns>/, without its
  // remount of /sys. Replaces an earlier overlay of the same target. The
  // caller keeps `source` alive while the pod runs processes.
  void overlayFile(const std::string& target, const std::string& source);
  const std::vector<FileOverlay>& overlays() const { return overlays_; }

 private:
  friend class Topology;
  std::string name_, netns_, interface_ = "eth0", hostInterface_, hostNetns_, node_, address4_, address6_, cgroup_;
  std::vector<FileOverlay> overlays_;
  int index_ = 0;
  bool created_ = false;
};

class Topology {
 public:
  // `prefix`: [A-Za-z0-9_.-], up to 24 characters. Removes stale namespaces
  // with this prefix (see above) and starts the guardian. Throws
  // std::runtime_error if `ip` cannot be found or the guardian cannot start.
  explicit Topology(std::string prefix = "mbe2e");
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Adds a pod ([a-z0-9-], 1..32 characters, not "host"). Before up() the pod
  // is only recorded; after up() it is created at once. References stay
  // valid until the pod is removed or the Topology destroyed.
  // `node`: a node added before (addNode), or "" for the host namespace.
  Pod& addPod(const std::string& name, const std::string& node = "");
  // Adds a node ([a-z0-9-], 1..32 characters); created with the pods by
  // up(), or at once after it. Returns its namespace's name.
  const std::string& addNode(const std::string& name);
  // A node's namespace (throws std::invalid_argument for an unknown node).
  const std::string& nodeNamespace(const std::string& node) const;
  // Routes `prefix` from the host namespace to the node: for addresses the
  // node hands out itself (a CNI plugin's IPAM). Needs up().
  void routePrefixToNode(const std::string& node, const std::string& prefix);
  // Routes `prefix` (IPv4 or IPv6 CIDR, e.g. "198.18.128.0/17") from the
  // node to the pod and has the pod accept every address in it as its own (a
  // local route on its loopback): one pod then answers for many hosts, e.g.
  // the thousands of addresses a DNS zone hands out. Needs up(); throws
  // std::runtime_error with `ip`'s output on failure.
  void routePrefixToPod(const std::string& pod, const std::string& prefix);
  // Kills the pod's processes and deletes its namespace; returns once the
  // kernel has dismantled it (its host-side veth is gone).
  void removePod(const std::string& name);
  // Creates the host namespace and every pod added so far. Throws
  // std::runtime_error (with the failing command's output) on failure; the
  // destructor still removes whatever was created.
  void up();
  // Kills every process in the topology's namespaces, waits (up to 2 s) until
  // they are dead, and deletes the namespaces (the kernel dismantles them,
  // veths included, asynchronously). Idempotent; the destructor calls it.
  void down() noexcept;
  bool isUp() const { return up_; }

  // The namespace that routes between pods and holds the host-side veths.
  const std::string& hostNamespace() const { return hostNs_; }
  // <prefix>-<pid>-<token>-<n>: every namespace of this topology starts with
  // it followed by '-'.
  const std::string& tag() const { return tag_; }
  // The node's addresses (on every host-side veth).
  static constexpr const char* kNode4 = "198.19.255.254";
  static constexpr const char* kNode6 = "2001:2:0:ffff::1";
  // The host namespace's addresses on the fabric (every mbn<k>), when it
  // joins nodes.
  static constexpr const char* kFabric4 = "198.19.254.254";
  static constexpr const char* kFabric6 = "2001:2:0:fffe::ffff";
  // Why pods have no cgroup (no writable cgroup v2 hierarchy), or "".
  const std::string& cgroupUnavailable() const { return cgroupUnavailable_; }
  // The cgroup v2 directory holding every pod's cgroup (<cgroup2 root>/<tag>):
  // where a node-wide cgroup program (the socket layer's sockops) attaches
  // to see the pods' processes and nothing else of the machine. "" without
  // cgroup v2.
  const std::string& cgroupDir() const { return cgroupDir_; }

  Pod& pod(const std::string& name);
  const Pod& pod(const std::string& name) const;
  std::vector<Pod*> pods();
  // Every namespace this topology has created and not yet deleted.
  std::vector<std::string> namespaces() const;

  // Runs argv in namespace `ns` (see spawnProcess) and collects its output
  // and exit status; kills it after `timeout`.
  // `input`, if given, is the child's stdin.
  static ExecResult exec(const std::string& ns, const std::vector<std::string>& argv,
                         Millis timeout = Millis(10000), const std::string* input = nullptr);
  static Process spawn(const std::string& ns, const std::vector<std::string>& argv);

  // Names under /run/netns that start with "<prefix>-<digits>-".
  static std::vector<std::string> listNamespaces(std::string_view prefix);
  // Deletes namespaces (and cgroup directories) with `prefix` whose creating
  // process is gone (or is this process under another token); returns how
  // many namespaces.
  static std::size_t removeStale(std::string_view prefix);

 private:
  struct Node {
    std::string name, netns, address4, address6, fabric;  // fabric: mbn<k>, in the host namespace
    bool created = false;
  };
  const Node& node(const std::string& name) const;
  // Creates the host namespace if needed, every node not created yet, then
  // `pods`.
  void createPods(const std::vector<Pod*>& pods);
  // `ip -batch -` in namespace `ns`; throws with ip's output on failure.
  void ipBatch(const std::string& ns, const std::string& batch) const;
  void startGuardian();

  void removeCgroups(const std::vector<std::string>& podCgroups, bool topDir) noexcept;

  std::string prefix_, tag_, hostNs_, ip_;
  std::string cgroupDir_;          // <cgroup2 root>/<tag>, or "" without cgroup v2
  std::string cgroupUnavailable_;  // why cgroupDir_ is empty
  std::vector<std::unique_ptr<Pod>> pods_;
  std::vector<std::unique_ptr<Node>> nodes_;
  int nextIndex_ = 1;
  bool up_ = false;
  bool hostCreated_ = false;
  int guardianFd_ = -1;
};

// Path of membrane_e2e_prober: $MEMBRANE_E2E_PROBER, else the one built
// with this library.
std::string proberPath();

// Why these tests cannot run here (no CAP_NET_ADMIN / CAP_SYS_ADMIN, no
// `ip`), or nullopt when they can.
std::optional<std::string> missingPrivileges();
using testkit::runningInCi;

}  // namespace membrane::e2e

// In a test or SetUp (gtest): without the privileges, FAIL under CI=true and
// skip with the reason otherwise. Never silently.
#define MEMBRANE_E2E_REQUIRE_PRIVILEGES()                                                    \
  do {                                                                                       \
    if (const auto mb_why = ::membrane::e2e::missingPrivileges()) {                          \
      if (::membrane::e2e::runningInCi())                                                    \
        FAIL() << "e2e tests cannot run under CI: " << *mb_why;                              \
      GTEST_SKIP() << "e2e tests need root (" << *mb_why                                     \
                   << "); run as root or with CAP_NET_ADMIN+CAP_SYS_ADMIN. Set CI=true to " \
                      "make this a failure.";                                                \
    }                                                                                        \
  } while (0)
