#!/usr/bin/env python3
"""Train a small PyTorch decoder to detect boxes by writing coordinate tokens, with coordexp's SetCriterion.

The model is a plain torch.nn causal transformer (what a transformers model is inside): an "image" of
16 x 16 pixels holding one to three filled rectangles is cut into 16 patches, and the model writes the
answer `<obj> x1 y1 x2 y2 <obj> ... <eos>`, each coordinate one of K bin tokens, objects in a random order.
The loss is the method's: token CE on the structure tokens, plus coordexp.torch.SetCriterion on the hidden
states that predict the coordinate tokens (auxiliary coordinate CE, and L1 + GIoU between the CoordExp boxes
and the Hungarian-matched ground truth). Afterwards it writes boxes greedily on held-out images and scores
them with coordexp.cocotools.COCOeval.

    python3 python/examples/train_detector.py                  # about 90 s on 2 cores: val AP50 about 0.16
    python3 python/examples/train_detector.py --coord-weight 0 # the CE-only baseline, for comparison
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

import coordexp.torch as cxt
from coordexp.cocotools import COCO, COCOeval

SIZE, PATCH = 16, 4  # image side and patch side, in pixels


class Vocab:
    def __init__(self, bins):
        self.bins = bins  # coordinate tokens are ids 0 .. bins - 1
        self.obj, self.eos, self.bos = bins, bins + 1, bins + 2
        self.size = bins + 3


def make_images(n, generator):
    """n images [n, 16, 16] with their boxes (lists of normalised xyxy [m, 4])."""
    images, boxes = torch.zeros(n, SIZE, SIZE), []
    for i in range(n):
        m = int(torch.randint(1, 4, (1,), generator=generator))
        corners = torch.randint(0, SIZE + 1, (m, 2, 2), generator=generator).sort(dim=1).values
        corners[:, 1] = torch.maximum(corners[:, 1], corners[:, 0] + 2).clamp(max=SIZE)
        corners[:, 0] = torch.minimum(corners[:, 0], corners[:, 1] - 2)
        for (x1, y1), (x2, y2) in corners.tolist():
            images[i, y1:y2, x1:x2] += 1.0
        boxes.append(torch.cat([corners[:, 0], corners[:, 1]], dim=1).double() / SIZE)
    return images, boxes


def encode(boxes, vocab, generator):
    """Answer tokens for each image (objects in random order) and the boxes in that order."""
    tokens, ordered = [], []
    for b in boxes:
        b = b[torch.randperm(len(b), generator=generator)]
        bins = torch.round(b * (vocab.bins - 1)).long()
        seq = [vocab.bos]
        for row in bins.tolist():
            seq += [vocab.obj] + row
        tokens.append(seq + [vocab.eos])
        ordered.append(b)
    return tokens, ordered


class Decoder(torch.nn.Module):
    def __init__(self, vocab, width=96, layers=3, heads=4):
        super().__init__()
        num_patches = (SIZE // PATCH) ** 2
        self.patch = torch.nn.Linear(PATCH * PATCH, width)
        self.embed = torch.nn.Embedding(vocab.size, width)
        self.position = torch.nn.Parameter(torch.randn(num_patches + 32, width) * 0.02)
        block = torch.nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True,
                                                 norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(block, layers)
        self.norm = torch.nn.LayerNorm(width)
        self.lm_head = torch.nn.Linear(width, vocab.size, bias=False)
        self.num_patches = num_patches

    def forward(self, images, tokens):
        """images [B, 16, 16], tokens [B, T] -> final hidden states [B, P + T, width]."""
        B = images.shape[0]
        patches = images.view(B, SIZE // PATCH, PATCH, SIZE // PATCH, PATCH).permute(0, 1, 3, 2, 4)
        x = torch.cat([self.patch(patches.reshape(B, self.num_patches, -1)), self.embed(tokens)], dim=1)
        x = x + self.position[:x.shape[1]]
        causal = torch.triu(torch.full((x.shape[1], x.shape[1]), float("-inf")), diagonal=1)
        return self.norm(self.blocks(x, mask=causal))


def batch_loss(model, criterion, images, tokens, ordered, vocab):
    """The method's loss on one batch: CE on structure tokens + SetCriterion on coordinate positions."""
    T = max(map(len, tokens))
    ids = torch.full((len(tokens), T), vocab.eos, dtype=torch.long)
    for i, t in enumerate(tokens):
        ids[i, :len(t)] = torch.tensor(t)
    hidden = model(images, ids)[:, model.num_patches:]  # [B, T, D]; hidden[:, t] predicts token t + 1
    struct_rows, struct_targets, coord_rows = [], [], []
    for i, t in enumerate(tokens):
        for pos in range(1, len(t)):
            (coord_rows if t[pos] < vocab.bins else struct_rows).append((i, pos - 1))
            if t[pos] >= vocab.bins:
                struct_targets.append(t[pos])
    h_struct = hidden[[i for i, _ in struct_rows], [p for _, p in struct_rows]]
    text_ce = F.cross_entropy(model.lm_head(h_struct), torch.tensor(struct_targets))
    h_coord = hidden[[i for i, _ in coord_rows], [p for _, p in coord_rows]]  # [4N, D], in sequence order
    out = criterion(h_coord.double(), model.lm_head.weight.double(), ordered, [len(b) for b in ordered],
                    torch.cat(ordered))
    return text_ce + out["loss"].float(), text_ce, out


