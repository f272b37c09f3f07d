#!/usr/bin/env bash
# The main job on the shipped examples: check every policy in policies/
# against its inventory and show the endpoint classes the compiler derives.
set -euo pipefail
cd "$(dirname "$0")/.."

membranec=build/compiler/membranec
status=0
for dir in policies/*/; do
  echo "== ${dir}"
  inventory=()
  [[ -f ${dir}inventory.json ]] && inventory=(--inventory "${dir}inventory.json")
  "$membranec" check "${inventory[@]}" "$dir" || status=$?
  if [[ $status -eq 0 ]]; then
    "$membranec" ir --format text "${inventory[@]}" "$dir"
  fi
done
exit "$status"
