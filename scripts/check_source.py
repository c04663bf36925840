#!/usr/bin/env python3
"""Source rules the compiler does not check (run by scripts/check_source.sh, part of the test command).

1. No function in src/ longer than MAX_FUNCTION_LINES, counted from the first line of its signature to its
   closing brace: a long function is several steps that want names (STYLE.md).
2. Includes run down the layers only: a file in one area of src/ or include/coordexp/ may include another
   area's headers only if that area sits on a lower layer (LAYERS below, from the system diagram in
   DESIGN.md). Areas on one layer do not include each other.

Prints one line per violation (path:line: what) and exits 1 if there is any.
"""
import os
import re
import sys

MAX_FUNCTION_LINES = 120

# Lower layers first; an area may include areas of strictly lower layers (and itself).
LAYERS = [
    ["util"],
    ["geometry", "matching", "io"],
    ["text"],
    ["data"],
    ["eval", "report"],
    ["loss", "model"],
    ["infer"],
    ["train"],
]
LAYER_OF = {area: i for i, areas in enumerate(LAYERS) for area in areas}


def strip_comments_and_strings(src):
    """The source with comments, string and character literals blanked out; newlines are kept."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
            continue
        raw = re.match(r'R"([^(\s]*)\(', src[i : i + 20])
        if raw and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = ")" + raw.group(1) + '"'
            j = src.find(end, i)
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j
            continue
        c = src[i]
        if c == '"' or (c == "'" and not (i > 0 and src[i - 1].isalnum())):  # 1'000 is a digit separator
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def function_spans(path):
    """(first line, last line) of every function body at namespace or class scope."""
    text = strip_comments_and_strings(open(path, encoding="utf-8").read())
    spans, stack, line = [], [], 1
    statement_start = 0  # offset just after the last ';', '{' or '}'
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            head = text[statement_start:i]
            kind = "block"
            if all(k in ("namespace", "class") for k, _ in stack):
                if re.search(r"\bnamespace\b", head) or re.search(r"\bextern\s*$", head):
                    kind = "namespace"
                elif re.search(r"\b(class|struct|union|enum)\b[^()]*$", head):
                    kind = "class"
                elif ")" in head and not re.search(r"=\s*$", head):
                    kind = "function"
            first = line - head.rstrip().count("\n") if kind != "function" else line
            if kind == "function":  # the signature starts at the first non-blank line of the statement
                lead = len(head) - len(head.lstrip())
                first = line - head[lead:].count("\n")
            stack.append((kind, first))
            statement_start = i + 1
        elif c == "}":
            if stack:
                kind, first = stack.pop()
                if kind == "function":
                    spans.append((first, line))
            statement_start = i + 1
        elif c == ";":
            statement_start = i + 1
        elif c == ":" and text[i - 1 : i + 1] != "::" and text[i : i + 2] != "::":
            # access specifiers (public:) end a statement too
            if re.search(r"\b(public|private|protected)\s*$", text[statement_start:i]):
                statement_start = i + 1
    return spans


def area_of(path, root):
    rel = os.path.relpath(path, root)
    return rel.split(os.sep)[0]


def include_area(include, own_area):
    if include.startswith("coordexp/"):
        return include.split("/")[1]
    if include.startswith("../"):
        return include.split("/")[1]
    return own_area


def main(repo):
    problems = []
    roots = [os.path.join(repo, "src"), os.path.join(repo, "include", "coordexp")]
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.join(folder, name)
                shown = os.path.relpath(path, repo)
                own = area_of(path, root)
                if own not in LAYER_OF:
                    problems.append(f"{shown}: area '{own}' has no layer in scripts/check_source.py")
                    continue
                lines = open(path, encoding="utf-8").read().split("\n")
                for number, text in enumerate(lines, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', text)
                    if not m:
                        continue
                    other = include_area(m.group(1), own)
                    if other == own or other not in LAYER_OF:
                        continue
                    if LAYER_OF[other] >= LAYER_OF[own]:
                        problems.append(
                            f"{shown}:{number}: '{own}' (layer {LAYER_OF[own]}) includes \"{m.group(1)}\" "
                            f"of '{other}' (layer {LAYER_OF[other]}): includes run from higher layers to lower ones")
                if root.endswith("src"):
                    for first, last in function_spans(path):
                        length = last - first + 1
                        if length > MAX_FUNCTION_LINES:
                            problems.append(
                                f"{shown}:{first}: a function of {length} lines (at most {MAX_FUNCTION_LINES}): "
                                f"{lines[first - 1].strip()[:70]}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
