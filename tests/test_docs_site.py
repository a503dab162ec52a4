"""The reading site's own code (docs/): skipped unless the docs extra is installed.

- ``plainmath`` turns the sources' plain-text formulas into TeX and their docstrings into rST
  that docutils parses without a warning, for every docstring and comment block of every module
  the site annotates;
- ``annotated.cut`` loses no line of a module: each is code, docstring or comment;
- ``check_site`` (with Debian's chromium) passes a small correct site and fails it when a page
  loads a script from a CDN, logs a console error, leaves math raw, has a TeX error, or links to
  a missing anchor.

The whole site is built and checked by ``python docs/check_site.py --self-test``.
"""
import ast
import io
import shutil
import sys
import tokenize
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("docutils")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
sys.path.insert(0, str(ROOT / "docs"))

import annotated  # noqa: E402
import plainmath  # noqa: E402

ANNOTATED = sorted(ROOT.joinpath(p.read_text().split("annotated-source::")[1].strip())
                   for p in (ROOT / "docs" / "annotated").rglob("*.rst"))


@pytest.mark.parametrize("text, tex", [
    ("dz = dy_a·g'(z) − dy_b·g'(−z)", r"dz = dy_{a}\cdot g'(z) - dy_{b}\cdot g'(-z)"),
    ("σ² + eps", r"\sigma^{2} + \operatorname{eps}"),
    ("√(1 − β2^(t+1))", r"\sqrt{1 - \beta_2^{(t+1)}}"),
    ("x̂_i = (x_i − μ)·s", r"\hat{x}_{i} = (x_{i} - \mu)\cdot s"),
    ("running_mean ← μ", r"\mathrm{running\_mean} \leftarrow  \mu"),
    ("Σ_{c,p,q} W[o, c, p, q]", r"\sum _{c,p,q} W[o, c, p, q]"),
])
def test_formulas_become_tex(text, tex):
    assert plainmath.to_tex(text) == tex


def test_prose_keeps_its_words_and_typesets_its_formulas():
    parts = plainmath.segments("For every z one of g'(z), g'(−z) is non-zero (for ReLU: z > 0).")
    math = [s for kind, s in parts if kind == "math"]
    text = "".join(s for kind, s in parts if kind == "text")
    assert math == ["z", "g'(z), g'(-z)", "z > 0"]
    assert "For every" in text and "is non-zero (for ReLU:" in text


def test_a_long_formula_breaks_after_its_operators_and_looks_the_same():
    """MathJax 3 breaks no formula: a long one is cut after its top-level operators, each piece
    ending in {} so the operator keeps its spacing; nothing is cut inside a TeX group."""
    tex = plainmath.to_tex("y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · xpad[n, c, i, j]")
    pieces = plainmath.breakable(tex)
    assert pieces[:2] == ["y[n, o, i, j] ={}", "b[o] +{}"] and len(pieces) == 4
    assert all(p.endswith("{}") for p in pieces[:-1]) and not pieces[-1].endswith("{}")
    assert all(p.count("{") == p.count("}") for p in pieces)
    joined = "".join(p[:-2] if p.endswith("{}") else p for p in pieces)
    assert joined.replace(" ", "") == tex.replace(" ", "")
    assert plainmath.breakable("z > 0") == ["z > 0"]                       # short: one piece
    inside = plainmath.breakable(plainmath.to_tex("concat(s_1·g_1(r_1·z), ..., s_d·g_d(r_d·z))"))
    assert len(inside) == 3 and inside[0].endswith(",{}")                # no operator outside
    rst = plainmath.rst_inline("so y[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] holds")
    assert rst.count(":math:") == 3 and "`\\ :math:`" in rst          # adjacent roles


def test_a_code_line_wraps_under_its_own_indentation():
    row = annotated.code_html(annotated.Section(lines=[7]), {7: "x"}, {}, {7: 8})
    assert 'id="L7" style="--i:8"' in row


def _plain_texts(path):
    """Every docstring and every block of full-line comments of a module."""
    source = path.read_text(encoding="utf-8")
    texts = [ast.get_docstring(n) for n in ast.walk(ast.parse(source))
             if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))]
    block = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.line.strip().startswith("#"):
            block.append(tok.string.lstrip("#"))
        elif tok.type not in (tokenize.NL, tokenize.COMMENT) and block:
            texts.append("\n".join(block))
            block = []
    return [t for t in texts if t]


