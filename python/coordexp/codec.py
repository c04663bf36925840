"""The object codec for answers generated anywhere: parse a V-LLM's answer (token ids or text) into described
boxes, encode boxes into an answer, quantise boxes to coordinate bins and back. The grammar and the parser are
the C++ library's (include/coordexp/text/object_codec.hpp): one object is

    <obj_start> description x1 y1 x2 y2 <obj_end>      x1 .. y2: coordinate tokens <coord_0> .. <coord_{K-1}>

and the answer ends with the answer-end token. Bin k means the normalised coordinate k / (K - 1).

    import coordexp
    objects = coordexp.parse("<obj_start>red star<coord_12><coord_40><coord_300><coord_500><obj_end><|im_end|>")
    # [{"description": "red star", "box": [0.012.., 0.040.., 0.300.., 0.500..], "bins": [12, 40, 300, 500],
    #   "span": [0, 70]}]
    objects, issues = coordexp.parse(text, mode="salvage")   # keeps the well-formed objects, counts the rest
    ids = coordexp.TokenIds(first_coord=151665, obj_start=152665, obj_end=152666, answer_end=151645)
    objects = coordexp.parse(generated_ids, token_ids=ids, decode=tokenizer.decode)

Text is read as the model's tokens spelled out: the spellings <obj_start>, <obj_end>, <coord_k> and the answer
ends (answer_end, default <|im_end|>, <|endoftext|>, <eos>) are those tokens; every other run of
non-space characters is a description token; spaces between tokens are ignored.
"""
import dataclasses
import re

import numpy as np

from . import _coordexp

__all__ = ["TokenIds", "parse", "encode", "quantize_box", "dequantize_box", "PARSE_ISSUES"]

# The ParseIssue names, in the C++ enum's order: the keys of parse(..., mode="salvage")'s issue counts.
PARSE_ISSUES = tuple(_coordexp.PARSE_ISSUES)

DEFAULT_ANSWER_ENDS = ("<|im_end|>", "<|endoftext|>", "<eos>")


@dataclasses.dataclass(frozen=True)
class TokenIds:
    """A tokenizer's ids for the codec: <coord_k> is first_coord + k (k < num_bins)."""

    first_coord: int  # id of <coord_0>
    obj_start: int  # id of <obj_start>
    obj_end: int  # id of <obj_end>
    answer_end: int  # the token that ends the answer (Qwen: <|im_end|>)


def quantize_box(box, num_bins=1000):
    """Normalised [x1, y1, x2, y2] -> 4 bins, round(c * (K - 1)) after clamping to [0, 1]; a box that would
    get zero width or height is widened to one bin. An inverted box or NaN raises ValueError."""
    return list(_coordexp.quantize_box([float(c) for c in _four(box, "box")], int(num_bins)))


def dequantize_box(bins, num_bins=1000):
    """4 bins -> normalised [x1, y1, x2, y2], k / (K - 1). A bin outside [0, K - 1] raises ValueError."""
    return list(_coordexp.dequantize_box([_int(b, f"bins[{i}]") for i, b in enumerate(_four(bins, "bins"))],
                                         int(num_bins)))


