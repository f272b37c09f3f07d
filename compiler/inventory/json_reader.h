// Reading the values of an inventory file with messages that name the file
// and the field, e.g.
//   inventory.json: endpoints[2].addresses[0]: "10.1.2.300" is not an IPv4 or IPv6 address
// Shared by both formats (membrane_format.cpp, kubectl_pods.cpp) and the
// merge (inventory.cpp); internal to compiler/inventory/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "labels/selector.h"
#include "net/address.h"

namespace membrane::inventory::detail {

// Thrown inside the loader only; the public functions turn it into `error`.
struct LoadError {
  std::string message;
};

// `s` as a JSON string, cut after 80 bytes.
std::string quote(std::string_view s);
// JSON paths as messages print them: "a.b", "a[\"app.kubernetes.io/name\"]", "a[3]".
std::string member(const std::string& path, std::string_view key);
std::string element(const std::string& path, size_t i);
// A close match for a misspelt key or kind among `candidates`, or "".
std::string suggest(const std::string& word, const std::vector<std::string>& candidates);

// Typed access to the values of one file; every failure throws LoadError
// naming the file and the path.
class Reader {
 public:
  explicit Reader(const std::string& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const;

  void expectType(const nlohmann::json& v, nlohmann::json::value_t type, const char* what,
                  const std::string& path) const;

  // Strict formats reject keys they do not know so that a typo such as
  // "lables" is reported instead of silently dropping the labels.
  void checkKeys(const nlohmann::json& obj, const std::string& path, std::initializer_list<const char*> known) const;

  // The member `key` of `obj`, or nullptr when absent. `nullIsAbsent` is for
  // kubectl output, where Go may print empty fields as null.
  const nlohmann::json* find(const nlohmann::json& obj, const char* key, bool nullIsAbsent) const;
  const nlohmann::json& require(const nlohmann::json& obj, const char* key, const std::string& path) const;

  const nlohmann::json& object(const nlohmann::json& v, const std::string& path) const;
  const nlohmann::json& array(const nlohmann::json& v, const std::string& path) const;
  const std::string& string(const nlohmann::json& v, const std::string& path) const;
  bool boolean(const nlohmann::json& v, const std::string& path) const;
  // A non-empty string.
  const std::string& name(const nlohmann::json& v, const std::string& path) const;
  labels::LabelSet labelSet(const nlohmann::json& v, const std::string& path) const;
  net::Address address(const nlohmann::json& v, const std::string& path) const;
  uint16_t port(const nlohmann::json& v, const std::string& path) const;
  // TCP, UDP or SCTP, in any case, as a protocol number.
  uint8_t protocol(const nlohmann::json& v, const std::string& path) const;

 private:
  const std::string& file_;
};

}  // namespace membrane::inventory::detail
