package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // Go's decoders register themselves with image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"github.com/resnext/resnext/data/jpeg"
	"github.com/resnext/resnext/data/transform"
	"github.com/resnext/resnext/data/turbojpeg"
)

// JPEG decoders an image folder can use (Options.JPEGDecoder, the jpeg_decoder key).
const (
	// DecoderAuto uses libjpeg-turbo when it is installed, else the Go decoder.
	DecoderAuto = "auto"
	// DecoderTurbo requires libjpeg-turbo (libturbojpeg, found at run time).
	DecoderTurbo = "libjpeg-turbo"
	// DecoderGo is the pure-Go decoder of package data/jpeg.
	DecoderGo = "go"
)

// jpegBackend is the JPEG decoder an image folder chose, shared by its workers.
type jpegBackend struct {
	turbo *turbojpeg.Lib // nil: the Go decoder
	desc  string
}

// chooseJPEG resolves the jpeg_decoder setting. (turbojpeg.Load loads the library once per
// process.)
func chooseJPEG(name string) (jpegBackend, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case DecoderGo:
		return jpegBackend{desc: "the Go decoder (jpeg_decoder go)"}, nil
	case "", DecoderAuto:
		lib, err := turbojpeg.Load()
		if err != nil {
			return jpegBackend{desc: fmt.Sprintf("the Go decoder (libjpeg-turbo is not available: %v)", err)}, nil
		}
		return turboBackend(lib), nil
	case DecoderTurbo, "turbojpeg", "libjpeg_turbo":
		lib, err := turbojpeg.Load()
		if err != nil {
			return jpegBackend{}, fmt.Errorf("jpeg_decoder %s: %w", name, err)
		}
		return turboBackend(lib), nil
	}
	return jpegBackend{}, fmt.Errorf("jpeg_decoder %q: want auto, libjpeg-turbo or go", name)
}

func turboBackend(lib *turbojpeg.Lib) jpegBackend {
	return jpegBackend{turbo: lib, desc: "libjpeg-turbo, " + lib.String()}
}

// pictureDecoder decodes the pictures of one goroutine, keeping its buffers and decoders between
// pictures so that steady-state decoding allocates little.
type pictureDecoder struct {
	turbo  *turbojpeg.Decoder // nil: not used
	goDec  jpeg.Decoder
	file   []byte
	rgb    transform.RGB // pictures of other formats, and JPEGs the fast decoders refuse
	turned []uint8       // a window turned upright (exif_orientation)
	orient bool
	// maxScale, when above 0, caps the decoding scale (tests compare with full decoding);
	// lastScale is the scale of the last JPEG decoded.
	maxScale, lastScale int
}

func newPictureDecoder(b jpegBackend, orient bool) (*pictureDecoder, error) {
	d := &pictureDecoder{orient: orient}
	if b.turbo != nil {
		t, err := b.turbo.NewDecoder()
		if err != nil {
			return nil, err
		}
		d.turbo = t
	}
	return d, nil
}

// close releases the decoder's library handle.
func (d *pictureDecoder) close() {
	if d.turbo != nil {
		d.turbo.Close()
		d.turbo = nil
	}
}

// readFile reads path into the decoder's reused buffer.
func (d *pictureDecoder) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	if n == 0 {
		return nil, fmt.Errorf("%s: the file is empty", path)
	}
	if n > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes: image files above %d MiB are not read", path, n, maxFileBytes>>20)
	}
	if int64(cap(d.file)) < n {
		d.file = make([]byte, n)
	}
	d.file = d.file[:n]
	if _, err := io.ReadFull(f, d.file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d.file, nil
}

// maxFileBytes bounds the image files an image folder reads.
const maxFileBytes = 256 << 20

// planner gives the plan of a sample from its picture's size (upright, full size).
type planner interface {
	plan(w, h int) (transform.Plan, error)
}