def parse(tokens_or_text, mode="strict", *, num_bins=1000, token_ids=None, answer_end=DEFAULT_ANSWER_ENDS,
          decode=None):
    """A generated answer -> its objects, as dicts {"description", "box" (normalised xyxy), "bins",
    "span"}.

    tokens_or_text: a str (text), or a 1-D sequence of token ids (list, numpy array, CPU tensor) read with
    `token_ids` (a TokenIds, required for ids). For text, "description" is the text between <obj_start> and the
    first coordinate (outer spaces stripped) and "span" the [start, end) character offsets of the object; for
    ids, "description" is the list of description ids (or decode(ids) when `decode` is given) and "span" the
    [start, end) token positions.

    mode "strict": the first violation of the grammar raises ValueError naming the position, what was expected
    and what was found; returns the list of objects. mode "salvage": returns (objects, issues): every
    well-formed object, and {issue name: count} over PARSE_ISSUES for what was dropped or repaired (an
    inverted box is kept with its corners ordered; stray tokens between objects are skipped).
    """
    if mode not in ("strict", "salvage"):
        raise ValueError(f"mode: 'strict' or 'salvage', got {mode!r}")
    strict = mode == "strict"
    if isinstance(tokens_or_text, str):
        if token_ids is not None:
            raise TypeError("token_ids: only for token ids; text spells the tokens out")
        return _parse_text(tokens_or_text, strict, int(num_bins), _answer_ends(answer_end))
    if token_ids is None:
        raise TypeError("token_ids: a coordexp.TokenIds naming <coord_0>, <obj_start>, <obj_end> and the answer "
                        "end, needed to read token ids")
    ids = _ids(tokens_or_text)
    r = _coordexp.parse_answer(ids, strict, int(num_bins), *_structure(token_ids))
    objects = [{"description": decode(o["desc_ids"]) if decode is not None else o["desc_ids"],
                "box": list(o["box"]), "bins": list(o["bins"]), "span": [o["open_pos"], o["close_pos"] + 1]}
               for o in r["objects"]]
    return objects if strict else (objects, r["issues"])


def encode(objects, *, num_bins=1000, order="x1", seed=0, raster_grid=8, token_ids=None,
           answer_end="<|im_end|>"):
    """Described boxes -> the answer the model is trained to write; the inverse of parse.

    objects: dicts with "description" and "box" (normalised [x1, y1, x2, y2]), as parse returns them.
    order: "x1" (x1 ascending, ties by y1), "top_left" (y1, then x1), "random" (seeded by `seed`), "given",
    "raster" (centre cell on a raster_grid x raster_grid grid, row-major). Without token_ids: text, the
    descriptions str, ending with `answer_end`; with token_ids: a list of ids, the descriptions lists of ids
    (neither coordinate nor structure ids).
    """
    descriptions, boxes = [], []
    for i, o in enumerate(objects):
        if not isinstance(o, dict) or "description" not in o or "box" not in o:
            raise ValueError(f"objects[{i}]: a dict with 'description' and 'box', got {o!r}")
        boxes.append([float(c) for c in _four(o["box"], f"objects[{i}].box")])
        descriptions.append(o["description"])
    if token_ids is not None:
        desc_ids = [[_int(t, f"objects[{i}].description[{j}]") for j, t in enumerate(d)]
                    for i, d in enumerate(descriptions)]
        ids, _ = _coordexp.encode_answer(desc_ids, boxes, order, int(seed), int(raster_grid), int(num_bins),
                                         *_structure(token_ids))
        return ids
    # Text: the C++ encoder on stand-in ids (one per word), then the tokens spelled out.
    lexer = _Lexer(int(num_bins), _answer_ends([answer_end]))
    desc_ids = []
    for i, d in enumerate(descriptions):
        if not isinstance(d, str):
            raise TypeError(f"objects[{i}].description: a str (or pass token_ids for ids), got {type(d).__name__}")
        special = lexer.pattern.search(d)
        if special:
            raise ValueError(f"objects[{i}].description: text without token spellings, found "
                             f"{special.group(0)!r} at character {special.start()}")
        desc_ids.append([lexer.first_word + j for j in range(len(d.split()))])
    ids, perm = _coordexp.encode_answer(desc_ids, boxes, order, int(seed), int(raster_grid), int(num_bins),
                                        _Lexer.COORD0, _Lexer.OBJ_START, _Lexer.OBJ_END, _Lexer.ANSWER_END)
    out, k = [], 0
    for t in ids:
        if t == _Lexer.OBJ_START:
            out.append("<obj_start>" + descriptions[perm[k]].strip())
            k += 1
        elif t == _Lexer.OBJ_END:
            out.append("<obj_end>")
        elif t == _Lexer.ANSWER_END:
            out.append(answer_end)
        elif _Lexer.COORD0 <= t < lexer.first_word:
            out.append(f"<coord_{t - _Lexer.COORD0}>")
    return "".join(out)


