#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_image_decode.cpp into fuzz/corpus/image_decode/ (checked in; rerun to
regenerate). Tiny images, each well under 2 KB: baseline, progressive, greyscale and CMYK JPEGs, JPEGs
with EXIF orientations 6 and 8, a truncated JPEG, and PNGs (RGB, palette, with an eXIf orientation). Needs Debian's python3-pil.
arithmetic.jpg (arithmetic-coded, 40x24) is not written here: Pillow cannot write one; it was made with
libjpeg's own API (jpeg_set_defaults, then arith_code = TRUE).
Usage: /usr/bin/python3 fuzz/make_image_decode_corpus.py
"""
import os

from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "image_decode")


def pattern(mode, w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 16 % 256, y * 32 % 256, (x + y) * 8 % 256) for y in range(h) for x in range(w)])
    return im.convert(mode)


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = pattern("RGB", 16, 8)
    rgb.save(os.path.join(OUT, "baseline.jpg"), quality=50)
    rgb.save(os.path.join(OUT, "progressive.jpg"), quality=50, progressive=True)
    pattern("L", 9, 7).save(os.path.join(OUT, "gray.jpg"), quality=50)
    pattern("CMYK", 8, 8).save(os.path.join(OUT, "cmyk.jpg"), quality=50)
    rgb.save(os.path.join(OUT, "exif6.jpg"), quality=50, exif=exif(6))
    pattern("RGB", 17, 9).save(os.path.join(OUT, "exif8_odd.jpg"), quality=50, exif=exif(8))
    with open(os.path.join(OUT, "baseline.jpg"), "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "truncated.jpg"), "wb") as f:
        f.write(data[: len(data) * 3 // 4])
    rgb.save(os.path.join(OUT, "rgb.png"))
    rgb.quantize(5).save(os.path.join(OUT, "palette.png"))
    rgb.save(os.path.join(OUT, "exif6.png"), exif=exif(6))
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        assert size < 2048, f"{name} is {size} bytes; seeds stay under 2 KB"
        print(f"{name:20s} {size:5d} bytes")


if __name__ == "__main__":
    main()
