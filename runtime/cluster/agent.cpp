// The cluster agent (agent.h): a publisher on the calling thread (this
// node's endpoints under its lease) and a watcher thread (the other nodes'
// endpoints into the trie). Each has its own etcd client; they share only
// the report written to agent.json.
#include "cluster/agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "cluster/fetch.h"
#include "io/file.h"
#include "io/json.h"
#include "labels/names.h"
#include "loader/kernel.h"
#include "loader/node_config.h"

namespace membrane::cluster {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string endpointRecord(const loader::NodeEndpoint& e) {
  json addresses = json::array();
  for (const auto& a : e.addresses) addresses.push_back(a.str());
  return json{{"name", e.name},
              {"namespace", e.ns},
              {"labels", e.labels.value_or(labels::LabelSet{})},
              {"addresses", addresses},
              {"ports", e.ports}}
      .dump();
}

std::optional<loader::ClusterEndpoint> parseEndpointRecord(const KeyLayout& layout, const KeyValue& kv,
                                                           std::string* why) {
  auto fail = [&](const std::string& problem) {
    if (why) *why = kv.key + ": " + problem;
    return std::nullopt;
  };
  std::string prefix = layout.endpointsPrefix();
  if (kv.key.compare(0, prefix.size(), prefix) != 0) return fail("not under " + prefix);
  std::string rest = kv.key.substr(prefix.size());
  auto first = rest.find('/'), second = first == std::string::npos ? first : rest.find('/', first + 1);
  if (second == std::string::npos || rest.find('/', second + 1) != std::string::npos)
    return fail("expected " + prefix + "<node>/<namespace>/<name>");
  loader::ClusterEndpoint out;
  out.node = rest.substr(0, first);
  std::string ns = rest.substr(first + 1, second - first - 1), name = rest.substr(second + 1);
  if (std::string p = labels::dnsSubdomainProblem(out.node); !p.empty()) return fail("node name: " + p);
  // The value must be one JSON object (strictly: no repeated key); it is
  // then read as a NODE.json peer, with NODE.json's checks (names,
  // addresses, ports, no other keys), and must name the endpoint its key does.
  std::string error;
  auto value = io::parseJsonStrictly(kv.value, &error);
  if (!value) return fail(error);
  if (!value->value.is_object()) return fail("a record is a JSON object");
  auto config = loader::NodeConfig::parse(json{{"peers", json::array({value->value})}}.dump(), &error, "record");
  if (!config) return fail(error);
  if (config->peers.size() != 1) return fail("not one endpoint record");
  out.endpoint = config->peers[0];
  if (out.endpoint.ns != ns || out.endpoint.name != name)
    return fail("the record is " + out.endpoint.key() + ", not " + ns + "/" + name);
  out.revision = kv.modRevision;
  return out;
}

namespace {

int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

// The report, shared by both halves, and written to agent.json on change.
class Reporter {
 public:
  Reporter(const AgentOptions& o) : options_(o) {
    report_.node = o.node;
    report_.pid = static_cast<int>(getpid());
    report_.etcd = o.etcd;
    report_.since = unixNow();
  }
  template <typename Change>
  void update(Change change) {
    std::lock_guard<std::mutex> l(mutex_);
    AgentReport before = report_;
    change(report_);
    if (report_.connected != before.connected) {
      report_.since = unixNow();
      if (options_.log) {
        if (report_.connected)
          options_.log("connected to etcd at " + report_.member);
        else
          options_.log("etcd unreachable: " + report_.error + "; enforcing the last known state");
      }
    }
    write();
  }
  void log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

 private:
  void write() {
    json j = {{"node", report_.node},       {"pid", report_.pid},         {"etcd", report_.etcd},
              {"connected", report_.connected}, {"member", report_.member}, {"error", report_.error},
              {"since", report_.since},     {"revision", report_.revision}, {"published", report_.published},
              {"peers", report_.peers},     {"skipped", report_.skipped}, {"malformed", report_.malformed},
              {"applyError", report_.applyError}, {"wanted", report_.wanted}, {"wantedSource", report_.wantedSource},
              {"version", report_.version}, {"rolloutError", report_.rolloutError}};
    // Only what changed is written: the publisher wakes on renames in the
    // state directory.
    std::string text = j.dump(2) + "\n";
    if (text == lastWritten_) return;
    std::string error;
    if (io::writeFileAtomically((fs::path(options_.paths.stateDir) / "agent.json").string(), text, &error)) {
      lastWritten_ = text;
    } else if (error != lastWriteError_) {
      lastWriteError_ = error;
      if (options_.log) options_.log("cannot write agent.json: " + error);
    }
  }

