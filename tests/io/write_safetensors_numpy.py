#!/usr/bin/env python3
# Independent safetensors writer (numpy only) used by test_safetensors.cpp to cross-check the C++ reader:
# writes a file with F32/F16/BF16/I64 tensors whose values the C++ test knows, laid out in its own order.
import json
import struct
import sys

import numpy as np


def bf16_bytes(values):
    # Truncation is exact here: the test values are all representable in bfloat16.
    bits = np.asarray(values, dtype=np.float32).view(np.uint32) >> 16
    return bits.astype("<u2").tobytes()


def main(path):
    tensors = [
        ("b.half", "F16", [2, 3], np.array([[1.0, -2.0, 0.5], [65504.0, 2.0**-24, -0.0]], dtype="<f2").tobytes()),
        ("a.float", "F32", [4], np.array([1.5, -3.25, 1e-30, 3.0e38], dtype="<f4").tobytes()),
        ("c.bf16", "BF16", [3], bf16_bytes([1.0, -256.0, 0.15625])),
        ("d.long", "I64", [2], np.array([-7, 1 << 40], dtype="<i8").tobytes()),
    ]
    header, offset, data = {"__metadata__": {"format": "pt"}}, 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
