// Package interop tests wsify against WebSocket clients this project did
// not write: headless Chromium's own WebSocket (driven by playwright-core),
// Python's websockets and Node's ws. The clients are the scripts in
// clients/; `make deps` installs what they need (Debian chromium and
// python3-websockets, and npm ci here for ws and playwright-core).
package interop
