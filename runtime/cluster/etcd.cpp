// etcd's v3 JSON gateway over libcurl (see etcd.h for why this and not gRPC).
// The gateway maps each RPC to a POST of its request message as JSON under
// /v3/<service>/<method>; bytes fields (keys, values) are base64, 64-bit
// integers are JSON strings. A watch is one long POST whose answer is a
// stream of JSON messages, one per line.
#include "cluster/etcd.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cluster/curl_init.h"

namespace membrane::cluster {

using json = nlohmann::json;

namespace {

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// nullopt for text that is not base64.
std::optional<std::string> unbase64(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// A 64-bit field: the gateway writes them as strings; absent means 0.
int64_t int64Field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    size_t used = 0;
    int64_t v = std::stoll(s, &used);
    if (used != s.size()) throw std::runtime_error(std::string(name) + " is not an integer: " + s);
    return v;
  }
  throw std::runtime_error(std::string(name) + " is not an integer");
}

KeyValue keyValueFrom(const json& kv) {
  KeyValue out;
  auto key = unbase64(kv.value("key", ""));
  auto value = unbase64(kv.value("value", ""));
  if (!key || !value) throw std::runtime_error("a key or value that is not base64");
  out.key = *key;
  out.value = *value;
  out.modRevision = int64Field(kv, "mod_revision");
  out.lease = int64Field(kv, "lease");
  return out;
}

// etcd's own error in an answer ({"error": "...", "code": N} from a call,
// {"error": {"grpc_code": N, "message": ...}} inside a stream), or "".
std::string etcdError(const json& j, int* code) {
  auto it = j.find("error");
  if (it == j.end()) return "";
  if (it->is_string()) {
    if (code) *code = j.value("code", 0);
    return it->get<std::string>();
  }
  if (it->is_object()) {
    if (code) *code = it->value("grpc_code", 0);
    return it->value("message", it->dump());
  }
  return it->dump();
}

// gRPC codes that mean "this member cannot serve now; another may":
// DEADLINE_EXCEEDED (4), UNAVAILABLE (14).
bool memberUnavailable(int code) { return code == 4 || code == 14; }

size_t appendTo(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

std::string prefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "\0" range end
}

struct Etcd::Curl {
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  Curl() {
    handle = curlReady() ? curl_easy_init() : nullptr;
    headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!handle || !headers) throw std::runtime_error("cannot set up libcurl");
  }
  ~Curl() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(handle);
  }
};

// What every transfer to a member sets: the protocols, no signals, TLS.
static void setCommon(CURL* h, const EtcdTls& tls) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!tls.caFile.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, tls.caFile.c_str());
  if (!tls.certFile.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, tls.certFile.c_str());
  if (!tls.keyFile.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, tls.keyFile.c_str());
}

Etcd::Etcd(std::vector<std::string> members, std::chrono::milliseconds timeout, EtcdTls tls)
    : members_(std::move(members)), timeout_(timeout), tls_(std::move(tls)), curl_(std::make_unique<Curl>()) {
  if (members_.empty()) throw std::invalid_argument("etcd: no member to talk to");
  for (auto& m : members_)
    while (!m.empty() && m.back() == '/') m.pop_back();
}

Etcd::~Etcd() = default;

std::optional<std::string> Etcd::call(const std::string& path, const std::string& body, std::string* error) {
  std::string problems;
  for (size_t tried = 0; tried < members_.size(); ++tried) {
    const std::string& member = members_[current_];
    std::string answer;
    CURL* h = curl_->handle;
    curl_easy_reset(h);
    std::string url = member + path;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl_->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, appendTo);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    setCommon(h, tls_);
    CURLcode rc = curl_easy_perform(h);
    std::string why;
    if (rc != CURLE_OK) {
      why = curl_easy_strerror(rc);
    } else {
      json j = json::parse(answer, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        why = "not a JSON object: " + answer.substr(0, 200);
      } else {
        int code = 0;
        std::string etcdWhy = etcdError(j, &code);
        if (etcdWhy.empty()) return answer;
        if (!memberUnavailable(code)) {
          if (error) *error = member + ": " + etcdWhy;
          return std::nullopt;
        }
        why = etcdWhy;
      }
    }
    problems += (problems.empty() ? "" : "; ") + member + ": " + why;
    current_ = (current_ + 1) % members_.size();
  }
  if (error) *error = "no etcd member answered (" + problems + ")";
  return std::nullopt;
}

