#!/usr/bin/env bash
# The whole test suite: set up, build, run mocha (unit and lab tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx mocha "$@"
