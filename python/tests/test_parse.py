"""coordexp.parse / encode / quantize_box / dequantize_box against hand-written answers: well-formed ones, and
each way a generation goes wrong (truncated, missing coordinates, stray tokens, unclosed objects, inverted
boxes, empty), as token ids and as text; strict mode's messages (position, expected, found), salvage mode's
objects and issue counts; encode's exact output and the round trip."""
import numpy as np
import pytest

import coordexp
from coordexp import TokenIds

K = 100  # bins: bin k is k / 99
IDS = TokenIds(first_coord=1000, obj_start=5, obj_end=6, answer_end=2)
S, E, END = 5, 6, 2


def C(k):
    return 1000 + k


def zero_issues(**counts):
    issues = {name: 0 for name in coordexp.PARSE_ISSUES}
    issues.update(counts)
    return issues


def parse_ids(tokens, mode="strict", **kw):
    return coordexp.parse(tokens, mode, num_bins=K, token_ids=IDS, **kw)


WELL_FORMED = [S, 11, 12, C(10), C(20), C(30), C(40), E, S, 13, C(0), C(0), C(99), C(99), E, END]
WELL_FORMED_OBJECTS = [
    {"description": [11, 12], "box": [10 / 99, 20 / 99, 30 / 99, 40 / 99], "bins": [10, 20, 30, 40],
     "span": [0, 8]},
    {"description": [13], "box": [0.0, 0.0, 1.0, 1.0], "bins": [0, 0, 99, 99], "span": [8, 15]},
]


def test_issue_names_are_the_libraries():
    assert coordexp.PARSE_ISSUES == ("missing_coordinates", "coordinate_in_description", "too_many_coordinates",
                                     "empty_description", "unclosed_object", "truncated_tail", "stray_token",
                                     "inverted_box")


def test_well_formed_ids_in_both_modes():
    assert parse_ids(WELL_FORMED) == WELL_FORMED_OBJECTS
    assert parse_ids(WELL_FORMED, "salvage") == (WELL_FORMED_OBJECTS, zero_issues())
    assert parse_ids(np.array(WELL_FORMED, dtype=np.int32)) == WELL_FORMED_OBJECTS
    # after the answer end nothing is read; without it the objects are the same
    assert parse_ids(WELL_FORMED + [11, C(3), E]) == WELL_FORMED_OBJECTS
    assert parse_ids(WELL_FORMED[:-1]) == WELL_FORMED_OBJECTS
    words = {11: "red", 12: "star", 13: "circle"}
    got = parse_ids(WELL_FORMED, decode=lambda ids: " ".join(words[i] for i in ids))
    assert [o["description"] for o in got] == ["red star", "circle"]


def test_empty_answers():
    for tokens in ([], [END], np.zeros(0, dtype=np.int64)):
        assert parse_ids(tokens) == []
        assert parse_ids(tokens, "salvage") == ([], zero_issues())


