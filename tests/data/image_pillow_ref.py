#!/usr/bin/env python3
"""Pillow's decoding of generated test images, the reference for tests/data/test_image_pillow.cpp.

Usage: /usr/bin/python3 tests/data/image_pillow_ref.py OUT_DIR [PHOTO.jpg ...]

Writes into OUT_DIR the input files (JPEG, PNG) and, for each case, what Pillow 9.x (python3-pil) makes of
it as a binary PPM, plus OUT_DIR/manifest.txt with one case a line:
    <case> <input file> <expected .ppm> <apply_exif_orientation 0|1> <target_width> <target_height>
Pillow's steps per case: Image.open; draft("RGB", target) when a target is given (its sides swapped when
an orientation 5..8 is to be applied, since the target is meant upright); ImageOps.exif_transpose when
orientation is applied; convert("RGB"). YCCK JPEGs are written through libturbojpeg (ctypes), since
Pillow writes CMYK JPEGs without the YCC transform.
"""
import ctypes
import ctypes.util
import io
import os
import sys

from PIL import Image, ImageOps

W, H = 40, 24  # not square and not a multiple of 8, so orientation and MCU edges both show


def pattern_rgb(w=W, h=H):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 251 // w) % 256, (y * 241 // h) % 256, ((x + 2 * y) * 9) % 256)
                for y in range(h) for x in range(w)])
    return im


def pattern_cmyk(w=W, h=H):
    im = Image.new("CMYK", (w, h))
    im.putdata([((x * 251 // w) % 256, (y * 241 // h) % 256, ((x * y) * 7) % 256, ((x + y) * 5) % 256)
                for y in range(h) for x in range(w)])
    return im


def write_ppm(im, path):
    im = im.convert("RGB")
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % im.size)
        f.write(im.tobytes())


def pillow_decode(path, orient, target):
    im = Image.open(path)
    if target:
        # The target is meant upright: with orientation 5..8 applied, the stored image's sides are swapped.
        swapped = orient and im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        im.draft("RGB", (target[1], target[0]) if swapped else target)
    if orient:
        im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def ycck_jpeg(cmyk, path):
    """A YCCK JPEG (Adobe transform 2) of a CMYK image, through libturbojpeg's tjCompress2."""
    lib = ctypes.CDLL(ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0")
    lib.tjInitCompress.restype = ctypes.c_void_p
    handle = ctypes.c_void_p(lib.tjInitCompress())
    src = cmyk.tobytes()
    out = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_ulong(0)
    TJPF_CMYK, TJSAMP_420 = 11, 2
    rc = lib.tjCompress2(handle, src, cmyk.size[0], 0, cmyk.size[1], TJPF_CMYK, ctypes.byref(out),
                         ctypes.byref(size), TJSAMP_420, 92, 0)
    if rc != 0:
        sys.exit("tjCompress2 failed")
    with open(path, "wb") as f:
        f.write(ctypes.string_at(out, size.value))
    lib.tjFree(out)
    lib.tjDestroy(handle)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cases = []

    def add(case, path, orient=0, target=None):
        ppm = os.path.join(out_dir, case + ".ppm")
        write_ppm(pillow_decode(path, orient, target), ppm)
        tw, th = target or (0, 0)
        cases.append(f"{case} {path} {ppm} {orient} {tw} {th}")

    def save(im, name, **kw):
        path = os.path.join(out_dir, name)
        im.save(path, **kw)
        return path

    rgb = pattern_rgb()
    add("jpeg_baseline", save(rgb, "baseline.jpg", quality=90))
    add("jpeg_progressive", save(rgb, "progressive.jpg", quality=90, progressive=True))
    add("jpeg_gray", save(rgb.convert("L"), "gray.jpg", quality=90))
    add("cmyk_adobe", save(pattern_cmyk(), "cmyk.jpg", quality=95))
    add("cmyk_adobe_scaled", save(pattern_cmyk(80, 48), "cmyk_big.jpg", quality=95), target=(20, 12))
    ycck_jpeg(pattern_cmyk(), os.path.join(out_dir, "ycck.jpg"))
    add("cmyk_ycck", os.path.join(out_dir, "ycck.jpg"))
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        path = save(rgb, f"orient_{k}.jpg", quality=90, exif=exif.tobytes())
        add(f"orientation_jpeg_{k}", path, orient=1)
        add(f"orientation_ignored_{k}", path, orient=0)
        add(f"orientation_scaled_{k}", save(pattern_rgb(160, 96), f"orient_big_{k}.jpg", quality=90,
                                            exif=exif.tobytes()), orient=1, target=(20, 40))
        add(f"orientation_png_{k}", save(rgb, f"orient_{k}.png", exif=exif.tobytes()), orient=1)
    big = save(pattern_rgb(203, 131), "draft.jpg", quality=90)
    for tw, th in [(203, 131), (102, 60), (101, 65), (100, 60), (50, 32), (25, 16), (20, 10), (1, 1)]:
        add(f"draft_{tw}x{th}", big, target=(tw, th))
    add("png_palette", save(rgb.quantize(17), "palette.png"))
    add("png_palette_trns", save(rgb.quantize(17), "palette_trns.png", transparency=3))
    add("png_gray_alpha", save(rgb.convert("LA"), "gray_alpha.png"))
    add("png_rgba", save(rgb.convert("RGBA"), "rgba.png"))
    add("png_gray", save(rgb.convert("L"), "gray.png"))
    add("png_bilevel", save(rgb.convert("1"), "bilevel.png"))
    for i, photo in enumerate(sys.argv[2:]):
        add(f"photo_{i}", photo)
        add(f"photo_{i}_draft448", photo, target=(448, 448))
        add(f"photo_{i}_draft100", photo, target=(100, 100))

    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
