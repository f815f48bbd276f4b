#!/usr/bin/env python3
"""Move the imports of mixed code cells into a cell of their own just above, in place.

Why: while rendering docs, nbdev (`nbdev-proc-nbs`, `nbdev-docs`, and so `make docs`) executes every code cell that
contains an import anywhere in it, to make show_doc work (nbdev's FAQ: "Found cells containing imports and other
code"). A "Run this stage" cell like `from looptool_nb.core import load_config` + `run_stage(...)`, or an
`if run_dir is None:` demo block with an import inside, is then run without the cells before it: it fails (or runs
the demo). Moving the imports out leaves nbdev only the imports to run.

Moved: top-level imports, and imports nested in if/for/while/with/try blocks (these then always run; an emptied block
gets `pass`). Left alone: exported cells (nbdev executes them anyway), imports inside functions or classes (nbdev
also executes such a cell: report it), and cells where an import shares a line with other code.

    python tools/split_import_cells.py nbs/NN_x.ipynb [...]     # then re-run the notebook's tests
"""
import ast, sys

import nbformat

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _imports(tree):
    "Import nodes outside functions and classes, and whether any import sits inside one."
    found, scoped = [], False

    def walk(node, in_scope):
        nonlocal scoped
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if in_scope: scoped = True
                else: found.append(child)
            walk(child, in_scope or isinstance(child, _SCOPES))
    walk(tree, False)
    return found, scoped


def split_cell(src: str):
    "(imports, rest, note) for a code cell that mixes imports with other code; None if there is nothing to move."
    lines = src.splitlines()
    directives = [l for l in lines if l.startswith("#|")]
    if any(d[2:].strip().split(":")[0].strip() in ("export", "exporti", "exports") for d in directives): return None
    try: tree = ast.parse(src)
    except SyntaxError: return None
    imps, scoped = _imports(tree)
    note = "an import inside a function or class still makes nbdev run this cell" if scoped else ""
    if not imps: return ("", src, note) if scoped else None
    if all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body) and len(imps) == len(tree.body): return None
    take = set()
    for n in imps: take.update(range(n.lineno - 1, n.end_lineno))
    others = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and not isinstance(n, (ast.Import, ast.ImportFrom))]
    for n in others:  # a statement on the same line as an import: cannot move by lines
        if n.lineno - 1 in take and not hasattr(n, "body"): return ("", src, "an import shares a line with other code")
    imp_src = "\n".join(directives + [lines[i].strip() for i in sorted(take)])  # same #| hide, #| eval: false...
    rest = "\n".join(l for i, l in enumerate(lines) if i not in take).strip("\n")
    try: ast.parse(rest)
    except SyntaxError:  # a block left empty: a nested import line becomes `pass` (the first line of each import)
        first, out = {n.lineno - 1 for n in imps}, []
        for i, l in enumerate(lines):
            if i not in take: out.append(l)
            elif i in first and l[:1].isspace(): out.append(l[:len(l) - len(l.lstrip())] + "pass")
        rest = "\n".join(out).strip("\n")
        ast.parse(rest)
    return imp_src, rest, note


def fix(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    cells, n = [], 0
    for i, c in enumerate(nb.cells):
        r = split_cell(c.source) if c.cell_type == "code" else None
        if r and r[2]: print(f"{path}: cell {i}: {r[2]}: fix it by hand")
        if r and r[0]:
            n += 1
            cells.append(nbformat.v4.new_code_cell(r[0]))
            c.source = r[1]
        cells.append(c)
    if n:
        nb.cells = cells
        nbformat.write(nb, path)
    print(f"{path}: moved the imports of {n} cell(s) into cells of their own")
    return n


if __name__ == "__main__":
    if len(sys.argv) < 2: sys.exit(__doc__)
    for p in sys.argv[1:]: fix(p)
