// Package rendezvous is the store through which the ranks of a data-parallel job meet: the
// scheduler that msrun runs on master_addr:master_port. It is a small key-value store over TCP
// with blocking waits and timeouts. Each rank Dials it, calls Join to register its rank and the
// address its peers should dial (the TCP ring's listener, for instance) and to learn every rank's
// address; rank 0 publishes HCCL's root info with Set and the others read it with Get, which waits
// until the key is set.
//
// # Wire format
//
// A client sends requests and reads one reply to each, in order, on one TCP connection. All
// integers are big-endian.
//
// A request is a 13-byte header followed by the key and then the value:
//
//	op        uint8   1 Set, 2 Get, 3 Add, 4 Wait, 5 Ping
//	wait_ms   uint32  Get and Wait: give up after this many milliseconds (0: wait without limit);
//	                  ignored by the other ops
//	key_len   uint32  1 to 4096 (MaxKey); 0 only for Ping
//	value_len uint32  Set: 0 to 64 MiB (MaxValue); Add: 8; Get, Wait and Ping: 0
//	key       key_len bytes
//	value     value_len bytes (Add: the delta, a two's complement int64)
//
// A reply is a 5-byte header followed by its payload:
//
//	status    uint8   0 OK, 1 timed out (wait_ms passed first), 2 error
//	len       uint32  payload length, at most 64 MiB
//	payload   Get: the value; Add: the new value as an int64 (8 bytes); error: a message in UTF-8;
//	          otherwise empty
//
// Set stores the value (replacing any earlier one) and wakes the requests waiting for the key.
// Get replies with the value once the key is set. Add treats the value stored at key as a decimal
// integer in ASCII (0 when unset), adds the delta, stores the sum the same way and replies with it;
// a stored value that is not such an integer, or a sum that overflows, is an error reply and the
// connection stays open. Wait replies once the key is set, without the value. Ping replies at once;
// Dial uses it to check that a rendezvous server is answering.
//
// A request the server cannot parse (an unknown op, a length out of its range, a connection that
// ends inside a frame) makes the server close that connection without a reply; it checks every
// length before it allocates. Other connections are unaffected, and a request that waits holds
// up only its own connection.
package rendezvous

import "time"

// Limits of the wire format.
const (
	// MaxKey is the longest key, in bytes.
	MaxKey = 4 << 10
	// MaxValue is the longest value, in bytes.
	MaxValue = 64 << 20
)

// Request ops.
const (
	opSet  = 1
	opGet  = 2
	opAdd  = 3
	opWait = 4
	opPing = 5
)

// Reply statuses.
const (
	statusOK      = 0
	statusTimeout = 1
	statusError   = 2
)

const (
	requestHeaderLen = 13
	replyHeaderLen   = 5
	// maxErrorMessage bounds an error reply's message.
	maxErrorMessage = 4 << 10
	// grace is how long after its context's deadline a client waits for the server's own
	// timed-out reply before it gives up on the connection.
	grace = time.Second
)
