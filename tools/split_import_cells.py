#!/usr/bin/env python3
"""Move top-level imports out of mixed code cells into their own cell just above, in place.

Why: while rendering docs, nbdev (`nbdev-proc-nbs`, `nbdev-docs`, and so `make docs`) executes every code cell that
contains an import, to make show_doc work (nbdev's FAQ: "Found cells containing imports and other code"). A cell
like `from looptool_nb.core import load_config` + `run_stage(...)` is then run without the cells before it and fails
(or runs a heavy demo). Splitting keeps the notebook's meaning when run top to bottom and leaves only the import to
nbdev. Exported cells (`#| export`) are left alone: nbdev executes them anyway.

    python tools/split_import_cells.py nbs/NN_x.ipynb [...]     # then re-run the notebook's tests
"""
import ast, sys

import nbformat


def split_cell(src: str):
    "(imports, rest) for a cell with top-level imports and other statements, else None."
    lines = src.splitlines()
    directives = [l for l in lines if l.startswith("#|")]
    if any(d[2:].strip().split(":")[0].strip() in ("export", "exporti", "exports") for d in directives): return None
    try: tree = ast.parse(src)
    except SyntaxError: return None
    imps = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if not imps or len(imps) == len(tree.body): return None
    take = set()
    for n in imps: take.update(range(n.lineno - 1, n.end_lineno))
    imp_src = "\n".join(directives + [lines[i] for i in sorted(take)])  # same directives: #| hide, #| eval: false...
    rest = "\n".join(l for i, l in enumerate(lines) if i not in take).strip("\n")
    return imp_src, rest


def fix(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    cells, n = [], 0
    for c in nb.cells:
        r = split_cell(c.source) if c.cell_type == "code" else None
        if r:
            n += 1
            cells.append(nbformat.v4.new_code_cell(r[0]))
            c.source = r[1]
        cells.append(c)
    if n:
        nb.cells = cells
        nbformat.write(nb, path)
    print(f"{path}: split {n} cell(s)")
    return n


if __name__ == "__main__":
    if len(sys.argv) < 2: sys.exit(__doc__)
    for p in sys.argv[1:]: fix(p)
