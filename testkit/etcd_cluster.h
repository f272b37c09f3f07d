// A real etcd cluster for tests (Debian's etcd-server): 1 or 3 members on
// loopback ports of this machine, each a plain `etcd` process with its data
// in a scratch directory. Members can be stopped (SIGTERM), killed and
// started again with their data, for the failure tests.
//
//   EtcdCluster etcd(3);
//   Etcd client(etcd.clientUrls());
//   etcd.stop(0);      // the other two still have a quorum
//   etcd.start(0);     // back with its data; waits until it is healthy
//
// Cleanup: the destructor kills every member and removes the data. A member
// also dies with the process that started it (PR_SET_PDEATHSIG), so a test
// killed by ctest leaves no etcd behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "environment.h"

namespace membrane::testkit {

class EtcdCluster {
 public:
  // Starts `members` members and waits (up to 20 s) until every one says it
  // is healthy. Throws std::runtime_error with the members' logs on failure,
  // or when etcd is not installed.
  //
  // With `tls`, clients speak HTTPS and must show a certificate
  // (--client-cert-auth): a CA, the members' certificate (for 127.0.0.1)
  // and a client's are made with the openssl command first (tlsFiles()).
  explicit EtcdCluster(int members = 1, bool tls = false);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // "http://127.0.0.1:PORT" (https with tls) of every member, in order.
  std::vector<std::string> clientUrls() const;
  const std::string& clientUrl(int member) const;
  int size() const { return static_cast<int>(members_.size()); }

  // SIGTERM, and waits until it has exited.
  void stop(int member);
  // SIGKILL, and waits until it has exited.
  void kill(int member);
  // Starts a stopped member again with its data; with `wait`, waits until
  // it says it is healthy (which a member without a quorum never does:
  // start the others first, or without waiting).
  void start(int member, bool wait = true);
  bool running(int member) const;

  // What the member printed (its log file).
  std::string log(int member) const;
  // The body of GET `path` from the member's metrics port ("/metrics", "/health");
  // "" when it does not answer.
  std::string get(int member, const std::string& path) const;
  pid_t pid(int member) const { return members_.at(static_cast<size_t>(member)).pid; }

  // Why etcd cannot be started here ("" when it can): the binary is missing.
  static std::string unavailableReason();

  // With tls: the PEM files a client needs (the CA, a client certificate
  // and its key), and a certificate and key the CA never signed.
  struct TlsFiles {
    std::string ca, clientCert, clientKey, strangerCert, strangerKey;
  };
  const TlsFiles& tlsFiles() const { return tls_; }

 private:
  struct Member {
    std::string name, clientUrl, peerUrl, metricsUrl, dataDir, logPath;
    pid_t pid = -1;
  };
  void launch(Member& m, bool fresh);
  void waitHealthy(const Member& m, std::chrono::milliseconds timeout);

  std::unique_ptr<ScratchDir> dir_;
  void makeCertificates();
  std::string binary_, initialCluster_;
  bool useTls_ = false;
  TlsFiles tls_;
  std::string serverCert_, serverKey_;
  std::vector<Member> members_;
};

}  // namespace membrane::testkit
