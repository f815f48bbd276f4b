#!/usr/bin/env python3
"""Build the docs site into `_docs/` offline, without Quarto.

Two steps, the first one nbdev's own:
1. every notebook in `nbs/` goes through nbdev 3's docs processors (what `nbdev-proc-nbs` runs: show_doc rendered
   for exported symbols, exported source hidden, directives applied) into `_proc/`, in parallel worker processes
   (reused from notebook to notebook, as nbdev's own `proc_nbs` does), with a timeout per notebook. Nothing is executed except what those processors run (imports, exported cells,
   show_doc); the pages show the outputs stored in the notebooks.
2. each processed notebook becomes one HTML page (markdown-it + Pygments) with a sidebar listing every page in loop
   order; `index.ipynb` is the home page. Run reports (`results/*/report.md`, one level deeper too) become
   results pages, with their figures.

A notebook that fails to process is an error naming it (exit status 1); the other pages are still written.
Quarto users keep nbdev's own route (`nbdev-docs`, configured by nbs/_quarto.yml and nbs/nbdev.yml).

    python tools/build_docs.py [--out _docs] [--workers N] [--timeout 300] [--force] [--execute]

`--execute` first runs each notebook as `nbdev-test` does (cells flagged `slow` skipped) and shows those fresh
outputs: the stage demos and figures, without committing outputs into the notebooks (minutes, not seconds).
"""
from __future__ import annotations

import argparse, hashlib, html, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROC_VERSION = "1"  # bump when the processing step changes, to invalidate _proc/
SITE_NAME = "looptool"


# ----------------------------------------------------------------------------------------------------------------
# step 1: nbdev's processors, in reused worker processes
def execute_nb(src: Path):
    "`src` executed as `nbdev-test` runs it (cells flagged with the config's `tst_flags`, e.g. `slow`, skipped)."
    from fastcore.nbio import read_nb
    from nbdev.config import get_config
    from nbdev.test import test_nb
    tmp = src.with_name(f".{src.stem}.docs-exec-{os.getpid()}.ipynb")  # beside it: same working folder as nbdev-test
    shutil.copyfile(src, tmp)
    try:
        ok, _ = test_nb(tmp, skip_flags=get_config().tst_flags.split(), save=True, basepath=ROOT)
        if not ok: raise RuntimeError(f"executing {src.name} failed (as `nbdev-test {src}` would show)")
        nb = read_nb(tmp)
    finally: tmp.unlink(missing_ok=True)
    nb["path_"] = str(src)  # page name and title come from the real notebook
    return nb


