#!/usr/bin/env bash
# The demo: set up, then build a lab of hosts and workloads in network
# namespaces and print it with its connectivity matrix. `bin/tabby lab down`
# removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./bin/tabby lab up "$@"
