// What the cluster agent (agent.h) tells `membrane status`: the file it
// keeps in the state directory, agent.json. Apart from the agent so that
// the node command reads it without linking the agent's etcd client (and
// libcurl, whose dependencies cost every `membrane` invocation ~10 ms of
// start-up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace membrane::cluster {

// What the agent last wrote to <state dir>/agent.json.
struct AgentReport {
  std::string node;
  int pid = 0;
  bool running = false;  // the process that wrote it is alive
  std::vector<std::string> etcd;
  bool connected = false;
  std::string member;    // the member it talks to
  std::string error;     // why etcd is unreachable, when it is not connected
  int64_t since = 0;     // unix seconds: when `connected` last changed
  int64_t revision = 0;  // the last etcd revision applied to the trie
  size_t published = 0;  // this node's endpoints under its keys
  size_t peers = 0;      // other nodes' endpoints in the trie
  std::vector<std::string> skipped;    // left out of the trie, and why
  std::vector<std::string> malformed;  // records that are not membrane's, and why
  std::string applyError;              // why the last trie update failed ("" when it did not)
  std::string wanted;                  // the artifacts key's manifest SHA-256 ("" when unset)
  std::string wantedSource;            // and where it said to fetch them
  std::string version;                 // the version this node runs
  std::string rolloutError;            // why the wanted version is not running, if it is not
};
std::optional<AgentReport> readAgentReport(const std::string& stateDir, std::string* error);

}  // namespace membrane::cluster
