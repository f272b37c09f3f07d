#!/usr/bin/env bash
# The main job on the shipped examples (run after scripts/setup.sh):
#  1. check every policy set in policies/ against its inventory;
#  2. show the endpoint classes and rules the compiler derives;
#  3. on real traffic: start one pod (network namespace) per endpoint of the
#     shop example, compile with membranec, apply with membrane, probe every
#     pod from every other pod, print which flows were allowed or denied and
#     by which rule; then send HTTP requests (curl) from the frontend to the
#     api's nginx, where HTTP rules decide each one, and print each answer
#     and the rule the node counted it against; then clean everything up.
# Step 3 needs root (network namespaces and BPF) and nginx and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

membranec=build/compiler/membranec
for dir in policies/*/; do
  echo "== ${dir}"
  inventory=()
  [[ -f ${dir}inventory.json ]] && inventory=(--inventory "${dir}inventory.json")
  "$membranec" check "${inventory[@]}" "$dir"
  "$membranec" ir --format text "${inventory[@]}" "$dir"
  echo
done

echo "== the shop example on real traffic"
if [[ $(id -u) -eq 0 ]]; then
  build/tests/e2e/membrane_demo policies/shop
else
  sudo build/tests/e2e/membrane_demo policies/shop
fi
