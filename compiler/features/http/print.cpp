// HTTP, printing (http.h): the condition in `membranec ir`, as JSON (one
// object per request item) and as text (as it would be written).
#include "features/http/http.h"

namespace membrane::features::http {

std::string describeRequest(const ir::HttpRequestMatch& m) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (!m.method.empty()) add(m.method);
  if (!m.path.empty()) add("\"" + m.path + "\"");
  if (!m.host.empty()) add("host \"" + m.host + "\"");
  for (const auto& h : m.headers) add("header \"" + h.name + "\"" + (h.value ? " = \"" + *h.value + "\"" : ""));
  return out;
}

void printJson(const ir::Rule& rule, nlohmann::json& out) {
  const auto* c = rule.condition<ir::HttpCondition>();
  if (!c) return;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : c->requests) {
    nlohmann::json j = nlohmann::json::object();
    if (!m.method.empty()) j["method"] = m.method;
    if (!m.path.empty()) j["path"] = m.path;
    if (!m.host.empty()) j["host"] = m.host;
    if (!m.headers.empty()) {
      nlohmann::json hs = nlohmann::json::array();
      for (const auto& h : m.headers) {
        nlohmann::json hj = {{"name", h.name}};
        if (h.value) hj["value"] = *h.value;
        hs.push_back(hj);
      }
      j["headers"] = hs;
    }
    list.push_back(j);
  }
  out[kName] = list;
}

std::string describe(const ir::Rule& rule) {
  const auto* c = rule.condition<ir::HttpCondition>();
  if (!c) return "";
  std::string out = " with http { ";
  for (size_t i = 0; i < c->requests.size(); ++i) out += (i ? "; " : "") + describeRequest(c->requests[i]);
  return out + " }";
}

}  // namespace membrane::features::http
