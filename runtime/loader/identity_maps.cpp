// See identity_maps.h: the identity trie and its peer-bit words, in order.
#include "loader/identity_maps.h"

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "loader/kernel.h"

namespace membrane::loader {

std::optional<size_t> syncIdentityMaps(int trieFd, int moreFd, const std::vector<identity::TrieEntry>& entries,
                                       bool prune, std::string* error) {
  std::vector<identity::MorePeerWord> words = identity::morePeerWords(entries);
  if (moreFd < 0 && !words.empty()) {
    if (error) *error = "entries have peer bits past the trie value and there is no mb_more_peer_bits map";
    return std::nullopt;
  }
  // Only the words that are missing or differ are written, as for the trie.
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> hadWords;
  if (moreFd >= 0) {
    auto current = mapEntries<mb_more_peer_bits_key, uint64_t>(moreFd, error);
    if (!current) return std::nullopt;
    for (const auto& [k, v] : *current) hadWords[{k.set, k.word}] = v;
  }
  std::vector<mb_more_peer_bits_key> wordKeys;
  std::vector<uint64_t> wordValues;
  for (const auto& w : words)
    if (auto it = hadWords.find({w.key.set, w.key.word}); it == hadWords.end() || it->second != w.bits)
      wordKeys.push_back(w.key), wordValues.push_back(w.bits);
  if (!mapWrite(moreFd, wordKeys, wordValues, error)) {
    if (error) *error = "the peer bit map: " + *error;
    return std::nullopt;
  }
  // Read whole and written in batches: with a cluster's endpoints the trie
  // holds thousands of entries, and every join and agent update syncs it.
  auto current = mapEntries<mb_lpm_key, mb_identity>(trieFd, error);
  if (!current) return std::nullopt;
  auto bytes = [](const mb_lpm_key& k) { return std::string(reinterpret_cast<const char*>(&k), sizeof k); };
  std::map<std::string, mb_identity> had;
  for (const auto& [k, v] : *current) had.emplace(bytes(k), v);
  std::vector<mb_lpm_key> writeKeys, deleteKeys;
  std::vector<mb_identity> writeValues;
  std::set<std::string> keep;
  for (const auto& e : entries) {
    auto it = had.find(bytes(e.key));
    if (it == had.end() || std::memcmp(&it->second, &e.value, sizeof e.value) != 0) {
      writeKeys.push_back(e.key);
      writeValues.push_back(e.value);
    }
    keep.insert(bytes(e.key));
  }
  if (prune)
    for (const auto& [k, v] : *current)
      if (!keep.count(bytes(k))) deleteKeys.push_back(k);
  // Writes before deletes: an address that changes identity is never
  // missing meanwhile.
  if (!mapWrite(trieFd, writeKeys, writeValues, error)) {
    if (error) *error = "the identity map: " + *error;
    return std::nullopt;
  }
  size_t deleted = mapDelete(trieFd, deleteKeys);
  if (prune && moreFd >= 0) {
    std::set<std::pair<uint64_t, uint32_t>> wanted;
    for (const auto& w : words) wanted.emplace(w.key.set, w.key.word);
    std::vector<mb_more_peer_bits_key> unwanted;
    for (const auto& [k, v] : hadWords)
      if (!wanted.count(k)) unwanted.push_back({k.first, k.second, 0});
    mapDelete(moreFd, unwanted);
  }
  return writeKeys.size() + deleted;
}

}  // namespace membrane::loader
