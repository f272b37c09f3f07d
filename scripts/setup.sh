#!/usr/bin/env bash
# Installs every Debian package membrane needs, then configures and builds it.
# Idempotent: packages already present are not touched, so a second run only
# rebuilds what changed.
#
#   scripts/setup.sh            install + build (build/)
#   scripts/setup.sh --no-build install only
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  cmake make g++ pkg-config clang-14 llvm-14-dev libclang-14-dev libclang-cpp14-dev libclang-rt-14-dev
  # parser generator (needs Java) and its runtime; this pair is tested together
  antlr4 libantlr4-runtime-dev default-jre-headless
  # libraries
  libbpf-dev libssl-dev nlohmann-json3-dev libcli11-dev libfmt-dev libyaml-cpp-dev libgtest-dev googletest
  # membranec's allocator: LLVM and the parser allocate small objects by the
  # million, and glibc's malloc took 12-20% of a compile (docs/benchmarks.md)
  libjemalloc-dev
  # tools the tests and the node side use (strace: the kill test stops
  # `membrane` at exact steps of an apply with its syscall delay injection)
  bpftool iproute2 python3 strace
  # the traffic benchmark compares membrane with them (bench/traffic)
  iptables nftables
  # DNS tests and the lookup benchmark (tests/e2e/README.md, bench/dns): a real
  # DNS server run as a plain process in a pod (dnsmasq-base ships no service,
  # so nothing starts on the machine itself), and dig
  dnsmasq-base bind9-dnsutils
  # HTTP tests and benchmarks (docs/http.md, bench/http): nginx as the server in
  # a pod, curl and wrk as clients, HAProxy as the in-path L7 proxy compared
  # with. Their services are never started (see policy-rc.d below): the tests
  # run them as plain processes in network namespaces.
  nginx-light curl wrk haproxy
  # cluster mode (docs/cluster.md): etcd is the store nodes share endpoints
  # through (the tests start their own members on loopback ports; the
  # package's service is never started), the agent's etcd client speaks its
  # JSON API over libcurl, and the CNI tests chain membrane-cni after the
  # reference plugins (ptp, host-local)
  etcd-server etcd-client libcurl4-openssl-dev containernetworking-plugins
)

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  # Packages with services (nginx, haproxy) would start them on the machine
  # itself at install; Debian's policy-rc.d hook (exit 101) forbids that.
  # Only while installing, and only if the machine has none of its own.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    own_policy=1
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT  # also when the install fails
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((own_policy)); then
    as_root rm -f "$policy"
    trap - EXIT
  fi
else
  echo "setup: all ${#PACKAGES[@]} packages present"
fi

[[ ${1:-} == --no-build ]] && exit 0

# Warnings are errors in CI, so they cannot creep in; locally they stay warnings.
werror=OFF
[[ ${CI:-} == true ]] && werror=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMBRANE_WERROR="$werror" >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/compiler/membranec"