  const AgentOptions& options_;
  std::mutex mutex_;
  AgentReport report_;
  std::string lastWritten_, lastWriteError_;
};

// Sleeps up to `d`, in slices, returning early when `stop` is set.
void sleepFor(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::min(d, 50ms));
}

// Retries after failures: 100 ms, doubling, at most 2 s.
struct Backoff {
  std::chrono::milliseconds next{100};
  std::chrono::milliseconds take() {
    auto d = next;
    next = std::min<std::chrono::milliseconds>(next * 2, 2000ms);
    return d;
  }
  void reset() { next = 100ms; }
};

loader::Paths agentPaths(const AgentOptions& o) {
  loader::Paths p = o.paths;
  p.command = "membrane agent";
  // The agent waits for an apply to finish, but not for long: it retries.
  p.lockTimeout = std::min<std::chrono::milliseconds>(p.lockTimeout, 2000ms);
  return p;
}

// ---- the trie updater: what the watch learned, into the trie, coalesced -----

// Trie updates run on a thread of their own. While one runs (it may wait for
// the node's lock behind a join, then rewrites the trie), whatever the watch
// brings piles up, and the next update takes all of it. Updates are spaced
// out: the next starts no sooner than kTrieUpdateEvery, or twice as
// long as the last one took (a node busy with joins makes updates slow: the
// agent then takes less of the machine, with more in each update), after the
// one before, but never more than kTrieUpdateEveryAtMost after it (one slow
// update on a loaded machine must not hold the next change back a second).
// In a quiet cluster an update starts as soon as its change arrives. A failed update is retried after a second, with whatever is
// newest then.
constexpr auto kTrieUpdateEvery = 20ms;
constexpr auto kTrieUpdateEveryAtMost = 200ms;

class TrieUpdater {
 public:
  struct Batch {
    std::vector<loader::ClusterEndpoint> endpoints;
    std::vector<std::string> malformed;  // a sentence per record ignored
    int64_t revision = 0;                // what the batch is as of
  };

  TrieUpdater(const AgentOptions& o, Reporter& r) : reporter_(r), paths_(agentPaths(o)) {}

  // The whole set as of now, replacing one not yet taken.
  void offer(Batch batch) {
    std::lock_guard<std::mutex> l(mutex_);
    pending_ = std::move(batch);
    wake_.notify_one();
  }

  void run(const std::atomic<bool>& stop) {
    auto notBefore = std::chrono::steady_clock::now();
    while (!stop) {
      std::optional<Batch> batch;
      {
        std::unique_lock<std::mutex> l(mutex_);
        wake_.wait_for(l, 100ms, [&] { return pending_.has_value() || stop; });
        if (!pending_ || stop) continue;
      }
      // Spaced out: what arrives meanwhile joins this batch.
      while (!stop && std::chrono::steady_clock::now() < notBefore)
        std::this_thread::sleep_until(std::min(notBefore, std::chrono::steady_clock::now() + 50ms));
      {
        std::lock_guard<std::mutex> l(mutex_);
        batch.swap(pending_);
      }
      if (!batch || stop) continue;
      auto started = std::chrono::steady_clock::now();
      if (update(*batch)) {
        auto took = std::chrono::steady_clock::now() - started;
        notBefore = started + std::clamp<std::chrono::steady_clock::duration>(2 * took, kTrieUpdateEvery,
                                                                                kTrieUpdateEveryAtMost);
        continue;
      }
      notBefore = started + 1s;
      std::lock_guard<std::mutex> l(mutex_);
      if (!pending_) pending_ = std::move(batch);
    }
  }

 private:
  bool update(const Batch& b) {
    loader::ClusterUpdate result;
    std::string error;
    bool ok = loader::clusterEndpointsSet(b.endpoints, paths_, &result, &error);
    if (!ok && error != lastError_) reporter_.log("cannot update the trie (retrying): " + error);
    if (ok && result.skipped != lastSkipped_)
      for (const auto& s : result.skipped) reporter_.log("left out: " + s);
    lastError_ = ok ? "" : error;
    if (ok) lastSkipped_ = result.skipped;
    reporter_.update([&](AgentReport& r) {
      r.applyError = lastError_;
      if (!ok) return;
      r.revision = b.revision;
      r.peers = result.taken;
      r.skipped = result.skipped;
      r.malformed = b.malformed;
    });
    return ok;
  }

