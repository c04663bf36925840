"""One Qwen2-VL training step in plain PyTorch: the Python side of the same-work training-step comparison.

It measures what coordexp's C++ training step (src/train/trainer.cpp train_step) costs when the same work is
written in ordinary PyTorch on the same LibTorch (Debian's torch 1.13), so that the C++ step can be judged
against it. Run it with Debian's interpreter, not the pyenv python3 on PATH:

  /usr/bin/python3 bench/train_step_pytorch.py --config runs/step_bench/h256/base/config.json \\
      --shapes runs/step_bench/h256/profile_ce.json --steps 5 --warmup 2 --threads 2 --json out.json
  (bench/train_step_vs_pytorch.sh runs both sides and writes the comparison)
  /usr/bin/python3 bench/train_step_pytorch.py --check        # a few tiny steps: the loss is finite and falls

"Same work" means the same shapes and the same operations per step as coordexp's Qwen2-VL
(src/model/qwen2_vl.cpp) under its CE-only criterion (coord_weight 0):
- vision: normalise the [B, 3, 224, 224] images, patchify them as the image processor does (two equal frames,
  3*2*14*14 values per patch), patch embedding, blocks (LayerNorm, 2-D rotary attention, quick-GELU MLP), the
  2x2 merger into the LM width: 64 image tokens per sequence;
- decoder over [image prefix (P), image (I), text (T)] positions: T is the profile's sequence_length (the
  text tokens; coordexp adds the prefix and the image tokens to it), RMSNorm, GQA attention with q/k/v biases
  and M-RoPE, SwiGLU, final norm; explicit softmax attention with an additive causal mask, as coordexp's
  layers::attend (torch 1.13 has no scaled_dot_product_attention);
- the LM head (tied to the embedding when the config says so) only at the hidden rows that predict answer
  tokens, token CE over the whole vocabulary averaged over them;
- zero_grad (gradients zeroed in place, as LibTorch 1.13's), backward, clip_grad_norm_(1.0), AdamW (lr 2e-4,
  betas (0.9, 0.95), eps 1e-8, weight decay 0.05 on matrices, 0 on vectors); every parameter trains.
What still differs: coordexp's criterion takes two means over the answer positions, text CE (description
and structure tokens) and coordinate CE (one head product for both, the same FLOPs); here the weights are random, the data random and the learning rate constant; Python's AdamW also multiplies the
vectors by 1 - lr * 0, which LibTorch's skips. With the benchmark checkpoint's weights loaded, this model's
logits matched coordexp hf-logits to 1.2e-6.
Shape letters: B sequences, T text tokens, L = P + I + T positions, N patches, M merged image tokens,
H query heads, G key/value heads, d head width, D LM width, E vision width, V vocabulary, A answer positions.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the Qwen2-VL image processor's (CLIP) statistics
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
# <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|> in
# the benchmark checkpoint's tokenizer (coordexp hf-tokenize): the tokens coordexp puts before the image.
DEFAULT_IMAGE_PREFIX = 29
PHASES = ("vision forward", "decoder forward", "head and loss", "zero_grad", "backward", "gradient clipping",
          "optimizer")

# A small config for --check (Qwen2-VL's layout, a vocabulary of 1000).
TINY_CONFIG = {
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 128, "vocab_size": 1000, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
    "hidden_act": "silu", "tie_word_embeddings": True, "rope_scaling": {"mrope_section": [2, 3, 3]},
    "vision_config": {"embed_dim": 32, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0, "patch_size": 14,
                      "temporal_patch_size": 2, "spatial_merge_size": 2, "in_chans": 3,
                      "hidden_act": "quick_gelu", "hidden_size": 64},
}


# ---- layers (coordexp's src/model/layers.hpp) -----------------------------------------------------------

def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


def attend(q, k, v, mask):
    """softmax(q k^T / sqrt(d) + mask) v for q [B, H, Lq, d], k/v [B, H, Lk, d], mask [Lq, Lk] or None."""
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + mask
    return torch.matmul(torch.softmax(scores, -1), v)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


ACTIVATIONS = {"silu": F.silu, "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x), "gelu": F.gelu}


# ---- vision tower ---------------------------------------------------------------------------------------

class VisionBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        E, self.heads, self.act = v["embed_dim"], v["num_heads"], ACTIVATIONS[v["hidden_act"]]
        self.norm1, self.norm2 = nn.LayerNorm(E, eps=1e-6), nn.LayerNorm(E, eps=1e-6)
        self.qkv, self.proj = nn.Linear(E, 3 * E), nn.Linear(E, E)
        self.fc1, self.fc2 = nn.Linear(E, v["intermediate_size"]), nn.Linear(v["intermediate_size"], E)

    def attn(self, x, cos, sin):  # x [B, N, E]; cos/sin [N, d]
        B, N, E = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, E // self.heads).permute(2, 0, 3, 1, 4)  # [B, H, N, d]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        return self.proj(attend(q, k, v, None).transpose(1, 2).reshape(B, N, E))

    def forward(self, x, cos, sin):
        y = x + self.attn(self.norm1(x), cos, sin)
        return y + self.fc2(self.act(self.fc1(self.norm2(y))))


class VisionTower(nn.Module):
    def __init__(self, v):
        super().__init__()
        self.v = v
        E, unit = v["embed_dim"], v["spatial_merge_size"] ** 2
        # the reference's Conv3d (kernel = stride = patch), applied as a matrix product over flattened patches
        self.patch_embed = nn.Parameter(torch.empty(E, v["in_chans"], v["temporal_patch_size"], v["patch_size"],
                                                    v["patch_size"]))
        self.blocks = nn.ModuleList(VisionBlock(v) for _ in range(v["depth"]))
        self.ln_q = nn.LayerNorm(E, eps=1e-6)
        self.mlp0, self.mlp2 = nn.Linear(E * unit, E * unit), nn.Linear(E * unit, v["hidden_size"])

    def forward(self, images):  # [B, 3, H, W] in [0, 1] -> [B, M, D]
        v = self.v
        P, m, Tf, C = v["patch_size"], v["spatial_merge_size"], v["temporal_patch_size"], v["in_chans"]
        B, _, Hpx, Wpx = images.shape
        gh, gw = Hpx // P, Wpx // P
        N = gh * gw
        mean, std = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
        x = ((images - mean) / std).unsqueeze(1).expand(B, Tf, C, Hpx, Wpx)  # a still image: equal frames
        patches = (x.reshape(B, Tf, C, gh // m, m, P, gw // m, m, P).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
                   .reshape(B, N, C * Tf * P * P))  # (rows/m, cols/m, m, m) order, each patch (C, T, P, P)
        h = F.linear(patches, self.patch_embed.reshape(self.patch_embed.shape[0], -1))  # [B, N, E]

        # 2-D rotary: d/4 frequencies for the patch row, d/4 for the column, in merge-window order
        i2, j2, a, b = torch.meshgrid(torch.arange(gh // m), torch.arange(gw // m), torch.arange(m),
                                      torch.arange(m), indexing="ij")
        rows, cols = (i2 * m + a).reshape(-1), (j2 * m + b).reshape(-1)  # [N]
        dim = v["embed_dim"] // v["num_heads"] // 2
        inv_freq = 1.0 / torch.pow(torch.tensor(10000.0), torch.arange(0, dim, 2).float() / dim)
        freqs = torch.cat([rows.float().unsqueeze(1) * inv_freq, cols.float().unsqueeze(1) * inv_freq], 1)
        emb = torch.cat([freqs, freqs], 1)  # [N, d]
        cos, sin = emb.cos(), emb.sin()
        for block in self.blocks:
            h = block(h, cos, sin)
        h = self.ln_q(h).reshape(B, N // (m * m), -1)  # each run of m*m patches is one merge window
        return self.mlp2(F.gelu(self.mlp0(h)))


# ---- language model -------------------------------------------------------------------------------------

class DecoderLayer(nn.Module):
    def __init__(self, t):
        super().__init__()
        D, self.H, self.G = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
        self.d = D // self.H
        self.input_layernorm = RMSNorm(D, t["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(D, t["rms_norm_eps"])
        self.q_proj, self.k_proj = nn.Linear(D, self.H * self.d), nn.Linear(D, self.G * self.d)
        self.v_proj, self.o_proj = nn.Linear(D, self.G * self.d), nn.Linear(self.H * self.d, D, bias=False)
        I = t["intermediate_size"]
        self.gate_proj, self.up_proj = nn.Linear(D, I, bias=False), nn.Linear(D, I, bias=False)
        self.down_proj = nn.Linear(I, D, bias=False)
        self.act = ACTIVATIONS[t["hidden_act"]]

    def attn(self, x, cos, sin, mask):  # x [B, L, D]; cos/sin [L, d]; mask [L, L]
        B, L, _ = x.shape
        q = self.q_proj(x).view(B, L, self.H, self.d).transpose(1, 2)  # [B, H, L, d]
        k = self.k_proj(x).view(B, L, self.G, self.d).transpose(1, 2)  # [B, G, L, d]
        v = self.v_proj(x).view(B, L, self.G, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.H != self.G:  # query head h reads kv head h / (H / G)
            k = k.repeat_interleave(self.H // self.G, 1)
            v = v.repeat_interleave(self.H // self.G, 1)
        return self.o_proj(attend(q, k, v, mask).transpose(1, 2).reshape(B, L, self.H * self.d))

    def forward(self, x, cos, sin, mask):
        y = x + self.attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(y)
        return y + self.down_proj(self.act(self.gate_proj(h)) * self.up_proj(h))


def sequence_positions(P, rows, cols, T):
    """M-RoPE positions [3, P + rows*cols + T] of [prefix, image, text] (transformers' get_rope_index)."""
    prefix = torch.arange(P).expand(3, P)
    i, j = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    image = torch.stack([torch.full((rows * cols,), P), P + i.reshape(-1), P + j.reshape(-1)])
    text = (P + max(rows, cols) + torch.arange(T)).expand(3, T)
    return torch.cat([prefix, image, text], 1)


class Qwen2VL(nn.Module):
    def __init__(self, config):
        super().__init__()
        t = config
        self.visual = VisionTower(config["vision_config"])
        self.embed_tokens = nn.Parameter(torch.empty(t["vocab_size"], t["hidden_size"]))
        self.layers = nn.ModuleList(DecoderLayer(t) for _ in range(t["num_hidden_layers"]))
        self.norm = RMSNorm(t["hidden_size"], t["rms_norm_eps"])
        self.lm_head = (None if t["tie_word_embeddings"]
                        else nn.Parameter(torch.empty(t["vocab_size"], t["hidden_size"])))
        d = t["hidden_size"] // t["num_attention_heads"]
        section = t["rope_scaling"]["mrope_section"]
        if len(section) != 3 or 2 * sum(section) != d:
            sys.exit(f"config rope_scaling.mrope_section: expected 3 sections summing to {d // 2}, got {section}")
        self.inv_freq = 1.0 / torch.pow(torch.tensor(float(t["rope_theta"])), torch.arange(0, d, 2).float() / d)
        self.mrope_source = torch.cat([torch.full((n,), s) for s, n in enumerate(section)])  # [d/2]: t, h or w
        with torch.no_grad():  # random weights: matrices N(0, 0.02), norms 1, biases 0
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0, 0.02)
                elif not name.endswith("bias"):
                    p.fill_(1.0)
                else:
                    p.zero_()

    def head_weight(self):  # [V, D]
        return self.embed_tokens if self.lm_head is None else self.lm_head

    def decode(self, image, rows, cols, prefix, tokens):
        """Final-normed hidden states of the text positions [B, T, D]: image [B, M, D] on a rows x cols grid,
        prefix [P] and tokens [B, T] ids."""
        B, T = tokens.shape
        P = prefix.shape[0]
        x = torch.cat([F.embedding(prefix.expand(B, P), self.embed_tokens), image,
                       F.embedding(tokens, self.embed_tokens)], 1)  # [B, L, D]
        L = x.shape[1]
        pos = sequence_positions(P, rows, cols, T).index_select(0, self.mrope_source).t().float()  # [L, d/2]
        freqs = pos * self.inv_freq
        emb = torch.cat([freqs, freqs], 1)
        cos, sin = emb.cos(), emb.sin()  # [L, d]
        mask = torch.full((L, L), -math.inf).triu(1)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)[:, L - T:]


