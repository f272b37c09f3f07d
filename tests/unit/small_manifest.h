// A small, consistent manifest built by hand, for the tests of the manifest
// model and of what the node computes from it (manifest_test.cpp,
// identity_table_test.cpp): no compiler and no kernel needed.
#pragma once

#include <string>

#include "abi/datapath.h"
#include "artifacts/manifest.h"

namespace membrane::artifacts::testing {

inline labels::Selector podIs(const std::string& value) {
  labels::Selector s;
  s.requirements.push_back({"pod", labels::Op::Equals, {value}});
  return s;
}

// x/a is selected by x/p, whose ingress allows x/b (bit 0) and denies a
// CIDR; x/b is in the open class.
inline Manifest smallManifest() {
  Manifest m;
  m.abiVersion = MB_ABI_VERSION;
  m.compilerVersion = "0.1.0";
  m.requiredFeatures = {"btf", "map:lpm_trie"};
  SelectorEntry sel;
  sel.bit = 0;
  sel.pods = podIs("b");
  sel.scope = NamespaceScope::Exact;
  sel.ns = "x";
  sel.text = "pods {pod = b} in namespace x";
  m.selectors.push_back(sel);

  labels::LabelSet nsLabels = {{"kubernetes.io/metadata.name", "x"}, {"ns", "x"}};
  m.identities.push_back({256, "x", {{"pod", "a"}}, nsLabels, {}, {}});
  m.identities.push_back({257, "x", {{"pod", "b"}}, nsLabels, {}, {0}});

  ClassEntry selected;
  selected.id = 0;
  selected.object = "class-0.o";
  selected.sha256 = std::string(64, 'a');
  selected.policies = {"x/p"};
  selected.endpoints = {"x/a"};
  selected.ingress = {true, false, {2, 1}, {}, {}};
  selected.portIntervals = 7;
  selected.programs = artifacts::skeletonProgramEntries();
  ClassEntry open;
  open.id = 1;
  open.object = "class-1.o";
  open.sha256 = std::string(64, 'b');
  open.endpoints = {"x/b"};
  open.programs = artifacts::skeletonProgramEntries();
  m.classes = {selected, open};

  m.endpoints.push_back({"a", "x", 256, {*net::Address::parse("198.18.1.1")}, 0});
  m.endpoints.push_back({"b", "x", 257, {*net::Address::parse("198.18.1.2"), *net::Address::parse("2001:2::1:2")}, 1});

  PolicyEntry p;
  p.key = "x/p";
  p.ns = "x";
  p.selects = podIs("a");
  m.policies.push_back(p);

  m.rules.push_back({1, "x/p", "ingress", "allow", false, "allow from pods { pod = b } on tcp/80", "t.policy:6:5"});
  m.rules.push_back({2, "x/p", "ingress", "deny", false, "deny from cidr 198.18.9.0/24 on any", "t.policy:7:5"});
  return m;
}

}  // namespace membrane::artifacts::testing
