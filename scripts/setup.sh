#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: the Debian packages tabby and its
# tests use, the npm packages (npm ci), and the build. Fast when done already.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  iproute2 iptables ipset nftables conntrack iputils-ping procps psmisc socat bash coreutils
  bird2 gobgpd frr etcd-server iperf3 containernetworking-plugins
)

if [ "$(id -u)" != 0 ]; then
  echo "tabby set-up: run as root (network namespaces, iptables and apt need it)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tabby set-up: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's packages must not start daemons in the root namespace (no systemd
  # here anyway); the tests start their own, inside their namespaces.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! command -v node >/dev/null; then
  echo "tabby set-up: Node.js 20 or newer is required (apt-get install nodejs npm)" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.tabby-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "tabby set-up: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

npm run --silent build
