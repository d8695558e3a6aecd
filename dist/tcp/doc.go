// Package tcp is collective communication between the ranks of a data-parallel job over TCP, for the
// CPU backend (the role Gloo plays for PyTorch): a ring all-reduce of float32 or float16 buffers, a
// broadcast and a barrier.
//
// Each rank holds two connections: one it dialled to rank+1 (it only sends on it) and one it accepted
// from rank-1 (it only receives on it). A Ring runs one operation at a time; every rank must call the
// same operations in the same order with buffers of the same length.
//
// # Algorithm
//
// All-reduce is a reduce-scatter then an all-gather, each of size-1 steps. The buffer is split in size
// segments of whole elements (the first len%size segments one element longer). At reduce-scatter step s
// rank r sends segment (r-s) mod size and receives segment (r-s-1) mod size, adding what it receives to
// its own values (received + local, in float32); after the last step rank r holds the full sum of
// segment (r+1) mod size, summed in the fixed order x[j] + x[j+1] + ... + x[j+size-1] (ranks mod
// size) for segment j, and divides it by size there when a mean is asked. At all-gather step t rank r
// sends segment (r+1-t) mod size and receives segment (r-t) mod size, which it copies, so every rank
// ends with the same bits. Within a step a sender goroutine writes the segment in chunks of
// Options.ChunkBytes while the receiving side reads the next chunk into one of two scratch buffers
// as it reduces the previous one. Float16 buffers (IEEE half floats stored as uint16) travel as
// halves; each element is added in float32 and rounded to the nearest half, ties to even, when stored.
//
// Broadcast sends root's buffer along the ring, each rank forwarding a chunk as soon as it has it.
// Barrier is size-1 steps of empty messages around the ring: a rank leaves it only after every rank
// has entered it.
//
// # Wire format
//
// All integers are little-endian. A connection starts with a 32-byte hello from the dialling rank:
//
//	offset size field
//	0      4    magic "RXTC"
//	4      2    version (1)
//	6      2    kind: 1 connect, 2 accept, 3 refuse
//	8      4    from: the sender's rank
//	12     4    to: the rank the sender means to reach
//	16     4    size: the number of ranks
//	20     4    reason (refuse only): 1 bad magic or version, 2 unexpected kind, 3 wrong sender rank,
//	            4 wrong destination rank, 5 size differs, 6 job token differs
//	24     8    job token: FNV-1a 64 of "resnext/dist/tcp", the size and the address list, so ranks
//	            given another job's addresses refuse each other
//
// The accepting rank answers with an accept hello (from and to swapped) or a refuse hello with a
// reason, after which it closes the connection and goes on waiting for the right peer.
//
// Then the connection carries messages, each a 40-byte header followed by payload bytes:
//
//	offset size field
//	0      4    magic "RXTC"
//	4      1    op: 1 all-reduce float32, 2 all-reduce float16, 3 broadcast, 4 barrier
//	5      1    flags: bit 0 mean
//	6      2    step within the operation (0 to 2*(size-1)-1 for all-reduce, 0 for broadcast)
//	8      8    seq: the operation's number on this ring, from 1
//	16     8    total: the length of the whole buffer (elements; bytes for broadcast)
//	24     8    payload: the number of bytes following the header
//	32     4    arg: the root for broadcast, else 0
//	36     4    reserved, 0
//
// The receiver checks every field against what it expects from its own call; a difference is an
// error naming the peer (a different total is reported as a length mismatch naming both ranks and
// lengths). Payloads are the segment's elements, little-endian float32 or uint16, or the broadcast
// bytes. The package runs on little-endian hosts only.
//
// # Errors
//
// Errors name this rank and the peer, as in "tcp ring: rank 0: receiving from rank 1
// (127.0.0.1:41233): i/o timeout after 5s". Every operation has Options.Timeout to finish; a peer that
// closes or stalls fails it within that time. After an error the ring closes its connections (so its
// neighbours fail at once instead of waiting) and every later operation returns that error.
package tcp