# (tokens, strict mode's message, salvage mode's objects (by bins), salvage mode's issues)
BROKEN = {
    "truncated": ([S, 11, C(1), C(2)],
                  "model output token 4: expected <obj_end> before the end of the sequence, found end of sequence",
                  [], {"truncated_tail": 1}),
    "missing_coordinates": ([S, 11, C(1), C(2), C(3), E, S, 12, C(1), C(2), C(3), C(4), E, END],
                            "model output token 5: expected 4 coordinate tokens before <obj_end>, found <obj_end>",
                            [[1, 2, 3, 4]], {"missing_coordinates": 1}),
    "stray_tokens": ([11, S, 12, C(1), C(2), C(3), C(4), E, 13, E, END],
                     "model output token 0: expected <obj_start> or the answer end, found text token 11",
                     [[1, 2, 3, 4]], {"stray_token": 3}),
    "stray_coordinate": ([C(7), S, 12, C(1), C(2), C(3), C(4), E, END],
                         "model output token 0: expected <obj_start> or the answer end, found <coord_7>",
                         [[1, 2, 3, 4]], {"stray_token": 1}),
    "text_among_coordinates": ([S, 11, C(1), 12, C(2), C(3), C(4), E, S, 13, C(5), C(6), C(7), C(8), E, END],
                               "model output token 3: expected a coordinate token, found text token 12",
                               [[5, 6, 7, 8]], {"coordinate_in_description": 1}),
    "too_many_coordinates": ([S, 11, C(1), C(2), C(3), C(4), C(5), E, END],
                             "model output token 6: expected <obj_end> after 4 coordinates, found <coord_5>",
                             [], {"too_many_coordinates": 1}),
    "empty_description": ([S, C(1), C(2), C(3), C(4), E, END],
                          "model output token 1: expected a description token after <obj_start>, found <coord_1>",
                          [], {"empty_description": 1}),
    "unclosed_object": ([S, 11, C(1), C(2), C(3), C(4), S, 12, C(5), C(6), C(7), C(8), E, END],
                        "model output token 6: expected <obj_end> before the next <obj_start>, found <obj_start>",
                        [[5, 6, 7, 8]], {"unclosed_object": 1}),
    "answer_end_inside_an_object": ([S, 11, C(1), END],
                                    "model output token 3: expected <obj_end> before the end of the answer, "
                                    "found answer end", [], {"unclosed_object": 1}),
    "inverted_box": ([S, 11, C(30), C(20), C(10), C(40), E, END],
                     "model output token 6: expected x1 <= x2 and y1 <= y2 in the object's coordinates, "
                     "found <obj_end>", [[10, 20, 30, 40]], {"inverted_box": 1}),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_ids(case):
    tokens, message, kept_bins, issues = BROKEN[case]
    with pytest.raises(ValueError) as e:
        parse_ids(tokens)
    assert str(e.value) == message
    objects, got_issues = parse_ids(tokens, "salvage")
    assert [o["bins"] for o in objects] == kept_bins
    assert got_issues == zero_issues(**issues)
    for o in objects:
        assert o["box"] == [b / 99 for b in o["bins"]]


TEXT = "<obj_start>red star<coord_10><coord_20><coord_30><coord_40><obj_end>\n<obj_start> big  circle <coord_0>" \
       "<coord_0><coord_99><coord_99><obj_end><|im_end|>"


def test_well_formed_text():
    objects = coordexp.parse(TEXT, num_bins=K)
    assert objects == [
        {"description": "red star", "box": [10 / 99, 20 / 99, 30 / 99, 40 / 99], "bins": [10, 20, 30, 40],
         "span": [0, 68]},
        {"description": "big  circle", "box": [0.0, 0.0, 1.0, 1.0], "bins": [0, 0, 99, 99], "span": [69, 140]}]
    assert TEXT[69:140].startswith("<obj_start>") and TEXT[69:140].endswith("<obj_end>")
    assert coordexp.parse(TEXT, "salvage", num_bins=K) == (objects, zero_issues())
    # another answer end; text after it is not read
    other = TEXT.replace("<|im_end|>", "</s> trailing words")
    assert coordexp.parse(other, num_bins=K, answer_end="</s>") == objects
    assert coordexp.parse("", num_bins=K) == [] and coordexp.parse("  <eos>", num_bins=K) == []


def test_broken_text():
    truncated = TEXT[:102]  # ends after the first "<coord_0>" of the second object
    with pytest.raises(ValueError) as e:
        coordexp.parse(truncated, num_bins=K)
    assert str(e.value) == ("model output text, character 102: expected <obj_end> before the end of the "
                            "sequence, found end of text")
    objects, issues = coordexp.parse(truncated, "salvage", num_bins=K)
    assert [o["description"] for o in objects] == ["red star"] and issues == zero_issues(truncated_tail=1)

    stray = "Sure! " + TEXT
    with pytest.raises(ValueError) as e:
        coordexp.parse(stray, num_bins=K)
    assert str(e.value) == "model output text, character 0: expected <obj_start> or the answer end, found 'Sure!'"
    objects, issues = coordexp.parse(stray, "salvage", num_bins=K)
    assert len(objects) == 2 and issues == zero_issues(stray_token=1)

    missing = "<obj_start>cat<coord_1><coord_2><obj_end><|im_end|>"
    with pytest.raises(ValueError) as e:
        coordexp.parse(missing, num_bins=K)
    assert str(e.value) == ("model output text, character 32: expected 4 coordinate tokens before <obj_end>, "
                            "found '<obj_end>'")
    assert coordexp.parse(missing, "salvage", num_bins=K) == ([], zero_issues(missing_coordinates=1))

    with pytest.raises(ValueError) as e:
        coordexp.parse("<obj_start>cat<coord_1><coord_100>", num_bins=K)
    assert str(e.value) == ("model output text, character 23: expected a coordinate token <coord_0>..<coord_99>, "
                            "found '<coord_100>' (hint: pass the model's number of bins as num_bins)")


def test_quantize_and_dequantize():
    assert coordexp.quantize_box([0.1, 0.2, 0.3, 0.4], K) == [10, 20, 30, 40]
    assert coordexp.quantize_box([0.5, 0.5, 0.5, 0.6], K) == [50, 50, 51, 59]  # 49.5 rounds up; width 1 bin
    assert coordexp.quantize_box([1.0, 0.0, 1.0, 1.0], K) == [98, 0, 99, 99]  # widened left at the edge
    assert coordexp.quantize_box([-0.2, 0.0, 1.5, 1.0], K) == [0, 0, 99, 99]  # clamped
    assert coordexp.dequantize_box([0, 99, 33, 66], K) == [0.0, 1.0, 1 / 3, 2 / 3]
    assert coordexp.quantize_box([0.25, 0.25, 0.75, 0.75]) == [250, 250, 749, 749]  # 1000 bins by default
    with pytest.raises(ValueError, match=r"^box: expected x1 <= x2 and y1 <= y2, found \(0\.5"):
        coordexp.quantize_box([0.5, 0.1, 0.2, 0.3], K)
    with pytest.raises(ValueError, match=r"^argument coordinate: expected a number in \[0, 1\], found NaN$"):
        coordexp.quantize_box([0.1, float("nan"), 0.2, 0.3], K)
    with pytest.raises(ValueError, match=r"^bins\[2\]: expected a bin in \[0, 99\], found 100$"):
        coordexp.dequantize_box([0, 0, 100, 5], K)
    with pytest.raises(ValueError, match=r"^box: 4 values"):
        coordexp.quantize_box([0.1, 0.2, 0.3], K)
    with pytest.raises(ValueError, match=r"num_bins \(K\): expected at least 2 coordinate bins, found 1"):
        coordexp.quantize_box([0.1, 0.2, 0.3, 0.4], 1)


OBJECTS = [{"description": "red star", "box": [0.5, 0.5, 0.6, 0.6]},
           {"description": "circle", "box": [0.1, 0.3, 0.2, 0.4]}]


def test_encode_text_and_round_trip():
    text = coordexp.encode(OBJECTS, num_bins=K)  # x1 order: the circle first
    assert text == ("<obj_start>circle<coord_10><coord_30><coord_20><coord_40><obj_end>"
                    "<obj_start>red star<coord_50><coord_50><coord_59><coord_59><obj_end><|im_end|>")
    parsed = coordexp.parse(text, num_bins=K)
    assert [(o["description"], o["bins"]) for o in parsed] == [("circle", [10, 30, 20, 40]),
                                                               ("red star", [50, 50, 59, 59])]
    assert coordexp.encode(parsed, num_bins=K) == text
    given = coordexp.encode(OBJECTS, num_bins=K, order="given", answer_end="<eos>")
    assert given.startswith("<obj_start>red star") and given.endswith("<obj_end><eos>")
    assert coordexp.encode([], num_bins=K) == "<|im_end|>"
    with pytest.raises(ValueError, match=r"^objects\[0\]\.description: text without token spellings, found "
                                         r"'<coord_3>' at character 4$"):
        coordexp.encode([{"description": "cat <coord_3>", "box": [0, 0, 1, 1]}], num_bins=K)
    with pytest.raises(ValueError, match=r"^object order: expected one of x1, top_left, random, given, raster"):
        coordexp.encode(OBJECTS, num_bins=K, order="y1")


def test_encode_ids_and_round_trip():
    objects = [{"description": [11, 12], "box": [0.5, 0.5, 0.6, 0.6]},
               {"description": [13], "box": [0.1, 0.3, 0.2, 0.4]}]
    ids = coordexp.encode(objects, num_bins=K, token_ids=IDS)
    assert ids == [S, 13, C(10), C(30), C(20), C(40), E, S, 11, 12, C(50), C(50), C(59), C(59), E, END]
    assert [o["description"] for o in parse_ids(ids)] == [[13], [11, 12]]
    assert coordexp.encode(objects, num_bins=K, token_ids=IDS, order="given")[:4] == [S, 11, 12, C(50)]
    with pytest.raises(ValueError, match=r"^object 0 description: expected text token ids, found coordinate or "
                                         r"structure token id 1003"):
        coordexp.encode([{"description": [11, C(3)], "box": [0, 0, 1, 1]}], num_bins=K, token_ids=IDS)


def test_misuse():
    with pytest.raises(TypeError, match=r"token_ids: a coordexp\.TokenIds"):
        coordexp.parse(WELL_FORMED)
    with pytest.raises(ValueError, match=r"mode: 'strict' or 'salvage', got 'lenient'"):
        coordexp.parse(TEXT, "lenient")
    with pytest.raises(TypeError, match=r"tokens: a str or a 1-D sequence of integer token ids, got 1-D float64"):
        parse_ids([5.0, 11.0])
    with pytest.raises(TypeError, match=r"got 2-D int64"):
        parse_ids(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"^token id obj_start: expected an id outside the coordinate range "
                                         r"\[1000, 1100\), found 1005$"):
        coordexp.parse(WELL_FORMED, num_bins=K, token_ids=TokenIds(1000, 1005, 6, 2))
    with pytest.raises(ValueError, match=r"^token id answer_end: expected an id other than obj_end, found 6$"):
        coordexp.parse(WELL_FORMED, num_bins=K, token_ids=TokenIds(1000, 5, 6, 6))