@torch.no_grad()
def generate(model, images, vocab, max_objects=5):
    """Greedy answers -> per image a list of (normalised xyxy box, score); score = mean coordinate prob."""
    B = images.shape[0]
    ids = torch.full((B, 1), vocab.bos, dtype=torch.long)
    probs = torch.ones(B, 0)
    for _ in range(5 * max_objects + 1):
        logits = model.lm_head(model(images, ids)[:, -1])
        p = torch.softmax(logits, dim=-1)
        nxt = p.argmax(-1)
        ids, probs = torch.cat([ids, nxt[:, None]], 1), torch.cat([probs, p.max(-1).values[:, None]], 1)
    found = []
    for row, pr in zip(ids[:, 1:].tolist(), probs.tolist()):
        objs, k = [], 0
        while k + 4 < len(row) and row[k] == vocab.obj and all(c < vocab.bins for c in row[k + 1:k + 5]):
            x1, y1, x2, y2 = (c / (vocab.bins - 1) for c in row[k + 1:k + 5])
            box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
            objs.append((box, sum(pr[k + 1:k + 5]) / 4))
            k += 5
        found.append(objs)
    return found


def evaluate(model, vocab, images, boxes):
    """COCO AP of greedy answers on held-out images, boxes in pixels, through coordexp.cocotools."""
    gt = {"images": [{"id": i, "width": SIZE, "height": SIZE} for i in range(len(images))],
          "categories": [{"id": 1, "name": "box"}], "annotations": []}
    for i, b in enumerate(boxes):
        for x1, y1, x2, y2 in (b * SIZE).tolist():
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": 1,
                                      "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                      "iscrowd": 0})
    dets = [{"image_id": i, "category_id": 1, "score": s,
             "bbox": [b[0] * SIZE, b[1] * SIZE, (b[2] - b[0]) * SIZE, (b[3] - b[1]) * SIZE]}
            for i, objs in enumerate(generate(model, images, vocab)) for b, s in objs]
    coco = COCO(gt)
    if not dets:
        return 0.0, 0.0
    ev = COCOeval(coco, coco.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bins", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--coord-weight", type=float, default=1.0, help="0: CE only (no L1/GIoU)")
    ap.add_argument("--val-images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    gen, val_gen = torch.Generator().manual_seed(args.seed), torch.Generator().manual_seed(10_000 + args.seed)
    vocab = Vocab(args.bins)
    model = Decoder(vocab)
    criterion = cxt.SetCriterion(num_bins=vocab.bins, coord_token_first=0, coord_weight=args.coord_weight)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (
        1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    first_loss, start = None, time.time()
    for step in range(1, args.steps + 1):
        images, boxes = make_images(args.batch, gen)
        tokens, ordered = encode(boxes, vocab, gen)
        loss, text_ce, out = batch_loss(model, criterion, images, tokens, ordered, vocab)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        first_loss = first_loss if first_loss is not None else loss.item()
        if step % 50 == 0 or step == args.steps:
            rate = step / (time.time() - start)
            print(f"step {step}/{args.steps}  loss {loss.item():.3f}  text_ce {text_ce.item():.3f}  "
                  f"coord_ce {out['coord_ce'].item():.3f}  l1 {out['l1'].item():.3f}  "
                  f"giou {out['giou'].item():.3f}  {rate:.1f} steps/s  eta {(args.steps - step) / rate:.0f} s",
                  flush=True)
    model.eval()
    images, boxes = make_images(args.val_images, val_gen)
    ap_all, ap50 = evaluate(model, vocab, images, boxes)
    print(f"first loss {first_loss:.3f}  last loss {loss.item():.3f}  val AP {ap_all:.3f}  AP50 {ap50:.3f}")
    return first_loss, loss.item(), ap_all, ap50


if __name__ == "__main__":
    main()
