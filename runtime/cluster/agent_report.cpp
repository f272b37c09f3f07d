// agent.json read back for `membrane status` (agent_report.h).
#include "cluster/agent_report.h"

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/file.h"

namespace membrane::cluster {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::optional<AgentReport> readAgentReport(const std::string& stateDir, std::string* error) {
  std::string path = (fs::path(stateDir) / "agent.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  auto text = io::readRegularFile(path, 16 * io::kMiB, "agent.json", error);
  if (!text) return std::nullopt;
  try {
    json j = json::parse(*text);
    AgentReport r;
    r.node = j.at("node");
    r.pid = j.at("pid");
    r.running = r.pid > 0 && (kill(r.pid, 0) == 0 || errno == EPERM);
    r.etcd = j.at("etcd").get<std::vector<std::string>>();
    r.connected = j.at("connected");
    r.member = j.at("member");
    r.error = j.at("error");
    r.since = j.at("since");
    r.revision = j.at("revision");
    r.published = j.at("published");
    r.peers = j.at("peers");
    r.skipped = j.at("skipped").get<std::vector<std::string>>();
    r.malformed = j.at("malformed").get<std::vector<std::string>>();
    r.applyError = j.at("applyError");
    r.wanted = j.value("wanted", "");
    r.wantedSource = j.value("wantedSource", "");
    r.version = j.value("version", "");
    r.rolloutError = j.value("rolloutError", "");
    return r;
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + e.what();
    return std::nullopt;
  }
}

}  // namespace membrane::cluster