// decode reads the picture at path and decodes what the plan that pl makes of it needs: for a
// JPEG only the plan's window, at the smallest size that keeps the plan's output sharp. It
// returns the window and the plan in the window's coordinates.
func (d *pictureDecoder) decode(path string, pl planner) (transform.Window, transform.Plan, error) {
	b, err := d.readFile(path) // its errors name the file
	if err != nil {
		return transform.Window{}, transform.Plan{}, err
	}
	w, p, err := d.decodeBytes(b, pl)
	if err != nil {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, p, nil
}

// decodeBytes is decode of the file's bytes b.
func (d *pictureDecoder) decodeBytes(b []byte, pl planner) (transform.Window, transform.Plan, error) {
	if len(b) < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF {
		return d.decodeStd(b, pl)
	}
	w, p, err := d.decodeJPEG(b, pl)
	if err == nil || errors.Is(err, errPlan) {
		return w, p, err
	}
	// A JPEG the fast decoders refuse (arithmetic coding, 12-bit samples) may still be one Go's
	// image/jpeg reads; a broken file fails there too, with the fast decoder's error.
	if w, p, err2 := d.decodeStd(b, pl); err2 == nil {
		return w, p, nil
	}
	return transform.Window{}, transform.Plan{}, err
}

// errPlan marks an error of the transform's plan, not of the file's bytes.
var errPlan = errors.New("transform")

// decodeJPEG decodes the window of b that the plan needs, at 1/s of its size. (Pictures
// jpeg.CheckSize refuses are refused before anything is decoded.)
func (d *pictureDecoder) decodeJPEG(b []byte, pl planner) (transform.Window, transform.Plan, error) {
	hdr, err := jpeg.ReadHeader(b)
	if err != nil {
		return transform.Window{}, transform.Plan{}, err
	}
	if err := jpeg.CheckSize("JPEG", hdr.Width, hdr.Height, len(b)); err != nil {
		return transform.Window{}, transform.Plan{}, err
	}
	o := 1
	if d.orient {
		o = hdr.Orientation
	}
	w, h := upright(o, hdr.Width, hdr.Height)
	p, err := pl.plan(w, h)
	if err != nil {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("%w: %w", errPlan, err)
	}
	s := p.MaxScale()
	if d.maxScale > 0 {
		s = min(s, d.maxScale)
	}
	d.lastScale = s
	sw, sh := jpeg.ScaledSize(hdr.Width, hdr.Height, s)
	uw, uh := upright(o, sw, sh)
	ps := p.At(s, uw, uh)
	img, err := d.decodeWindow(b, s, stored(o, sw, sh, ps.Need()))
	if err != nil {
		return transform.Window{}, transform.Plan{}, err
	}
	win := transform.Window{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	if o > 1 {
		win = d.turn(o, sw, sh, win)
	}
	return win, ps, nil
}

// decodeWindow decodes window need of JPEG b at 1/s of its size: with libjpeg-turbo when the
// decoder has it, else, or for pictures the library refuses (CMYK), with the Go decoder.
func (d *pictureDecoder) decodeWindow(b []byte, s int, need image.Rectangle) (jpeg.Image, error) {
	if d.turbo != nil {
		img, err := d.turbo.Decode(b, s, need)
		if !errors.Is(err, turbojpeg.ErrUnsupported) {
			return img, err
		}
	}
	return d.goDec.Decode(b, s, need)
}

// decodeStd decodes b whole with Go's image decoders (PNG, GIF, BMP, WebP, and JPEGs the fast
// decoders refuse).
func (d *pictureDecoder) decodeStd(b []byte, pl planner) (transform.Window, transform.Plan, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("cannot decode the image (%s): %w", extList(), err)
	}
	if err := jpeg.CheckSize(format, cfg.Width, cfg.Height, len(b)); err != nil {
		return transform.Window{}, transform.Plan{}, err
	}
	// Go's decoders allocate the whole picture in its own colour model (8 bytes a pixel for 16-bit
	// RGBA) before reading the data: hold that, too, to MaxPixelsPerByte bytes a byte of the file.
	if n := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel); n > int64(jpeg.MaxPixelsPerByte)*int64(len(b)) {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("the %s image claims %dx%d pixels, %d MiB decoded, in %d bytes: more than jpeg.MaxPixelsPerByte (%d) decoded bytes per byte, which no genuine picture reaches; not decoded (raise jpeg.MaxPixelsPerByte if it is genuine)",
			format, cfg.Width, cfg.Height, n>>20, len(b), jpeg.MaxPixelsPerByte)
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("cannot decode the %s image: %w", format, err)
	}
	transform.ToRGBInto(img, &d.rgb)
	p, err := pl.plan(d.rgb.W, d.rgb.H)
	if err != nil {
		return transform.Window{}, transform.Plan{}, fmt.Errorf("%w: %w", errPlan, err)
	}
	return transform.WindowOf(&d.rgb), p, nil
}

// bytesPerPixel is what Go's image decoders allocate a pixel of colour model m.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// upright is the size of a w x h stored picture shown with EXIF orientation o: orientations 5 to
// 8 turn it by a quarter.
func upright(o, w, h int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// storedPoint maps pixel (x, y) of the upright picture to the stored w x h picture.
func storedPoint(o, w, h, x, y int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return y, h - 1 - x
	case 7:
		return w - 1 - y, h - 1 - x
	case 8:
		return w - 1 - y, x
	}
	return x, y
}

// stored maps a rectangle of the upright picture to the stored w x h picture.
func stored(o, w, h int, r image.Rectangle) image.Rectangle {
	if r.Empty() || o <= 1 || o > 8 {
		return r
	}
	x0, y0 := storedPoint(o, w, h, r.Min.X, r.Min.Y)
	x1, y1 := storedPoint(o, w, h, r.Max.X-1, r.Max.Y-1)
	return image.Rect(min(x0, x1), min(y0, y1), max(x0, x1)+1, max(y0, y1)+1)
}

// uprightPoint maps pixel (x, y) of the stored w x h picture to the upright one: the inverse of
// storedPoint, which is storedPoint of the inverse orientation on the upright picture (the
// quarter turns 6 and 8 undo each other; the other orientations undo themselves).
func uprightPoint(o, w, h, x, y int) (int, int) {
	inv := o
	switch o {
	case 6:
		inv = 8
	case 8:
		inv = 6
	}
	uw, uh := upright(o, w, h)
	return storedPoint(inv, uw, uh, x, y)
}

// turn copies window win of the stored w x h picture upright (EXIF orientation o).
func (d *pictureDecoder) turn(o, w, h int, win transform.Window) transform.Window {
	r := win.Rect
	x0, y0 := uprightPoint(o, w, h, r.Min.X, r.Min.Y)
	x1, y1 := uprightPoint(o, w, h, r.Max.X-1, r.Max.Y-1)
	ur := image.Rect(min(x0, x1), min(y0, y1), max(x0, x1)+1, max(y0, y1)+1)
	n := 3 * ur.Dx() * ur.Dy()
	if cap(d.turned) < n {
		d.turned = make([]uint8, n)
	}
	out := d.turned[:n]
	stride := 3 * ur.Dx()
	for y := ur.Min.Y; y < ur.Max.Y; y++ {
		row := out[(y-ur.Min.Y)*stride:]
		for x := ur.Min.X; x < ur.Max.X; x++ {
			sx, sy := storedPoint(o, w, h, x, y)
			copy(row[3*(x-ur.Min.X):][:3], win.Pix[(sy-r.Min.Y)*win.Stride+3*(sx-r.Min.X):])
		}
	}
	return transform.Window{Pix: out, Stride: stride, Rect: ur}
}
