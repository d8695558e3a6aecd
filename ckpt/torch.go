package ckpt

import "github.com/resnext/resnext/ckpt/torch"

// readTorch reads the tensors of a PyTorch checkpoint (.pth, .pt, .bin) in file order.
func readTorch(path string) ([]Tensor, error) { return torch.Read(path) }
