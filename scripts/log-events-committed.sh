#!/usr/bin/env bash
# Regenerates docs/log-events.md from the committed sources only (HEAD), so
# uncommitted work in the checkout never leaks into the document.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive HEAD src scripts/log-events.mjs | tar -x -C "$tmp"
node "$tmp/scripts/log-events.mjs" > docs/log-events.md