  Reporter& reporter_;
  loader::Paths paths_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Batch> pending_;
  std::string lastError_;
  std::vector<std::string> lastSkipped_;
};

// ---- the watcher: other nodes' endpoints into the trie ----------------------

class Watcher {
 public:
  Watcher(const AgentOptions& o, Reporter& r, TrieUpdater& u)
      : o_(o), reporter_(r), updater_(u), etcd_(o.etcd, std::chrono::milliseconds(2000), o.tls),
        paths_(agentPaths(o)) {}

  void run(const std::atomic<bool>& stop) {
    Backoff backoff;
    bool needSync = true;
    while (!stop) {
      std::string error;
      if (needSync) {
        auto range = etcd_.rangePrefix(o_.layout.prefix + "/", &error);
        if (!range) {
          disconnected(error);
          sleepFor(backoff.take(), stop);
          continue;
        }
        connected();
        records_.clear();
        malformed_.clear();
        wanted_.reset();
        for (const auto& kv : range->kvs) take(kv, false);
        nextRevision_ = range->revision + 1;
        needSync = false;
        hand();
        reporter_.log("read " + std::to_string(range->kvs.size()) + " endpoint records at revision " +
                      std::to_string(range->revision));
      }
      rollOut();
      int64_t compactRevision = 0;
      WatchEnd end = etcd_.watchPrefix(
          o_.layout.prefix + "/", nextRevision_,
          [&](const std::vector<WatchEvent>& events) {
            connected();
            backoff.reset();
            bool records = false;
            for (const auto& e : events) {
              records = records || isRecord(e.kv.key);
              if (e.deleted) {
                records_.erase(e.kv.key);
                malformed_.erase(e.kv.key);
                if (e.kv.key == o_.layout.artifactsKey()) wanted_.reset();
              } else {
                take(e.kv, true);
              }
              nextRevision_ = std::max(nextRevision_, e.kv.modRevision + 1);
            }
            if (records) hand();
            rollOut();
          },
          [&] {
            auto now = std::chrono::steady_clock::now();
            return stop || (wanted_ && *wanted_ == failedRollout_ && now > rolloutRetryAt_);
          },
          &compactRevision, &error);
      switch (end) {
        case WatchEnd::Stopped:
          break;
        case WatchEnd::Compacted:
          reporter_.log("revision " + std::to_string(nextRevision_) + " was compacted (now " +
                        std::to_string(compactRevision) + "): reading every record again");
          needSync = true;
          break;
        case WatchEnd::Failed:
          disconnected(error);
          sleepFor(backoff.take(), stop);
          break;
      }
    }
  }

 private:
  bool isRecord(const std::string& key) const { return key.rfind(o_.layout.endpointsPrefix(), 0) == 0; }

  // A put: another node's record, kept by key (this node's own are not
  // peers; a record that is not membrane's is reported, not used); the
  // artifacts key; nothing else (nodes' keys, ...).
  void take(const KeyValue& kv, bool logIt) {
    if (kv.key == o_.layout.artifactsKey()) {
      wanted_ = kv.value;
      return;
    }
    if (!isRecord(kv.key)) return;
    std::string why;
    auto e = parseEndpointRecord(o_.layout, kv, &why);
    if (!e) {
      records_.erase(kv.key);
      malformed_[kv.key] = why;
      if (logIt) reporter_.log("ignored a record: " + why);
      return;
    }
    malformed_.erase(kv.key);
    if (e->node == o_.node) {
      records_.erase(kv.key);
      return;
    }
    records_[kv.key] = *e;
  }

  // The records, as the trie's cluster endpoints, to the updater.
  void hand() {
    TrieUpdater::Batch b;
    for (const auto& [key, e] : records_) b.endpoints.push_back(e);
    for (const auto& [key, why] : malformed_) b.malformed.push_back(why);
    b.revision = nextRevision_ - 1;
    updater_.offer(std::move(b));
  }

