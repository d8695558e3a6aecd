//go:build cgo

package ascend

import "github.com/resnext/resnext/acl"

// The elementwise aclnn calls the composite kernels are made of, on whole contiguous tensors.

// cast queues aclnnCast: Y = X converted to Y's type.
func (b *Backend) cast(op string, X, Y *tensor) {
	c := b.newCall(op)
	xi, yi := c.in(X), c.out(Y)
	dt := aclType(Y.dtype)
	c.attr(int64(dt))
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareCast(c.t(xi), dt, c.t(yi)) })
}

// muls queues aclnnMuls: Y = alpha*X.
func (b *Backend) muls(op string, X, Y *tensor, alpha float64) {
	c := b.newCall(op)
	xi, yi := c.in(X), c.out(Y)
	a := c.scalarF32(alpha)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareMuls(c.t(xi), c.sc(a), c.t(yi)) })
}

// inplaceMuls queues aclnnInplaceMuls: T *= alpha.
func (b *Backend) inplaceMuls(op string, T *tensor, alpha float64) {
	c := b.newCall(op)
	ti := c.inout(T)
	a := c.scalarF32(alpha)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceMuls(c.t(ti), c.sc(a)) })
}

// inplaceAdd queues aclnnInplaceAdd: T += alpha*O (O broadcast to T).
func (b *Backend) inplaceAdd(op string, T, O *tensor, alpha float64) {
	c := b.newCall(op)
	ti, oi := c.inout(T), c.in(O)
	a := c.scalarF32(alpha)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceAdd(c.t(ti), c.t(oi), c.sc(a)) })
}

// inplaceAdds queues aclnnInplaceAdds: T += v.
func (b *Backend) inplaceAdds(op string, T *tensor, v float64) {
	c := b.newCall(op)
	ti := c.inout(T)
	s, one := c.scalarF32(v), c.scalarF32(1)
	c.run(func(c *call) (*acl.Executor, error) { return b.dev.PrepareInplaceAdds(c.t(ti), c.sc(s), c.sc(one)) })
}
