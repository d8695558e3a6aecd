// Package jpeg is a pure-Go JPEG decoder for the training input pipeline: it decodes straight to
// packed RGB, decodes only the window a random crop needs, and scales by 1/2, 1/4 and 1/8 in the
// DCT domain.
//
// # Exactness
//
// The reference is PIL (Pillow 9.4 on libjpeg-turbo 2.1.5) with its default settings:
// Image.open(f).convert("RGB") at full size and im.draft("RGB", (w/s, h/s)) for the scales. Decode
// follows libjpeg's algorithms (ISLOW integer IDCT, its reduced 4x4/2x2/1x1 IDCTs and its choice of
// chroma IDCT size when scaling, "fancy" triangle-filter upsampling for h2v1, h1v2 and h2v2 and
// replication for other factors, its fixed-point YCbCr->RGB tables, Pillow's CMYK->RGB rounding)
// and is bit-exact (max abs diff 0) against PIL for 4:2:0, 4:2:2, 4:4:4, 4:4:0, 4:1:1, 3:1
// and mixed sampling, greyscale, progressive, restart intervals, non-interleaved scans, RGB
// (Adobe transform 0 or component ids 'R','G','B'), CMYK and YCCK, at every scale. The tests pin
// this on fixtures made by scripts/gen_jpeg_fixtures.py, and TestReferenceFolder checks whole
// folders (JPEG_REF_DIR): 300 photographic 500x375 q90 4:2:0 files of scripts/make_jpeg_folder.py
// decode bit-exact at all four scales. DCT-domain scaling differs from a full decode followed by an s x s box
// filter by a mean absolute difference of about 1.3 to 2 levels (TestScaledVersusBoxFilter logs
// it).
//
// A window (crop) decode gives exactly the same pixels as the same window of a full decode.
//
// # Speed
//
// On the 2-core development machine (bench_test.go, 200 files of 500x375 q90 4:2:0, quiet
// machine), a full decode to RGB takes 1.9-2.0 ms, against 4.8-4.9 ms for image/jpeg plus its
// conversion to RGB (3.4-3.6 ms for its decode alone); a centred window of half the area takes
// 1.2-1.3 ms (entropy decoding still runs down to the window's last row); 1/2, 1/4 and 1/8 scale
// take about 1.25, 0.97 and 0.84 ms, where entropy decoding dominates.
//
// # Not supported
//
// Arithmetic coding, 12-bit (and 16-bit) precision, lossless and hierarchical JPEG, DNL-defined
// heights, 2-component images and fractional sampling ratios (such as 3:2) return an error, as
// they do in Go's image/jpeg; callers fall back to it. Images above 1<<28 pixels are refused.
// Orientation is reported by ReadHeader but not applied.
package jpeg
