"""Independent float32 reference forward pass for Qwen2-VL and Qwen2.5-VL.

Follows Hugging Face transformers semantics, written from the specification
only, so tests can compare the C++ logits against it (Debian python, torch CPU).
Usage: /usr/bin/python3 tests/model/qwen_vl_reference.py --model DIR \
    --image IMG.png --ids IDS.json --out OUT.npy   (float32 logits [T, V])
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def read_safetensors(path):
    """Return {name: float32 torch tensor} for one safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] not in DTYPES:
            raise ValueError(f"unsupported dtype {info['dtype']} for {name}")
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]))
    return out


def load_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(model_dir, "model.safetensors"))
    with open(index) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    return {k: v for name in files for k, v in read_safetensors(os.path.join(model_dir, name)).items()}


def preprocess(image_path, vc):
    """Return (pixel rows [gh*gw, C*T*P*P], gh, gw)."""
    p, m, t = vc["patch_size"], vc["spatial_merge_size"], vc["temporal_patch_size"]
    img = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32) / 255.0
    h, w, c = img.shape
    if h % (p * m) or w % (p * m):
        raise ValueError(f"image {w}x{h} sides must be multiples of {p * m}")
    img = (img - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    frames = np.repeat(img.transpose(2, 0, 1)[None], t, axis=0)  # (T, C, H, W)
    gh, gw = h // p, w // p
    x = frames.reshape(1, t, c, gh // m, m, p, gw // m, m, p)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(gh * gw, c * t * p * p)
    return torch.from_numpy(np.ascontiguousarray(x)), gh, gw


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def linear(W, prefix, x, bias=True):
    return F.linear(x, W[prefix + ".weight"], W[prefix + ".bias"] if bias else None)


def vision_norm(W, prefix, x, is25):
    if is25:
        return rms_norm(x, W[prefix + ".weight"], 1e-6)
    return F.layer_norm(x, x.shape[-1:], W[prefix + ".weight"], W[prefix + ".bias"], 1e-6)


def window_index(lh, lw, ws):
    """Return (window_index over merged tokens, per-window lengths)."""
    index = torch.arange(lh * lw).reshape(lh, lw)
    pad_h, pad_w = ws - lh % ws, ws - lw % ws
    padded = F.pad(index, (0, pad_w, 0, pad_h), value=-100)
    nh, nw = (lh + pad_h) // ws, (lw + pad_w) // ws
    wins = padded.reshape(nh, ws, nw, ws).permute(0, 2, 1, 3).reshape(nh * nw, ws * ws)
    order, lengths = [], []
    for win in wins:
        valid = win[win != -100]
        if len(valid):
            order.append(valid)
            lengths.append(len(valid))
    return torch.cat(order), lengths


def vision_attention(W, prefix, x, cos, sin, heads, bounds):
    n, e = x.shape
    d = e // heads
    qkv = linear(W, prefix + ".qkv", x).reshape(n, 3, heads, d).permute(1, 2, 0, 3)
    q, k, v = qkv[0], qkv[1], qkv[2]  # (heads, N, d)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    out = torch.empty_like(q)
    for start, end in bounds:
        scores = q[:, start:end] @ k[:, start:end].transpose(1, 2) / math.sqrt(d)
        out[:, start:end] = torch.softmax(scores, dim=-1) @ v[:, start:end]
    return linear(W, prefix + ".proj", out.permute(1, 0, 2).reshape(n, e))


def vision_tower(W, vc, pixels, gh, gw, is25):
    m = vc["spatial_merge_size"]
    e = vc["hidden_size"] if is25 else vc["embed_dim"]
    heads, mm, n = vc["num_heads"], m * m, gh * gw
    x = pixels @ W["visual.patch_embed.proj.weight"].reshape(e, -1).T

    dim = (e // heads) // 2
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    hpos = torch.arange(gh)[:, None].expand(gh, gw)
    wpos = torch.arange(gw)[None, :].expand(gh, gw)
    to_rows = lambda a: a.reshape(gh // m, m, gw // m, m).permute(0, 2, 1, 3).reshape(-1)
    hpos, wpos = to_rows(hpos).float(), to_rows(wpos).float()
    rpe = torch.cat([hpos[:, None] * inv_freq, wpos[:, None] * inv_freq], dim=-1)

    full = windowed = [(0, n)]
    if is25:
        ws = vc["window_size"] // m // vc["patch_size"]
        win_idx, lengths = window_index(gh // m, gw // m, ws)
        x = x.reshape(n // mm, mm, e)[win_idx].reshape(n, e)
        rpe = rpe.reshape(n // mm, mm, -1)[win_idx].reshape(n, -1)
        cum = np.cumsum([0] + lengths) * mm
        windowed = list(zip(cum[:-1].tolist(), cum[1:].tolist()))
    emb = torch.cat([rpe, rpe], dim=-1)
    cos, sin = emb.cos(), emb.sin()

    fullatt = set(vc.get("fullatt_block_indexes", []))
    for i in range(vc["depth"]):
        pre = f"visual.blocks.{i}"
        bounds = full if i in fullatt else windowed
        h = vision_norm(W, pre + ".norm1", x, is25)
        x = x + vision_attention(W, pre + ".attn", h, cos, sin, heads, bounds)
        h = vision_norm(W, pre + ".norm2", x, is25)
        if is25:
            act = getattr(F, vc.get("hidden_act", "silu"))
            h = act(linear(W, pre + ".mlp.gate_proj", h)) * linear(W, pre + ".mlp.up_proj", h)
            h = linear(W, pre + ".mlp.down_proj", h)
        else:
            h = linear(W, pre + ".mlp.fc1", h)
            h = linear(W, pre + ".mlp.fc2", h * torch.sigmoid(1.702 * h))
        x = x + h

    x = vision_norm(W, "visual.merger.ln_q", x, is25).reshape(n // mm, e * mm)
    x = linear(W, "visual.merger.mlp.2", F.gelu(linear(W, "visual.merger.mlp.0", x)))
    if is25:
        x = x[torch.argsort(win_idx)]
    return x


def mrope_positions(ids, image_token_id, lh, lw):
    """Return position ids [3, L] for one contiguous run of image tokens."""
    where = [i for i, t in enumerate(ids) if t == image_token_id]
    if len(where) != lh * lw or where != list(range(where[0], where[0] + len(where))):
        raise ValueError("expected one contiguous run of lh*lw image tokens")
    ed = where[0]
    pos = torch.arange(ed)[None].expand(3, ed)
    rows = torch.arange(lh)[:, None].expand(lh, lw).reshape(-1)
    cols = torch.arange(lw)[None, :].expand(lh, lw).reshape(-1)
    img = torch.stack([torch.zeros_like(rows), rows, cols]) + ed
    rest = len(ids) - ed - lh * lw
    tail = torch.arange(rest)[None].expand(3, rest) + img.max() + 1
    return torch.cat([pos, img, tail], dim=1).float()


def mrope_cos_sin(pos, d, theta, section):
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    freqs = pos[:, :, None] * inv_freq[None, None, :]  # (3, L, d/2)
    emb = torch.cat([freqs, freqs], dim=-1)
    chunks = emb.split(list(section) * 2, dim=-1)
    emb = torch.cat([c[i % 3] for i, c in enumerate(chunks)], dim=-1)
    return emb.cos(), emb.sin()


def language_model(W, cfg, embeds, cos, sin):
    n_heads, n_kv, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
    L, hidden = embeds.shape
    d = hidden // n_heads
    mask = torch.full((L, L), float("-inf")).triu(1)
    x = embeds
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}"
        h = rms_norm(x, W[pre + ".input_layernorm.weight"], eps)
        q = linear(W, pre + ".self_attn.q_proj", h).reshape(L, n_heads, d).transpose(0, 1)
        k = linear(W, pre + ".self_attn.k_proj", h).reshape(L, n_kv, d).transpose(0, 1)
        v = linear(W, pre + ".self_attn.v_proj", h).reshape(L, n_kv, d).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(n_heads // n_kv, dim=0)
        v = v.repeat_interleave(n_heads // n_kv, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(d) + mask
        att = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(L, hidden)
        x = x + linear(W, pre + ".self_attn.o_proj", att, bias=False)
        h = rms_norm(x, W[pre + ".post_attention_layernorm.weight"], eps)
        h = F.silu(linear(W, pre + ".mlp.gate_proj", h, False)) * linear(W, pre + ".mlp.up_proj", h, False)
        x = x + linear(W, pre + ".mlp.down_proj", h, bias=False)
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


def forward(model_dir, image_path, ids):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_type"] not in ("qwen2_vl", "qwen2_5_vl"):
        raise ValueError(f"unsupported model_type {cfg['model_type']}")
    is25 = cfg["model_type"] == "qwen2_5_vl"
    vc = cfg["vision_config"]
    W = load_weights(model_dir)
    pixels, gh, gw = preprocess(image_path, vc)
    image_embeds = vision_tower(W, vc, pixels, gh, gw, is25)
    m = vc["spatial_merge_size"]
    pos = mrope_positions(ids, cfg["image_token_id"], gh // m, gw // m)
    ids_t = torch.tensor(ids)
    embeds = W["model.embed_tokens.weight"][ids_t].clone()
    embeds[ids_t == cfg["image_token_id"]] = image_embeds
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    cos, sin = mrope_cos_sin(pos, d, cfg["rope_theta"], cfg["rope_scaling"]["mrope_section"])
    return language_model(W, cfg, embeds, cos, sin)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--model", "--image", "--ids", "--out"):
        ap.add_argument(name, required=True)
    args = ap.parse_args()
    with open(args.ids) as f:
        ids = json.load(f)["input_ids"]
    with torch.no_grad():
        logits = forward(args.model, args.image, ids)
    np.save(args.out, logits.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
