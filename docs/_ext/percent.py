"""Read a percent-format tutorial (``# %%`` cells) as a Python notebook, for myst-nb.

jupytext does the reading; this adds the kernel and language a notebook file would carry, so
that the code cells are highlighted as Python and run on the ``python3`` kernel (ipykernel, in
the environment that runs Sphinx).
"""
import jupytext


def reads(text, **kwargs):
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    return notebook