  // The version the artifacts key asks for, fetched and applied unless this
  // node runs it already; a failure is reported and tried again in 10 s.
  void rollOut() {
    if (!wanted_ || *wanted_ == doneRollout_) return;
    if (*wanted_ == failedRollout_ && std::chrono::steady_clock::now() < rolloutRetryAt_) return;
    std::string value = *wanted_, why, running;
    auto result = [&](const std::string& error, const std::string& sha, const std::string& source) {
      if (error.empty()) {
        doneRollout_ = value;
        failedRollout_.clear();
      } else {
        if (value != failedRollout_ || error != lastRolloutError_) reporter_.log("rollout: " + error);
        failedRollout_ = value;
        rolloutRetryAt_ = std::chrono::steady_clock::now() + 10s;
      }
      lastRolloutError_ = error;
      loader::localEndpoints(paths_, nullptr, &running);
      reporter_.update([&](AgentReport& r) {
        r.wanted = sha;
        r.wantedSource = source;
        r.version = running;
        r.rolloutError = error;
      });
    };
    auto wanted = parseArtifactsWanted(value, &why);
    if (!wanted) return result(o_.layout.artifactsKey() + ": " + why, "", "");
    std::string version = wanted->manifestSha256.substr(0, 16);
    loader::localEndpoints(paths_, nullptr, &running);
    if (running == version) return result("", wanted->manifestSha256, wanted->source);
    fs::path staged = fs::path(o_.paths.stateDir) / "artifacts" / version;
    loader::ApplyReport report;
    if (!fetchArtifacts(*wanted, staged.string(), &why) || !applyInNodeNetns(staged.string(), report, why))
      return result(why, wanted->manifestSha256, wanted->source);
    reporter_.log("now running version " + report.version + " from " + wanted->source +
                  (report.previousVersion.empty() ? "" : " (was " + report.previousVersion + ")"));
    for (const auto& w : report.warnings) reporter_.log("warning: " + w);
    // Only the running version's files are kept (the state names them).
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(staged.parent_path(), ec))
      if (d.path().filename() != version) fs::remove_all(d.path(), ec);
    result("", wanted->manifestSha256, wanted->source);
  }

  // loader::applyArtifacts in the node's network namespace: on a thread of
  // its own that enters it (a network namespace is per thread), so this
  // thread's etcd connection stays where it is.
  bool applyInNodeNetns(const std::string& dir, loader::ApplyReport& report, std::string& why) {
    if (o_.nodeNetns.empty()) return loader::applyArtifacts(dir, paths_, &report, &why);
    bool ok = false;
    std::thread inNode([&] { ok = loader::enterNetns(o_.nodeNetns, &why) && loader::applyArtifacts(dir, paths_, &report, &why); });
    inNode.join();
    return ok;
  }

  void connected() {
    if (isConnected_) return;
    isConnected_ = true;
    reporter_.update([&](AgentReport& r) {
      r.connected = true;
      r.member = etcd_.currentMember();
      r.error.clear();
    });
  }
  void disconnected(const std::string& error) {
    isConnected_ = false;
    reporter_.update([&](AgentReport& r) {
      r.connected = false;
      r.error = error;
    });
  }

  const AgentOptions& o_;
  Reporter& reporter_;
  TrieUpdater& updater_;
  Etcd etcd_;
  loader::Paths paths_;
  std::map<std::string, loader::ClusterEndpoint> records_;
  std::map<std::string, std::string> malformed_;
  int64_t nextRevision_ = 1;
  bool isConnected_ = false;
  std::optional<std::string> wanted_;  // the artifacts key's value
  std::string doneRollout_, failedRollout_, lastRolloutError_;
  std::chrono::steady_clock::time_point rolloutRetryAt_{};
};

// ---- the publisher: this node's endpoints under its lease --------------------

class Publisher {
 public:
  Publisher(const AgentOptions& o, Reporter& r)
      : o_(o), reporter_(r), etcd_(o.etcd, std::chrono::milliseconds(2000), o.tls) {}

