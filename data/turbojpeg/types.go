package turbojpeg

import (
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/resnext/resnext/data/jpeg"
)

// EnvLib names the environment variable that, when set, is the one file Load tries (a path to a
// libturbojpeg shared library). It is meant for tests and unusual installations.
const EnvLib = "RESNEXT_TURBOJPEG_LIB"

// DefaultNames are the library names Load tries, in order, through the dynamic loader's search path
// when EnvLib is unset: the versioned name the runtime packages install, then the development link.
var DefaultNames = []string{"libturbojpeg.so.0", "libturbojpeg.so"}

// installHint tells how to get the library.
const installHint = "install libjpeg-turbo's TurboJPEG library (Debian/Ubuntu: apt-get install libturbojpeg0; " +
	"RHEL/openEuler: dnf install libjpeg-turbo) or set " + EnvLib + " to its path"

// Chrominance subsampling of a JPEG picture (Header.Subsampling), turbojpeg.h's TJSAMP values.
const (
	Subsampling444     = 0  // no subsampling
	Subsampling422     = 1  // chroma halved horizontally
	Subsampling420     = 2  // chroma halved both ways
	SubsamplingGray    = 3  // greyscale: no chroma
	Subsampling440     = 4  // chroma halved vertically
	Subsampling411     = 5  // chroma quartered horizontally
	Subsampling441     = 6  // chroma quartered vertically (libjpeg-turbo 3.0 and later)
	SubsamplingUnknown = -1 // an unusual layout (libjpeg-turbo 3.0 and later; older versions fail to read it)
)

// Colourspaces of a JPEG picture (Header.Colorspace), turbojpeg.h's TJCS values.
const (
	ColorspaceRGB   = 0 // RGB stored without transform
	ColorspaceYCbCr = 1 // the usual colour JPEG
	ColorspaceGray  = 2 // greyscale
	ColorspaceCMYK  = 3 // CMYK: not decodable to RGB here (ErrUnsupported)
	ColorspaceYCCK  = 4 // YCCK (transformed CMYK): not decodable to RGB here (ErrUnsupported)
)

// mcuWidth is the width of a picture's iMCU for each subsampling (turbojpeg.h's tjMCUWidth).
var mcuWidth = [...]int{8, 16, 16, 8, 8, 32, 8}

// Header is what a JPEG's header says about the picture, before any scaling.
type Header struct {
	Width, Height int
	Subsampling   int // one of the Subsampling constants
	Colorspace    int // one of the Colorspace constants
}

// ErrUnsupported is wrapped by errors for pictures this package declines but a full JPEG decoder may
// handle (CMYK and YCCK, precisions other than 8 bits, lossless JPEG, a scale the library lacks).
// Callers decode those with another decoder.
var ErrUnsupported = errors.New("turbojpeg: picture not supported by the TurboJPEG decoder")

// ErrTooLarge is wrapped by Decode's error for a header of more than jpeg.MaxPixels pixels, or of
// more than jpeg.MaxPixelsPerByte pixels per byte of the data.
var ErrTooLarge = errors.New("turbojpeg: picture too large")

// ErrNoCgo is returned by Load in a binary built with CGO_ENABLED=0.
var ErrNoCgo = errors.New("turbojpeg: libjpeg-turbo needs a cgo build (this binary was built with CGO_ENABLED=0); " +
	"rebuild with CGO_ENABLED=1 and a C compiler, or use the pure-Go decoder")

// Error is a failure reported by libjpeg-turbo: its message (tjGetErrorStr2 or tj3GetErrorStr) and
// whether it was a warning (TJERR_WARNING) that this package turns into an error, as it does for
// corrupt or truncated data, where the library would otherwise fill the rest of the picture grey.
type Error struct {
	Op      string // the operation: "read header", "decode", "init"
	Msg     string // the library's text
	Warning bool   // the library called it a warning; the data is corrupt or truncated
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(strings.ReplaceAll(e.Msg, "\n", " "))
	if e.Warning {
		return "turbojpeg: " + e.Op + ": " + msg + " (a libjpeg warning, treated as an error: the JPEG data is corrupt or truncated)"
	}
	return "turbojpeg: " + e.Op + ": " + msg
}

