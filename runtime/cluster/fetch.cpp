// Fetching artifacts for a rollout (fetch.h): from a directory, or over
// HTTP(S) with libcurl.
#include "cluster/fetch.h"

#include <curl/curl.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "artifacts/manifest.h"
#include "cluster/curl_init.h"
#include "io/file.h"
#include "io/json.h"

namespace membrane::cluster {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// As the loader reads them (loader.cpp): no artifact file is larger.
constexpr size_t kMaxFileBytes = 64 * io::kMiB;

bool isHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A name the manifest may give an object: one plain file in the artifact
// directory, nothing that climbs out of it or hides.
bool plainFileName(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name[0] != '.' &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

bool isUrl(const std::string& source) {
  return source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0;
}

size_t appendLimited(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * count > kMaxFileBytes) return 0;  // aborts: too large
  out->append(data, size * count);
  return size * count;
}

std::optional<std::string> download(const std::string& url, std::string* error) {
  CURL* h = curlReady() ? curl_easy_init() : nullptr;
  if (!h) {
    if (error) *error = "cannot set up libcurl";
    return std::nullopt;
  }
  std::string body;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, appendLimited);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 120000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) {
    if (error)
      *error = url + ": " + (rc == CURLE_WRITE_ERROR ? "larger than " + io::sizeText(kMaxFileBytes) : curl_easy_strerror(rc));
    return std::nullopt;
  }
  return body;
}

// One file of the artifacts: `name` under the source.
std::optional<std::string> readFrom(const std::string& source, const std::string& name, std::string* error) {
  if (isUrl(source)) return download(source + (source.back() == '/' ? "" : "/") + name, error);
  std::string dir = source.rfind("file://", 0) == 0 ? source.substr(7) : source;
  return io::readRegularFile((fs::path(dir) / name).string(), kMaxFileBytes, "an artifact file", error);
}

}  // namespace

std::optional<ArtifactsWanted> parseArtifactsWanted(const std::string& value, std::string* why) {
  std::string error;
  auto doc = io::parseJsonStrictly(value, &error);
  auto refuse = [&](const std::string& problem) {
    if (why) *why = problem + R"( (expected {"source": "DIR or URL", "manifest": "<SHA-256 of manifest.json>"}))";
    return std::nullopt;
  };
  if (!doc) return refuse(error);
  const json& j = doc->value;
  if (!j.is_object()) return refuse("not a JSON object");
  for (const auto& [k, v] : j.items())
    if (k != "source" && k != "manifest") return refuse("unknown key \"" + k + "\"");
  if (!j.contains("source") || !j["source"].is_string() || j["source"].get<std::string>().empty())
    return refuse("\"source\" must be a directory or an http(s) URL");
  if (!j.contains("manifest") || !j["manifest"].is_string() || !isHex64(j["manifest"]))
    return refuse("\"manifest\" must be 64 lowercase hex digits");
  ArtifactsWanted w{j["source"], j["manifest"]};
  if (!isUrl(w.source) && w.source.rfind("file://", 0) != 0 && w.source[0] != '/')
    return refuse("\"source\" must be an absolute directory, file:// or an http(s) URL");
  return w;
}

bool fetchArtifacts(const ArtifactsWanted& wanted, const std::string& into, std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error) *error = "cannot fetch the artifacts from " + wanted.source + ": " + why;
    return false;
  };
  std::string why;
  auto manifestText = readFrom(wanted.source, "manifest.json", &why);
  if (!manifestText) return fail(why);
  if (artifacts::sha256Hex(*manifestText) != wanted.manifestSha256)
    return fail("its manifest.json has SHA-256 " + artifacts::sha256Hex(*manifestText) + ", not the " +
                wanted.manifestSha256 + " the cluster asks for");
  auto manifest = artifacts::Manifest::fromJson(*manifestText, &why);
  if (!manifest) return fail("manifest.json: " + why);
  std::error_code ec;
  fs::create_directories(into, ec);
  if (ec) return fail("cannot create " + into + ": " + ec.message());
  std::set<std::string> done;
  for (const auto& c : manifest->classes) {
    if (!plainFileName(c.object)) return fail("the manifest names an object '" + c.object + "', not a plain file name");
    if (!done.insert(c.object).second) continue;
    auto object = readFrom(wanted.source, c.object, &why);
    if (!object) return fail(why);
    // apply checks it again when it loads; a mismatch here is said early.
    if (artifacts::sha256Hex(*object) != c.sha256) return fail(c.object + " does not match its SHA-256 in the manifest");
    if (!io::writeFileAtomically((fs::path(into) / c.object).string(), *object, &why)) return fail(why);
  }
  // The manifest last: a directory with it is complete.
  if (!io::writeFileAtomically((fs::path(into) / "manifest.json").string(), *manifestText, &why)) return fail(why);
  return true;
}

}  // namespace membrane::cluster