def proc_one(src: Path, dst: Path, execute: bool = False) -> None:
    "Run nbdev's docs processors (`FilterDefaults`, as `nbdev-proc-nbs` does) on `src`, write `dst`."
    from fastcore.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults
    nb = execute_nb(src) if execute else read_nb(src)
    os.environ["IN_TEST"] = "1"  # as nbdev.serve_drv: stops nbdev_export() calls inside notebooks
    FilterDefaults()(nb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    write_nb(nb, tmp)
    os.replace(tmp, dst)


IMPORT_HINT = """
(nbdev executes, while rendering docs, every cell that holds an import, the exported cells and the show_doc cells
 -- nothing else. A cell that mixes an import with code that needs earlier cells fails here, and under Quarto's
 `nbdev-docs` too. Fix: put the import in a cell of its own; `python tools/split_import_cells.py NOTEBOOK` does it.)"""


MAIN_HINT = """
(nbdev runs the exported cells with __name__ == "__main__" while rendering docs, so an `if __name__ == "__main__":`
 guard in a notebook fires there: keep that guard out of notebooks; console scripts go through looptool_nb.cli.)"""


def notebooks(nbs: Path) -> list[Path]:
    "The notebooks nbdev would render, in loop order (index first, then by file name)."
    from nbdev.doclinks import nbglob
    files = [Path(f) for f in nbglob(nbs)]
    return sorted(files, key=lambda p: (p.name != "index.ipynb", p.name))


def _key(src: Path, execute: bool) -> str:
    import nbdev
    h = hashlib.sha256(src.read_bytes())
    h.update(f"{nbdev.__version__}|{PROC_VERSION}|{execute}".encode())
    pp = ROOT / "pyproject.toml"
    if pp.exists(): h.update(pp.read_bytes())
    return h.hexdigest()


class _Worker:
    """A `--proc-worker` subprocess: processes one notebook per request, so that torch & co. are imported once per
    worker rather than once per notebook (nbdev's own `proc_nbs` also reuses its worker processes)."""

    def __init__(self, execute: bool):
        import tempfile
        self.log = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen([sys.executable, __file__, "--proc-worker"] + ["--execute"] * execute, cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def alive(self) -> bool: return self.p.poll() is None

    def run(self, src: Path, dst: Path, timeout: float) -> str | None:
        "None on success, else the error."
        import select
        try:
            self.p.stdin.write(json.dumps([str(src), str(dst)]) + "\n")
            self.p.stdin.flush()
        except BrokenPipeError: return self._died()
        if not select.select([self.p.stdout], [], [], timeout)[0]:
            self.p.kill()
            self.p.wait()
            return f"processing took longer than {timeout} s (an import cell that runs heavy code?)"
        line = self.p.stdout.readline()
        if not line: return self._died()
        r = json.loads(line)
        return None if r["ok"] else r["err"]

    def _died(self) -> str:
        self.p.wait()
        self.log.seek(0)
        tail = "\n".join(self.log.read().strip().splitlines()[-15:])
        return f"the processing worker died (exit status {self.p.returncode}):\n{tail}"

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except Exception: self.p.kill()
        self.log.close()


def worker_main(execute: bool) -> int:
    "Serve `[src, dst]` JSON lines from stdin: process each notebook, answer one JSON line on the original stdout."
    import warnings
    warnings.simplefilter("ignore")  # nbdev's FAQ warning on import cells is noise here; failures are reported
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the notebooks print goes to stderr, never into the answers
    for line in sys.stdin:
        src, dst = json.loads(line)
        try:
            proc_one(Path(src), Path(dst), execute)
            r = {"ok": True}
        except BaseException as e:  # a notebook's SystemExit included
            r = {"ok": False, "err": f"{type(e).__name__}: {e}"}
        answer.write(json.dumps(r) + "\n")
    return 0


def process_all(nbs: list[Path], proc: Path, workers: int, timeout: int, force: bool, execute: bool = False) -> dict[str, str]:
    "Process `nbs` into `proc`, reusing unchanged results; returns {notebook path: error} for the failures."
    proc.mkdir(parents=True, exist_ok=True)
    cache_f = proc / ".build_docs.json"
    cache = {} if force or not cache_f.exists() else json.loads(cache_f.read_text())
    todo = [s for s in nbs if force or cache.get(s.name) != _key(s, execute) or not (proc / s.name).exists()]
    errors: dict[str, str] = {}

    import queue, threading
    q: "queue.Queue[Path]" = queue.Queue()
    for src in sorted(todo, key=lambda p: -p.stat().st_size): q.put(src)  # biggest first: better balance
    results = []

    def slot():  # one worker process at a time per slot, reused for notebook after notebook
        w = None
        while True:
            try: src = q.get_nowait()
            except queue.Empty: break
            if w is None: w = _Worker(execute)
            t = time.time()
            err = w.run(src, proc / src.name, timeout)
            if err is not None and not w.alive(): w = None  # timed out or died: the next notebook gets a new one
            results.append((src, err, time.time() - t))
        if w is not None: w.close()

    threads = [threading.Thread(target=slot) for _ in range(max(1, min(workers, len(todo))))]
    for th in threads: th.start()
    for th in threads: th.join()
    for src, err, dt in sorted(results, key=lambda r: r[0].name):
        rel = src.relative_to(ROOT) if src.is_relative_to(ROOT) else src
        if err:
            errors[str(rel)] = err
            cache.pop(src.name, None)
            (proc / src.name).unlink(missing_ok=True)
            print(f"docs: FAILED to process {rel} ({dt:.1f} s)", file=sys.stderr)
        else:
            cache[src.name] = _key(src, execute)
            print(f"docs: processed {rel} ({dt:.1f} s)")
    names = {s.name for s in nbs}
    for stale in proc.glob("*.ipynb"):  # notebooks removed from nbs/
        if stale.name not in names: stale.unlink()
    cache = {k: v for k, v in cache.items() if k in names}
    tmp = cache_f.with_name(f"{cache_f.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cache, indent=1))
    os.replace(tmp, cache_f)
    return errors


# ----------------------------------------------------------------------------------------------------------------
# step 2: processed notebook -> HTML
def slugify(text: str) -> str:
    "Pandoc's (hence Quarto's) heading identifiers, so that nbdev's `page.html#anchor` links resolve."
    s = re.sub(r"<[^>]+>", "", text).strip().lower()
    s = re.sub(r"[^\w\s.\-]", "", s)
    s = re.sub(r"\s+", "-", s)
    s = re.sub(r"^[^a-z_]+", "", s)
    return s or "section"


def _md():
    from markdown_it import MarkdownIt
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    def hl(code, lang, attrs):
        try: lexer = get_lexer_by_name(lang or "text")
        except ClassNotFound: lexer = get_lexer_by_name("text")
        return highlight(code, lexer, HtmlFormatter(nowrap=True))

    md = MarkdownIt("commonmark", {"html": True, "highlight": hl}).enable("table").enable("strikethrough")

    def heading_open(self, tokens, idx, options, env):
        tok = tokens[idx]
        text = tokens[idx + 1].content if idx + 1 < len(tokens) else ""
        ids = env.setdefault("ids", {})
        base = slugify(md.renderInline(text))
        n = ids.get(base, 0)
        ids[base] = n + 1
        hid = base if n == 0 else f"{base}-{n}"
        tok.attrSet("id", hid)
        if tok.tag in ("h2", "h3"): env.setdefault("toc", []).append((tok.tag, hid, md.renderInline(text)))
        return md.renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)
    return md


def _linker(lib_path: Path, pages: dict[str, str] | None = None):
    """A function that links `Symbol` mentions in markdown to their show_doc anchors (`core.html#sample`), from the
    library's `_modidx.py`; short names only where unambiguous, private names never. (nbdev's own `add_links` links
    only packages registered as nbdev entry points.)"""
    ns: dict = {}
    idx = lib_path / "_modidx.py"
    if idx.exists(): exec(idx.read_text(), ns)
    syms, short = {}, {}
    for mod, d in (ns.get("d") or {}).get("syms", {}).items():
        for full, v in d.items():
            if any(part.startswith("_") for part in full[len(mod) + 1:].split(".")): continue
            doc = v[0] if isinstance(v, (tuple, list)) else v
            syms[full] = doc
            short.setdefault(full[len(mod) + 1:], set()).add(doc)
            short.setdefault(mod.split(".")[-1] + "." + full[len(mod) + 1:], set()).add(doc)  # core.calls_match
    syms.update({k: next(iter(v)) for k, v in short.items() if len(v) == 1 and k not in syms})
    syms.update({k: v for k, v in (pages or {}).items() if k not in syms})  # `05_probe` -> probe.html
    rx = re.compile(r"(?<![\[\w`])`(\w[\w.]*)(\(\))?`(?!\]\()")

    def sub(m):
        doc = syms.get(m.group(1))
        return f"[{m.group(0)}]({doc})" if doc else m.group(0)

    def linkify(text: str) -> str:
        out, fence = [], False
        for line in text.split("\n"):
            if line.lstrip().startswith(("```", "~~~")): fence = not fence
            elif not fence and not line.startswith("    "): line = rx.sub(sub, line)
            out.append(line)
        return "\n".join(out)
    return linkify


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _text(x) -> str: return "".join(x) if isinstance(x, list) else (x or "")


def _directives(src: str) -> tuple[dict, str]:
    "Split leading `#| key: value` lines (Quarto/nbdev cell options) from a code cell's source."
    lines, opts = src.splitlines(), {}
    while lines and lines[0].startswith("#|"):
        k, _, v = lines.pop(0)[2:].strip().partition(":")
        opts[k.strip()] = v.strip().strip('"').lower() if v.strip() else "true"
    return opts, "\n".join(lines)


def _frontmatter(nb) -> dict:
    import yaml
    for c in nb["cells"]:
        s = _text(c["source"]).strip()
        if c["cell_type"] == "raw" and s.startswith("---"):
            try: return yaml.safe_load(s.strip("-\n")) or {}
            except yaml.YAMLError: return {}
    return {}


def _title_from_md(nb) -> str | None:
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            m = re.match(r"#\s+(.+)", _text(c["source"]).strip())
            if m: return m.group(1).strip()
    return None


def _output_html(o: dict, md, env, asis: bool, link=lambda s: s) -> str:
    t = o.get("output_type")
    if t == "stream":
        cls = "output stderr" if o.get("name") == "stderr" else "output"
        return f'<pre class="{cls}">{html.escape(_ANSI.sub("", _text(o.get("text"))))}</pre>'
    if t == "error":
        tb = _ANSI.sub("", "\n".join(o.get("traceback") or [f'{o.get("ename")}: {o.get("evalue")}']))
        return f'<pre class="output error">{html.escape(tb)}</pre>'
    data = o.get("data", {})
    for mime in ("image/svg+xml", "image/png", "image/jpeg", "text/html", "text/markdown", "text/latex", "text/plain"):
        if mime not in data: continue
        v = _text(data[mime])
        if mime == "image/svg+xml": return f'<div class="output figure">{v}</div>'
        if mime.startswith("image/"):
            return f'<div class="output figure"><img alt="figure" src="data:{mime};base64,{v.strip()}"></div>'
        if mime == "text/html": return f'<div class="output html">{v}</div>'
        if mime == "text/markdown":
            cls = "doc" if v.lstrip().startswith("---") else "output markdown"
            body = md.render(link(v), env)
            return body if asis and cls != "doc" else f'<div class="{cls}">{body}</div>'
        return f'<pre class="output">{html.escape(_ANSI.sub("", v))}</pre>'
    return ""


def _attachments(src: str, cell: dict) -> str:
    for name, d in (cell.get("attachments") or {}).items():
        mime, v = next(iter(d.items()))
        src = src.replace(f"attachment:{name}", f"data:{mime};base64,{_text(v).strip()}")
    return src


def render_nb(nb: dict, md, link=lambda s: s) -> tuple[str, list]:
    "Body HTML of a processed notebook, and its (tag, id, text) table of contents."
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    env: dict = {}
    parts, first_h1_skipped = [], bool(_frontmatter(nb).get("title"))  # nbdev already moved the title cell out
    for c in nb["cells"]:
        src = _text(c.get("source"))
        if c["cell_type"] == "raw": continue
        if c["cell_type"] == "markdown":
            s = _attachments(src, c).strip()
            if not s: continue
            if not first_h1_skipped and re.match(r"#\s", s):  # the title goes in the page header
                first_h1_skipped = True
                s = re.sub(r"^#\s+.*\n?", "", s, count=1)
                s = re.sub(r"^\s*>\s?.*(\n>.*)*", "", s, count=1) if s.lstrip().startswith(">") else s
            parts.append(f'<div class="cell markdown">{md.render(link(s), env)}</div>')
            continue
        opts, code = _directives(src)
        if opts.get("include") == "false": continue
        show_src = bool(code.strip()) and opts.get("echo") != "false"
        outs = [] if opts.get("output") == "false" else c.get("outputs", [])
        asis = opts.get("output") == "asis"
        rendered = [h for h in (_output_html(o, md, env, asis, link) for o in outs) if h]
        if not show_src and not rendered: continue
        cell = []
        if show_src:
            hl = highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))
            block = f'<pre class="source highlight"><code>{hl}</code></pre>'
            if "code-fold" in opts:
                summary = html.escape(opts.get("code-summary", "Code").strip('"'))
                block = f"<details><summary>{summary}</summary>{block}</details>"
            cell.append(block)
        cell += rendered
        parts.append(f'<div class="cell code">{"".join(cell)}</div>')
    return "\n".join(parts), env.get("toc", [])


