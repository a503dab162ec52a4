"""Build the reading site, then open every page in a real browser with the network cut off.

    python docs/check_site.py                 # build into site/, then check it
    python docs/check_site.py --no-build      # check the site/ that is there
    python docs/check_site.py --self-test     # also: break pages on purpose, see each caught

The build is ``python -m sphinx -W --keep-going -b html docs site`` (warnings are errors; the
tutorials run in quick mode). The check drives Debian's headless ``chromium`` over the DevTools
protocol (``websocket-client``), inside a network namespace of its own (``unshare --net``, with
only loopback up) when the machine allows one, so the build and the browser can reach nothing
outside the machine. Every page of the site is loaded twice, from ``python -m http.server`` on
127.0.0.1 and from ``file://``, and each load must show:

- no console error, no uncaught exception, no failed load (a missing file, a 404);
- no request leaving the machine (any http(s) host but 127.0.0.1/localhost counts);
- its math typeset: every ``.math`` element rendered by MathJax, no TeX error, and no raw
  ``\\(``, ``\\[`` or ``$$`` left in the page's text outside code;
- every image loaded;
- at 1400 px wide, nothing scrolls sideways: not the page, not an annotated page's code column
  (a long line wraps), not a formula or a table in its commentary column (a long formula breaks
  after an operator); nothing there sticks out of its column.

Besides, every link inside the site is followed on disk: the file exists, and its ``#anchor``
is an id on the target page (the annotated source's ``#L42`` and ``#LKReLU.backward`` among
them); in the browser, opening ``annotated/linked.html#L<n>`` (a line mid-page) scrolls that line
into view.
Screenshots (1400 px wide) of the front page, the annotated ``linked.py``, ``conv.py`` and
``optim.py`` and a tutorial page are written to ``--shots`` (default /tmp/site_shots/). Exit
status 0 when every check passes.

``--self-test`` then copies the site and breaks one page in seven ways (a script from a CDN, a
console error, raw math, a TeX error, a missing line anchor, a code line that does not wrap, a
formula wider than its column); each break must be reported, or the self-test fails.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
NETNS_FLAG = "LINKEDREF_SITE_CHECK_NETNS"
WIDTH = 1400                      # px: the window every page is checked (and shot) at


# ------------------------------------------------------------------------------ the build
def build(site: Path) -> float:
    """Sphinx, warnings as errors, into ``site``; returns the seconds it took."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "auto", "-b", "html",
           "-d", str(DOCS / "_build" / "doctrees"), str(DOCS), str(site)]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - started


def size_of(site: Path) -> tuple[int, int]:
    files = [p for p in site.rglob("*") if p.is_file() and ".doctrees" not in p.parts]
    return sum(p.stat().st_size for p in files), len(files)


def pages_of(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if not {"_static", "_downloads", "_sources", ".doctrees"} & set(p.parts))


# ---------------------------------------------------------------------- links, on disk
class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and key == "href" and
                                   a.get("rel") in ("canonical",)):
                self.links.append(a[key])


def check_links(site: Path, pages) -> tuple[int, list[str]]:
    """Every link and source inside the site, followed on disk: (links checked, problems)."""
    parsed = {}
    for page in pages:
        p = _Links()
        p.feed((site / page).read_text(encoding="utf-8"))
        parsed[page] = p
    checked, problems = 0, []
    for page, p in parsed.items():
        for link in p.links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or link.startswith("//"):
                continue                           # external links are not followed (or loaded)
            path = urllib.parse.unquote(url.path)
            target = (site / page).parent / path if path else site / page
            target = Path(os.path.normpath(target))
            checked += 1
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{page}: link to a missing file: {link}")
                continue
            if url.fragment and target.suffix == ".html":
                rel = target.relative_to(site).as_posix()
                ids = parsed[rel].ids if rel in parsed else _ids(target)
                if urllib.parse.unquote(url.fragment) not in ids:
                    problems.append(f"{page}: anchor not found: {link}")
    return checked, problems


def _ids(path):
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p.ids


# ---------------------------------------------------------------------- the browser
class Browser:
    """Headless Debian chromium, driven over the DevTools protocol."""

    def __init__(self, width=WIDTH, height=1100):
        import websocket  # websocket-client, from the docs extra
        self.profile = tempfile.mkdtemp(prefix="site-check-chromium-")
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise SystemExit("check_site: chromium not found (Debian: apt-get install chromium)")
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
             "--disable-client-side-phishing-detection", "--metrics-recording-only",
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
             "--allow-file-access-from-files", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            targets = json.load(r)
        ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(ws, timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method, timeout=60):
        deadline = time.time() + timeout
        for i, e in enumerate(self.events):
            if e["method"] == method:
                return self.events.pop(i)
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                if msg["method"] == method:
                    return msg
                self.events.append(msg)
        raise TimeoutError(method)

    def open(self, url):
        """Load ``url``; wait for the load event and for MathJax to finish. -> events seen."""
        if "#" in url:                       # a new document, not a jump within one
            self.call("Page.navigate", url="about:blank")
            self.wait_for("Page.loadEventFired")
        self.events = []
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate(WAIT_FOR_MATH)
        time.sleep(0.2)                      # late console messages and requests
        self.call("Runtime.evaluate", expression="1")
        events, self.events = self.events, []
        return events

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path: Path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        with contextlib.suppress(Exception):
            self.ws.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


