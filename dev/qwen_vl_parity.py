#!/usr/bin/env python3
"""Parity of coordexp's Qwen2-VL / Qwen2.5-VL port with the Hugging Face reference.

For each model family (Qwen2-VL, Qwen2.5-VL) the script
  1. trains a tiny byte-level BPE tokenizer offline with `tokenizers` (Qwen2's pre-tokenizer split
     pattern, NFC, the Qwen special tokens after the BPE vocabulary) and writes tokenizer.json and
     tokenizer_config.json;
  2. builds a tiny random model with transformers (2 decoder layers of width 64, GQA 4/2 heads,
     M-RoPE sections [2, 3, 3]; a 2-block vision tower for Qwen2-VL, a 3-block one with window attention
     and one full-attention block for Qwen2.5-VL), re-initialises every weight (normal, std 0.02; norm
     weights 1 + 0.1 * normal) and saves it as a sharded safetensors checkpoint;
  3. writes a random 56 x 84 RGB PNG and preprocesses it with Qwen2VLImageProcessor (grid 1 x 4 x 6,
     6 image tokens after 2 x 2 merging);
  4. tokenises a chat prompt with the image placeholders followed by a short answer;
  5. runs the reference forward pass (float32, eager attention);
  6. runs `coordexp hf-logits` on the same files and compares the logits at every position;
  7. compares `coordexp hf-tokenize` with the reference tokenizer on several strings;
  8. compares greedy decoding, `coordexp hf-generate` against `model.generate`; a difference counts as
     agreement only where the reference's two candidate logits are closer than the tolerance (a tie).
It prints a table per family and exits with status 0 only if every check passes.

Requirements: Python 3.8+, PyTorch 2.x, transformers with Qwen2-VL (4.45 or newer; Qwen2.5-VL needs 4.49
or newer) and whatever its Qwen2VLImageProcessor needs (torchvision in some versions), tokenizers, numpy,
Pillow, and a built coordexp binary. Nothing is downloaded.

Run from the repository root:
  python3 dev/qwen_vl_parity.py --coordexp build/tools/coordexp
  python3 dev/qwen_vl_parity.py --coordexp build/tools/coordexp --family qwen2_5_vl --workdir /tmp/parity
Options: --family qwen2_vl|qwen2_5_vl|both (default both); --workdir DIR keeps the checkpoints, image and
id files there (default: a temporary directory, removed at exit); --tolerance T, the largest allowed
absolute logit difference (default 1e-4); --device for the reference model (default cpu; on CUDA, TF32 is
switched off).

The coordexp commands it runs (DIR holds config.json, generation_config.json, model.safetensors.index.json
and its shards, preprocessor_config.json, tokenizer.json and tokenizer_config.json):
  coordexp hf-logits --model DIR --image IMG.png --ids IDS.json --out OUT.npy
      IDS.json is {"input_ids": [...]}, one sequence holding the <|image_pad|> run; OUT.npy must be a
      float32 [T, V] array: the logits at every position of input_ids, V = config vocab_size.
  coordexp hf-tokenize --model DIR --text-file TEXT.txt
      TEXT.txt is UTF-8 text taken verbatim (no newline is appended); stdout must be one JSON object
      {"ids": [...]}, the ids of tokenizer.encode(text, add_special_tokens=False).
  coordexp hf-generate --model DIR --image IMG.png --ids IDS.json --max-new-tokens N
      greedy decoding (no grammar constraint) from the prompt in IDS.json; stdout must be one JSON object
      {"ids": [...]}: the new tokens only, at most N, ending with the EOS token if one was produced.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import inspect
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tokenizers
import torch
import transformers
from PIL import Image
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

# ---------------------------------------------------------------------------------------------------------
# Fixed test inputs.

# Qwen2's pre-tokenizer split pattern, exactly as its tokenizer.json has it.
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Qwen's special tokens, in the order of their ids, which follow the BPE vocabulary.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
BPE_VOCAB_SIZE = 400

CORPUS = (
    "detect all objects in the image and list their boxes.",
    "Detect all red circles and blue squares.",
    "a red circle, a green triangle and a yellow star.",
    "There are 3 blue squares, 12 red circles and 7 green stars!",
    "The orange hexagon is left of the purple diamond; the white oval is below it.",
    "detect all: black rectangle (x=10, y=24), grey ellipse (x=56, y=84).",
    "You are a helpful assistant. Answer with boxes only.",
    "What colour is the large shape? It's a dark blue pentagon.",
    "We'll count them again: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.",
    "small pink heart, big brown cross, tiny cyan arrow, wide magenta ring.",
    "Boxes: [0.12, 0.34, 0.56, 0.78] and [0.9, 0.1, 0.95, 0.2].",
    "I'm sure they've seen the red and blue shapes; they'd say so.",
    "No objects found.\n\nTry again with another image.",
    "user: detect all stars. assistant: the star is red, the circle is blue, the square is green.",
)

TOKENIZER_CONFIG = {
    "tokenizer_class": "Qwen2Tokenizer",
    "bos_token": None,
    "eos_token": "<|im_end|>",
    "pad_token": "<|endoftext|>",
    "unk_token": None,
    "model_max_length": 32768,
    "clean_up_tokenization_spaces": False,
    "split_special_tokens": False,
}

# (label, text) pairs for the tokenizer comparison; the full chat prompt is added at run time.
TOKENIZER_CASES = (
    ("ASCII sentence", "Detect all red circles, then count 3 blue squares!"),
    ("spaces and newlines", "  multiple   spaces\n\nnewlines"),
    ("digits", "12345"),
    ("CJK", "你好，世界"),
    ("emoji", "👍🏽 ok"),
    ("special tokens", "<|im_start|>user\nhi<|im_end|>"),
    ("contractions", "It's red; THEY'LL see we'd DONE it"),
    ("NFC normalisation", "cafe\u0301 au lait"),
)

IMAGE_HEIGHT, IMAGE_WIDTH = 56, 84
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 64  # 56 x 84 is inside and a multiple of 28: no resize
EXPECTED_GRID_THW = [1, 4, 6]

PROMPT_HEAD = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
PROMPT_TAIL = "<|vision_end|>detect all<|im_end|>\n<|im_start|>assistant\n"
ANSWER = "red circle and a blue star 12"
MAX_NEW_TOKENS = 8

MAX_SHARD_SIZE = "200KB"  # the checkpoints are under 1 MB: several shards

# ---------------------------------------------------------------------------------------------------------
# Model families.

MROPE_SECTION = [2, 3, 3]  # sums to head_dim / 2 = 64 / 4 / 2
TEXT_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "rope_scaling": {"type": "mrope", "mrope_section": MROPE_SECTION},
}


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    config_class: str
    model_class: str
    vision_config: dict


FAMILIES = {
    "qwen2_vl": Family(
        name="qwen2_vl",
        config_class="Qwen2VLConfig",
        model_class="Qwen2VLForConditionalGeneration",
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "num_heads": 4,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "in_chans": 3,  # the name transformers < 4.50 reads
            "in_channels": 3,  # the name later versions read
            "hidden_size": 64,  # the merger's output: the LM width
        },
    ),
    "qwen2_5_vl": Family(
        name="qwen2_5_vl",
        config_class="Qwen2_5_VLConfig",
        model_class="Qwen2_5_VLForConditionalGeneration",
        vision_config={
            "depth": 3,
            "hidden_size": 32,
            "out_hidden_size": 64,
            "num_heads": 4,
            "intermediate_size": 48,
            "hidden_act": "silu",
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "in_chans": 3,
            "in_channels": 3,
            "window_size": 56,  # 2 x 2 merged tokens per window: the 2 x 3 grid makes two windows
            "fullatt_block_indexes": [2],
            "tokens_per_second": 2,
        },
    ),
}


# ---------------------------------------------------------------------------------------------------------
# Results.


@dataclasses.dataclass
class Check:
    name: str
    value: str
    status: str  # "PASS", "FAIL" or "info"
    details: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ImageInput:
    path: Path
    pixel_values: torch.Tensor  # [patches, C * temporal_patch * patch * patch], float32
    grid_thw: torch.Tensor  # [1, 3]
    num_tokens: int  # <|image_pad|> tokens: patches / merge^2


@dataclasses.dataclass
class Run:
    """What every check of one family shares."""

    binary: Path  # the coordexp executable
    checkpoint: Path  # the saved model directory
    run_dir: Path  # where the id, text and logit files go
    image: ImageInput
    device: torch.device  # of the reference model
    tolerance: float


class CoordexpError(RuntimeError):
    """coordexp failed, or its output broke the contract in the module docstring."""


def transformers_class(name: str):
    try:
        return getattr(transformers, name)
    except AttributeError:
        raise SystemExit(f"transformers {transformers.__version__} has no {name}; upgrade it") from None


# ---------------------------------------------------------------------------------------------------------
# Step 1: tokenizer.


def build_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    # The special tokens are added after training: given to the trainer they would take ids 0..6, while
    # Qwen's follow the BPE vocabulary.
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    bpe_size = tokenizer.get_vocab_size(with_added_tokens=False)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    if ids != list(range(bpe_size, bpe_size + len(SPECIAL_TOKENS))):
        raise RuntimeError(f"special token ids {ids} do not follow the {bpe_size} BPE tokens")
    return tokenizer


def encode(tokenizer: Tokenizer, text: str) -> list:
    return tokenizer.encode(text, add_special_tokens=False).ids


def save_tokenizer(tokenizer: Tokenizer, directory: Path) -> None:
    tokenizer.save(str(directory / "tokenizer.json"))
    config_text = json.dumps(TOKENIZER_CONFIG, indent=2) + "\n"
    (directory / "tokenizer_config.json").write_text(config_text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# Step 2: config and model.


def build_config(family: Family, tokenizer: Tokenizer):
    special = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
    vocab_size = -(-tokenizer.get_vocab_size(with_added_tokens=True) // 8) * 8
    generation_ids = {"bos_token_id": special["<|endoftext|>"], "eos_token_id": special["<|im_end|>"]}
    text = dict(copy.deepcopy(TEXT_CONFIG), vocab_size=vocab_size, **generation_ids)
    token_ids = {
        "image_token_id": special["<|image_pad|>"],
        "video_token_id": special["<|video_pad|>"],
        "vision_start_token_id": special["<|vision_start|>"],
        "vision_end_token_id": special["<|vision_end|>"],
    }
    config_class = transformers_class(family.config_class)
    if "text_config" in getattr(config_class, "sub_configs", {}):
        # Newer transformers: the LM's fields live in text_config; tying and bos/eos are also read at the top.
        text_kwargs = dict(text_config=text, tie_word_embeddings=False, **generation_ids)
    else:
        text_kwargs = text  # older transformers: the LM's fields at the top level
    config = config_class(vision_config=copy.deepcopy(family.vision_config), **token_ids, **text_kwargs)
    verify_config(config, family, vocab_size)
    return config


def verify_config(config, family: Family, vocab_size: int) -> None:
    """Fails if this transformers version put the given fields somewhere its model does not read them."""
    text = getattr(config, "text_config", config)
    expected = {key: TEXT_CONFIG[key] for key in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                  "num_key_value_heads", "tie_word_embeddings")}
    expected["vocab_size"] = vocab_size
    actual = {key: getattr(text, key, None) for key in expected}
    rope = getattr(text, "rope_parameters", None) or getattr(text, "rope_scaling", None) or {}
    depth = getattr(config.vision_config, "depth", None)
    mrope_section = rope.get("mrope_section")
    if actual != expected or mrope_section != MROPE_SECTION or depth != family.vision_config["depth"]:
        raise RuntimeError(
            f"transformers {transformers.__version__} built an unexpected {family.config_class}: text fields "
            f"{actual} (expected {expected}), rope {rope}, vision depth {depth}"
        )


@torch.no_grad()
def reinitialise(model: torch.nn.Module) -> None:
    """Every parameter normal(0, 0.02); norm weights 1 + 0.1 * normal, so that none is trivially 1."""
    for parameter in model.parameters():
        parameter.normal_(mean=0.0, std=0.02)
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if "norm" in type(module).__name__.lower() and isinstance(weight, torch.nn.Parameter):
            weight.copy_(1.0 + 0.1 * torch.randn_like(weight))


def build_model(family: Family, config) -> torch.nn.Module:
    torch.manual_seed(0)
    model_class = transformers_class(family.model_class)
    model = model_class._from_config(config, attn_implementation="eager").eval().float()
    reinitialise(model)
    if model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr():
        raise RuntimeError("lm_head is tied to embed_tokens although tie_word_embeddings is false")
    return model


def save_checkpoint(model, tokenizer: Tokenizer, image_processor, directory: Path) -> int:
    """Writes the model (sharded safetensors), image processor and tokenizer; returns the shard count."""
    directory.mkdir(parents=True, exist_ok=True)
    save_kwargs = {"max_shard_size": MAX_SHARD_SIZE}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        save_kwargs["safe_serialization"] = True
    model.save_pretrained(str(directory), **save_kwargs)
    index = directory / "model.safetensors.index.json"
    if not index.is_file():
        raise RuntimeError(f"save_pretrained wrote no {index.name} in {directory}")
    shards = len(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    if shards < 2:
        raise RuntimeError(f"expected at least 2 safetensors shards in {directory}, got {shards}")
    image_processor.save_pretrained(str(directory))
    save_tokenizer(tokenizer, directory)
    return shards


# ---------------------------------------------------------------------------------------------------------
# Step 3: image.


def make_image(path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(IMAGE_HEIGHT, IMAGE_WIDTH, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def preprocess_image(path: Path):
    """Returns the image processor (saved with each checkpoint) and the reference's image input."""
    processor = transformers_class("Qwen2VLImageProcessor")(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    with Image.open(path) as image:
        batch = processor(images=[image.convert("RGB")], return_tensors="pt")
    grid_thw = batch["image_grid_thw"]
    if grid_thw.tolist() != [EXPECTED_GRID_THW]:
        raise RuntimeError(f"image_grid_thw {grid_thw.tolist()}, expected {[EXPECTED_GRID_THW]}")
    num_tokens = int(grid_thw.prod()) // processor.merge_size**2
    return processor, ImageInput(path, batch["pixel_values"].float(), grid_thw, num_tokens)


# ---------------------------------------------------------------------------------------------------------
# Steps 4, 5 and 8 (reference side): prompt, forward pass, greedy decoding.


def prompt_text(num_image_tokens: int) -> str:
    return PROMPT_HEAD + "<|image_pad|>" * num_image_tokens + PROMPT_TAIL


def write_ids(path: Path, ids: list) -> None:
    path.write_text(json.dumps({"input_ids": ids}) + "\n", encoding="utf-8")


def reset_rope_deltas(model: torch.nn.Module) -> None:
    """Clears the M-RoPE offsets transformers caches between calls, so positions are recomputed from ids."""
    for module in model.modules():
        if "rope_deltas" in vars(module):
            module.rope_deltas = None


def model_inputs(model, ids: list, image: ImageInput, device: torch.device) -> dict:
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    inputs = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values": image.pixel_values.to(device),
        "image_grid_thw": image.grid_thw.to(device),
    }
    # Newer transformers take the M-RoPE layout from mm_token_type_ids (1 marks an image token), as its
    # processor returns them, rather than from the ids.
    if "mm_token_type_ids" in inspect.signature(model.forward).parameters:
        inputs["mm_token_type_ids"] = (input_ids == model.config.image_token_id).int()
    return inputs


