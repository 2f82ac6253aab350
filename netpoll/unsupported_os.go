//go:build !linux && !darwin && !freebsd

package netpoll

// wsify's event loop is built on epoll, accept4 and eventfd; a kqueue port
// (easygo has the kqueue half) is not written yet. This line makes other
// systems fail to build with a message that says so, rather than with a
// list of missing symbols.
var _ = wsify_requires_linux_epoll_kqueue_port_not_written_yet
