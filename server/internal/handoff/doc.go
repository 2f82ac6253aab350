// Package handoff is the wire between a running wsify process and the one
// that takes its sockets over: the messages on the Unix control socket
// (their encoding, no I/O) and the Link that carries them with file
// descriptors attached (SCM_RIGHTS). The server package decides what to
// send and when (server/handoff*.go).
//
// A message is a header of seven bytes, its kind, the number of file
// descriptors that travel with it (big-endian uint16) and the length of
// its payload (big-endian uint32), then the payload. Integers in payloads
// are varints, byte strings are a uvarint length and the bytes. The first
// message each way is a Hello naming the protocol version; a process that
// does not speak the other's version refuses and nothing else is sent.
package handoff