namespace {

// Runs `read` on the parsed answer, turning a malformed one into an error.
template <typename T, typename Read>
std::optional<T> readAnswer(const std::optional<std::string>& answer, std::string* error, Read read) {
  if (!answer) return std::nullopt;
  try {
    return read(json::parse(*answer));
  } catch (const std::exception& e) {
    if (error) *error = std::string("etcd answered something unexpected: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace

std::optional<int64_t> Etcd::grantLease(int64_t ttlSeconds, std::string* error) {
  auto answer = call("/v3/lease/grant", json{{"TTL", std::to_string(ttlSeconds)}}.dump(), error);
  return readAnswer<int64_t>(answer, error, [](const json& j) {
    int64_t id = int64Field(j, "ID");
    if (id == 0) throw std::runtime_error("a lease without an id");
    return id;
  });
}

std::optional<int64_t> Etcd::keepAlive(int64_t lease, std::string* error) {
  auto answer = call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump(), error);
  // A lease that no longer exists comes back without a TTL.
  return readAnswer<int64_t>(answer, error, [](const json& j) { return int64Field(j.at("result"), "TTL"); });
}

bool Etcd::revokeLease(int64_t lease, std::string* error) {
  return call("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump(), error).has_value();
}

std::optional<int64_t> Etcd::put(const std::string& key, const std::string& value, int64_t lease, std::string* error) {
  json request = {{"key", base64(key)}, {"value", base64(value)}};
  if (lease) request["lease"] = std::to_string(lease);
  auto answer = call("/v3/kv/put", request.dump(), error);
  return readAnswer<int64_t>(answer, error, [](const json& j) { return int64Field(j.at("header"), "revision"); });
}

std::optional<int64_t> Etcd::remove(const std::string& key, std::string* error) {
  auto answer = call("/v3/kv/deleterange", json{{"key", base64(key)}}.dump(), error);
  return readAnswer<int64_t>(answer, error, [](const json& j) { return int64Field(j.at("header"), "revision"); });
}

std::optional<Etcd::Range> Etcd::rangePrefix(const std::string& prefix, std::string* error) {
  auto answer = call("/v3/kv/range", json{{"key", base64(prefix)}, {"range_end", base64(prefixEnd(prefix))}}.dump(), error);
  return readAnswer<Range>(answer, error, [](const json& j) {
    Range r;
    r.revision = int64Field(j.at("header"), "revision");
    if (j.contains("kvs"))
      for (const auto& kv : j.at("kvs")) r.kvs.push_back(keyValueFrom(kv));
    return r;
  });
}

bool Etcd::compact(int64_t revision, std::string* error) {
  return call("/v3/kv/compaction", json{{"revision", std::to_string(revision)}, {"physical", true}}.dump(), error)
      .has_value();
}

namespace {

// The state of one watch stream while libcurl delivers it.
struct WatchStream {
  std::string buffer;
  bool compacted = false;
  int64_t compactRevision = 0;
  std::string failure;  // set: abort the transfer with this error

  std::vector<WatchEvent> pending;  // this chunk's events, handed on together
  bool created = false;             // the member confirmed the watch

  // One message of the stream, its events added to `pending`; false to end it.
  bool message(const std::string& line) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      failure = "the watch stream sent something that is not JSON: " + line.substr(0, 200);
      return false;
    }
    if (std::string why = etcdError(j, nullptr); !why.empty()) {
      failure = "the watch ended: " + why;
      return false;
    }
    try {
      const json& r = j.at("result");
      if (int64_t compact = int64Field(r, "compact_revision"); compact > 0) {
        compacted = true;
        compactRevision = compact;
        return false;
      }
      if (r.value("created", false)) created = true;
      if (r.value("canceled", false)) {
        failure = "etcd canceled the watch: " + r.value("cancel_reason", std::string("no reason given"));
        return false;
      }
      if (r.contains("events"))
        for (const auto& e : r.at("events")) {
          WatchEvent ev;
          ev.deleted = e.value("type", "PUT") == "DELETE";
          ev.kv = keyValueFrom(e.at("kv"));
          pending.push_back(std::move(ev));
        }
      return true;
    } catch (const std::exception& e) {
      failure = std::string("the watch stream sent an unexpected message: ") + e.what();
      return false;
    }
  }

  // Every complete message of what arrived, its events queued in `pending`
  // (libcurl calls this once per HTTP chunk, that is once per message).
  static size_t write(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<WatchStream*>(user);
    s->buffer.append(data, size * count);
    size_t start = 0;
    bool go = true;
    for (size_t nl; go && (nl = s->buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = s->buffer.substr(start, nl - start);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      go = s->message(line);
    }
    if (!go) return 0;  // aborts the transfer
    s->buffer.erase(0, start);
    // A message longer than any etcd sends for our keys: a broken stream.
    if (s->buffer.size() > (64u << 20)) {
      s->failure = "the watch stream sent a message over 64 MiB";
      return 0;
    }
    return size * count;
  }
};

}  // namespace

WatchEnd Etcd::watchPrefix(const std::string& prefix, int64_t startRevision,
                           const std::function<void(const std::vector<WatchEvent>&)>& onEvents,
                           const std::function<bool()>& stop, int64_t* compactRevision, std::string* error) {
  const std::string& member = members_[current_];
  json request = {{"create_request",
                   {{"key", base64(prefix)},
                    {"range_end", base64(prefixEnd(prefix))},
                    {"start_revision", std::to_string(startRevision)}}}};
  std::string body = request.dump(), url = member + "/v3/watch";
  WatchStream stream;

  Curl curl;
  CURL* h = curl.handle;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl.headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WatchStream::write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &stream);
  // Large chunks: what arrived while the caller was busy comes in few calls.
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  setCommon(h, tls_);
  // A member that vanishes without closing the connection is noticed within
  // a few seconds.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);

  // The multi interface, so that `stop` is asked between short polls.
  CURLM* multi = curl_multi_init();
  curl_multi_add_handle(multi, h);
  WatchEnd end = WatchEnd::Failed;
  std::string why;
  // The events of everything one curl_multi_perform read, in one call: a
  // caller that falls behind (its handling waits for the node lock) gets
  // what piled up meanwhile at once, not one message at a time.
  bool told = false;  // that the watch is established (an empty call)
  auto deliver = [&] {
    if (stream.pending.empty() && (told || !stream.created)) return;
    told = told || stream.created;
    onEvents(stream.pending);
    stream.pending.clear();
  };
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    deliver();
    if (mc != CURLM_OK) {
      why = curl_multi_strerror(mc);
      break;
    }
    if (running == 0) {
      int left = 0;
      CURLcode rc = CURLE_OK;
      while (CURLMsg* m = curl_multi_info_read(multi, &left))
        if (m->msg == CURLMSG_DONE) rc = m->data.result;
      if (stream.compacted) {
        end = WatchEnd::Compacted;
      } else if (!stream.failure.empty()) {
        why = stream.failure;
      } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        why = rc != CURLE_OK ? curl_easy_strerror(rc)
                             : "the member closed the watch (HTTP " + std::to_string(status) + ")";
      }
      break;
    }
    if (stop()) {
      end = WatchEnd::Stopped;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, 200, nullptr);
  }
  curl_multi_remove_handle(multi, h);
  curl_multi_cleanup(multi);
  if (end == WatchEnd::Compacted && compactRevision) *compactRevision = stream.compactRevision;
  if (end == WatchEnd::Failed) {
    if (error) *error = member + ": " + why;
    current_ = (current_ + 1) % members_.size();
  }
  return end;
}

}  // namespace membrane::cluster
