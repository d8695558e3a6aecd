package jpeg

import "image"

// Image is a window of a decoded picture: 8-bit RGB, row-major, three bytes a pixel. The pixel at
// (x, y), for x, y inside Rect, is Pix[(y-Rect.Min.Y)*Stride+3*(x-Rect.Min.X):][:3]. Rect is in the
// coordinates of the (scaled) picture, whose top-left pixel is (0, 0).
type Image struct {
	Pix    []uint8
	Stride int
	Rect   image.Rectangle
}

// ScaledSize is the size of a w x h picture decoded at 1/scale: each side divided by scale and
// rounded up, as libjpeg's DCT-domain scaling gives.
func ScaledSize(w, h, scale int) (int, int) {
	return (w + scale - 1) / scale, (h + scale - 1) / scale
}
