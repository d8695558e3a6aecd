package turbojpeg

import (
	"errors"
	"image"
	"strings"
	"testing"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name           string
		sw, sh         int
		crop           image.Rectangle
		canCrop        bool
		subsamp, scale int
		region, win    image.Rectangle
	}{
		{"no crop", 100, 80, image.Rectangle{}, true, Subsampling420, 1, image.Rect(0, 0, 100, 80), image.Rect(0, 0, 100, 80)},
		{"api 2", 100, 80, image.Rect(30, 10, 50, 20), false, Subsampling420, 1, image.Rect(0, 0, 100, 80), image.Rect(0, 0, 100, 80)},
		{"unknown subsampling", 100, 80, image.Rect(30, 10, 50, 20), true, SubsamplingUnknown, 1, image.Rect(0, 0, 100, 80), image.Rect(0, 0, 100, 80)},
		{"4:2:0 at 1:1", 100, 80, image.Rect(33, 10, 50, 20), true, Subsampling420, 1, image.Rect(32, 10, 51, 20), image.Rect(33, 10, 50, 20)},
		{"left edge on an iMCU", 100, 80, image.Rect(32, 10, 50, 20), true, Subsampling420, 1, image.Rect(16, 10, 51, 20), image.Rect(17, 10, 50, 20)},
		{"touching both sides", 100, 80, image.Rect(0, 0, 100, 80), true, Subsampling420, 1, image.Rect(0, 0, 100, 80), image.Rect(0, 0, 100, 80)},
		{"4:2:0 at 1:8", 13, 10, image.Rect(5, 1, 9, 3), true, Subsampling420, 8, image.Rect(4, 1, 10, 3), image.Rect(5, 1, 9, 3)},
		{"4:1:1 at 1:2", 100, 80, image.Rect(40, 0, 99, 5), true, Subsampling411, 2, image.Rect(32, 0, 100, 5), image.Rect(33, 0, 100, 5)},
		{"grey at 1:8", 40, 30, image.Rect(3, 3, 4, 4), true, SubsamplingGray, 8, image.Rect(2, 3, 5, 4), image.Rect(3, 3, 4, 4)},
	}
	for _, tt := range tests {
		region, win, err := window(tt.sw, tt.sh, tt.crop, tt.canCrop, tt.subsamp, tt.scale)
		if err != nil || region != tt.region || win != tt.win {
			t.Errorf("%s: window = %v, %v, %v; want %v, %v", tt.name, region, win, err, tt.region, tt.win)
		}
	}
	if _, _, err := window(100, 80, image.Rect(90, 0, 101, 5), true, Subsampling420, 1); err == nil || !strings.Contains(err.Error(), "not inside the 100x80 picture") {
		t.Errorf("crop outside: %v", err)
	}
}

func TestCheckHeader(t *testing.T) {
	ok := Header{Width: 500, Height: 375, Subsampling: Subsampling420, Colorspace: ColorspaceYCbCr}
	if err := checkHeader(ok, 8, false); err != nil {
		t.Error(err)
	}
	for _, tt := range []struct {
		h         Header
		precision int
		lossless  bool
		is        error
		says      string
	}{
		{Header{Width: 1 << 15, Height: 1 << 14, Colorspace: ColorspaceYCbCr}, 8, false, ErrTooLarge, "MaxPixels"},
		{Header{Width: 10, Height: 10, Colorspace: ColorspaceCMYK}, 8, false, ErrUnsupported, "CMYK"},
		{Header{Width: 10, Height: 10, Colorspace: ColorspaceYCCK}, 8, false, ErrUnsupported, "YCCK"},
		{Header{Width: 10, Height: 10, Colorspace: ColorspaceYCbCr}, 12, false, ErrUnsupported, "12-bit"},
		{Header{Width: 10, Height: 10, Colorspace: ColorspaceYCbCr}, 8, true, ErrUnsupported, "lossless"},
	} {
		err := checkHeader(tt.h, tt.precision, tt.lossless)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%+v: %v, want %v saying %q", tt.h, err, tt.is, tt.says)
		}
	}
	if err := checkHeader(Header{}, 8, false); err == nil {
		t.Error("no size: no error")
	}
}

func TestCandidates(t *testing.T) {
	names, hint := candidates(func(string) string { return "" })
	if len(names) != 2 || names[0] != "libturbojpeg.so.0" || !strings.Contains(hint, "apt-get install libturbojpeg0") || !strings.Contains(hint, "libjpeg-turbo") {
		t.Errorf("default: %v, %q", names, hint)
	}
	names, hint = candidates(func(k string) string {
		if k == EnvLib {
			return "/opt/x/libturbojpeg.so.0"
		}
		return ""
	})
	if len(names) != 1 || names[0] != "/opt/x/libturbojpeg.so.0" || !strings.Contains(hint, EnvLib) {
		t.Errorf("%s set: %v, %q", EnvLib, names, hint)
	}
}
