//go:build !linux && !darwin && !freebsd

package netpoll

// wsify's event loop is built on epoll (Linux) or kqueue with EVFILT_USER
// (darwin, FreeBSD). OpenBSD's kqueue has no EVFILT_USER and x/sys has no
// accept4 for NetBSD or OpenBSD, so those would need a wake-up pipe and
// their own accept first. This line makes other systems fail to build with
// a message that says so, rather than with a list of missing symbols.
var _ = wsify_requires_linux_darwin_or_freebsd