@torch.no_grad()
def reference_logits(model, ids: list, image: ImageInput, device: torch.device) -> np.ndarray:
    """[T, V] float32 logits at every position."""
    reset_rope_deltas(model)
    logits = model(**model_inputs(model, ids, image, device), use_cache=False).logits
    return logits[0].float().cpu().numpy()


@torch.no_grad()
def reference_generate(model, prompt_ids: list, image: ImageInput, device: torch.device, eos_id: int) -> list:
    reset_rope_deltas(model)
    output = model.generate(
        **model_inputs(model, prompt_ids, image, device),
        max_new_tokens=MAX_NEW_TOKENS,
        do_sample=False,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    return output[0, len(prompt_ids):].tolist()


# ---------------------------------------------------------------------------------------------------------
# coordexp side.


def run_coordexp(binary: Path, *args) -> str:
    command = [str(binary), *(str(arg) for arg in args)]
    try:
        result = subprocess.run(command, check=True, capture_output=True, text=True, encoding="utf-8")
    except subprocess.CalledProcessError as err:
        print(f"coordexp failed (exit status {err.returncode}): {' '.join(command)}", file=sys.stderr)
        print(err.stderr, file=sys.stderr)
        raise CoordexpError(f"`{' '.join(command)}` exited with status {err.returncode}") from None
    return result.stdout


def coordexp_ids(binary: Path, *args) -> list:
    """Runs a command that prints {"ids": [...]} and returns the ids."""
    stdout = run_coordexp(binary, *args)
    try:
        ids = json.loads(stdout)["ids"]
    except (json.JSONDecodeError, KeyError, TypeError):
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise CoordexpError(f"expected {{\"ids\": [...]}} on stdout, got {stdout[:200]!r}")
    return ids


def load_logits(path: Path, shape: tuple) -> np.ndarray:
    try:
        logits = np.load(path)
    except (OSError, ValueError) as err:
        raise CoordexpError(f"{path}: not a readable .npy file ({err})") from None
    if not isinstance(logits, np.ndarray) or logits.dtype != np.float32 or logits.shape != shape:
        got = f"{logits.dtype} {list(logits.shape)}" if hasattr(logits, "shape") else type(logits).__name__
        raise CoordexpError(f"{path}: expected a float32 {list(shape)} array, got {got}")
    return logits


# ---------------------------------------------------------------------------------------------------------
# Checks (steps 6, 7, 8).


def max_diff_check(name: str, diff: np.ndarray, first_position: int, tolerance: float) -> Check:
    worst = float(diff.max())
    position = first_position + int(np.unravel_index(np.argmax(diff), diff.shape)[0])
    status = "PASS" if worst <= tolerance else "FAIL"  # a NaN fails too
    return Check(name, f"max|diff| {worst:.3e} (position {position})", status)


def check_logits(run: Run, model, ids: list, vision_end_id: int) -> list:
    ids_path, out_path = run.run_dir / "ids.json", run.run_dir / "ours.npy"
    write_ids(ids_path, ids)
    reference = reference_logits(model, ids, run.image, run.device)
    text_start = ids.index(vision_end_id) + 1
    all_name = f"logits, all {len(ids)} positions (hf-logits)"
    try:
        run_coordexp(run.binary, "hf-logits", "--model", run.checkpoint, "--image", run.image.path,
                     "--ids", ids_path, "--out", out_path)
        ours = load_logits(out_path, reference.shape)
    except CoordexpError as err:
        return [Check(all_name, "coordexp failed", "FAIL", [str(err)])]
    diff = np.abs(ours.astype(np.float64) - reference.astype(np.float64))
    agree = int((ours.argmax(axis=-1) == reference.argmax(axis=-1)).sum())
    text_name = f"logits, {len(ids) - text_start} text positions after the image"
    return [
        max_diff_check(all_name, diff, 0, run.tolerance),
        max_diff_check(text_name, diff[text_start:], text_start, run.tolerance),
        Check("argmax agreement", f"{agree}/{len(ids)} positions", "info"),
    ]


def check_tokenizer(run: Run, tokenizer: Tokenizer, cases: list) -> Check:
    text_path = run.run_dir / "text.txt"
    failures = []
    for label, text in cases:
        text_path.write_bytes(text.encode("utf-8"))
        expected = encode(tokenizer, text)
        try:
            got = coordexp_ids(run.binary, "hf-tokenize", "--model", run.checkpoint, "--text-file", text_path)
        except CoordexpError as err:
            failures.append(f"{label}: {err}")
            continue
        if got != expected:
            failures.append(f"{label} {text!r}: expected {expected}, got {got}")
    value = f"{len(cases) - len(failures)}/{len(cases)} strings identical"
    return Check("tokenizer (hf-tokenize)", value, "FAIL" if failures else "PASS", failures)


def check_generation(run: Run, model, prompt_ids: list, eos_id: int) -> Check:
    ids_path = run.run_dir / "ids_prompt.json"
    write_ids(ids_path, prompt_ids)
    expected = reference_generate(model, prompt_ids, run.image, run.device, eos_id)
    name = f"greedy generation, {MAX_NEW_TOKENS} new tokens (hf-generate)"
    try:
        got = coordexp_ids(run.binary, "hf-generate", "--model", run.checkpoint, "--image", run.image.path,
                           "--ids", ids_path, "--max-new-tokens", MAX_NEW_TOKENS)
    except CoordexpError as err:
        return Check(name, "coordexp failed", "FAIL", [str(err)])
    if got == expected:
        return Check(name, f"identical ({len(got)} tokens)", "PASS")
    details = [f"reference {expected}", f"coordexp  {got}"]
    common = min(len(expected), len(got))
    step = next((i for i in range(common) if expected[i] != got[i]), common)
    if step == common:
        return Check(name, f"lengths differ ({len(expected)} vs {len(got)})", "FAIL", details)
    vocab_size = model.get_output_embeddings().weight.shape[0]
    if not 0 <= got[step] < vocab_size:
        return Check(name, f"step {step}: token {got[step]} outside the vocabulary", "FAIL", details)
    # The reference's logits at the first differing step: where its top two are tied, either choice is right.
    logits = reference_logits(model, prompt_ids + expected[:step], run.image, run.device)[-1]
    gap = abs(float(logits[expected[step]]) - float(logits[got[step]]))
    if gap < run.tolerance:
        return Check(name, f"differs from step {step}, a near tie (gap {gap:.2e})", "PASS", details)
    return Check(name, f"differs at step {step} (logit gap {gap:.2e})", "FAIL", details)


# ---------------------------------------------------------------------------------------------------------
# Driver.


def print_table(title: str, checks: list) -> None:
    name_width = max(len("check"), *(len(check.name) for check in checks))
    value_width = max(len("value"), *(len(check.value) for check in checks))
    print(f"\n{title}")
    print(f"  {'check':<{name_width}}  {'value':<{value_width}}  result")
    for check in checks:
        print(f"  {check.name:<{name_width}}  {check.value:<{value_width}}  {check.status}")
    for check in checks:
        for line in check.details:
            print(f"    [{check.name}] {line}")


def run_family(family: Family, tokenizer: Tokenizer, image_processor, image: ImageInput, args) -> list:
    run_dir = args.workdir / family.name
    run = Run(args.coordexp, run_dir / "checkpoint", run_dir, image, args.device, args.tolerance)
    model = build_model(family, build_config(family, tokenizer))
    shards = save_checkpoint(model, tokenizer, image_processor, run.checkpoint)
    model.to(run.device)

    prompt = prompt_text(image.num_tokens)
    ids = encode(tokenizer, prompt + ANSWER)
    prompt_ids = encode(tokenizer, prompt)
    image_tokens = ids.count(tokenizer.token_to_id("<|image_pad|>"))
    if image_tokens != image.num_tokens:
        raise RuntimeError(f"the prompt holds {image_tokens} image tokens, expected {image.num_tokens}")

    checks = check_logits(run, model, ids, tokenizer.token_to_id("<|vision_end|>"))
    checks.append(check_tokenizer(run, tokenizer, [*TOKENIZER_CASES, ("chat prompt", prompt + ANSWER)]))
    checks.append(check_generation(run, model, prompt_ids, tokenizer.token_to_id("<|im_end|>")))

    attention = (getattr(model.config, "_attn_implementation", "?"),
                 getattr(model.visual.config, "_attn_implementation", "?"))
    print_table(f"{family.name}: {run.checkpoint} ({shards} shards, {len(ids)} tokens; attention: text "
                f"{attention[0]}, vision {attention[1]})", checks)
    return checks


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--coordexp", required=True, type=Path,
                        help="the coordexp binary (build/tools/coordexp)")
    parser.add_argument("--family", choices=[*FAMILIES, "both"], default="both")
    parser.add_argument("--workdir", type=Path,
                        help="directory for the checkpoints and inputs, kept (default: a temporary one)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed absolute logit difference (default 1e-4)")
    parser.add_argument("--device", default="cpu",
                        help="device of the reference model: cpu (default), cuda, cuda:1, ...")
    args = parser.parse_args(argv)
    try:
        args.device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(str(err))
    args.coordexp = args.coordexp.resolve()
    if not args.coordexp.is_file():
        parser.error(f"coordexp binary not found: {args.coordexp}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    families = list(FAMILIES.values()) if args.family == "both" else [FAMILIES[args.family]]
    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
          f"torch {torch.__version__}; reference on {args.device} in float32; tolerance {args.tolerance:g}")

    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            args.workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qwen_vl_parity_")))
        args.workdir = args.workdir.resolve()
        args.workdir.mkdir(parents=True, exist_ok=True)
        tokenizer = build_tokenizer()
        image_path = args.workdir / "image.png"
        make_image(image_path)
        image_processor, image = preprocess_image(image_path)
        results = {f.name: run_family(f, tokenizer, image_processor, image, args) for f in families}

    failed = [name for name, checks in results.items() if any(check.status == "FAIL" for check in checks)]
    print("\nFAILED: " + ", ".join(failed) if failed else "\nall checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
