"""Sphinx configuration of linkedref's reading site.

Build (offline once installed; about two minutes on a 2-core CPU, most of it the tutorials):

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs site

or ``python docs/check_site.py``, which builds and then checks every page in a real browser.
The pages load nothing from the network: MathJax 3 comes from the ``django-static-mathjax``
wheel (MathJax 3.2.2 as published on npm, repackaged on PyPI; no Django needed) and is copied
into ``site/_static/mathjax/`` at the end of the build; furo uses the system's fonts.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

project = "linkedref"
author = "linkedref contributors"
copyright = "linkedref contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.linkcode",
    "myst_nb",
    "annotated",
    "docstrings",
]

# Only these files are pages (the tutorials are copied in below; conf.py and _ext are not pages).
include_patterns = ["index.md", "exercises.md", "annotated/**.md", "annotated/**.rst",
                    "reference/**.md", "tutorials/index.md", "tutorials/0*.py"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
templates_path = []
html_static_path = ["_static"]
html_css_files = ["annotated.css"]
html_js_files = ["annotated.js"]
html_favicon = "_static/favicon.svg"          # else the browser asks for /favicon.ico (a 404)
html_theme = "furo"
html_title = "linkedref"
html_theme_options = {"source_edit_link": "", "navigation_with_keys": True}
html_show_sourcelink = False
html_copy_source = False
suppress_warnings = ["myst.header"]          # the README's headings start at level 1, then 3

# -- math: MathJax 3, shipped with the site -----------------------------------------------------
mathjax_path = "mathjax/tex-svg.js"          # relative: site/_static/mathjax/tex-svg.js
mathjax3_config = {"svg": {"fontCache": "global"},
                   # an unknown macro is a TeX error (red in the page, failed by check_site)
                   "tex": {"packages": {"[-]": ["noundefined"]}},
                   "options": {"menuOptions": {"settings": {"assistiveMml": False}}}}
MATHJAX_PARTS = ["tex-svg.js", "input/tex/extensions", "ui", "a11y", "adaptors"]


def copy_mathjax(app, exception):
    """Copy the parts of MathJax the pages load (the SVG output needs no font files)."""
    if exception is not None or app.builder.format != "html":
        return
    import mathjax  # the django-static-mathjax wheel
    src = Path(mathjax.__file__).parent / "static" / "mathjax"
    dest = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (src / "es5" / part).is_dir():
            shutil.copytree(src / "es5" / part, dest / part, dirs_exist_ok=True)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / "es5" / part, dest / part)
    shutil.copy2(src / "LICENSE", dest / "LICENSE")


# -- the tutorials, executed in quick mode ----------------------------------------------------
# Each tutorials/0*.py is copied to docs/tutorials/ (git-ignored) and run as a notebook by
# myst-nb through jupytext: a kernel has no __file__, so a tutorial's setup cell runs the
# NOTEBOOK_ARGS it names (--quick). An error in any cell fails the build.
TUTORIALS = ROOT / "tutorials"
for script in sorted(TUTORIALS.glob("0*.py")):
    copy = DOCS / "tutorials" / script.name
    if not copy.exists() or copy.read_bytes() != script.read_bytes():
        copy.parent.mkdir(exist_ok=True)
        shutil.copy2(script, copy)
# The README's links to figures/*.png resolve from docs/ through this link (git-ignored).
if not (DOCS / "figures").exists():
    (DOCS / "figures").symlink_to(ROOT / "figures", target_is_directory=True)
# The kernel imports ``_common`` from tutorials/ and linkedref from the checkout.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(TUTORIALS), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                   if p])
os.environ.setdefault("MPLBACKEND", "Agg")
# No progress bars on the pages (tqdm reads TQDM_DISABLE), and no warning that ipywidgets, which
# would draw them, is missing.
os.environ["TQDM_DISABLE"] = "1"
os.environ["PYTHONWARNINGS"] = "ignore:IProgress not found"

nb_custom_formats = {".py": "percent.reads"}
# myst-nb writes the executed notebooks' images beside the output folder (site/../); keep them
# in docs/_build instead (an absolute path wins in myst-nb's Path.joinpath).
import myst_nb.sphinx_ext  # noqa: E402

myst_nb.sphinx_ext.OUTPUT_FOLDER = str(DOCS / "_build" / "jupyter_execute")
nb_execution_mode = os.environ.get("LINKEDREF_DOCS_EXECUTE", "force")   # "off": no tutorial run
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_ipywidgets_js = {}                        # never a widget script from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- reference pages ------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}


def linkcode_resolve(domain, info):
    """[source] beside each documented object: its place in the annotated source."""
    if domain != "py" or not info.get("module"):
        return None
    from annotated import linkcode_target
    return linkcode_target(APP, "reference/api", info["module"], info["fullname"])


def plain_toc_titles(app, doctree):
    """The README's headings hold figure links; a page's table of contents keeps their text
    only (a link inside a contents entry has no anchor of its own)."""
    from sphinx import addnodes
    toc = app.env.tocs.get(app.env.docname)
    if toc is None:
        return
    for node in list(toc.findall(addnodes.download_reference)):
        node.replace_self(node.children[0].children if node.children else [])


APP = None


def setup(app):
    global APP
    APP = app
    app.connect("build-finished", copy_mathjax)
    app.connect("doctree-read", plain_toc_titles, priority=900)
