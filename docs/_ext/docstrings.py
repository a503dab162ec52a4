"""The reference pages read the same docstrings as the annotated source, the same way.

linkedref's docstrings are plain text with Unicode formulas, not reStructuredText: ``|z|`` or
``dy_a`` would be rST markup. Before autodoc parses a docstring, ``plainmath.docstring_to_rst``
rewrites it (formulas as ``:math:``, the rest escaped), so the reference shows what the annotated
source shows.
"""
from __future__ import annotations

import plainmath


def rewrite(app, what, name, obj, options, lines):
    if not lines:
        return
    text = plainmath.docstring_to_rst("\n".join(lines))
    lines[:] = text.splitlines()


def setup(app):
    app.connect("autodoc-process-docstring", rewrite)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