// LoadError says why Load found no usable libturbojpeg: each name or path tried and why it failed.
type LoadError struct {
	Tried   []string // names or paths given to dlopen, in order
	Reasons []string // dlopen's or dlsym's message for each
	Hint    string   // what to do
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("turbojpeg: no usable libturbojpeg (tried ")
	for i, t := range e.Tried {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t)
		if i < len(e.Reasons) && e.Reasons[i] != "" {
			b.WriteString(": " + e.Reasons[i])
		}
	}
	b.WriteString("); " + e.Hint)
	return b.String()
}

// candidates is what Load tries: the file named by EnvLib alone when set, else DefaultNames.
func candidates(getenv func(string) string) (names []string, hint string) {
	if p := getenv(EnvLib); p != "" {
		return []string{p}, "check the path in " + EnvLib + " (a libturbojpeg shared library, e.g. /usr/lib/x86_64-linux-gnu/libturbojpeg.so.0), or unset it"
	}
	return DefaultNames, installHint
}

// validScale reports whether scale is one Decode accepts.
func validScale(scale int) bool {
	return scale == 1 || scale == 2 || scale == 4 || scale == 8
}

// checkHeader refuses pictures Decode does not handle, before anything is allocated.
func checkHeader(h Header, precision int, lossless bool) error {
	if h.Width < 1 || h.Height < 1 {
		return fmt.Errorf("turbojpeg: the header gives no picture size (%dx%d); the data holds no image", h.Width, h.Height)
	}
	if int64(h.Width)*int64(h.Height) > int64(jpeg.MaxPixels) {
		return fmt.Errorf("%w: %dx%d pixels, more than jpeg.MaxPixels (%d); raise jpeg.MaxPixels if the picture is genuine",
			ErrTooLarge, h.Width, h.Height, jpeg.MaxPixels)
	}
	switch {
	case h.Colorspace == ColorspaceCMYK || h.Colorspace == ColorspaceYCCK:
		return fmt.Errorf("%w: a %s JPEG cannot be decoded to RGB by TurboJPEG", ErrUnsupported, colorspaceName(h.Colorspace))
	case lossless:
		return fmt.Errorf("%w: lossless JPEG", ErrUnsupported)
	case precision != 8:
		return fmt.Errorf("%w: %d-bit samples (only 8-bit pictures decode to 8-bit RGB)", ErrUnsupported, precision)
	}
	return nil
}

func colorspaceName(cs int) string {
	switch cs {
	case ColorspaceRGB:
		return "RGB"
	case ColorspaceYCbCr:
		return "YCbCr"
	case ColorspaceGray:
		return "greyscale"
	case ColorspaceCMYK:
		return "CMYK"
	case ColorspaceYCCK:
		return "YCCK"
	}
	return fmt.Sprintf("colourspace %d", cs)
}

// cropEdge is how many columns at each side of a cropped decode may differ from the whole picture's:
// fancy upsampling treats the edge of the cropping region as the picture's edge.
const cropEdge = 1

// window returns the part of the scaled picture (sw x sh) that Decode decodes for crop, and the
// window it returns, which contains crop. Without crop or cropping (canCrop false, or an unusual
// subsampling) both are the whole picture. Otherwise the region is crop widened by cropEdge columns
// each side (within the picture), its left edge then moved down to a multiple of the scaled iMCU width
// as tj3SetCroppingRegion requires; the window is the region less those cropEdge columns where the
// region ends inside the picture.
func window(sw, sh int, crop image.Rectangle, canCrop bool, subsamp, scale int) (region, win image.Rectangle, err error) {
	whole := image.Rect(0, 0, sw, sh)
	if crop.Empty() {
		return whole, whole, nil
	}
	if !crop.In(whole) {
		return whole, whole, fmt.Errorf("turbojpeg: crop %v is not inside the %dx%d picture decoded at 1/%d; "+
			"give a crop in scaled-picture coordinates (see jpeg.ScaledSize)", crop, sw, sh, scale)
	}
	if !canCrop || subsamp < 0 || subsamp >= len(mcuWidth) {
		return whole, whole, nil
	}
	iw, _ := jpeg.ScaledSize(mcuWidth[subsamp], 1, scale)
	x0 := max(0, crop.Min.X-cropEdge) / iw * iw
	x1 := min(sw, crop.Max.X+cropEdge)
	region = image.Rect(x0, crop.Min.Y, x1, crop.Max.Y)
	win = region
	if x0 > 0 {
		win.Min.X += cropEdge
	}
	if x1 < sw {
		win.Max.X -= cropEdge
	}
	return region, win, nil
}
