#!/usr/bin/python3
"""Bicubic resize speed: coordexp's resize_bicubic_pil (bench_resample) against Pillow, same photo, one run.

Usage: bench/resample_vs_pil.py [BUILD_DIR] [PHOTO]   (defaults: build, the 2000x1333 raccoon-183.jpg)
Decodes PHOTO with Pillow, times Image.resize(size, BICUBIC, reducing_gap=None) to 448x448 and 1008x672
(median of REPEATS runs, Pillow's single thread), runs BUILD_DIR/bench/bench_resample on the same decoded
pixels (median of REPEATS repetitions), and prints both with their ratio.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

SIZES = [(448, 448), (1008, 672)]
REPEATS = 9


def pillow_medians_ms(rgb):
    medians = {}
    for size in SIZES:
        rgb.resize(size, Image.BICUBIC, reducing_gap=None)  # warm-up
        runs = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            rgb.resize(size, Image.BICUBIC, reducing_gap=None)
            runs.append((time.perf_counter() - start) * 1e3)
        medians[size] = statistics.median(runs)
    return medians


def coordexp_medians_ms(bench, ppm):
    out = subprocess.run(
        [bench, f"--benchmark_repetitions={REPEATS}", "--benchmark_format=json", "--benchmark_min_time=0.1"],
        env={**os.environ, "COORDEXP_BENCH_PHOTO_PPM": ppm},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    medians = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            w, h = (int(v) for v in b["run_name"].split("/")[1:3])
            scale = {"ms": 1.0, "us": 1e-3, "ns": 1e-6}[b["time_unit"]]
            medians[(w, h)] = b["real_time"] * scale
    return medians


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    photo = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/data/raccoon/images/raccoon-183.jpg"
    with Image.open(photo) as im:
        rgb = im.convert("RGB")
    with tempfile.TemporaryDirectory() as tmp:
        ppm = os.path.join(tmp, "photo.ppm")
        rgb.save(ppm)
        pillow = pillow_medians_ms(rgb)
        ours = coordexp_medians_ms(os.path.join(build, "bench", "bench_resample"), ppm)
    print(f"{os.path.basename(photo)} {rgb.size[0]}x{rgb.size[1]}, Pillow {Image.__version__}, medians of {REPEATS}")
    for size in SIZES:
        print(
            f"  -> {size[0]}x{size[1]}: Pillow {pillow[size]:6.2f} ms   coordexp {ours[size]:6.2f} ms"
            f"   Pillow / coordexp = {pillow[size] / ours[size]:.2f}"
        )


if __name__ == "__main__":
    main()
