package rendezvous

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"time"
)

// Server is the store. It serves any number of concurrent clients until Close.
type Server struct {
	ln   net.Listener
	done chan struct{} // closed by Close
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	values  map[string][]byte
	waiters map[string]chan struct{} // closed when the key is set
	conns   map[net.Conn]struct{}
}

// Listen starts a Server on addr ("host:port"; port 0 picks a free one).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rendezvous: listen on %s: %w (is master_port already in use?)", addr, err)
	}
	s := &Server{
		ln:      ln,
		done:    make(chan struct{}),
		values:  make(map[string][]byte),
		waiters: make(map[string]chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the server listens on, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it stops listening and closes every connection, so clients waiting in
// Get or Wait get an error. It waits for the server's goroutines to end.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			// A temporary failure (too many open files, say): try again shortly.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-s.done:
				return
			}
		}
		backoff = 0
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			conn.Close()
			return
		default:
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(conn)
	}
}

// request is one parsed request frame.
type request struct {
	op     byte
	waitMs uint32
	key    string
	value  []byte
}

// serve runs one connection: a reader goroutine parses requests and hands them over one at a
// time, so that while a request waits the server still notices the client going away.
func (s *Server) serve(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	reqs := make(chan request)
	gone := make(chan struct{}) // closed when the reader stops: the client left or sent garbage
	quit := make(chan struct{}) // closed when this handler stops
	defer close(quit)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(gone)
		br := bufio.NewReader(conn)
		for {
			req, err := readRequest(br)
			if err != nil {
				conn.Close() // malformed or ended: drop the connection
				return
			}
			select {
			case reqs <- req:
			case <-quit:
				return
			}
		}
	}()
	for {
		select {
		case req := <-reqs:
			status, payload := s.handle(req, gone)
			if status < 0 {
				return
			}
			if err := writeFrame(conn, byte(status), payload); err != nil {
				return
			}
		case <-gone:
			return
		case <-s.done:
			return
		}
	}
}

// handle runs one request and returns the reply, or a negative status when the connection is
// to be dropped (the client left or the server is closing).
func (s *Server) handle(req request, gone <-chan struct{}) (int, []byte) {
	switch req.op {
	case opPing:
		return statusOK, nil
	case opSet:
		s.mu.Lock()
		s.values[req.key] = req.value
		if ch, ok := s.waiters[req.key]; ok {
			close(ch)
			delete(s.waiters, req.key)
		}
		s.mu.Unlock()
		return statusOK, nil
	case opAdd:
		delta := int64(binary.BigEndian.Uint64(req.value))
		n, err := s.add(req.key, delta)
		if err != nil {
			msg := []byte(err.Error())
			return statusError, msg[:min(len(msg), maxErrorMessage)]
		}
		return statusOK, binary.BigEndian.AppendUint64(nil, uint64(n))
	default: // opGet, opWait: readRequest lets no other op through
		v, status := s.wait(req.key, req.waitMs, gone)
		if status != statusOK || req.op == opWait {
			return status, nil
		}
		return statusOK, v
	}
}

func (s *Server) add(key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.values[key]; ok {
		var err error
		n, err = strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("add to %q: its value is not an integer", key)
		}
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, fmt.Errorf("add %d to %q (%d): overflows int64", delta, key, n)
	}
	n += delta
	s.values[key] = strconv.AppendInt(nil, n, 10)
	if ch, ok := s.waiters[key]; ok {
		close(ch)
		delete(s.waiters, key)
	}
	return n, nil
}

// wait returns key's value once it is set; the status is statusTimeout when waitMs (if not 0)
// passes first, and negative when the client leaves or the server closes.
func (s *Server) wait(key string, waitMs uint32, gone <-chan struct{}) ([]byte, int) {
	s.mu.Lock()
	v, ok := s.values[key]
	if ok {
		s.mu.Unlock()
		return v, statusOK
	}
	ch, ok := s.waiters[key]
	if !ok {
		ch = make(chan struct{})
		s.waiters[key] = ch
	}
	s.mu.Unlock()

	var timeout <-chan time.Time
	if waitMs > 0 {
		t := time.NewTimer(time.Duration(waitMs) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		s.mu.Lock()
		v = s.values[key]
		s.mu.Unlock()
		return v, statusOK
	case <-timeout:
		return nil, statusTimeout
	case <-gone:
		return nil, -1
	case <-s.done:
		return nil, -1
	}
}

// errMalformed reports a request frame the server will not parse.
var errMalformed = errors.New("malformed request")

// readRequest reads one request frame, checking every length before it allocates.
func readRequest(r io.Reader) (request, error) {
	var h [requestHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return request{}, err
	}
	req := request{op: h[0], waitMs: binary.BigEndian.Uint32(h[1:5])}
	keyLen := binary.BigEndian.Uint32(h[5:9])
	valueLen := binary.BigEndian.Uint32(h[9:13])
	var minKey, maxValue, minValue uint32 = 1, 0, 0
	switch req.op {
	case opSet:
		maxValue = MaxValue
	case opAdd:
		minValue, maxValue = 8, 8
	case opGet, opWait:
	case opPing:
		minKey = 0
	default:
		return request{}, fmt.Errorf("%w: op %d", errMalformed, req.op)
	}
	if keyLen < minKey || keyLen > MaxKey || (req.op == opPing && keyLen != 0) {
		return request{}, fmt.Errorf("%w: key length %d", errMalformed, keyLen)
	}
	if valueLen < minValue || valueLen > maxValue {
		return request{}, fmt.Errorf("%w: value length %d for op %d", errMalformed, valueLen, req.op)
	}
	key := make([]byte, keyLen)
	if _, err := io.ReadFull(r, key); err != nil {
		return request{}, err
	}
	req.key = string(key)
	var err error
	req.value, err = readBody(r, valueLen)
	return req, err
}

// readBody reads n bytes, n already checked against its limit. A large body grows with the bytes
// that arrive rather than being allocated whole from the header's word.
func readBody(r io.Reader, n uint32) ([]byte, error) {
	if n <= 64<<10 {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var buf bytes.Buffer
	m, err := io.CopyN(&buf, r, int64(n))
	if m < int64(n) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFrame writes a reply's header and payload in one call.
func writeFrame(w io.Writer, status byte, payload []byte) error {
	var h [replyHeaderLen]byte
	h[0] = status
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	bufs := net.Buffers{h[:], payload}
	_, err := bufs.WriteTo(w)
	return err
}
