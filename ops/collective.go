package ops

// Collectives is implemented by a backend whose device exchanges tensors with the other ranks of a
// data-parallel job itself (HCCL on Ascend): package dist builds its Communicator on it. A job
// meets in one of two ways: rank 0 makes a root info and sends its bytes to every rank out of band
// (the job's scheduler), each rank passing them to NewCollective; or every rank reads the same rank
// table file (NewCollectiveRankTable).
type Collectives interface {
	// CollectiveRootInfo makes the root info of a new group on this backend's device; rank 0 calls
	// it and joins the group in the same process.
	CollectiveRootInfo() ([]byte, error)
	// NewCollective joins rank of size ranks meeting at rootInfo, waiting for the others.
	NewCollective(rootInfo []byte, rank, size int) (Collective, error)
	// NewCollectiveRankTable joins rank of the group the rank table file at path describes.
	NewCollectiveRankTable(path string, rank int) (Collective, error)
}

// Collective is one rank of a group made by a backend's Collectives: the operations of dist's
// Communicator on the backend's tensors, run by the device.
type Collective interface {
	// Rank is this rank, in [0, Size); Size the number of ranks.
	Rank() int
	Size() int
	// AllReduce sums t over the ranks in place (mean: then divides by Size), the same bits on every rank.
	AllReduce(t Tensor, mean bool) error
	// StartAllReduce begins AllReduce of a bucket of tensors of one dtype without waiting for it;
	// the tensors must be left alone until Wait.
	StartAllReduce(ts []Tensor, mean bool) error
	// Wait orders the buckets started before it ahead of the work queued after it.
	Wait() error
	// Broadcast copies root's t to every rank.
	Broadcast(t Tensor, root int) error
	// Barrier returns when every rank has reached it.
	Barrier() error
	// Close releases the group's resources.
	Close() error
}
