#!/usr/bin/python3
"""Writes a Qwen2-sized byte-level BPE tokenizer.json for load-time benchmarks: the header (normalizer,
pre-tokenizer, decoder, added tokens) of a given tokenizer.json (e.g. one `coordexp hf-tiny` wrote), with a
vocabulary of --vocab entries (the 256 byte characters, then one token per merge) and --vocab - 256 merges,
each joining two earlier tokens (short ones preferred, as a trained BPE's are) into a token not seen yet. The
added tokens are renumbered after the vocabulary. Deterministic for a given --seed.

Usage: bench/make_bpe_tokenizer.py --header HF_TINY/tokenizer.json --out DIR/tokenizer.json [--vocab 151643]
"""
import argparse
import json
import random


def byte_chars():
    """GPT-2's byte-to-unicode table, as Hugging Face's ByteLevel pre-tokenizer maps bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--header", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=151643)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--merges-as", choices=["pairs", "strings"], default="pairs",
                    help='["a", "b"] (tokenizers >= 0.20) or "a b" (the form of Qwen2\'s published file)')
    args = ap.parse_args()
    rng = random.Random(args.seed)
    doc = json.load(open(args.header, encoding="utf-8"))
    tokens = byte_chars()
    seen = set(tokens)
    merges = []
    while len(tokens) < args.vocab:
        # Prefer recent and short tokens: index drawn towards the end, length capped at 16 characters.
        a = tokens[int(len(tokens) * rng.random() ** 0.5)]
        b = tokens[rng.randrange(min(len(tokens), 4096))]
        joined = a + b
        if len(joined) > 16 or joined in seen or " " in joined:  # "a b" strings cannot hold a space
            continue
        seen.add(joined)
        tokens.append(joined)
        merges.append([a, b] if args.merges_as == "pairs" else f"{a} {b}")
    doc["model"]["vocab"] = {t: i for i, t in enumerate(tokens)}
    doc["model"]["merges"] = merges
    for k, t in enumerate(doc.get("added_tokens") or []):
        t["id"] = len(tokens) + k
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