# ------------------------------------------------------------------------------------------------ text
class _Lexer:
    """Text -> stand-in ids for the C++ parser: fixed ids for the structure tokens, <coord_k> at COORD0 + k,
    and one id per description word after the coordinates, with each token's character span."""

    OBJ_START, OBJ_END, ANSWER_END, COORD0 = 0, 1, 2, 3

    def __init__(self, num_bins, answer_ends):
        self.num_bins = num_bins
        self.first_word = self.COORD0 + num_bins
        self.answer_ends = answer_ends
        self.pattern = re.compile(r"<obj_start>|<obj_end>|<coord_(\d+)>|"
                                  + "|".join(re.escape(a) for a in answer_ends))

    def tokens(self, text):
        """(ids, spans, texts) for `text`: spans are [start, end) character offsets."""
        ids, spans = [], []

        def words(lo, hi):
            for m in re.finditer(r"\S+", text[lo:hi]):
                ids.append(self.first_word + len(ids))
                spans.append((lo + m.start(), lo + m.end()))

        at = 0
        for m in self.pattern.finditer(text):
            words(at, m.start())
            s = m.group(0)
            if m.group(1) is not None:
                k = int(m.group(1))
                if k >= self.num_bins:
                    raise ValueError(f"model output text, character {m.start()}: expected a coordinate token "
                                     f"<coord_0>..<coord_{self.num_bins - 1}>, found {s!r} (hint: pass the "
                                     "model's number of bins as num_bins)")
                ids.append(self.COORD0 + k)
            else:
                ids.append({"<obj_start>": self.OBJ_START, "<obj_end>": self.OBJ_END}.get(s, self.ANSWER_END))
            spans.append((m.start(), m.end()))
            at = m.end()
        words(at, len(text))
        return ids, spans


_POSITION = re.compile(r"^model output token (\d+): (expected .*, found )(.*)$", re.S)


def _parse_text(text, strict, num_bins, answer_ends):
    lexer = _Lexer(num_bins, answer_ends)
    ids, spans = lexer.tokens(text)
    try:
        r = _coordexp.parse_answer(np.asarray(ids, dtype=np.int64), strict, num_bins, _Lexer.COORD0,
                                   _Lexer.OBJ_START, _Lexer.OBJ_END, _Lexer.ANSWER_END)
    except ValueError as e:
        # The C++ message names a token position and a stand-in id: name the character and the text instead.
        m = _POSITION.match(str(e))
        if not m:
            raise
        pos = int(m.group(1))
        where, found = ((spans[pos][0], repr(text[slice(*spans[pos])])) if pos < len(spans)
                        else (len(text), "end of text"))
        raise ValueError(f"model output text, character {where}: {m.group(2)}{found}") from None
    objects = []
    for o in r["objects"]:
        d = o["desc_pos"]
        start = spans[o["open_pos"]][0]
        objects.append({"description": text[spans[d[0]][0]:spans[d[-1]][1]], "box": list(o["box"]),
                        "bins": list(o["bins"]), "span": [start, spans[o["close_pos"]][1]]})
    return objects if strict else (objects, r["issues"])


# ------------------------------------------------------------------------------------------ arguments
def _answer_ends(answer_end):
    ends = (answer_end,) if isinstance(answer_end, str) else tuple(answer_end)
    if not ends or not all(isinstance(a, str) and a for a in ends):
        raise ValueError(f"answer_end: a non-empty str or a list of them, got {answer_end!r}")
    return ends


def _structure(token_ids):
    if not isinstance(token_ids, TokenIds):
        raise TypeError(f"token_ids: a coordexp.TokenIds, got {type(token_ids).__name__}")
    return (_int(token_ids.first_coord, "token_ids.first_coord"), _int(token_ids.obj_start, "token_ids.obj_start"),
            _int(token_ids.obj_end, "token_ids.obj_end"), _int(token_ids.answer_end, "token_ids.answer_end"))


def _ids(tokens):
    a = np.asarray(tokens)
    if a.size == 0:
        a = a.astype(np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"tokens: a str or a 1-D sequence of integer token ids, got {a.ndim}-D {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _four(values, name):
    values = list(values)
    if len(values) != 4:
        raise ValueError(f"{name}: 4 values [x1, y1, x2, y2], got {len(values)}")
    return values


def _int(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: an integer, got {type(v).__name__}")
    return int(v)