WAIT_FOR_MATH = """(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  return true;
})()"""

# Wait until the page stops scrolling (furo scrolls smoothly to an anchor).
SETTLE = """(async () => {
  let last = -1;
  for (let i = 0; i < 50 && window.scrollY !== last; i++) {
    last = window.scrollY;
    await new Promise(r => setTimeout(r, 100));
  }
  return window.scrollY;
})()"""

# What a page shows once loaded: math typeset or not, TeX errors, raw delimiters, images.
INSPECT = r"""(() => {
  const math = [...document.querySelectorAll('.math')];
  const untypeset = math.filter(e => !e.querySelector('mjx-container')).length;
  const texErrors = document.querySelectorAll('mjx-merror, [data-mml-node="merror"]').length;
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-ASSISTIVE-MML']);
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let p = n.parentElement, inCode = false;
    while (p) { if (skip.has(p.tagName)) { inCode = true; break; } p = p.parentElement; }
    const text = n.textContent;
    if (!inCode && /\\\(|\\\)|\\\[|\\\]|\$\$/.test(text)) raw.push(text.trim().slice(0, 80));
  }
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  return {math: math.length, typeset: document.querySelectorAll('mjx-container').length,
          untypeset, texErrors, raw, images: images.length, broken,
          mathjax: !!(window.MathJax && MathJax.version), title: document.title};
})()"""


# What scrolls sideways, or sticks out of its column, at the window's width.
OVERFLOW = r"""(() => {
  const out = [], texOf = new Map();
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const m of MathJax.startup.document.math) texOf.set(m.typesetRoot, m.math);
  }
  const what = e => (texOf.get(e) || e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 70);
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth + 1) {
    out.push(`the page is ${page.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  const boxes = '.lk-code, .lk-doc, .lk-doc .lk-formulas, .lk-doc .table-wrapper, .lk-doc pre';
  for (const e of document.querySelectorAll(boxes)) {
    if (e.scrollWidth > e.clientWidth + 1) {
      out.push(`${e.className.split(' ')[0] || e.tagName.toLowerCase()} scrolls sideways ` +
               `(${e.scrollWidth} px in ${e.clientWidth}): ${what(e)}`);
    }
  }
  for (const doc of document.querySelectorAll('.lk-doc')) {
    const right = doc.getBoundingClientRect().right;
    for (const e of doc.querySelectorAll('mjx-container, pre, table')) {
      const over = e.getBoundingClientRect().right - right;
      if (over > 1) out.push(`a ${e.tagName.toLowerCase()} sticks out of its column by ` +
                             `${Math.round(over)} px: ${what(e)}`);
    }
  }
  return out;
})()"""


def problems_in(events, base_url):
    """(console errors, requests off the machine, failed loads) from one page's events."""
    console, offsite, failed = [], [], []
    requests = {}
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            console.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            console.append("exception: " + d.get("exception", {}).get("description",
                                                                        d.get("text", "")))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            console.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            requests[p["requestId"]] = url
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss", "ftp") and \
                    parts.hostname not in LOCAL_HOSTS:
                offsite.append(url)
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            failed.append(f"{requests.get(p['requestId'], '?')}: {p.get('errorText')}")
        elif m == "Network.responseReceived" and p["response"].get("status", 200) >= 400:
            failed.append(f"{p['response']['url']}: HTTP {p['response']['status']}")
    return console, offsite, failed


