#!/usr/bin/env bash
# Runs the client's tests (test/*.test.mjs) with Node's own test runner
# against the real wsify binary, built once here for the whole run. Node
# 22+ has a global WebSocket; Node 20 and 21 need --experimental-websocket,
# which this adds. Arguments go to `node --test` (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd ../.. && "${GO:-go}" build -o "$tmp/wsify" ./cmd/wsify)
export WSIFY_BIN="$tmp/wsify"
flags=()
if [ "$(node -p 'parseInt(process.versions.node)')" -lt 22 ]; then
	flags+=(--experimental-websocket)
fi
if [ $# -eq 0 ]; then set -- test/*.test.mjs; fi
# Every test is bounded: one that hangs fails after a minute.
node "${flags[@]}" --test --test-timeout=60000 "$@"
