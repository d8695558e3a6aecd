package ops

// Capturer is what a backend implements when it can record the kernels and copies of a step once
// and replay them: BeginCapture starts recording instead of running, EndCapture returns what was
// recorded as a Graph, and each Graph.Replay queues all of it again at the cost of one launch. The
// recorded work uses the tensors' addresses of the time it was recorded, and its scalars (a learning
// rate, a loss scale) are fixed in it: a step whose host-side values change from one replay to the
// next cannot be captured as it is. Nothing may be read back while capturing (Read and Sync fail).
type Capturer interface {
	// BeginCapture starts recording. An error means the device cannot capture here (the caller
	// runs its steps as they are).
	BeginCapture() error
	// EndCapture stops recording and returns the graph of what was queued since BeginCapture;
	// none of it has run.
	EndCapture() (Graph, error)
}

// Graph is a recorded sequence of device work (Capturer). The tensors the recorded work uses must
// outlive it: free the graph first.
type Graph interface {
	// Replay queues the recorded work once, behind what is already queued.
	Replay() error
	// Free releases the graph and the memory it kept for its scratch tensors.
	Free() error
}