def _rewrite_links(body: str, page_of: dict[str, str], pages: set[str], warn, failed: dict[str, str] | None = None) -> str:
    """Links to notebooks (`05_probe.ipynb#x`) point to their pages; a link to a notebook or page that does not exist
    becomes plain text marked "not written yet" (or "page failed to build"), with a build warning."""
    failed = failed or {}
    def sub(m):
        q, url, inner = m.group(1), m.group(2), m.group(3)
        if re.match(r"^[a-z]+:|^#", url): return m.group(0)
        path, _, frag = url.lstrip("/").partition("#")
        name = Path(path).name
        if name.endswith(".ipynb") and name in page_of: path = page_of[name]
        elif name.endswith(".ipynb") or (name.endswith(".html") and "/" not in path and name not in pages):
            if name in failed:
                return f'<span class="missing-page" title="{html.escape(name)} failed to build">{inner} (page failed to build)</span>'
            warn(f"link to a page that does not exist: {url}")
            return f'<span class="missing-page" title="{html.escape(url)} does not exist yet">{inner} (not written yet)</span>'
        elif not url.startswith("/"): return m.group(0)
        return f'<a href={q}{path}{"#" + frag if frag else ""}{q}>{inner}</a>'
    return re.sub(r'<a href=(["\'])(.*?)\1>(.*?)</a>', sub, body, flags=re.S)


