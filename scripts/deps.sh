#!/usr/bin/env bash
# Installs what the test suite needs and this machine lacks. Safe to run again:
# it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# add packages here as "command:package"
# chromium, node, npm: the console's browser test (console/browser_test.go)
# and the JavaScript client's tests (clients/js)
# python3-websockets: the interop test's Python client (interop/)
# redis-server: the broker tests start a real one (broker/, server/cluster tests);
# redis-cli: brokertest creates a real Redis Cluster with it (redis-cli --cluster create)
for pair in chromium:chromium node:nodejs npm:npm redis-server:redis-server redis-cli:redis-tools ${WSIFY_APT_DEPS:-}; do
	cmd=${pair%%:*}; pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need_apt+=(python3-websockets)
if [ ${#need_apt[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# playwright-core drives Chromium for the console's browser test
[ -f console/e2e/node_modules/playwright-core/package.json ] ||
	npm ci --prefix console/e2e --no-audit --no-fund
# ws and playwright-core: the interop test's Node and Chromium clients
{ [ -f interop/node_modules/ws/package.json ] && [ -f interop/node_modules/playwright-core/package.json ]; } ||
	npm ci --prefix interop --no-audit --no-fund
# esbuild (a devDependency) measures the JavaScript client's minified size
[ -f clients/js/node_modules/esbuild/package.json ] ||
	npm ci --prefix clients/js --no-audit --no-fund
go mod download
