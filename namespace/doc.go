// Package namespace holds the per-namespace channel options and reads
// them from a namespaces file (JSON or a TOML subset).
//
// A channel's namespace is the part of its name before the first ':'
// ("chat:42" is in "chat"); a name without ':' is in the default
// namespace, "". Options of a namespace the file does not name, and
// fields it leaves out, come from the defaults (WSIFY_HISTORY_SIZE and
// WSIFY_HISTORY_TTL).
package namespace
