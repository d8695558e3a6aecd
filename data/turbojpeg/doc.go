// Package turbojpeg decodes JPEGs with libjpeg-turbo's TurboJPEG library (libturbojpeg), found at run
// time, for the ImageNet input pipeline. Where the library is missing, Load says so and callers use
// the pure-Go decoder (package data/jpeg).
//
// # Loading
//
// Nothing is linked at build time: Load opens the library with dlopen and binds each function with
// dlsym, so one binary uses libjpeg-turbo where it is installed. It tries the file
// $RESNEXT_TURBOJPEG_LIB alone when that is set, else libturbojpeg.so.0 then libturbojpeg.so through
// the dynamic loader's search path (Debian/Ubuntu: apt-get install libturbojpeg0; RHEL/openEuler:
// libjpeg-turbo). Lib.String names the file and the API in use, for the log line saying which decoder
// runs. With CGO_ENABLED=0 the package compiles, and Load returns an error wrapping ErrNoCgo.
//
// # Two APIs
//
// libjpeg-turbo 1.4 to 2.x has the TurboJPEG 2 API (tjDecompress2); 3.0 and later also have the
// TurboJPEG 3 API (tj3*), which this package uses when present. Both decode with the accurate integer
// IDCT and fancy upsampling (libjpeg's defaults, as PIL uses them), so at 1/1 the pixels are PIL's, bit
// for bit, with the same libjpeg-turbo; scaled decodes are PIL's draft decodes at the same scale.
// With the TurboJPEG 3 API a crop is decoded alone (tj3SetScalingFactor, tj3SetCroppingRegion): only
// its rows, and its columns widened to the scaled iMCU grid (see Decoder.Decode). With the TurboJPEG 2
// API the whole scaled picture is decoded; there tjDecompress2 chooses the scaling factor from the
// output size, which is 1/scale for any picture of 8 pixels or more on a side (smaller ones may get a
// larger factor with the same output size).
//
// Both paths are tested: the TurboJPEG 2 one against Debian bookworm's libjpeg-turbo 2.1.5, the
// TurboJPEG 3 one (and the TurboJPEG 2 functions of the same library) against libjpeg-turbo 3.1.4.1
// built from source, selected with RESNEXT_TURBOJPEG_LIB.
//
// # Errors
//
// libjpeg's warnings (corrupt or truncated data, which it would otherwise fill with grey) are errors
// (TJFLAG_STOPONWARNING): an *Error carrying the library's message and whether it was a warning.
// Progressive JPEGs of more than 500 scans are refused (TJFLAG_LIMITSCANS), as are headers of more
// than jpeg.MaxPixels pixels (ErrTooLarge), before anything is allocated. Pictures TurboJPEG cannot decode
// to 8-bit RGB (CMYK, YCCK, 12-bit, lossless) give an error wrapping ErrUnsupported, for the caller to
// decode another way; greyscale pictures decode to RGB.
//
// # Memory and concurrency
//
// A Decoder wraps one TurboJPEG handle and decodes into a buffer it owns, which the next Decode
// reuses: no allocation in the steady state. Use a Decoder from one goroutine at a time, and one
// Decoder per goroutine to decode in parallel. Close frees the handle (an unreachable Decoder's is
// freed by the garbage collector).
//
// # Prototypes
//
// turbojpeg.h is not needed to build: shim.h declares each bound function by hand (TJX_SYMBOLS) and
// the constants used. With the header installed (Debian/Ubuntu: apt-get install libturbojpeg0-dev),
// check them with
//
//	go test -tags turbojpeg_headers -run TestHeader ./data/turbojpeg
//
// which compiles header_check.cc, a static_assert per function type, struct layout and constant, and
// compares the iMCU widths. Point CGO_CXXFLAGS=-I<dir> at another libjpeg-turbo's turbojpeg.h to check
// against it; the tj3 prototypes are checked with a libjpeg-turbo 3 header.
//
// # Fixtures
//
// testdata holds small JPEGs and PIL's decodes of them, written by scripts/gen_turbojpeg_fixtures.py.
package turbojpeg
