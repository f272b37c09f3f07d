// The agent's etcd client (runtime/cluster/etcd.h) against real etcd members
// (testkit/etcd_cluster.h): reads, writes, leases, watches that resume and
// that notice compaction, and a member down.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "cluster/etcd.h"
#include "etcd_cluster.h"

namespace membrane::cluster {
namespace {

using namespace std::chrono_literals;
using testkit::EtcdCluster;

#define MB_REQUIRE_ETCD()                                                                        \
  do {                                                                                           \
    if (std::string why = EtcdCluster::unavailableReason(); !why.empty()) {                      \
      if (testkit::runningInCi()) FAIL() << why;                                                 \
      GTEST_SKIP() << why << "; CI=true makes this a failure";                                   \
    }                                                                                            \
  } while (0)

std::vector<std::string> keysOf(const Etcd::Range& r) {
  std::vector<std::string> out;
  for (const auto& kv : r.kvs) out.push_back(kv.key);
  return out;
}

TEST(PrefixEnd, IsTheFirstKeyAfterEveryKeyWithThePrefix) {
  EXPECT_EQ(prefixEnd("/a/"), "/a0");
  EXPECT_EQ(prefixEnd("a\xff"), "b");
  EXPECT_EQ(prefixEnd("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdClient, RangeReadsBackEveryKeyUnderThePrefixAndNothingElse) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::string error;
  ASSERT_TRUE(client.put("/m/a", "1", 0, &error)) << error;
  ASSERT_TRUE(client.put("/m/b", std::string("bytes\0\xff", 7), 0, &error)) << error;
  ASSERT_TRUE(client.put("/m0", "outside", 0, &error)) << error;
  ASSERT_TRUE(client.put("/l", "outside", 0, &error)) << error;
  auto r = client.rangePrefix("/m/", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(keysOf(*r), (std::vector<std::string>{"/m/a", "/m/b"}));
  EXPECT_EQ(r->kvs[1].value, std::string("bytes\0\xff", 7));
  EXPECT_GE(r->revision, r->kvs[1].modRevision);

  ASSERT_TRUE(client.remove("/m/a", &error)) << error;
  r = client.rangePrefix("/m/", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(keysOf(*r), (std::vector<std::string>{"/m/b"}));
}

TEST(EtcdClient, KeysPutWithALeaseGoWhenTheLeaseExpiresAndKeepAliveThenSaysZero) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::string error;
  auto lease = client.grantLease(1, &error);
  ASSERT_TRUE(lease) << error;
  ASSERT_TRUE(client.put("/m/leased", "x", *lease, &error)) << error;
  auto left = client.keepAlive(*lease, &error);
  ASSERT_TRUE(left) << error;
  EXPECT_GT(*left, 0);
  auto r = client.rangePrefix("/m/", &error);
  ASSERT_TRUE(r && r->kvs.size() == 1) << error;
  EXPECT_EQ(r->kvs[0].lease, *lease);

  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    r = client.rangePrefix("/m/", &error);
    ASSERT_TRUE(r) << error;
    if (r->kvs.empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(r->kvs.empty()) << "the leased key outlived its lease by 10 s";
  left = client.keepAlive(*lease, &error);
  ASSERT_TRUE(left) << error;
  EXPECT_EQ(*left, 0);
}

TEST(EtcdClient, ARevokedLeaseTakesItsKeysAtOnce) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::string error;
  auto lease = client.grantLease(60, &error);
  ASSERT_TRUE(lease) << error;
  ASSERT_TRUE(client.put("/m/leased", "x", *lease, &error)) << error;
  ASSERT_TRUE(client.revokeLease(*lease, &error)) << error;
  auto r = client.rangePrefix("/m/", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_TRUE(r->kvs.empty());
  EXPECT_FALSE(client.put("/m/again", "x", *lease, &error));
  EXPECT_NE(error.find("lease not found"), std::string::npos) << error;
}

// Collects a watch's events on a thread until told to stop.
struct Watcher {
  Etcd client;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<WatchEvent> events;
  WatchEnd end = WatchEnd::Failed;
  int64_t compactRevision = 0;
  std::string error;
  std::thread thread;

  Watcher(const std::vector<std::string>& members, const std::string& prefix, int64_t from) : client(members) {
    thread = std::thread([this, prefix, from] {
      end = client.watchPrefix(
          prefix, from,
          [this](const std::vector<WatchEvent>& batch) {
            std::lock_guard<std::mutex> l(mutex);
            events.insert(events.end(), batch.begin(), batch.end());
          },
          [this] { return stop.load(); }, &compactRevision, &error);
    });
  }
  ~Watcher() { finish(); }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mutex);
    return events.size();
  }
  bool waitFor(size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return count() >= n;
  }
};

TEST(EtcdClient, AWatchDeliversPutsAndDeletesInOrderFromItsStartRevision) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::string error;
  auto first = client.put("/m/a", "1", 0, &error);
  ASSERT_TRUE(first) << error;
  ASSERT_TRUE(client.put("/other", "x", 0, &error));
  // From the revision of the first put: it is seen too, though it came before the watch.
  Watcher w(etcd.clientUrls(), "/m/", *first);
  ASSERT_TRUE(client.put("/m/b", "2", 0, &error)) << error;
  ASSERT_TRUE(client.remove("/m/a", &error)) << error;
  ASSERT_TRUE(w.waitFor(3, 5s)) << "saw " << w.count() << " events";
  auto started = std::chrono::steady_clock::now();
  w.finish();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "stop() took too long to end the watch";
  EXPECT_EQ(w.end, WatchEnd::Stopped) << w.error;
  ASSERT_EQ(w.events.size(), 3u);
  EXPECT_FALSE(w.events[0].deleted);
  EXPECT_EQ(w.events[0].kv.key, "/m/a");
  EXPECT_EQ(w.events[0].kv.value, "1");
  EXPECT_EQ(w.events[1].kv.key, "/m/b");
  EXPECT_TRUE(w.events[2].deleted);
  EXPECT_EQ(w.events[2].kv.key, "/m/a");
  EXPECT_LT(w.events[0].kv.modRevision, w.events[1].kv.modRevision);
  EXPECT_LT(w.events[1].kv.modRevision, w.events[2].kv.modRevision);
}

TEST(EtcdClient, AWatchFromACompactedRevisionSaysSoInsteadOfMissingEvents) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::string error;
  int64_t rev = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = client.put("/m/k", std::to_string(i), 0, &error);
    ASSERT_TRUE(r) << error;
    rev = *r;
  }
  ASSERT_TRUE(client.compact(rev, &error)) << error;
  Watcher w(etcd.clientUrls(), "/m/", rev - 3);
  w.thread.join();
  EXPECT_EQ(w.end, WatchEnd::Compacted) << w.error;
  EXPECT_EQ(w.compactRevision, rev);
  EXPECT_EQ(w.count(), 0u);
}

TEST(EtcdClient, AWatchWhoseMemberDiesFailsAndSaysWhich) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Watcher w(etcd.clientUrls(), "/m/", 1);
  std::this_thread::sleep_for(300ms);
  etcd.kill(0);
  w.thread.join();
  EXPECT_EQ(w.end, WatchEnd::Failed);
  EXPECT_NE(w.error.find(etcd.clientUrl(0)), std::string::npos) << w.error;
}