@contextlib.contextmanager
def http_server(site: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(site)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def check_pages(site: Path, pages, shots: Path | None, verbose=True):
    """Open each page over http and over file://. -> {"loads", "console", ...} with lists."""
    report = {"loads": 0, "console": [], "offsite": [], "failed": [], "untypeset": [],
              "tex_errors": [], "raw_math": [], "broken_images": [], "overflow": [],
              "anchors_in_view": [], "typeset_formulas": 0}
    browser = Browser()
    try:
        with http_server(site) as base:
            for mode, root in (("http", base), ("file", site.resolve().as_uri() + "/")):
                for page in pages:
                    url = root + page
                    events = browser.open(url)
                    seen = browser.evaluate(INSPECT)
                    console, offsite, failed = problems_in(events, root)
                    where = f"[{mode}] {page}"
                    report["loads"] += 1
                    report["typeset_formulas"] += seen["typeset"] if mode == "http" else 0
                    report["console"] += [f"{where}: {c}" for c in console]
                    report["offsite"] += [f"{where}: {u}" for u in offsite]
                    report["failed"] += [f"{where}: {f}" for f in failed]
                    if seen["untypeset"]:
                        report["untypeset"].append(f"{where}: {seen['untypeset']} of "
                                                   f"{seen['math']} formulas not typeset")
                    if seen["texErrors"]:
                        report["tex_errors"].append(f"{where}: {seen['texErrors']} TeX errors")
                    report["raw_math"] += [f"{where}: {r!r}" for r in seen["raw"]]
                    report["broken_images"] += [f"{where}: {b}" for b in seen["broken"]]
                    wide = browser.evaluate(OVERFLOW) if mode == "http" else []
                    report["overflow"] += [f"{where}: {w}" for w in wide]
                    if verbose:
                        bad = len(console) + len(offsite) + len(failed) + seen["untypeset"] \
                            + seen["texErrors"] + len(seen["raw"]) + len(seen["broken"]) \
                            + len(wide)
                        print(f"  {'ok ' if not bad else 'BAD'} {where}: {seen['typeset']} "
                              f"formulas, {seen['images']} images", flush=True)
                report["anchors_in_view"] += anchors_in_view(browser, root, site)
            if shots:
                take_screenshots(browser, base, site, shots)
    finally:
        browser.close()
    return report


def anchors_in_view(browser, root, site):
    """Open annotated/linked.html at a line anchor and a definition anchor: the target
    element must exist and lie in the viewport. -> problems."""
    problems = []
    page = "annotated/linked.html"
    if not (site / page).exists():
        return problems
    lines = sorted(int(n) for n in re.findall(r'id="L(\d+)"', (site / page).read_text("utf-8")))
    middle = [f"L{lines[len(lines) // 2]}"] if lines else []      # a code line mid-page
    for anchor in middle + ["LKReLU.backward", "Linked"]:
        browser.open(f"{root}{page}#{anchor}")
        browser.evaluate(SETTLE)
        top = browser.evaluate(
            f"(() => {{ const e = document.getElementById({json.dumps(anchor)});"
            " if (!e) return null; const r = e.getBoundingClientRect();"
            " return [r.top, window.innerHeight]; })()")
        if top is None:
            problems.append(f"{root}{page}#{anchor}: no such id")
        elif not 0 <= top[0] < top[1]:
            problems.append(f"{root}{page}#{anchor}: not scrolled into view (top {top[0]})")
    return problems


def take_screenshots(browser, base, site, shots: Path):
    shots.mkdir(parents=True, exist_ok=True)
    tutorial = next(iter(sorted(site.glob("tutorials/01_*.html"))), None)
    views = [("front_page.png", "index.html", None),
             ("annotated_linked.png", "annotated/linked.html", None),
             ("annotated_linked_LKReLU.png", "annotated/linked.html", "LKReLU"),
             ("annotated_conv.png", "annotated/conv.html", None),
             ("annotated_conv_reference_backward.png", "annotated/conv.html",
              "conv2d_reference_backward"),
             ("annotated_optim_Adam.png", "annotated/optim.html", "Adam"),
             ("annotated_batchnorm_backward.png", "annotated/batchnorm.html",
              "BatchNorm.backward")]
    if tutorial:
        rel = tutorial.relative_to(site).as_posix()
        views += [("tutorial_01.png", rel, None), ("tutorial_01_figure.png", rel, "img")]
    for name, page, where in views:
        browser.open(base + page + (f"#{where}" if where and where != "img" else ""))
        browser.evaluate(SETTLE)
        if where == "img":
            browser.evaluate("(() => { const i = document.querySelector('.cell_output img');"
                             " if (i) i.scrollIntoView({block: 'center', behavior: 'instant'});"
                             " return 1; })()")
            time.sleep(0.3)
        browser.screenshot(shots / name)
        print(f"  screenshot {shots / name}")


# ------------------------------------------------------------------------------ breaking
def _append(snippet):
    return lambda text: text.replace("</body>", snippet + "\n</body>", 1)


# name: (what must report it, how the page is broken)
BREAKS = {
    "script from a CDN": ("offsite", _append(
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"></script>')),
    "console error": ("console", _append("<script>console.error('broken on purpose')</script>")),
    "MathJax not shipped": ("raw_math", lambda text: text.replace("mathjax/tex-svg.js",
                                                                  "mathjax/missing.js")),
    "TeX error": ("tex_errors", _append(r'<p><span class="math">\(\undefinedmacro x\)</span></p>')),
    "missing line anchor": ("anchors", lambda text: re.sub(r'id="L(\d+)"', r'id="L\1-gone"', text,
                                                          count=1)),
    "code line that does not wrap": ("overflow", lambda text: text.replace(
        '<span class="lk-t">', '<span class="lk-t" style="white-space: pre">x = 1' + " " * 150
        + "# far out", 1)),
    "formula wider than its column": ("overflow", lambda text: text.replace(
        '<div class="lk-doc docutils container">', '<div class="lk-doc docutils container"><p>'
        r'<span class="math">\(\mathrm{' + "w" * 80 + r'}\)</span></p>', 1)),
}


def self_test(site: Path) -> bool:
    """Break a copy of annotated/linked.html in each way of BREAKS: the check must fail, and
    report the break where it belongs."""
    page = "annotated/linked.html"
    caught_all = True
    for name, (category, breaking) in BREAKS.items():
        with tempfile.TemporaryDirectory(prefix="broken-site-") as tmp:
            copy = Path(tmp) / "site"
            shutil.copytree(site, copy, ignore=shutil.ignore_patterns(".doctrees"))
            text = (copy / page).read_text(encoding="utf-8")
            (copy / page).write_text(breaking(text), encoding="utf-8")
            report = check_pages(copy, [page], None, verbose=False)
            _, report["anchors"] = check_links(copy, pages_of(copy))
            found = {k: v for k, v in report.items() if isinstance(v, list) and v
                     and k != "anchors_in_view"}
            caught = category in found
            caught_all &= caught
            print(f"  break '{name}': {'caught' if caught else 'NOT CAUGHT'} as "
                  f"{', '.join(sorted(found)) or 'nothing'} — "
                  f"{found[category][0][:110] if caught else ''}", flush=True)
    return caught_all


# ---------------------------------------------------------------------------------- main
def in_own_network():
    """Re-run this script in a network namespace with only loopback (root and unshare needed).
    -> exit status, or None when that is not possible here."""
    if os.environ.get(NETNS_FLAG) or not shutil.which("unshare") or not shutil.which("ip"):
        return None
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    env = dict(os.environ, **{NETNS_FLAG: "1"})
    inner = " ".join(["ip link set lo up && exec", sys.executable]
                     + [f"'{a}'" for a in [__file__] + sys.argv[1:]])
    return subprocess.run(["unshare", "--net", "sh", "-c", inner], env=env).returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, default=ROOT / "site")
    ap.add_argument("--no-build", action="store_true", help="check the site that is there")
    ap.add_argument("--shots", type=Path, default=Path("/tmp/site_shots"))
    ap.add_argument("--self-test", action="store_true",
                    help="also break copies of a page and require each break to be caught")
    ap.add_argument("--network", action="store_true",
                    help="do not cut the network off with unshare (the browser still "
                         "resolves no host but localhost)")
    args = ap.parse_args(argv)
    if not args.network:
        status = in_own_network()
        if status is not None:
            return status
    isolated = bool(os.environ.get(NETNS_FLAG))
    print("network: " + ("own namespace, loopback only" if isolated else
                         "not isolated; the browser resolves no host but localhost"))
    seconds = None if args.no_build else build(args.site)
    size, files = size_of(args.site)
    pages = pages_of(args.site)
    checked, link_problems = check_links(args.site, pages)
    print(f"checking {len(pages)} pages over http and file://", flush=True)
    report = check_pages(args.site, pages, args.shots)
    report["anchors"] = link_problems + report.pop("anchors_in_view")
    failures = {k: v for k, v in report.items()
                if isinstance(v, list) and v}
    print("\n== reading site ==")
    if seconds is not None:
        print(f"build: {seconds:.0f} s")
    print(f"size: {size / 2**20:.1f} MiB in {files} files ({args.site})")
    print(f"pages: {len(pages)}, loaded {report['loads']} times (http and file://); "
          f"{report['typeset_formulas']} formulas typeset")
    print(f"links inside the site followed: {checked}")
    for key, label in (("console", "console errors"), ("offsite", "requests off the machine"),
                       ("failed", "failed loads"), ("untypeset", "pages with untypeset math"),
                       ("tex_errors", "pages with TeX errors"), ("raw_math", "raw math left"),
                       ("broken_images", "broken images"),
                       ("overflow", f"sideways scrolling at {WIDTH} px"),
                       ("anchors", "broken anchors")):
        items = report[key]
        print(f"{label}: {len(items)}")
        for item in items[:10]:
            print(f"    {item}")
    ok = not failures
    if args.self_test:
        print("\n== self-test: each break must be caught ==")
        ok = self_test(args.site) and ok
    print("\nRESULT: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
