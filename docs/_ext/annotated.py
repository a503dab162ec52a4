"""Annotated source: a module of linkedref rendered as commentary beside the code it explains.

A page (an .rst file) holds one directive, ``.. annotated-source:: linkedref/linked.py``. The
module is cut into sections, each a commentary column (left) and a code column (right), as
labml.ai's annotated implementations do. No markup is added to the source files; the cut
follows what is there:

- the module docstring opens the page;
- a class or function with a docstring starts a section: the docstring is its commentary, the
  ``def``/``class`` line and the body its code (the docstring lines are left out of the code);
- a block of full-line comments starts a section: the comments are its commentary, the code
  below them its code; ``# ---- title`` comments become headings;
- everything else is code, in the section above it.

Commentary goes through ``plainmath.docstring_to_rst``: formulas are typeset, indented formula
blocks kept as lines, ``names`` linked to their definitions. In the code column every line keeps
its number from the file and an anchor (``#L42``); a definition has one too (``#LKReLU.backward``);
trailing comments stay in the code, their formulas typeset. Each layer a gradient-check case
covers gets a line under its docstring linking to that case (and its error, measured while the
site builds), and naming the tests that use it.
"""
from __future__ import annotations

import ast
import html
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import plainmath
from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, Comment, String

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVE = re.compile(r"^\.\. annotated-source::\s+(\S+)", re.M)
HEADING = re.compile(r"^\s*-{2,}\s*(.*?)\s*-*\s*$")


# ------------------------------------------------------------------------------ the cut
@dataclass
class Section:
    """One row of the page: commentary (plain text, as in the source) and code line numbers."""
    doc: list = field(default_factory=list)      # [(kind, text)]: "doc" or "heading"
    lines: list = field(default_factory=list)    # 1-based line numbers of code
    defines: str = ""                            # qualified name a docstring section documents

    def has_code(self):
        return any(True for _ in self.lines)


def definitions(tree):
    """{node: qualified name} for every class and function, nested ones as "Class.method"."""
    names = {}

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names[child] = prefix + child.name
                walk(child, prefix + child.name + ".")
    walk(tree, "")
    return names


def docstring_lines(node):
    """(first, last) line of a node's docstring, or None."""
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].lineno, body[0].end_lineno
    return None


def cut(source: str):
    """The module as a list of Sections, and {line: qualified name} of its definitions."""
    tree = ast.parse(source)
    lines = source.splitlines()
    names = definitions(tree)
    starts, skip, anchors = {}, set(), {}
    for node, qual in names.items():
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        anchors[node.lineno] = qual
        span = docstring_lines(node)
        if span:
            starts[first] = (qual, ast.get_docstring(node))
            skip.update(range(span[0], span[1] + 1))
    module_doc = docstring_lines(tree)
    comments = full_line_comments(source)
    sections = [Section()]
    if module_doc:
        sections[0].doc.append(("doc", ast.get_docstring(tree)))
        skip.update(range(module_doc[0], module_doc[1] + 1))
    n, total = 1, len(lines)
    while n <= total:
        if n in starts:
            qual, doc = starts[n]
            section = _open(sections)
            section.doc.append(("doc", doc))
            section.defines = qual
        if n in comments:
            block = []
            while n in comments:
                block.append(comments[n])
                n += 1
            section = _open(sections)
            _comment_block(section, block)
            continue
        if n not in skip:
            sections[-1].lines.append(n)
        n += 1
    for s in sections:
        while s.lines and not lines[s.lines[0] - 1].strip():
            s.lines.pop(0)
        while s.lines and not lines[s.lines[-1] - 1].strip():
            s.lines.pop()
    return [s for s in sections if s.doc or s.lines], anchors


def _open(sections):
    """The section a new commentary goes to: the last one while it has no code yet."""
    last = sections[-1]
    if last.lines and any(True for _ in last.lines):
        sections.append(Section())
    return sections[-1]


def _comment_block(section, block):
    text = []
    for line in block:
        m = HEADING.match(line)
        if m and line.strip().startswith("--") and m.group(1):
            if text:
                section.doc.append(("doc", "\n".join(text)))
                text = []
            section.doc.append(("heading", m.group(1)))
        elif not re.fullmatch(r"\s*-+\s*", line):
            text.append(line)
    if text:
        section.doc.append(("doc", "\n".join(text)))


