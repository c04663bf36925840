#!/usr/bin/env python3
"""Pillow's BICUBIC resizes of real photos, the reference for tests/data/test_resample.cpp.

Usage: resample_ref.py IMAGE_DIR OUT_DIR. Picks about ten JPEGs of IMAGE_DIR (of sizes evenly spaced by
pixel count, plus a grayscale one and the most portrait one), decodes each with Pillow to RGB (as
transformers' convert_rgb does), adds a 123x77 salt-and-pepper image (clipping at both ends), and resizes
each as Qwen2-VL's image processor does, Image.resize((w, h), Image.BICUBIC, reducing_gap=None), to
several sizes. Writes raw row-major RGB bytes (*.rgb) and OUT_DIR/manifest.txt, one line per resize:
    photo source.rgb source_width source_height resized.rgb width height
"""
import math
import os
import random
import sys

from PIL import Image

PHOTOS_BY_AREA = 8


def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=28 * 28 * 1280):
    """Qwen2-VL's target size: sides multiples of `factor`, pixel count within [min_pixels, max_pixels]."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def target_sizes(w, h):
    sizes = [
        (448, 308),
        (476, 644),
        (1008, 672),
        smart_resize(h, w),  # Qwen2-VL with max_pixels = 1280 * 28 * 28
        smart_resize(h, w, max_pixels=12845056),  # the checkpoint default: sides only rounded to 28
        (int(w * 1.7) + 1, int(h * 1.3) + 1),  # upscale, non-integer factors
        (w, max(1, round(h * 0.61))),  # vertical pass only
        (max(1, round(w * 0.73)), h),  # horizontal pass only
        (1, max(1, h // 3)),
        (1, 1),
    ]
    return list(dict.fromkeys(sizes))


def pick_photos(image_dir):
    photos = []
    for name in sorted(os.listdir(image_dir)):
        if name.lower().endswith((".jpg", ".jpeg")):
            with Image.open(os.path.join(image_dir, name)) as im:
                photos.append((im.size[0] * im.size[1], name, im.size, im.mode))
    if not photos:
        sys.exit(f"{image_dir}: no JPEG photos")
    photos.sort()
    by_size = list({p[2]: p for p in reversed(photos)}.values())[::-1]  # one photo per size, by area
    step = (len(by_size) - 1) / max(1, PHOTOS_BY_AREA - 1)
    picked = [by_size[round(i * step)][1] for i in range(min(PHOTOS_BY_AREA, len(by_size)))]
    picked += [p[1] for p in photos if p[3] != "RGB"][:1]
    picked.append(max(photos, key=lambda p: (p[2][1] / p[2][0], p[1]))[1])
    return list(dict.fromkeys(picked))


def salt_and_pepper(width, height, seed=5):
    """Random 0 / 255 bytes: the bicubic filter's overshoot then clips at both ends."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), bytes(rng.choice((0, 255)) for _ in range(width * height * 3)))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    image_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    for i, name in enumerate(pick_photos(image_dir) + ["salt-and-pepper"]):
        if name == "salt-and-pepper":
            rgb = salt_and_pepper(123, 77)
        else:
            with Image.open(os.path.join(image_dir, name)) as im:
                rgb = im.convert("RGB")
        source = f"p{i}.rgb"
        with open(os.path.join(out_dir, source), "wb") as f:
            f.write(rgb.tobytes())
        for j, (w, h) in enumerate(target_sizes(*rgb.size)):
            resized = rgb.resize((w, h), Image.BICUBIC, reducing_gap=None)
            target = f"p{i}_{j}.rgb"
            with open(os.path.join(out_dir, target), "wb") as f:
                f.write(resized.tobytes())
            lines.append(f"{name} {source} {rgb.size[0]} {rgb.size[1]} {target} {w} {h}\n")
    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
