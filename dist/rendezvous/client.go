package rendezvous

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"
)

// Client is one connection to a Server. Its methods may be called from several goroutines, but
// they take turns: while one waits in Get or Wait the others queue behind it (a goroutine that
// must not be held up should have a Client of its own). A call whose context ends leaves the
// Client usable; the next call reconnects if it has to.
type Client struct {
	addr    string
	timeout time.Duration // for reconnecting
	turn    chan struct{} // holds one token: the right to use conn
	conn    net.Conn      // nil after a call was cut off mid-frame
	br      *bufio.Reader
	closed  bool
}

// Dial connects to the Server at addr, retrying until it answers or timeout passes (a worker may
// start before the scheduler); timeout <= 0 retries until ctx ends.
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Client, error) {
	conn, err := dial(ctx, addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &Client{addr: addr, timeout: timeout, turn: make(chan struct{}, 1), conn: conn, br: bufio.NewReader(conn)}
	c.turn <- struct{}{}
	return c, nil
}

func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	backoff := 20 * time.Millisecond
	for {
		conn, err := d.DialContext(dctx, "tcp", addr)
		if err == nil {
			if err = ping(dctx, conn); err == nil {
				return conn, nil
			}
			conn.Close()
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		case <-dctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rendezvous %s: dial: %w (last error: %v)", addr, ctx.Err(), err)
		}
		return nil, fmt.Errorf("rendezvous: no scheduler answered at %s within %v (last error: %v); "+
			"check master_addr and master_port and that the scheduler is running", addr, timeout, err)
	}
}

// ping checks that what answers on conn is a rendezvous server.
func ping(ctx context.Context, conn net.Conn) error {
	dl := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn.SetDeadline(dl)
	defer conn.SetDeadline(time.Time{})
	if err := writeRequest(conn, opPing, 0, "", nil); err != nil {
		return err
	}
	status, _, err := readReply(conn)
	if err == nil && status != statusOK {
		err = fmt.Errorf("ping: reply status %d", status)
	}
	return err
}

// Close closes the connection. Calls after it fail.
func (c *Client) Close() error {
	<-c.turn
	defer func() { c.turn <- struct{}{} }()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Set stores value at key, replacing any earlier value, and wakes those waiting for key.
func (c *Client) Set(ctx context.Context, key string, value []byte) error {
	if len(value) > MaxValue {
		return fmt.Errorf("rendezvous %s: set %q: value of %d bytes is longer than %d", c.addr, key, len(value), MaxValue)
	}
	_, err := c.call(ctx, "set", opSet, key, value)
	return err
}

// Get waits until key is set (or ctx ends) and returns its value.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	return c.call(ctx, "get", opGet, key, nil)
}

// Add adds delta to the integer stored at key (0 when unset) and returns the new value. The
// integer is stored in decimal, so Get returns it as text ("3").
func (c *Client) Add(ctx context.Context, key string, delta int64) (int64, error) {
	p, err := c.call(ctx, "add", opAdd, key, binary.BigEndian.AppendUint64(nil, uint64(delta)))
	if err != nil {
		return 0, err
	}
	if len(p) != 8 {
		return 0, fmt.Errorf("rendezvous %s: add %q: reply of %d bytes, want 8", c.addr, key, len(p))
	}
	return int64(binary.BigEndian.Uint64(p)), nil
}

// Wait waits until every key is set (or ctx ends).
func (c *Client) Wait(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if _, err := c.call(ctx, "wait for", opWait, k, nil); err != nil {
			return err
		}
	}
	return nil
}

// call sends one request and returns the reply's payload. The verb names the call in errors.
func (c *Client) call(ctx context.Context, verb string, op byte, key string, value []byte) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("rendezvous %s: %s %q: %w", c.addr, verb, key, err)
	}
	if len(key) == 0 || len(key) > MaxKey {
		return fail(fmt.Errorf("key of %d bytes, want 1 to %d", len(key), MaxKey))
	}
	select {
	case <-c.turn:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	defer func() { c.turn <- struct{}{} }()
	if c.closed {
		return fail(net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var waitMs uint32
	if dl, ok := ctx.Deadline(); ok {
		ms := (time.Until(dl) + time.Millisecond - 1) / time.Millisecond
		waitMs = uint32(min(max(ms, 1), math.MaxUint32))
	}
	if c.conn == nil {
		conn, err := dial(ctx, c.addr, c.timeout)
		if err != nil {
			return nil, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	conn := c.conn
	conn.SetDeadline(time.Time{})
	// When ctx ends, cut the exchange short: at once when it is cancelled; when its deadline
	// passes, after a grace period in which the server's own timed-out reply should arrive.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			conn.SetDeadline(time.Now().Add(grace))
		} else {
			conn.SetDeadline(time.Now())
		}
	})
	status, payload, err := c.exchange(op, waitMs, key, value)
	if !stop() {
		<-fired
	}
	if err != nil {
		// The connection may be mid-frame: drop it; the next call reconnects.
		conn.Close()
		c.conn = nil
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(fmt.Errorf("connection closed by the server (has the scheduler stopped?): %w", err))
		}
		return fail(err)
	}
	switch status {
	case statusOK:
		return payload, nil
	case statusTimeout:
		return fail(context.DeadlineExceeded)
	case statusError:
		return fail(errors.New(string(payload)))
	}
	conn.Close()
	c.conn = nil
	return fail(fmt.Errorf("reply with unknown status %d", status))
}

func (c *Client) exchange(op byte, waitMs uint32, key string, value []byte) (byte, []byte, error) {
	if err := writeRequest(c.conn, op, waitMs, key, value); err != nil {
		return 0, nil, err
	}
	return readReply(c.br)
}

func writeRequest(w io.Writer, op byte, waitMs uint32, key string, value []byte) error {
	h := make([]byte, requestHeaderLen, requestHeaderLen+len(key))
	h[0] = op
	binary.BigEndian.PutUint32(h[1:5], waitMs)
	binary.BigEndian.PutUint32(h[5:9], uint32(len(key)))
	binary.BigEndian.PutUint32(h[9:13], uint32(len(value)))
	h = append(h, key...)
	bufs := net.Buffers{h, value}
	_, err := bufs.WriteTo(w)
	return err
}

func readReply(r io.Reader) (byte, []byte, error) {
	var h [replyHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxValue {
		return 0, nil, fmt.Errorf("reply of %d bytes is longer than %d", n, MaxValue)
	}
	if h[0] == statusError && n > maxErrorMessage {
		return 0, nil, fmt.Errorf("error reply of %d bytes is longer than %d", n, maxErrorMessage)
	}
	p, err := readBody(r, n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return h[0], p, err
}
