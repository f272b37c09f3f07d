// libFuzzer target: arbitrary bytes as manifest.json through what `membrane
// apply` does with one before it touches the kernel.
//
//   1. Manifest::fromJson: the strict JSON reader (repeated keys, depth),
//      the field checks and Manifest::check, the consistency checks.
//   2. For a manifest it accepts, what apply and `endpoint add` compute from
//      it: identity::buildEntries (the trie, with host addresses), bitsFor
//      for every identity and for an endpoint learned after the compile,
//      selectingPolicies for every endpoint; and the manifest written again
//      with toJson must be read back to the same manifest.
//
// A bug is anything that escapes as an exception, any ASan/UBSan report, and
// these broken promises (each abort()s with a message): an accepted manifest
// whose trie cannot be built, whose identities' bits differ from bitsFor,
// whose endpoints run a class other than the one for the policies selecting
// them, or that does not survive toJson → fromJson unchanged.
//
// Seeds: tests/fuzz/corpus/manifest/ (the shop's manifest in both decision
// modes, and edits of it). Run: FUZZ_TARGETS=manifest tests/fuzz/run_fuzz.sh;
// a longer run is 10 minutes (FUZZ_SECONDS=600): at a few hundred execs/s on
// the ~30 KB seeds, that is where new coverage stopped appearing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "artifacts/manifest.h"
#include "identity/identity_table.h"

namespace {

using namespace membrane;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "manifest_fuzzer: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto m = artifacts::Manifest::fromJson(text, &error);
  if (!m) {
    if (error.empty()) broken("refused without a reason");
    return 0;
  }

  // What apply computes: the trie, with the node's own addresses.
  std::vector<net::Address> hosts = {*net::Address::parse("198.18.255.1"), *net::Address::parse("2001:2::ff:1")};
  std::vector<identity::TrieEntry> entries;
  if (!identity::buildEntries(*m, hosts, entries, &error)) broken("an accepted manifest has no trie: " + error);

  for (const auto& i : m->identities)
    if (m->bitsFor(i.ns, i.labels, i.namespaceLabels, i.ports) != i.bits) broken("identity bits differ from bitsFor");
  for (const auto& e : m->endpoints) {
    const artifacts::IdentityEntry* id = m->findIdentity(e.identity);
    if (!id) broken("an endpoint's identity is missing");
    auto selecting = m->selectingPolicies(e.ns, id->labels, id->namespaceLabels);
    const artifacts::ClassEntry* cls = e.classId ? m->findClass(*e.classId) : nullptr;
    if (e.classId && (!cls || cls->policies != selecting)) broken("an endpoint runs a class not for its policies");
    if (!e.classId) broken("an accepted endpoint runs no class");
  }
  // An endpoint learned after the compile, labelled like the first identity
  // (what `endpoint add` computes).
  if (!m->identities.empty()) {
    const auto& i = m->identities.front();
    m->bitsFor(i.ns, i.labels, {{"kubernetes.io/metadata.name", i.ns}}, {{"http", 6, 8080}});
    m->selectingPolicies(i.ns, i.labels, m->namespaceLabels(i.ns));
  }

  // The writer and the reader agree.
  std::string again = m->toJson();
  auto reread = artifacts::Manifest::fromJson(again, &error);
  if (!reread) broken("toJson of an accepted manifest is refused: " + error);
  if (reread->toJson() != again) broken("toJson → fromJson → toJson changes the manifest");
  return 0;
}