def parameter_groups(model, weight_decay):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.endswith("bias")]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.endswith("bias"))]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# ---- the step -------------------------------------------------------------------------------------------

def answer_rows(B, T, A):
    """Flat indices b*T + t of the A answer tokens, split evenly over the B rows at each row's end."""
    counts = [A // B + (1 if b < A % B else 0) for b in range(B)]
    if max(counts) >= T:
        sys.exit(f"shapes: {A} answer tokens over {B} rows do not fit sequences of {T} tokens")
    return torch.cat([b * T + torch.arange(T - n, T) for b, n in enumerate(counts)])


def make_batch(config, B, T, A, image_size, generator):
    V = config["vocab_size"]
    return {"images": torch.rand(B, 3, image_size, image_size, generator=generator),
            "tokens": torch.randint(0, V, (B, T), generator=generator),
            "answer": answer_rows(B, T, A)}


class PhaseClock:
    """Wall and process CPU seconds of named phases of one step."""

    def __init__(self):
        self.wall, self.cpu = {}, {}

    def __call__(self, name):
        clock = self

        class Span:
            def __enter__(self):
                self.w, self.c = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                clock.wall[name] = time.perf_counter() - self.w
                clock.cpu[name] = time.process_time() - self.c
        return Span()


def train_step(model, optimizer, params, batch, prefix, grid):
    """One optimiser step; returns the loss and the phase times."""
    clock = PhaseClock()
    w0, c0 = time.perf_counter(), time.process_time()
    with clock("vision forward"):
        image = model.visual(batch["images"])  # [B, M, D]
    with clock("decoder forward"):
        hidden = model.decode(image, grid[0], grid[1], prefix, batch["tokens"])  # [B, T, D]
    with clock("head and loss"):
        B, T, D = hidden.shape
        tok_idx = batch["answer"]  # [A] positions t >= 1, each predicted by the row before it
        h = hidden.reshape(B * T, D).index_select(0, tok_idx - 1)  # [A, D]
        logits = torch.matmul(h, model.head_weight().t())  # [A, V]
        targets = batch["tokens"].reshape(B * T).index_select(0, tok_idx)
        loss = -torch.log_softmax(logits, -1).gather(1, targets.unsqueeze(1)).squeeze(1).mean()
        value = loss.item()
    if not math.isfinite(value):
        sys.exit(f"non-finite loss {value}")
    with clock("zero_grad"):
        optimizer.zero_grad(set_to_none=False)  # LibTorch 1.13's zero_grad zeroes in place
    with clock("backward"):
        loss.backward()
    with clock("gradient clipping"):
        torch.nn.utils.clip_grad_norm_(params, 1.0)
    with clock("optimizer"):
        optimizer.step()
    return value, time.perf_counter() - w0, time.process_time() - c0, clock


# ---- driver ---------------------------------------------------------------------------------------------

def load_config(path):
    with open(path) as f:
        c = json.load(f)
    if c.get("model_type", "qwen2_vl") != "qwen2_vl":
        sys.exit(f"{path}: model_type: expected qwen2_vl, got {c['model_type']}")
    c.update(c.get("text_config", {}))  # newer transformers nest the LM's fields
    return c


def resolve_vision(config):
    v = config["vision_config"]
    v.setdefault("in_chans", v.get("in_channels", 3))
    v.setdefault("intermediate_size", int(v["embed_dim"] * v.get("mlp_ratio", 4.0)))
    if v["hidden_size"] != config["hidden_size"]:
        sys.exit(f"vision_config.hidden_size: expected the LM width {config['hidden_size']}, got {v['hidden_size']}")


def shape_list(args):
    """Per-step (B, T, A) from coordexp's profile.json counts, or the one given on the command line."""
    if not args.shapes:
        return [(args.batch, args.seq_len, args.answer_tokens)]
    with open(args.shapes) as f:
        counts = json.load(f)["counts"]
    images = set(counts["image_tokens_per_sequence"])
    expect = (args.image_size // 28) ** 2
    if images != {expect}:
        sys.exit(f"{args.shapes}: image_tokens_per_sequence {sorted(images)}, but {args.image_size}px images "
                 f"give {expect}; pass --image-size")
    return [(int(b), int(t), int(a)) for b, t, a in
            zip(counts["sequences"], counts["sequence_length"], counts["answer_tokens"])]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def run_check(args):
    """A fixed tiny batch, a few steps: the loss must be finite and fall."""
    config = load_config(args.config) if args.config else json.loads(json.dumps(TINY_CONFIG))
    resolve_vision(config)
    torch.manual_seed(0)
    model = Qwen2VL(config)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(parameter_groups(model, 0.05), lr=2e-3, betas=(0.9, 0.95), eps=1e-8,
                                  foreach=False)
    batch = make_batch(config, 2, 16, 10, 56, torch.Generator().manual_seed(0))
    prefix = torch.arange(3)
    losses = [train_step(model, optimizer, params, batch, prefix, (2, 2))[0] for _ in range(5)]
    print("check: losses " + " ".join(f"{x:.4f}" for x in losses))
    assert all(math.isfinite(x) for x in losses), "non-finite loss"
    assert losses[-1] < losses[0], f"the loss did not fall over {len(losses)} steps on a fixed batch"
    print("check: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="Hugging Face config.json of a Qwen2-VL model")
    ap.add_argument("--shapes", help="coordexp's profile.json: per-step counts (sequences, sequence_length, ...)")
    ap.add_argument("--batch", type=int, default=4, help="B without --shapes")
    ap.add_argument("--seq-len", type=int, default=175, help="T (text tokens) without --shapes")
    ap.add_argument("--answer-tokens", type=int, default=540, help="A (supervised positions) without --shapes")
    ap.add_argument("--image-size", type=int, default=224, help="square images of this many pixels")
    ap.add_argument("--image-prefix", type=int, default=DEFAULT_IMAGE_PREFIX,
                    help="tokens before the image (the chat template through <|vision_start|>)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--expect-params", type=int, help="fail unless the model has this many parameters")
    ap.add_argument("--json", help="write per-step times and medians here")
    ap.add_argument("--check", action="store_true", help="sanity: a few tiny steps, the loss falls")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        return run_check(args)
    if not args.config:
        ap.error("--config is required (except with --check)")
    if args.image_size % 28:
        ap.error("--image-size must be a multiple of 28 (patch 14, merge 2)")

    config = load_config(args.config)
    resolve_vision(config)
    shapes = shape_list(args)
    torch.manual_seed(0)
    model = Qwen2VL(config)
    model.train()
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    print(f"parameters: {n_params:,} trainable (torch {torch.__version__}, {args.threads} threads)")
    if args.expect_params is not None and n_params != args.expect_params:
        sys.exit(f"parameters: expected {args.expect_params:,} (coordexp's count), got {n_params:,}")
    optimizer = torch.optim.AdamW(parameter_groups(model, 0.05), lr=2e-4, betas=(0.9, 0.95), eps=1e-8,
                                  foreach=False)  # one parameter at a time, as LibTorch's AdamW
    grid = (args.image_size // 28, args.image_size // 28)
    prefix = torch.randint(0, config["vocab_size"], (args.image_prefix,))
    generator = torch.Generator().manual_seed(0)

    records = []
    # warm-up step w uses shapes[w mod n], timed step i uses shapes[i mod n]: --steps n covers the profile once
    for k in range(args.warmup + args.steps):
        i = k - args.warmup if k >= args.warmup else k
        B, T, A = shapes[i % len(shapes)]
        batch = make_batch(config, B, T, A, args.image_size, generator)  # outside the timing (a loader's work)
        loss, wall, cpu, clock = train_step(model, optimizer, params, batch, prefix, grid)
        tag = "warm-up" if k < args.warmup else "step"
        print(f"{tag} {i}: B {B} T {T} (L {args.image_prefix + grid[0] * grid[1] + T}) answer {A} "
              f"loss {loss:.4f} {wall:.3f} s wall {cpu:.3f} s cpu", flush=True)
        if k >= args.warmup:
            records.append({"step": i, "sequences": B, "sequence_length": T, "answer_tokens": A, "loss": loss,
                            "wall_s": wall, "cpu_s": cpu, "phase_wall_s": clock.wall, "phase_cpu_s": clock.cpu})

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    phases = [{"phase": p, "wall_s": [r["phase_wall_s"][p] for r in records],
               "cpu_s": [r["phase_cpu_s"][p] for r in records]} for p in PHASES]
    for p in phases:
        p["median_wall_s"], p["median_cpu_s"] = median(p["wall_s"]), median(p["cpu_s"])
    step_wall, step_cpu = median([r["wall_s"] for r in records]), median([r["cpu_s"] for r in records])
    print(f"medians over {len(records)} steps after {args.warmup} warm-up (phases need not add up to the step):")
    print(f"  {'phase':<20} {'wall s':>9} {'cpu s':>9}")
    for p in phases:
        print(f"  {p['phase']:<20} {p['median_wall_s']:>9.4f} {p['median_cpu_s']:>9.4f}")
    print(f"  {'step':<20} {step_wall:>9.4f} {step_cpu:>9.4f}")
    print(f"peak RSS {peak_rss_mib:.0f} MiB")
    if args.json:
        out = {"torch": torch.__version__, "threads": args.threads, "warmup_steps": args.warmup,
               "parameters": n_params, "image_size": args.image_size, "image_prefix": args.image_prefix,
               "steps": records, "step_wall_s": [r["wall_s"] for r in records],
               "median_step_wall_s": step_wall, "median_step_cpu_s": step_cpu, "phases": phases,
               "peak_rss_mib": peak_rss_mib}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"written {args.json}")


if __name__ == "__main__":
    main()
