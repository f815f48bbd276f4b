"""The docs site: `tools/build_docs.py` builds every notebook in nbs/ into a page, and headless Chromium (Debian's
`chromium`, driven over the DevTools protocol on a pipe: no webdriver) opens the index, finds every page linked
there, and loads each page, failing on script errors, console errors, failed requests, broken internal links or
anchors, stored error outputs, and exported modules whose page has no API docs (show_doc) in it."""
import http.server, json, os, re, select, shutil, subprocess, sys, threading, time
from functools import partial
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LOOPTOOL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"  # or another Chrome
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]


def _need_chromium():
    "Skip only where Chromium cannot be installed; where it could be (`make chromium`), its absence is a failure."
    if os.access(CHROMIUM, os.X_OK): return
    can_install = shutil.which("apt-get") and os.geteuid() == 0
    if can_install or os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium) before the tests")
    pytest.skip("Chromium is not installed and cannot be here (needs root and apt-get): the docs browser test "
                "cannot run; `make docs` still builds the site")


class Chromium:
    "Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4, NUL-separated JSON)."

    def __init__(self, user_data_dir: Path):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def fds():  # fds 3/4 must survive exec: dup (inheritable) after moving them out of the way
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
                                     preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id, self.events = b"", 0, []

    def _recv(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            data = os.read(self._r, 1 << 20)
            if not data: raise EOFError("Chromium closed its DevTools pipe")
            self._buf += data
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session: msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == self._id:
                if "error" in m: raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method, timeout=30):
        deadline = time.time() + timeout
        for i, m in enumerate(self.events):
            if m.get("method") == method: return self.events.pop(i)
        while True:
            m = self._recv(deadline)
            if m.get("method") == method: return m
            self.events.append(m)

    def close(self):
        try: self.call("Browser.close", timeout=5)
        except Exception: pass
        try: self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired: self.proc.kill()
        os.close(self._w)
        os.close(self._r)


PAGE_FACTS = """(() => ({
  title: document.title,
  h1: (document.querySelector('h1.title') || {}).textContent || '',
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  sidebar: [...document.querySelectorAll('#sidebar li a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  heads: [...document.querySelectorAll('article h2[id], article h3[id]')].map(h => [h.id, h.textContent]),
  docs: document.querySelectorAll('article .doc h2, article .doc h3, article .doc h4').length,
  errors: [...document.querySelectorAll('pre.output.error')].map(e => e.textContent.slice(0, 300)),
  text: document.body ? document.body.innerText.length : 0,
}))()"""