@pytest.mark.parametrize("path", ANNOTATED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_docstring_becomes_clean_rst(path):
    from docutils.core import publish_doctree
    from docutils.utils import SystemMessage
    for text in _plain_texts(path):
        rst = plainmath.docstring_to_rst(text)
        try:
            publish_doctree(rst, settings_overrides={"report_level": 2, "halt_level": 2,
                                                     "warning_stream": io.StringIO()})
        except SystemMessage as err:
            pytest.fail(f"{path.name}: {err}\n--- text ---\n{text}\n--- rst ---\n{rst}")


@pytest.mark.parametrize("path", ANNOTATED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_cut_loses_no_line(path):
    source = path.read_text(encoding="utf-8")
    sections, _ = annotated.cut(source)
    shown = [n for s in sections for n in s.lines]
    assert len(shown) == len(set(shown)), "a line shown twice"
    tree = ast.parse(source)
    docs = set()
    for node in [tree, *annotated.definitions(tree)]:
        span = annotated.docstring_lines(node)
        if span:
            docs.update(range(span[0], span[1] + 1))
    comments = set(annotated.full_line_comments(source))
    for n, line in enumerate(source.splitlines(), 1):
        if line.strip():
            assert (n in shown) + (n in docs) + (n in comments) == 1, f"line {n}: {line!r}"


# ------------------------------------------------------------------- the browser check
def _mini_site(tmp_path):
    """Two pages: a formula, a figure-free link to an anchor, MathJax shipped beside them."""
    mathjax = pytest.importorskip("mathjax")          # the django-static-mathjax wheel
    site = tmp_path / "site"
    (site / "_static").mkdir(parents=True)
    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    shutil.copytree(src / "input", site / "_static" / "mathjax" / "input")
    shutil.copy2(src / "tex-svg.js", site / "_static" / "mathjax" / "tex-svg.js")
    head = ('<link rel="icon" href="data:,">'
            '<script>window.MathJax = {tex: {packages: {"[-]": ["noundefined"]}}}</script>'
            '<script defer src="_static/mathjax/tex-svg.js"></script>')
    (site / "index.html").write_text(
        f"<html><head>{head}</head><body><p><span class='math'>\\(dz = dy_a \\cdot g'(z)\\)"
        "</span></p><p><a href='b.html#L2'>line 2</a></p></body></html>")
    (site / "b.html").write_text(
        f"<html><head>{head}</head><body><div id='L1'>1</div><div id='L2'>2</div>"
        "</body></html>")
    return site


def _problems(site, pages):
    import check_site
    report = check_site.check_pages(site, pages, None, verbose=False)
    _, anchors = check_site.check_links(site, pages)
    return {k: v for k, v in report.items() if isinstance(v, list) and v} | (
        {"anchors": anchors} if anchors else {})


@pytest.fixture
def browser_ready():
    pytest.importorskip("websocket")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("Debian's chromium is not installed")


def test_check_passes_a_correct_site(tmp_path, browser_ready):
    site = _mini_site(tmp_path)
    assert _problems(site, ["index.html", "b.html"]) == {}


@pytest.mark.parametrize("name", ["script from a CDN", "console error", "MathJax not shipped",
                                  "TeX error"])
def test_check_fails_a_broken_page(tmp_path, browser_ready, name):
    import check_site
    site = _mini_site(tmp_path)
    category, breaking = check_site.BREAKS[name]
    page = site / "index.html"
    page.write_text(breaking(page.read_text()))
    assert category in _problems(site, ["index.html"])


def test_check_fails_a_page_that_scrolls_sideways(tmp_path, browser_ready):
    """A code line that does not wrap, or a formula wider than its column, is reported; the
    same line allowed to wrap is not."""
    site = _mini_site(tmp_path)
    line = "x = 1" + " " * 40 + "# " + "far " * 60
    for white_space, wide in (("pre-wrap", False), ("pre", True)):
        (site / "c.html").write_text(
            f"<html><head><link rel='icon' href='data:,'></head><body>"
            f"<div class='lk-code' style='width: 300px; overflow-x: auto'><div class='lk-l'>"
            f"<span class='lk-t' style='white-space: {white_space}'>{line}</span></div></div>"
            f"</body></html>")
        assert ("overflow" in _problems(site, ["c.html"])) == wide, white_space
    page = site / "index.html"
    page.write_text(page.read_text().replace(
        "<p><span", "<div class='lk-doc' style='width: 200px'><p><span").replace(
        "</span></p>", "\\mathrm{" + "w" * 60 + "}\\)</span></p></div>", 1).replace(
        "g'(z)\\)", "g'(z)", 1))
    assert "overflow" in _problems(site, ["index.html"])


def test_check_fails_a_missing_anchor(tmp_path):
    import check_site
    site = _mini_site(tmp_path)
    (site / "b.html").write_text((site / "b.html").read_text().replace("id='L2'", "id='L3'"))
    _, problems = check_site.check_links(site, ["index.html", "b.html"])
    assert problems == ["index.html: anchor not found: b.html#L2"]
