// Fetching one version of artifacts for the cluster agent's rollout
// (docs/cluster.md, "Rolling out a version"): the artifacts key names a
// source (a directory on the node, or an http/https URL of the directory
// membranec wrote) and the SHA-256 of its manifest.json. The manifest is
// fetched and checked against that hash first; it then names every object
// with its own SHA-256, which apply checks. So one hash in etcd pins every
// byte the node loads, wherever the files came from.
#pragma once

#include <optional>
#include <string>

namespace membrane::cluster {

struct ArtifactsWanted {
  std::string source;          // "/srv/policy/v7", "file:///srv/policy/v7", "https://host/policy/v7"
  std::string manifestSha256;  // 64 hex digits
};

// The artifacts key's value: {"source": ..., "manifest": "<sha256>"}; nullopt
// with `why` when it is not one.
std::optional<ArtifactsWanted> parseArtifactsWanted(const std::string& value, std::string* why);

// Copies or downloads the manifest and the objects it names into `into`
// (created; files in it replaced), refusing a manifest whose SHA-256 is not
// the wanted one, an object name that is not a plain file name, and files
// larger than any artifact membranec writes.
bool fetchArtifacts(const ArtifactsWanted& wanted, const std::string& into, std::string* error);

}  // namespace membrane::cluster