def _local_images(body: str, base: Path, out: Path, warn) -> str:
    "Copy images a page references by relative path (from its source folder) into `out/assets`."
    def sub(m):
        q, url = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", url): return m.group(0)
        f = (base / url).resolve()
        if not f.is_file():
            warn(f"image not found: {url}")
            return m.group(0)
        dst = out / "assets" / (hashlib.sha1(str(f).encode()).hexdigest()[:10] + "_" + f.name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)
        return f"src={q}assets/{dst.name}{q}"
    return re.sub(r'src=(["\'])(.*?)\1', sub, body)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {site}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="site.css">
<link rel="stylesheet" href="styles.css">
</head>
<body>
<nav id="sidebar" aria-label="pages">
<a class="site-title" href="index.html">{site}</a>
<input id="search" type="search" placeholder="Search pages and API" aria-label="search" autocomplete="off">
<ol id="search-results" hidden></ol>
{nav}
</nav>
<main id="content">
<header class="page-header">
<h1 class="title">{title}</h1>
{description}
</header>
<div class="page-body">
<article>
{body}
</article>
{toc}
</div>
<footer>Rendered from <code>{source}</code> by <code>tools/build_docs.py</code> (nbdev {nbdev_version}){note}.</footer>
</main>
<script src="search.js"></script>
</body>
</html>
"""

SITE_CSS = """
body { margin: 0; font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #212529; }
#sidebar { position: fixed; top: 0; bottom: 0; left: 0; width: 17rem; overflow-y: auto; padding: 1rem; box-sizing: border-box;
  background: #f7f7f9; border-right: 1px solid #e3e3e8; font-size: 0.92rem; }
#sidebar .site-title { display: block; font-weight: 700; font-size: 1.25rem; color: #2c3e50; text-decoration: none; margin-bottom: .8rem; }
#search { width: 100%; box-sizing: border-box; padding: .3rem .5rem; margin-bottom: .5rem; border: 1px solid #ced4da; border-radius: 4px; font: inherit; }
#search-results { list-style: none; padding: 0; margin: 0 0 .8rem; border-bottom: 1px solid #e3e3e8; }
#search-results .where { color: #6c757d; font-size: .8rem; }
#sidebar h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #6c757d; margin: 1rem 0 .3rem; }
#sidebar ol { list-style: none; padding: 0; margin: 0; }
#sidebar li a { display: block; padding: .2rem .4rem; border-radius: 4px; color: #2c3e50; text-decoration: none; }
#sidebar li a:hover { background: #e9ecef; }
#sidebar li a.active { background: #2780e3; color: white; }
#sidebar .num { color: #6c757d; font-variant-numeric: tabular-nums; margin-right: .3rem; }
#sidebar li a.active .num { color: #dbe9fb; }
#content { margin-left: 17rem; padding: 1.5rem 2.5rem 3rem; max-width: 76rem; }
.page-body { display: flex; gap: 2rem; align-items: flex-start; }
article { flex: 1; min-width: 0; }
.page-header .description { color: #6c757d; font-size: 1.1rem; margin-top: -.3rem; }
nav.toc { position: sticky; top: 1rem; flex: none; width: 13rem; max-height: calc(100vh - 2rem); overflow-y: auto;
  padding: .3rem .8rem; border-left: 3px solid #e3e3e8; font-size: .85rem; }
.missing-page { color: #6c757d; }
nav.toc ul { list-style: none; padding-left: 0; margin: .2rem 0; } nav.toc li.h3 { padding-left: .8rem; }
a { color: #2780e3; }
pre { background: #f8f9fa; padding: .6rem .8rem; border-radius: 4px; overflow-x: auto; font-size: .85rem; line-height: 1.4; }
code { font-family: SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .88em; }
pre.source { border-left: 3px solid #2780e3; }
pre.output { background: #fff; border: 1px solid #e9ecef; max-height: 30rem; }
pre.output.error, pre.output.stderr { border-color: #f5c2c7; background: #fff5f5; }
.doc { border-top: 1px solid #dee2e6; margin: 1.5rem 0 1rem; }
.doc hr { display: none; }
.doc h3, .doc h4 { font-family: SFMono-Regular, Menlo, Consolas, monospace; color: #2c3e50; }
.output.figure img, .output.figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #dee2e6; padding: .3rem .6rem; text-align: left; }
th { background: #f1f3f5; }
details summary { cursor: pointer; color: #6c757d; }
blockquote { border-left: 3px solid #dee2e6; margin-left: 0; padding-left: 1rem; color: #495057; }
footer { margin-top: 3rem; padding-top: 1rem; border-top: 1px solid #e9ecef; color: #6c757d; font-size: .8rem; }
ul.pages li { margin: .25rem 0; } ul.pages .desc { color: #6c757d; }
@media (max-width: 800px) { #sidebar { position: static; width: auto; } #content { margin-left: 0; padding: 1rem; } nav.toc { display: none; } }
"""


SEARCH_JS = """
(() => {
  const box = document.getElementById('search'), out = document.getElementById('search-results');
  const esc = s => s.replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));
  box.addEventListener('input', () => {
    const q = box.value.trim().toLowerCase();
    if (!q) { out.hidden = true; out.innerHTML = ''; return; }
    const hits = SITE_INDEX.filter(e => e.t.toLowerCase().includes(q))
      .sort((a, b) => (a.t.toLowerCase().startsWith(q) ? 0 : 1) - (b.t.toLowerCase().startsWith(q) ? 0 : 1)).slice(0, 30);
    out.innerHTML = hits.length ? hits.map(e => `<li><a href="${e.h}">${esc(e.t)}</a>` +
      (e.p ? ` <span class="where">${esc(e.p)}</span>` : '') + '</li>').join('') : '<li class="where">no match</li>';
    out.hidden = false;
  });
})();
"""


def _all_headings(body: str):
    "(tag, id, text) of every h2-h4 with an id in a rendered page body: the search index's entries."
    return re.findall(r'<(h[234]) id="([^"]+)">(.*?)</\1>', body, re.S)


def _nav(pages: list[dict], current: str, md) -> str:
    out, section = [], None
    for p in pages:
        if p["section"] != section:
            if section is not None: out.append("</ol>")
            section = p["section"]
            out.append(f"<h2>{html.escape(section)}</h2><ol>")
        cls = ' class="active" aria-current="page"' if p["href"] == current else ""
        num = f'<span class="num">{html.escape(p["num"])}</span>' if p["num"] else ""
        out.append(f'<li><a href="{p["href"]}"{cls}>{num}{_inline_title(md, p["title"])}</a></li>')
    if section is not None: out.append("</ol>")
    return "\n".join(out)


def _inline_title(md, t: str) -> str:
    "Titles may hold `code`; render them inline, without wrapping paragraph."
    return md.renderInline(t)


def _title_cell(src_nb) -> tuple[str | None, str]:
    """From the source notebook's title cell: the whole `> ...` summary (nbdev's frontmatter keeps its first line),
    and whatever else the cell holds (nbdev drops the whole cell, so that text never reaches the docs)."""
    for c in src_nb["cells"]:
        if c["cell_type"] != "markdown": continue
        s = _text(c["source"]).strip()
        if not s.startswith("# "): return None, ""
        m = re.match(r"#\s+.+(?:\n|$)((?:>.*(?:\n|$))*)", s)
        desc = " ".join(l.lstrip(">").strip() for l in m.group(1).splitlines()) or None
        return desc, s[m.end():].strip()
    return None, ""


def page_info(src: Path, nb: dict, warn=print) -> dict:
    fm = _frontmatter(nb)
    title = str(fm.get("title") or _title_from_md(nb) or src.stem)
    desc, rest = _title_cell(json.loads(src.read_text()))
    fm["description"] = desc or fm.get("description")
    if rest: warn(f"{src.name}: text after the title and summary in the first cell is dropped by nbdev: "
                  f"start a new markdown cell for it ({rest[:60]!r}...)")
    href = fm.get("output-file") or (src.stem + ".html")
    num = re.match(r"(\d+)_", src.name)
    n = int(num.group(1)) if num else None
    section = ("Home" if src.name == "index.ipynb" else "The loop" if n is not None and n < 12
               else "Experiments" if n is not None and n < 90 else "Reference")
    return dict(src=src, title=title, description=str(fm.get("description") or ""), href=str(href),
                num=num.group(1) if num else "", section=section)


def report_pages(root: Path) -> list[tuple[Path, str]]:
    "Run reports written by `looptool report` (results/NAME/report.md, one or two levels down) and their page names."
    found = sorted(set(root.glob("results/*/report.md")) | set(root.glob("results/*/*/report.md")))
    return [(r, "results-" + slugify("-".join(r.parent.relative_to(root / "results").parts)) + ".html") for r in found]


def build(out: Path, workers: int, timeout: int, force: bool, execute: bool = False) -> int:
    import nbdev
    from nbdev.config import get_config
    t0 = time.time()
    os.chdir(ROOT)
    cfg = get_config()
    nbs_dir, proc = Path(cfg.nbs_path), ROOT / "_proc"
    srcs = notebooks(nbs_dir)
    if not srcs:
        print(f"docs: no notebooks in {nbs_dir}", file=sys.stderr)
        return 1
    errors = process_all(srcs, proc, workers, timeout, force, execute)
    md = _md()
    warnings: list[str] = []

    pages = []
    for s in srcs:
        p = proc / s.name
        if not p.exists(): continue
        nb = json.loads(p.read_text())
        pages.append(page_info(s, nb, warnings.append) | {"nb": nb})
    for r, href in report_pages(ROOT):
        text = r.read_text()
        m = re.search(r"^#\s+(.+)$", text, re.M)
        name = "/".join(r.parent.relative_to(ROOT / "results").parts)
        pages.append(dict(src=r, title=m.group(1).strip() if m else f"Results: {name}", description=f"results/{name}/report.md",
                          href=href, num="", section="Results", md=text))
    hrefs = [p["href"] for p in pages]
    dup = {h for h in hrefs if hrefs.count(h) > 1}
    for h in dup: errors[h] = f"two pages would be written to {h}: " + ", ".join(str(p['src']) for p in pages if p['href'] == h)
    if not any(p["href"] == "index.html" for p in pages):  # no index notebook: a generated home page
        pages.insert(0, dict(src=Path("(generated)"), title=SITE_NAME, description=str(cfg.get("description", "")),
                             href="index.html", num="", section="Home", md=""))
    page_of = {p["src"].name: p["href"] for p in pages if p["src"].suffix == ".ipynb"}
    from nbdev.config import nbpath2html
    failed = {Path(k).name: k for k in errors if k.endswith(".ipynb")}
    failed.update({nbpath2html(k).name: k for k in errors if k.endswith(".ipynb")})  # links by page name too
    link = _linker(Path(cfg.lib_path), {Path(k).stem: v for k, v in page_of.items() if k != "index.ipynb"})

    search: list[dict] = []
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for p in pages:
        rel = p["src"].relative_to(ROOT) if p["src"].is_absolute() else p["src"]
        def warn(msg, rel=rel): warnings.append(f"{rel}: {msg}")
        if "nb" in p: body, toc = render_nb(p["nb"], md, link)
        else:
            env: dict = {}
            text = re.sub(r"^#\s+.+\n", "", p["md"], count=1)
            body, toc = md.render(text, env), env.get("toc", [])
        if p["href"] == "index.html":  # every page, listed with its description, under the home page's text
            items = "\n".join(f'<li><a href="{q["href"]}">{_inline_title(md, q["title"])}</a>'
                              + (f' <span class="desc">— {html.escape(q["description"])}</span>' if q["description"] else "")
                              + "</li>" for q in pages if q["href"] != "index.html")
            body += f'\n<h2 id="all-pages">All pages, in loop order</h2>\n<ul class="pages">\n{items}\n</ul>'
            toc = toc + [("h2", "all-pages", "All pages")]
        body = _rewrite_links(body, page_of, {q["href"] for q in pages}, warn, failed)
        body = _local_images(body, p["src"].parent if p["src"].is_absolute() else nbs_dir, tmp, warn)
        search.append({"t": re.sub("<[^>]+>", "", _inline_title(md, p["title"])), "h": p["href"], "p": ""})
        search.extend({"t": re.sub("<[^>]+>", "", html.unescape(x)), "h": f'{p["href"]}#{i}',
                       "p": re.sub("<[^>]+>", "", p["title"])} for _, i, x in _all_headings(body))
        toc_html = ("" if len(toc) < 2 else '<nav class="toc" aria-label="on this page"><strong>On this page</strong><ul>'
                    + "".join(f'<li class="{t}"><a href="#{i}">{x}</a></li>' for t, i, x in toc) + "</ul></nav>")
        desc = f'<p class="description">{_inline_title(md, p["description"])}</p>' if p["description"] else ""
        page = PAGE.format(title=_inline_title(md, p["title"]), site=SITE_NAME, nav=_nav(pages, p["href"], md),
                           description=desc, toc=toc_html, body=body, source=html.escape(str(rel)),
                           nbdev_version=nbdev.__version__,
                           note="; the outputs shown are those stored in the notebook" if "nb" in p else "")
        page = page.replace(f"<title>{_inline_title(md, p['title'])} –", f"<title>{html.escape(re.sub('<[^>]+>', '', _inline_title(md, p['title'])))} –", 1)
        (tmp / p["href"]).write_text(page)
    from pygments.formatters import HtmlFormatter
    (tmp / "search.js").write_text("const SITE_INDEX = " + json.dumps(search) + ";\n" + SEARCH_JS)
    (tmp / "site.css").write_text(HtmlFormatter().get_style_defs("pre") + SITE_CSS)  # Pygments colours for every code block
    styles = nbs_dir / "styles.css"
    (tmp / "styles.css").write_text(styles.read_text() if styles.exists() else "")
    (tmp / ".nojekyll").write_text("")
    manifest = dict(pages=[dict(href=p["href"], title=p["title"], source=str(p["src"].relative_to(ROOT) if p["src"].is_absolute() else p["src"]),
                                section=p["section"]) for p in pages], errors=errors, warnings=warnings)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)

    for w in warnings: print(f"docs: warning: {w}", file=sys.stderr)
    print(f"docs: {len(pages)} pages in {out} ({time.time() - t0:.1f} s); open {out / 'index.html'}")
    if errors:
        for k, e in errors.items(): print(f"docs: ERROR {k} failed to process:\n{e}\n", file=sys.stderr)
        if any("SystemExit" in e for e in errors.values()): print(MAIN_HINT.strip(), file=sys.stderr)
        if any("Error in notebook" in e and "SystemExit" not in e for e in errors.values()): print(IMPORT_HINT.strip(), file=sys.stderr)
        print(f"docs: {len(errors)} notebook(s) failed: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="_docs", help="output folder (default _docs)")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="notebooks processed at once (default: CPUs, at most 4)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds allowed to process one notebook")
    ap.add_argument("--force", action="store_true", help="reprocess every notebook, ignoring _proc/")
    ap.add_argument("--execute", action="store_true",
                    help="run each notebook as nbdev-test does (slow cells skipped) and show its fresh outputs; "
                         "by default the stored outputs are shown and nothing heavy runs")
    ap.add_argument("--proc-one", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    ap.add_argument("--proc-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.proc_worker: return worker_main(a.execute)
    if a.proc_one:
        import warnings
        warnings.simplefilter("ignore")  # nbdev's FAQ warning on import cells is noise here; failures are reported
        try: proc_one(Path(a.proc_one[0]), Path(a.proc_one[1]), a.execute)
        except Exception as e:
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        return 0
    out = Path(a.out)
    return build(out if out.is_absolute() else ROOT / out, a.workers, a.timeout, a.force, a.execute)


if __name__ == "__main__":
    sys.exit(main())