  void run(const std::atomic<bool>& stop) {
    // Every rename into the state directory (state.json after an apply,
    // endpoint add, CNI ADD) wakes the publisher.
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch >= 0) inotify_add_watch(watch, o_.paths.stateDir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE);
    Backoff backoff;
    auto keepAliveEvery = std::max<std::chrono::milliseconds>(o_.leaseTtl / 3, 500ms);
    auto nextKeepAlive = std::chrono::steady_clock::now();
    bool stateChanged = true;
    while (!stop) {
      if (stateChanged || watch < 0) readState();
      stateChanged = false;
      bool ok = step(nextKeepAlive, keepAliveEvery);
      auto wait = ok ? std::chrono::duration_cast<std::chrono::milliseconds>(nextKeepAlive -
                                                                              std::chrono::steady_clock::now())
                     : backoff.take();
      if (ok) backoff.reset();
      wait = std::clamp<std::chrono::milliseconds>(wait, 0ms, 200ms);
      if (watch >= 0) {
        pollfd p{watch, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(wait.count())) > 0) stateChanged = stateFilesChanged(watch);
      } else {
        std::this_thread::sleep_for(wait);
      }
    }
    if (watch >= 0) close(watch);
  }

 private:
  // Whether the events waiting on `watch` renamed or wrote the state or the
  // applied manifest (not agent.json, the lock, ...).
  static bool stateFilesChanged(int watch) {
    bool changed = false;
    alignas(inotify_event) char buf[4096];
    for (ssize_t n; (n = read(watch, buf, sizeof buf)) > 0;)
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        std::string name = e->len ? e->name : "";
        if (name == "state.json" || name == "manifest.json") changed = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    return changed;
  }

  // What this node's keys should hold, from the state directory.
  void readState() {
    std::string why;
    std::string version;
    auto local = loader::localEndpoints(o_.paths, &why, &version);
    if (!local && !loader::nothingApplied(why)) {
      // An unreadable state: keep what is published rather than withdraw it.
      if (why != lastStateError_) reporter_.log("cannot read this node's endpoints: " + why);
      lastStateError_ = why;
      return;
    }
    lastStateError_.clear();
    want_.clear();
    if (local)
      for (const auto& e : *local) want_[o_.layout.endpointKey(o_.node, e.ns, e.name)] = endpointRecord(e);
    want_[o_.layout.nodeKey(o_.node)] =
        json{{"node", o_.node}, {"version", version}, {"endpoints", want_.size()}}.dump();
  }

  // One round: a lease, the records as the state says, a keep-alive when
  // due. False when etcd failed us.
  bool step(std::chrono::steady_clock::time_point& nextKeepAlive, std::chrono::milliseconds every) {
    std::string error;
    if (lease_ == 0) {
      auto lease = etcd_.grantLease(o_.leaseTtl.count(), &error);
      if (!lease) return failed(error);
      lease_ = *lease;
      published_.clear();  // what the old lease held is gone, or will be
      nextKeepAlive = std::chrono::steady_clock::now() + every;
    }
    const auto& want = want_;
    for (const auto& [key, value] : want) {
      auto it = published_.find(key);
      if (it != published_.end() && it->second == value) continue;
      if (!etcd_.put(key, value, lease_, &error)) return failedPut(error);
      published_[key] = value;
    }
    for (auto it = published_.begin(); it != published_.end();) {
      if (want.count(it->first)) {
        ++it;
        continue;
      }
      if (!etcd_.remove(it->first, &error)) return failed(error);
      it = published_.erase(it);
    }
    if (std::chrono::steady_clock::now() >= nextKeepAlive) {
      auto left = etcd_.keepAlive(lease_, &error);
      if (!left) return failed(error);
      if (*left == 0) {
        reporter_.log("the lease expired: publishing this node's endpoints again");
        lease_ = 0;
        return true;
      }
      nextKeepAlive = std::chrono::steady_clock::now() + every;
    }
    size_t endpoints = want.empty() ? 0 : want.size() - 1;
    lastError_.clear();
    reporter_.update([&](AgentReport& r) { r.published = endpoints; });
    return true;
  }

  // A put with our lease fails for good once the lease is gone (etcd was
  // away longer than its TTL): grant a new one.
  bool failedPut(const std::string& error) {
    if (error.find("lease not found") != std::string::npos) {
      reporter_.log("the lease expired: publishing this node's endpoints again");
      lease_ = 0;
      return true;
    }
    return failed(error);
  }
  bool failed(const std::string& error) {
    if (error != lastError_) reporter_.log("publishing: " + error);
    lastError_ = error;
    return false;
  }

  const AgentOptions& o_;
  Reporter& reporter_;
  Etcd etcd_;
  int64_t lease_ = 0;
  std::map<std::string, std::string> want_, published_;
  std::string lastError_, lastStateError_;
};

}  // namespace

void runAgent(const AgentOptions& options, const std::atomic<bool>& stop) {
  if (options.etcd.empty()) throw std::invalid_argument("no etcd member given (--etcd URL)");
  if (std::string why = labels::dnsSubdomainProblem(options.node); !why.empty())
    throw std::invalid_argument("--node: " + why);
  if (options.leaseTtl < 2s) throw std::invalid_argument("--lease-ttl: at least 2 seconds");
  if (options.tls.certFile.empty() != options.tls.keyFile.empty())
    throw std::invalid_argument("--etcd-cert and --etcd-key go together");
  std::error_code ec;
  fs::create_directories(options.paths.stateDir, ec);
  Reporter reporter(options);
  reporter.update([](AgentReport&) {});
  TrieUpdater updater(options, reporter);
  Watcher watcher(options, reporter, updater);
  Publisher publisher(options, reporter);
  std::thread updating([&] { updater.run(stop); });
  std::thread watching([&] { watcher.run(stop); });
  publisher.run(stop);
  watching.join();
  updating.join();
}

}  // namespace membrane::cluster