def full_line_comments(source):
    """{line number: comment text without '# '} for comments that stand on a line alone."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.line.strip().startswith("#"):
            text = tok.string[1:]
            out[tok.start[0]] = text[1:] if text.startswith(" ") else text
    return out


# ---------------------------------------------------------------------------- the code column
def highlighted_lines(source):
    """{line number: HTML} with Pygments' short CSS classes; trailing comments' formulas
    typeset."""
    per_line, current = {}, []
    number = 1
    for ttype, value in PythonLexer(stripnl=False, ensurenl=True).get_tokens(source):
        parts = value.split("\n")
        for k, part in enumerate(parts):
            if k:
                per_line[number] = "".join(current)
                current, number = [], number + 1
            if part:
                current.append(_span(ttype, part))
    if current:
        per_line[number] = "".join(current)
    return per_line


def _span(ttype, text):
    css = STANDARD_TYPES.get(ttype)
    while css is None and ttype.parent is not None:
        ttype = ttype.parent
        css = STANDARD_TYPES.get(ttype)
    if ttype in Comment and text.startswith("#"):
        return f'<span class="{css}">{comment_html(text)}</span>'
    body = html.escape(text, quote=False)
    if ttype in String.Doc:
        css = "sd"
    return f'<span class="{css}">{body}</span>' if css else body


def comment_html(text):
    """A trailing comment as HTML: its words as written, its formulas typeset."""
    mark = re.match(r"#+\s*", text).group()
    out = [html.escape(mark)]
    for kind, s in plainmath.segments(text[len(mark):]):
        if kind == "math":
            out += ['<span class="math notranslate nohighlight">\\(%s\\)</span>'
                    % html.escape(t, quote=False) for t in plainmath.breakable(s)]
        else:
            wrap = {"literal": "``%s``", "em": "*%s*", "strong": "**%s**"}.get(kind, "%s")
            out.append(html.escape(wrap % s, quote=False))
    return "".join(out)


def code_html(section, lines_html, anchors, indents):
    """The code column: one row per line, its number a link to itself. ``--i``, the line's
    indentation, lets a line too long for the column wrap under its own code, 4 further in."""
    rows = []
    for n in section.lines:
        target = anchors.get(n)
        mark = f'<span class="lk-def" id="{html.escape(target)}"></span>' if target else ""
        rows.append(f'<div class="lk-l" id="L{n}" style="--i:{indents.get(n, 0)}">'
                    f'<a class="lk-n" href="#L{n}">{n}</a>'
                    f'<span class="lk-t">{mark}{lines_html.get(n, "")}</span></div>')
    return '<div class="lk-code highlight">' + "\n".join(rows) + "</div>"


# ------------------------------------------------------------------------- the directive
class AnnotatedSource(Directive):
    """``.. annotated-source:: linkedref/linked.py``: the module, cut into sections."""
    required_arguments = 1
    option_spec = {"class": directives.class_option}

    def run(self):
        env = self.state.document.settings.env
        rel = self.arguments[0]
        path = ROOT / rel
        env.note_dependency(str(path))
        source = path.read_text(encoding="utf-8")
        sections, anchors = cut(source)
        lines_html = highlighted_lines(source)
        indents = {n: len(ln) - len(ln.lstrip(" "))
                   for n, ln in enumerate(source.splitlines(), start=1)}
        index = getattr(env.app, "lk_index", {})
        checks = getattr(env.app, "lk_checks", {})
        local = {qual for qual in anchors.values()}

        def link(name):
            return resolve(name, env.docname, local, index, env.app)

        page = nodes.container(classes=["lk-annotated"])
        page += nodes.raw("", f'<p class="lk-file">{html.escape(rel)} · '
                              f'{len(source.splitlines())} lines</p>', format="html")
        for s in sections:
            row = nodes.container(classes=["lk-section"])
            doc = nodes.container(classes=["lk-doc"])
            text = []
            for kind, body in s.doc:
                if kind == "heading":
                    text += [f".. rubric:: {plainmath.rst_text(body)}", ""]
                else:
                    text += plainmath.docstring_to_rst(body, link).splitlines() + [""]
            cls = s.defines.split(".")[0] if s.defines and "." not in s.defines else ""
            if cls and cls in checks:
                text += check_rst(checks[cls], env.docname, env.app).splitlines() + [""]
            self.state.nested_parse(StringList(text, source=rel), self.content_offset, doc)
            row += doc
            row += nodes.raw("", code_html(s, lines_html, anchors, indents) if s.lines else
                             '<div class="lk-code lk-empty"></div>', format="html")
            page += row
        return [page]


def resolve(name, docname, local, index, app):
    """A relative link for ``name`` (a definition here or in another annotated module, or a
    module file), or None."""
    bare = re.sub(r"\(\)$", "", name.strip())
    bare = re.sub(r"^(lk|linkedref)\.", "", bare)
    if bare in local:
        return "#" + bare
    if bare in index:
        target_doc, anchor = index[bare]
        return app.builder.get_relative_uri(docname, target_doc) + ("#" + anchor if anchor
                                                                    else "")
    return None


def check_rst(entries, docname, app):
    """The line under a layer's docstring: its gradient-check cases (linked, with the largest
    relative error measured while the site builds) and the test files that use it."""
    cases, tests = entries["cases"], entries["tests"]
    parts = []
    for name, target_doc, line, err in cases:
        uri = app.builder.get_relative_uri(docname, target_doc) + f"#L{line}"
        shown = name.replace("`", "'").replace("<", "(").replace(">", ")")
        parts.append(f"`{shown} <{uri}>`__ ({err})")
    text = "**Gradient check:** " + "; ".join(parts) + "."
    if tests:
        text += " **Tests:** " + ", ".join(f"``{t}``" for t in tests) + "."
    return ".. container:: lk-check\n\n   " + text + "\n"


# ------------------------------------------------------------------ the index, the checks
def build_index(app):
    """Which module each annotated page shows, and {name: (docname, anchor)} over all of them."""
    src = Path(app.srcdir)
    pages, index = {}, {}
    for md in sorted(src.glob("annotated/**/*.rst")):
        m = DIRECTIVE.search(md.read_text(encoding="utf-8"))
        if m:
            docname = md.relative_to(src).with_suffix("").as_posix()
            pages[m.group(1)] = docname
    for rel, docname in pages.items():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for qual in definitions(tree).values():
            index.setdefault(qual, (docname, qual))
        short = rel.removeprefix("linkedref/")
        index[short] = (docname, "")                      # ``linked.py``, ``gradcheck/check.py``
        dotted = short.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        index.setdefault(dotted, (docname, ""))           # ``fast``, ``init``, ``gradcheck.check``
    app.lk_pages, app.lk_index = pages, index
    app.lk_checks = gradient_checks(pages)


def gradient_checks(pages):
    """{class name: {"cases": [(case, docname, line, error)], "tests": [file, ...]}}."""
    import numpy

    from linkedref.gradcheck import all_cases, run_cases
    lines = case_lines()
    out = {}
    for case in all_cases():
        kwargs = case.make(numpy.random.default_rng(0))
        classes = {type(o).__name__ for o in walk_layers(kwargs.get("layer"))}
        if kwargs.get("loss") is not None:
            classes.add(type(kwargs["loss"]).__name__)
        module = case.make.__module__                     # linkedref.gradcheck.cases_conv
        rel = module.replace(".", "/") + ".py"
        line = lines.get((rel, case.name)) or lines.get((rel, None), 1)
        [(_, report)] = run_cases([case])
        err = "error" if isinstance(report, Exception) else f"{report.max_error:.1e}"
        for cls in classes:
            entry = out.setdefault(cls, {"cases": [], "tests": []})
            if rel in pages:
                entry["cases"].append((case.name, pages[rel], line, err))
    uses = test_uses()
    for cls, entry in out.items():
        entry["tests"] = uses.get(cls, [])
    return out


def walk_layers(layer):
    if layer is None:
        return
    yield layer
    for child in getattr(layer, "children", lambda: [])():
        yield from walk_layers(child)


def case_lines():
    """{(file, case name): line} where each ``Case(...)`` is written; (file, None) for a Case
    whose name is built (an f-string in a comprehension)."""
    out = {}
    for path in sorted((ROOT / "linkedref/gradcheck").glob("cases_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Case" and node.args:
                arg = node.args[0]
                key = arg.value if isinstance(arg, ast.Constant) else None
                out.setdefault((rel, key), node.lineno)
    return out


def test_uses():
    """{name: ["tests/test_x.py", ...]}: the test files whose code names it."""
    out = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                  for a in n.names}
        for name in names:
            out.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    return out


def linkcode_target(app, docname, module, fullname):
    """For the reference pages: the annotated page and anchor of ``module.fullname``."""
    obj = __import__(module, fromlist=["_"])
    for part in fullname.split("."):
        obj = getattr(obj, part, None)
    defined = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", fullname)
    if not defined:
        return None
    rel = defined.replace(".", "/") + ".py"
    if rel not in app.lk_pages:
        return None
    return app.builder.get_relative_uri(docname, app.lk_pages[rel]) + "#" + qual


def link_file_names(app, doctree, docname):
    """On the other pages (the front page above all), ``linked.py`` links to its annotated page
    and ``01_linked_units.py`` to its tutorial page."""
    if docname.startswith("annotated/") and docname != "annotated/index":
        return
    targets = {name: doc for name, (doc, anchor) in app.lk_index.items()
               if not anchor and name.endswith(".py")}
    targets["fast/"] = app.lk_pages.get("linkedref/fast/__init__.py")
    targets["gradcheck/"] = app.lk_pages.get("linkedref/gradcheck/check.py")
    for script in (ROOT / "tutorials").glob("0*.py"):
        targets[script.name] = f"tutorials/{script.stem}"
        targets[f"tutorials/{script.name}"] = f"tutorials/{script.stem}"
    for node in list(doctree.findall(nodes.literal)):
        target = targets.get(node.astext())
        if target and target != docname and not isinstance(node.parent, nodes.reference):
            ref = nodes.reference("", "", internal=True,
                                  refuri=app.builder.get_relative_uri(docname, target))
            node.replace_self(ref)
            ref += node


def setup(app):
    app.add_directive("annotated-source", AnnotatedSource)
    app.connect("builder-inited", build_index)
    app.connect("doctree-resolved", link_file_names)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