TEST(EtcdClient, WithOneOfThreeMembersDownEveryRequestStillSucceeds) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(3);
  Etcd client(etcd.clientUrls());
  std::string error;
  ASSERT_TRUE(client.put("/m/before", "x", 0, &error)) << error;
  ASSERT_EQ(client.currentMember(), etcd.clientUrl(0));
  etcd.stop(0);
  auto lease = client.grantLease(30, &error);
  ASSERT_TRUE(lease) << error;
  ASSERT_TRUE(client.put("/m/after", "y", *lease, &error)) << error;
  EXPECT_NE(client.currentMember(), etcd.clientUrl(0));
  auto r = client.rangePrefix("/m/", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(keysOf(*r), (std::vector<std::string>{"/m/after", "/m/before"}));
  // The member comes back with its data and catches up.
  etcd.start(0);
  Etcd onlyFirst({etcd.clientUrl(0)});
  r = onlyFirst.rangePrefix("/m/", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(keysOf(*r), (std::vector<std::string>{"/m/after", "/m/before"}));
}

TEST(EtcdClient, WithNoMemberReachableARequestFailsNamingEachOne) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  std::string url = etcd.clientUrl(0);
  etcd.stop(0);
  Etcd client({url, "http://127.0.0.1:1"}, 500ms);
  std::string error;
  EXPECT_FALSE(client.put("/m/a", "x", 0, &error));
  EXPECT_NE(error.find("no etcd member answered"), std::string::npos) << error;
  EXPECT_NE(error.find(url), std::string::npos) << error;
  EXPECT_NE(error.find("http://127.0.0.1:1"), std::string::npos) << error;
}