def load(browser, session, url):
    "Navigate, wait for the load event, return (facts about the page, problems seen while loading it)."
    browser.events.clear()
    browser.call("Page.navigate", {"url": url}, session)
    browser.wait_for("Page.loadEventFired")
    facts = browser.call("Runtime.evaluate", {"expression": PAGE_FACTS, "returnByValue": True}, session)["result"]["value"]
    browser.call("Runtime.evaluate", {"expression": "1"}, session)  # flush events raised during load
    problems = []
    for m in browser.events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            problems.append(f"script error: {d.get('exception', {}).get('description') or d.get('text')}")
        elif meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append("console error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif meth == "Log.entryAdded" and p["entry"]["level"] == "error":
            problems.append(f"{p['entry']['source']} error: {p['entry']['text']} {p['entry'].get('url', '')}")
        elif meth == "Network.loadingFailed" and not p.get("canceled"):
            problems.append(f"request failed: {p.get('errorText')} ({p.get('type')})")
        elif meth == "Network.responseReceived" and p["response"]["status"] >= 400:
            problems.append(f"HTTP {p['response']['status']}: {p['response']['url']}")
    return facts, problems


def expected_pages() -> dict[str, str]:
    "{page file: source} worked out from nbs/ directly (not from the builder): the pages the site must have."
    sys.path.insert(0, str(ROOT / "tools"))
    from build_docs import notebooks, report_pages
    from nbdev.config import get_config, nbpath2html
    pages = {"index.html": "home page"}
    for nb in notebooks(ROOT / get_config(ROOT).nbs_path):
        pages[nbpath2html(nb).name] = str(nb.relative_to(ROOT))  # nbdev's page name: 05_probe.ipynb -> probe.html
    for r, href in report_pages(ROOT): pages[href] = str(r.relative_to(ROOT))
    return pages


def exporting_pages() -> set[str]:
    "Pages of notebooks that export a public function or class: these must show its API docs."
    from nbdev.config import nbpath2html
    out = set()
    for nb in (ROOT / "nbs").glob("*.ipynb"):
        for c in json.loads(nb.read_text())["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] == "code" and re.match(r"#\|\s*export\s*\n", src) and re.search(r"^(def|class) [A-Za-z]", src, re.M):
                out.add(nbpath2html(nb).name)
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The site, built by the same command as `make docs` (into a temporary folder; _proc/ caches unchanged notebooks)."
    _need_chromium()
    out = tmp_path_factory.mktemp("site") / "_docs"
    t = time.time()
    try:
        r = subprocess.run([sys.executable, str(ROOT / "tools/build_docs.py"), "--out", str(out), "--timeout", "120"], cwd=ROOT,
                           capture_output=True, text=True, timeout=170)
    except subprocess.TimeoutExpired:
        pytest.fail("the docs build took more than 170 s (this test's budget is 3 minutes)")
    print(r.stdout, r.stderr, f"build: {time.time() - t:.1f} s", sep="\n")
    summary = [l for l in r.stderr.splitlines() if l.startswith("docs: ") and "failed" in l]
    assert r.returncode == 0, f"the docs build failed: {summary[-1:]}\n{r.stderr[-6000:]}"
    return out


def test_docs_site_in_browser(site, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    browser = Chromium(tmp_path / "profile")
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"): browser.call(f"{domain}.enable", None, session)

        index, problems = load(browser, session, base + "index.html")
        assert not problems, f"index.html: {problems}"
        linked = {u[len(base):].split("#")[0] for u in index["links"] if u.startswith(base)}
        want = expected_pages()
        missing = {p: src for p, src in want.items() if p not in linked}
        assert not missing, f"pages not linked from the index: {missing}"
        sidebar = [u[len(base):] for u in index["sidebar"] if u.startswith(base)]
        assert sidebar == list(want), f"sidebar is not every page once, in loop order:\n{sidebar}\n{list(want)}"

        facts, failures, links = {}, [], set()
        for page in sorted(linked):
            f, problems = load(browser, session, base + page)
            facts[page] = f
            failures += [f"{page}: {p}" for p in problems]
            if not f["h1"].strip() or f["text"] < 200: failures.append(f"{page}: renders (almost) empty")
            failures += [f"{page}: stored error output: {e}" for e in f["errors"]]
            if [u[len(base):] for u in f["sidebar"] if u.startswith(base)] != sidebar:
                failures.append(f"{page}: its sidebar differs from the index's")
            links |= {(page, u[len(base):]) for u in f["links"] if u.startswith(base)}
        for page in exporting_pages() & set(facts):
            if facts[page]["docs"] == 0: failures.append(f"{page}: exports code but shows no API docs (show_doc)")
        for src, url in sorted(links):
            page, _, anchor = url.partition("#")
            page = page or src
            if page not in facts and not (site / page).is_file(): failures.append(f"{src}: broken link to {url}")
            elif anchor and page in facts and anchor not in facts[page]["ids"]:
                failures.append(f"{src}: link to a missing anchor {url}")
        assert not failures, "\n".join(failures)

        # the sidebar's search finds a heading of another page and links to it
        page = next(p for p in reversed(sorted(facts)) if facts[p]["heads"])
        hid, text = facts[page]["heads"][-1]
        hits = browser.call("Runtime.evaluate", {"returnByValue": True, "expression": f"""(() => {{
            const b = document.getElementById('search'); b.value = {json.dumps(text)};
            b.dispatchEvent(new Event('input'));
            return [...document.querySelectorAll('#search-results a')].map(a => a.href); }})()"""}, session)["result"]["value"]
        assert f"{base}{page}#{hid}" in hits, (text, hits)
    finally:
        browser.close()
        server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


def test_quarto_config_kept_for_nbdev_docs():
    "Users with Quarto run `nbdev-docs`: its config files are present and nbs/nbdev.yml is exactly what nbdev writes."
    import yaml
    from nbdev.config import get_config
    from nbdev.quarto import _nbdev_yml
    cfg = get_config(ROOT)
    vals = {k: cfg[k] for k in ["title", "description", "branch", "git_url", "doc_host", "doc_baseurl"]}
    assert (cfg.nbs_path / "nbdev.yml").read_text() == _nbdev_yml.format(doc_path=cfg.doc_path.name, **vals)
    q = yaml.safe_load((cfg.nbs_path / "_quarto.yml").read_text())
    assert q["project"]["type"] == "website" and q["metadata-files"] == ["nbdev.yml", "sidebar.yml"]
    assert (cfg.nbs_path / q["format"]["html"]["css"]).is_file()
    assert (cfg.nbs_path / "index.ipynb").is_file(), "the site's home page"


def test_nbdev_readme_leaves_readme_alone():
    "README.md is written by hand: nbdev-readme (and so nbdev-prepare) must not regenerate it from index.ipynb."
    from nbdev.config import get_config
    from nbdev.quarto import nbdev_readme
    cfg, readme = get_config(ROOT), ROOT / "README.md"
    before = readme.read_bytes() if readme.exists() else None
    assert not (cfg.nbs_path / cfg.readme_nb).exists(), f"readme_nb = {cfg.readme_nb} exists: nbdev-readme would overwrite README.md"
    cwd = os.getcwd()
    try: nbdev_readme.__wrapped__(path=str(ROOT))
    finally: os.chdir(cwd)
    assert (readme.read_bytes() if readme.exists() else None) == before
