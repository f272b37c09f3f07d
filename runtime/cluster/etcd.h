// A client of etcd's v3 API for the cluster agent (docs/cluster.md), through
// etcd's JSON gateway: plain HTTP/1.1 POSTs of JSON with base64 keys and
// values, over libcurl. Chosen over gRPC because it needs no generated code
// and no .proto files of etcd's in the build, only two maintained libraries
// the node already has or Debian ships (libcurl, nlohmann-json); the cost,
// JSON and base64 per message, is small next to the endpoint records the
// agent sends (a few hundred bytes, at pod-churn rates).
//
// A client holds a list of members and sends each request to the member
// that answered last, trying the others in turn when it cannot be reached,
// so one member down changes nothing. Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace membrane::cluster {

struct KeyValue {
  std::string key, value;
  int64_t modRevision = 0;
  int64_t lease = 0;
};

struct WatchEvent {
  bool deleted = false;  // else a put
  KeyValue kv;           // for a delete, the key and the revision that deleted it
};

// What a watch ended with.
enum class WatchEnd {
  Stopped,    // the caller's stop() said so
  Compacted,  // the start revision is gone from the store: read everything again
  Failed,     // the member went away or answered nonsense; `error` says which
};

// The first key after every key that starts with `prefix` (etcd's
// range_end for a prefix): "/a/" -> "/a0".
std::string prefixEnd(const std::string& prefix);

// TLS to etcd (https:// members): the CA that signed the members'
// certificates, and this client's certificate and key when the members ask
// for one (etcd --client-cert-auth). Empty: the system's CAs, no client
// certificate.
struct EtcdTls {
  std::string caFile, certFile, keyFile;
};

class Etcd {
 public:
  // `members`: base URLs, "http://127.0.0.1:2379" or "https://...".
  // `timeout`: for each request (connecting included), not for watches.
  explicit Etcd(std::vector<std::string> members, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
                EtcdTls tls = {});
  ~Etcd();
  Etcd(const Etcd&) = delete;
  Etcd& operator=(const Etcd&) = delete;

  // A lease of `ttlSeconds`; its id.
  std::optional<int64_t> grantLease(int64_t ttlSeconds, std::string* error);
  // Renews the lease; the seconds it has left, 0 when it no longer exists
  // (expired or revoked: the keys put with it are gone).
  std::optional<int64_t> keepAlive(int64_t lease, std::string* error);
  bool revokeLease(int64_t lease, std::string* error);

  // `lease` 0: the key lives until deleted. Returns the store's revision
  // after the write.
  std::optional<int64_t> put(const std::string& key, const std::string& value, int64_t lease, std::string* error);
  std::optional<int64_t> remove(const std::string& key, std::string* error);

  struct Range {
    std::vector<KeyValue> kvs;
    int64_t revision = 0;  // the store's revision the read saw
  };
  std::optional<Range> rangePrefix(const std::string& prefix, std::string* error);
  // Forgets the history before `revision`: watches from earlier revisions
  // then end with WatchEnd::Compacted.
  bool compact(int64_t revision, std::string* error);

  // Watches every key under `prefix` from `startRevision` on, calling
  // `onEvents` with the events of every message that arrived together (in
  // revision order; a slow `onEvents` gets what piled up meanwhile), and
  // once with none when the member has established the watch, until
  // `stop()` returns true (checked at least every 200 ms), the start revision
  // turns out compacted (`*compactRevision` set), or the stream fails. A
  // watch uses the member that answered last, and moves on to the next one
  // when it fails, for the caller's next watch.
  WatchEnd watchPrefix(const std::string& prefix, int64_t startRevision,
                       const std::function<void(const std::vector<WatchEvent>&)>& onEvents,
                       const std::function<bool()>& stop, int64_t* compactRevision, std::string* error);

  // The member the next request goes to.
  const std::string& currentMember() const { return members_[current_]; }

 private:
  struct Curl;
  // POSTs `body` to `path` on the current member, moving on to the next
  // members when one cannot be reached; the parsed answer, or nullopt with
  // `error` set. An answer etcd gives as an error ({"error": ...}) is an
  // error too, with etcd's message.
  std::optional<std::string> call(const std::string& path, const std::string& body, std::string* error);

  std::vector<std::string> members_;
  size_t current_ = 0;
  std::chrono::milliseconds timeout_;
  EtcdTls tls_;
  std::unique_ptr<Curl> curl_;
};

}  // namespace membrane::cluster