// The agent's trie update can wait for the node lock for a second: what
// arrives meanwhile must come in one call, or it falls further behind with
// every change (bench/cluster found it one message per call).
TEST(EtcdClient, AWatchHandsASlowCallerEverythingThatPiledUpInOneCall) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1);
  Etcd client(etcd.clientUrls());
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, events{0};
  std::string error;
  std::thread watching([&] {
    Etcd w(etcd.clientUrls());
    int64_t compacted = 0;
    std::string why;
    w.watchPrefix(
        "/m/", 1,
        [&](const std::vector<WatchEvent>& batch) {
          ++calls;
          events += static_cast<int>(batch.size());
          std::this_thread::sleep_for(300ms);  // a slow caller
        },
        [&] { return stop.load(); }, &compacted, &why);
  });
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client.put("/m/k" + std::to_string(i), "v", 0, &error)) << error;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (events < 30 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  stop = true;
  watching.join();
  EXPECT_EQ(events, 30);
  EXPECT_LE(calls, 6) << "30 events in " << calls << " calls";
}

TEST(EtcdClient, OverTlsOnlyAClientWithACertificateTheMembersTrustGetsIn) {
  MB_REQUIRE_ETCD();
  EtcdCluster etcd(1, true);
  const auto& f = etcd.tlsFiles();
  std::string error;
  Etcd trusted(etcd.clientUrls(), std::chrono::milliseconds(2000), {f.ca, f.clientCert, f.clientKey});
  ASSERT_TRUE(trusted.put("/m/a", "1", 0, &error)) << error;
  auto r = trusted.rangePrefix("/m/", &error);
  ASSERT_TRUE(r && r->kvs.size() == 1) << error;
  {
    Watcher w(etcd.clientUrls(), "/m/", 1);  // a watcher without TLS files: refused
    w.thread.join();
    EXPECT_EQ(w.end, WatchEnd::Failed);
  }

  Etcd noCertificate(etcd.clientUrls(), std::chrono::milliseconds(2000), {f.ca, "", ""});
  EXPECT_FALSE(noCertificate.rangePrefix("/m/", &error));
  Etcd stranger(etcd.clientUrls(), std::chrono::milliseconds(2000), {f.ca, f.strangerCert, f.strangerKey});
  EXPECT_FALSE(stranger.rangePrefix("/m/", &error));
  // The members' certificate is not one the system trusts.
  Etcd systemCas(etcd.clientUrls(), std::chrono::milliseconds(2000), {"", f.clientCert, f.clientKey});
  EXPECT_FALSE(systemCas.rangePrefix("/m/", &error));
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
}

}  // namespace
}  // namespace membrane::cluster
