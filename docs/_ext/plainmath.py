"""Plain-text math, as linkedref's docstrings and comments write it, turned into TeX and rST.

The sources write formulas in Unicode, readable as text: ``dz = dy_a·g'(z) − dy_b·g'(−z)``,
``σ² = mean((x − μ)²)``, ``Σ_{c,p,q} W[o, c, p, q]``. Nothing in them marks where a formula
starts, so this module finds the formulas itself:

- ``segments(line)`` splits prose into text and math. A run of words is math when it holds a
  math sign (= · − ≤ ← → Σ √ ∂ ², a Greek letter, a prime, a caret) or a one-letter name; a
  word of three or more letters (that is not a function such as max, exp or concat) ends it.
- ``to_tex(run)`` writes one run as TeX: ``·`` → ``\\cdot``, ``σ²`` → ``\\sigma^2``,
  ``√(1 − β2^(t+1))`` → ``\\sqrt{1 - \\beta_2^{(t+1)}}``, ``running_mean`` → upright.
- ``docstring_to_rst(text)`` turns a whole docstring or comment block into reStructuredText:
  paragraphs with ``:math:`` roles, indented formula blocks as lines of math, indented Python
  as code blocks, ``Args:`` sections as definition lists, ``- `` bullets as lists.

The TeX is checked where it counts: the browser check (``docs/check_site.py``) fails on any
formula MathJax cannot typeset.
"""
from __future__ import annotations

import ast
import re
import textwrap

# ----------------------------------------------------------------------------- vocabulary
GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "η": r"\eta", "θ": r"\theta", "λ": r"\lambda", "μ": r"\mu", "ρ": r"\rho", "σ": r"\sigma",
    "τ": r"\tau", "φ": r"\phi", "ω": r"\omega", "Δ": r"\Delta", "Σ": r"\sum",
}
SIGNS = {
    "·": r"\cdot ", "×": r"\times ", "−": "-", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ",
    "≈": r"\approx ", "←": r"\leftarrow ", "→": r"\to ", "⇒": r"\Rightarrow ", "∈": r"\in ",
    "∂": r"\partial ", "…": r"\ldots ", "∝": r"\propto ", "±": r"\pm ", "∞": r"\infty ",
    "~": r"\sim ", "%": r"\%", "#": r"\#", "&": r"\&", "$": r"\$", "\\": r"\backslash ",
}
SUPERSCRIPTS = {"²": "2", "³": "3", "ᵀ": "T", "¹": "1"}
# Functions TeX knows by name; other words of three or more letters are set upright.
TEX_FUNCTIONS = {"max", "min", "exp", "log", "tanh", "sin", "cos", "ln"}
# Words that may sit inside a formula ("1 (z > 0) or a_c"); set as text there.
CONNECTIVES = {"or", "and", "if", "else", "for", "with", "where", "of", "over", "otherwise"}
# Words of three or more letters that are functions in these formulas, not English.
FUNCTION_WORDS = TEX_FUNCTIONS | {
    "concat", "relu", "prelu", "elu", "selu", "swish", "sigmoid", "softmax", "lse", "mean",
    "sum", "sqrt", "abs", "sign", "onehot", "expm1", "log1p", "ceil", "floor", "argmax", "var",
    "eps", "xpad", "dxpad", "dwindow", "window", "momentum", "factor", "decay", "epoch",
    "running", "batch", "mask", "size", "scale", "alpha", "margin", "tol",
}
STRONG = set("=·−≤≥≠≈←→⇒Σ√∂²³ᵀ^∈×∝±") | set(GREEK)
HAT = "\u0302"                    # combining circumflex: x̂


# ------------------------------------------------------------------------------ TeX of a run
IDENT = re.compile(r"[A-Za-zα-ωΑ-Ω][A-Za-z0-9α-ωΑ-Ω_\u0302]*")
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+−]?\d+)?")


def to_tex(run: str) -> str:
    """One formula, written in Unicode as the sources write it, as TeX."""
    return _Tex(run).convert().strip()


class _Tex:
    def __init__(self, text):
        self.s, self.i = text, 0

    def convert(self, stop=None) -> str:
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if stop and c == stop:
                break
            out.append(self.atom())
        return "".join(out)

    def atom(self) -> str:
        s, c = self.s, self.s[self.i]
        if s.startswith("...", self.i):
            self.i += 3
            return r"\ldots "
        m = IDENT.match(s, self.i)
        if m and c not in "Σ":
            self.i = m.end()
            return self.scripts(self.name(m.group()))
        m = NUMBER.match(s, self.i)
        if m:
            self.i = m.end()
            text = m.group().replace("−", "-")
            return self.scripts(r"\text{%s}" % text if "e" in text else text)
        self.i += 1
        if c == "Σ":
            return self.scripts(r"\sum ")
        if c == "√":
            return r"\sqrt{%s}" % self.argument(keep_parens=False)
        if c in "{}":
            return "\\" + c
        if c in SUPERSCRIPTS:
            return "^{%s}" % SUPERSCRIPTS[c]
        if c in "^_":
            return c + "{%s}" % self.argument(keep_parens=True, subscript=c == "_")
        if c == HAT:
            return ""
        return SIGNS.get(c, c)

    def scripts(self, base: str) -> str:
        """A base followed by ² or ^ or _ : kept together (TeX attaches them itself)."""
        return base

    def argument(self, keep_parens, subscript=False) -> str:
        """What follows ^, _ or √: a {group}, a (group), a signed name or number, or one atom."""
        s = self.s
        if self.i >= len(s):
            return ""
        c = s[self.i]
        if c in "({":
            close = ")" if c == "(" else "}"
            end = _matching(s, self.i, c, close)
            inner = _Tex(s[self.i + 1:end]).convert()
            self.i = end + 1
            return f"({inner})" if keep_parens and c == "(" else inner
        if c in "−-":
            self.i += 1
            return "-" + self.argument(keep_parens)
        m = IDENT.match(s, self.i)
        if m:
            self.i = m.end()
            word = m.group()
            if subscript and len(word) >= 3 and word.isalpha():
                return r"\mathrm{%s}" % word
            name = self.name(word)
            if self.i < len(s) and s[self.i] == "(":              # e^min(z, 0)
                end = _matching(s, self.i, "(", ")")
                name += "(" + _Tex(s[self.i + 1:end]).convert() + ")"
                self.i = end + 1
            return name
        m = NUMBER.match(s, self.i)
        if m:
            self.i = m.end()
            return m.group()
        return self.atom()

    @staticmethod
    def name(word: str) -> str:
        """A name: x, dy_a, x̂_i, dx̂, β1, running_mean, max_k, concat."""
        base, _, sub = word.partition("_")
        plain, subplain = base.replace(HAT, ""), sub.replace(HAT, "")
        if len(plain) >= 2 and len(subplain) >= 2 and plain.isalpha():
            return r"\mathrm{%s}" % word.replace(HAT, "").replace("_", r"\_")   # running_mean
        if plain in GREEK:
            tex = GREEK[plain]
        elif plain[:1] in GREEK and plain[1:].isdigit():            # β1
            tex = GREEK[plain[0]] + "_" + plain[1:]
        elif plain in TEX_FUNCTIONS:
            tex = "\\" + plain
        elif plain in CONNECTIVES:
            tex = r"\text{ %s }" % plain
        elif len(plain) >= 3:
            tex = r"\operatorname{%s}" % plain
        else:
            tex = ""
            for ch in base:                                         # dx̂: the hat on the x
                if ch == HAT:
                    last = tex.rsplit(" ", 1)[-1] if tex.endswith(" ") else tex[-1:]
                    tex = tex[:len(tex) - len(last)] + r"\hat{%s}" % last.strip()
                else:
                    tex += GREEK[ch] + " " if ch in GREEK else ch
        if sub:
            hat = HAT in sub
            sub = subplain.replace("_", ",")
            sub = r"\mathrm{%s}" % sub if len(sub) >= 3 and sub.isalpha() else sub
            tex += "_{%s}" % (r"\hat{%s}" % sub if hat else sub)
        return tex


def _matching(s, i, open_, close):
    depth = 0
    for j in range(i, len(s)):
        if s[j] == open_:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j
    return len(s) - 1 if s.endswith(close) else len(s)


# ----------------------------------------------------------------------- finding formulas
WORD = re.compile(r"[A-Za-z][a-z]*")
TEXT_TOKENS = {"i.e.", "e.g.", "etc.", "vs", "vs.", "—", "–", "-"}
# Two-letter English words: text, even though a two-letter name (dy, lr) is math.
ENGLISH = {"is", "as", "on", "so", "be", "to", "in", "at", "by", "it", "an", "no", "we", "up",
           "do", "us", "am", "my", "he", "go", "Is", "As", "On", "So", "To", "In", "At", "By",
           "It", "An", "No", "We", "Up", "Do", "If", "Or", "Of"}


def _kind(token: str) -> str:
    """"strong" (surely math), "weak" (math inside a formula), or "text"."""
    core = token.strip("()[],.;:")
    if not core:
        return "weak"
    if token in TEXT_TOKENS or token.startswith(("http", '"', "'")) or core.endswith("'s"):
        return "text"
    letters = [w for w in re.findall(r"[A-Za-z]+", core.replace(HAT, ""))]
    longest = max((len(w) for w in letters), default=0)
    if re.fullmatch(r"\d+-[A-Za-z]+", core) or re.search(r"[A-Za-z]{3,}-[A-Za-z]", core):
        return "text"                                        # 2-D, LK-ReLU, non-zero
    if core in CONNECTIVES:
        return "connective"
    if core in ENGLISH:
        return "text"
    if any(ch in STRONG for ch in core) or HAT in core:
        return "strong"
    if re.search(r"(^|[^A-Za-z])[A-Za-z]{1,2}(_\w{1,3})?'(\(|$)", core):     # g'(z), f', g_i'
        return "strong"
    if re.fullmatch(r"[A-Za-z]{1,2}\(.*", core) or re.match(r"(%s)\(" % "|".join(
            FUNCTION_WORDS), core):
        return "strong"                                       # f(z), max(0, z)
    if core in ("+", "-", "*", "/", "<", ">", "=", "<=", ">="):
        return "strong"
    if re.fullmatch(r"[A-Za-z]{1,2}\d?_[A-Za-z0-9,]{1,3}'?", core):
        return "strong"                                       # dy_a, a_c, x_i
    if re.fullmatch(r"[A-Za-z]+_[A-Za-z_]+|[a-z]+\(.*", core):
        return "weak"                                         # output_sign, layer(z)
    if longest >= 3:
        low = [w.lower() for w in letters if len(w) >= 3]
        if all(w in FUNCTION_WORDS for w in low) and all(w.islower() for w in letters
                                                        if len(w) >= 3):
            return "weak"
        return "text"
    if re.fullmatch(r"[A-Za-z]", core):
        return {"a": "maybe", "A": "text", "I": "text"}.get(core, "letter")
    return "weak"


def segments(line: str) -> list:
    """Prose split into ("text", s) and ("math", tex) pieces; ``code``, *em* and **strong**
    come out as ("literal", s), ("em", s), ("strong", s)."""
    out = []
    for kind, piece in _markup(line):
        if kind == "text":
            out.extend(_math_runs(piece))
        else:
            out.append((kind, piece))
    return out


MARKUP = re.compile(r"``(?P<literal>.+?)``|(?<![\w*])\*\*(?P<strong>\S(?:.*?\S)?)\*\*(?![\w*])"
                    r"|(?<![\w*`])\*(?P<em>[^\s*](?:[^*]*?[^\s*])?)\*(?![\w*])"
                    r"|(?<![\w`])`(?P<single>[^`\s](?:[^`]*?[^`\s])?)`(?![\w`])")


def _markup(line):
    pos = 0
    for m in MARKUP.finditer(line):
        if m.start() > pos:
            yield "text", line[pos:m.start()]
        kind = m.lastgroup
        yield ("literal" if kind == "single" else kind), m.group(kind)
        pos = m.end()
    if pos < len(line):
        yield "text", line[pos:]


def _math_runs(text):
    tokens = re.split(r"(\s+)", text)
    kinds = [None if not t or t.isspace() else _kind(t) for t in tokens]
    for k, kind in enumerate(kinds):                  # "a" is a name beside a sign: a ← ρ a
        if kind == "maybe":
            near = [kinds[m] for m in (k - 2, k + 2) if 0 <= m < len(kinds)]
            kinds[k] = "letter" if "strong" in near else "text"
    out, i = [], 0
    while i < len(tokens):
        if kinds[i] in (None, "text", "connective"):
            out.append(("text", tokens[i]))
            i += 1
            continue
        j, last, depth = i, i, 0
        while j < len(tokens) and kinds[j] != "text":       # extend over math and spaces
            if kinds[j] not in (None, "connective"):
                last = j
            t = tokens[j]
            depth += t.count("(") + t.count("[") - t.count(")") - t.count("]")
            if kinds[j] and depth <= 0 and re.search(r"[.;:]$", t) and t not in ("...", ".."):
                break                                        # a sentence or clause ends here
            j += 1
        _emit("".join(tokens[i:last + 1]), out)
        i = last + 1
    return _merge(out)


def _is_math(run):
    kinds = {_kind(t) for t in run.split()}
    return "strong" in kinds or "letter" in kinds


def _emit(run, out):
    """A run of math-like words: its formula as ("math", tex); punctuation at its ends and any
    unmatched bracket stay text, and split it."""
    lead, body, tail = _trim(run)
    if lead:
        out.append(("text", lead))
    k = _unmatched(body)
    pieces = _equations(body) if k is None else [body]
    if len(pieces) > 1:                              # "g = γ·dy, s = (σ² + eps)": two formulas
        for n, piece in enumerate(pieces):
            _emit(piece, out)
            if n < len(pieces) - 1:
                out.append(("text", ", "))
    elif k is not None:
        _emit(body[:k], out)
        out.append(("text", body[k]))
        _emit(body[k + 1:], out)
    elif body and _is_math(body):
        out.append(("math", to_tex(body)))
    elif body:
        out.append(("text", body))
    if tail:
        out.append(("text", tail))


RELATION = re.compile(r"[=≤≥≈←→⇒<>]")


def _equations(body):
    """``body`` cut at the top-level commas that stand between two relations, so that a list of
    equations becomes one formula each (MathJax does not break a long formula across lines)."""
    cuts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0 and body[i + 1:i + 2] == " ":
            left, right = _top(body[start:i]), _top(body[i + 1:]).split(",")[0]
            if RELATION.search(left) and RELATION.search(right):
                cuts.append(i)
                start = i + 1
    if not cuts:
        return [body]
    bounds = [0] + [c + 1 for c in cuts] + [len(body) + 1]
    return [body[a:b - 1].strip() for a, b in zip(bounds, bounds[1:])]


def _top(s):
    """``s`` without its bracketed parts: what stands at depth 0."""
    out, depth = [], 0
    for ch in s:
        depth += ch in "([{"
        if depth == 0:
            out.append(ch)
        depth -= ch in ")]}"
    return "".join(out)


def _unmatched(s):
    """The index of the first bracket without its partner in ``s``, or None."""
    stack = []
    for i, ch in enumerate(s):
        if ch in "([":
            stack.append(i)
        elif ch in ")]":
            if not stack or s[stack[-1]] != "([" [")]".index(ch)]:
                return i
            stack.pop()
    return stack[0] if stack else None


def _trim(run):
    """Spaces and punctuation at a formula's ends stay text: (lead, body, tail)."""
    stripped = run.rstrip()
    tail = run[len(stripped):]
    while stripped and stripped[-1] in ",.;:" and not stripped.endswith("..."):
        tail, stripped = stripped[-1] + tail, stripped[:-1]
    body = stripped.lstrip()
    return stripped[:len(stripped) - len(body)], body, tail


def _merge(parts):
    out = []
    for kind, s in parts:
        if out and out[-1][0] == kind == "text":
            out[-1] = ("text", out[-1][1] + s)
        else:
            out.append((kind, s))
    return out


# --------------------------------------------------------------------------------- to rST
RST_SPECIAL = re.compile(r"([\\`*_|\[\]<>:])")


def rst_text(s: str) -> str:
    return RST_SPECIAL.sub(r"\\\1", s)


def rst_inline(line: str, link=None) -> str:
    """One line of prose as rST: math roles, literals (linked by ``link(name)`` when it knows
    the name), emphasis; everything else escaped."""
    parts = []
    for kind, s in segments(line):
        if kind == "text":
            parts.append(rst_text(s))
            continue
        if kind == "math":
            role = "\\ ".join(":math:`%s`" % t.replace("`", "'") for t in breakable(s))
        elif kind == "literal":
            target = link(s) if link else None
            role = f"`{_rst_link_text(s)} <{target}>`__" if target else "``%s``" % s
        elif kind == "em":
            role = "*%s*" % rst_text(s)
        else:
            role = "**%s**" % rst_text(s)
        parts.append(("\\ " if parts and not parts[-1][-1:].isspace() else "") + role + "\\ ")
    text = "".join(parts)
    return re.sub(r"\\ (?=\s|$)", "", text)


# A relation or binary operator that stands between spaces; inside brackets, also , ; :
BREAK_AFTER = re.compile(r" (\+=|-=|=|<|>|\+|-|/|\\(?:cdot|times|le|ge|ne|approx|leftarrow|to|"
                         r"Rightarrow|in|propto|pm|sim)) ")
BREAK_AFTER_INSIDE = re.compile(r"[,;:] ")


def breakable(tex: str, longer_than: int = 16) -> list:
    """A long formula as pieces that the browser may put on separate lines (MathJax 3 breaks
    none itself): cut after each relation or binary operator outside brackets, as TeX breaks a
    formula in a paragraph; a formula with no such cut, such as ``(μ = 0: p ← p)``, or a piece
    still half as long again, such as ``concat(a, b)``, is cut inside its outer brackets, after
    an operator or a comma. A cut never falls inside a TeX group ``{}``. Each piece but the
    last ends in ``{}``, so the operator keeps its spacing: side by side, the pieces look like
    the whole formula. ``longer_than`` counts the characters a reader sees (``\\sigma``: 1)."""
    if _seen(tex) <= longer_than:
        return [tex]
    pieces = _cut(tex, 0)
    if len(pieces) == 1:
        return _cut(tex, 1)
    return [q for p in pieces for q in (_cut(p, 1) if 2 * _seen(p) > 3 * longer_than else [p])]


def _seen(tex):
    """About how many characters ``tex`` shows: a command is one, braces and scripts none."""
    tex = re.sub(r"\\(operatorname|mathrm|text)\{", "{", tex)
    return len(re.sub(r"[{}_^ ]", "", re.sub(r"\\[A-Za-z]+", "x", tex)))


def _cut(tex, depth):
    """``tex`` cut after the operators (and, inside brackets, the commas) at bracket ``depth``."""
    ends, group, bracket = [], 0, 0
    for i, ch in enumerate(tex):
        group += (ch == "{") - (ch == "}")
        bracket += (ch in "([") - (ch in ")]")
        if group or bracket != depth:
            continue
        m = BREAK_AFTER.match(tex, i) or (BREAK_AFTER_INSIDE.match(tex, i) if depth else None)
        if m and tex[:i].strip() and tex[m.end():].strip() != "{}":
            ends.append(m.end())
    bounds = zip([0] + ends, ends + [len(tex)])
    return [tex[a:b].strip() + ("{}" if b < len(tex) else "") for a, b in bounds]


def _rst_link_text(s):
    return re.sub(r"([`<>\\])", r"\\\1", s)


SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Warns|Yields|Example|Examples|Attributes|"
                     r"Note|Notes|See also):\s*$")
BULLET = re.compile(r"^[-*] ")


def docstring_to_rst(doc: str, link=None) -> str:
    """A docstring or a comment block (plain text, as the sources write it) as rST."""
    lines = textwrap.dedent(_strip_first_indent(doc)).strip("\n").splitlines()
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        if SECTION.match(line.strip()):
            i = _section(lines, i, out, link)
            continue
        if indent > 0:
            j = _block_end(lines, i, indent)
            _indented_block([ln for ln in lines[i:j]], out, link)
            i = j
            continue
        if BULLET.match(line):
            i = _bullets(lines, i, out, link)
            continue
        if TABLE_RULE.match(line):                      # an rST table, written as one: kept
            i = _table(lines, i, out)
            continue
        j = i
        para = []
        while j < len(lines) and lines[j].strip() and _indent(lines[j]) == 0 \
                and not BULLET.match(lines[j]) and not SECTION.match(lines[j].strip()):
            para.append(lines[j].strip())
            j += 1
        text = " ".join(para)
        literal_next = text.endswith("::")
        if literal_next:
            text = text[:-1]
            para[-1] = para[-1][:-1]
        chunks = _formula_lines(para)
        if len(chunks) > 1:                             # lines of formulas keep their breaks
            out += ["| " + rst_inline(c, link) for c in chunks]
        else:
            out.append(rst_inline(text, link))
        out.append("")
        i = j
        if literal_next and i < len(lines):
            k = i
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k < len(lines) and _indent(lines[k]) > 0:
                j = _block_end(lines, k, _indent(lines[k]))
                _code(lines[k:j], out)
                i = j
    return "\n".join(out).rstrip() + "\n"


TABLE_RULE = re.compile(r"^=+( +=+)+\s*$")


def _table(lines, i, out):
    """Copy an rST simple table (three rule lines: top, under the header, bottom)."""
    rules = 0
    while i < len(lines) and rules < 3:
        rules += bool(TABLE_RULE.match(lines[i]))
        out.append(lines[i])
        i += 1
    out.append("")
    return i


def _formula_lines(para):
    """A paragraph's lines, joined except where a line that ends in a formula is followed by a
    line that starts with one: there the break is kept (two formulas, one per line)."""
    chunks = [para[0]]
    for line in para[1:]:
        before = [k for k, s in segments(chunks[-1]) if k != "text" or s.strip(" ,;.")]
        after = [k for k, s in segments(line) if k != "text" or s.strip()]
        if before and after and before[-1] == "math" and after[0] == "math":
            chunks.append(line)
        else:
            chunks[-1] += " " + line
    return chunks


def _strip_first_indent(doc):
    """Docstrings start right after the quotes: indent their first line like the rest."""
    lines = doc.expandtabs().splitlines()
    if len(lines) > 1:
        rest = [ln for ln in lines[1:] if ln.strip()]
        pad = min((_indent(ln) for ln in rest), default=0)
        lines[0] = " " * pad + lines[0].lstrip()
    return "\n".join(lines)


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _block_end(lines, i, indent):
    j = i
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) >= indent):
        j += 1
    while j > i and not lines[j - 1].strip():
        j -= 1
    return j


def _indented_block(block, out, link):
    text = textwrap.dedent("\n".join(block))
    if _is_python(text):
        _code(block, out)
    else:
        _formulas(textwrap.dedent("\n".join(block)).splitlines(), out, link)


def _is_python(text):
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return bool(tree.body) and any(isinstance(n, (ast.Call, ast.Import, ast.ImportFrom,
                                                  ast.FunctionDef, ast.For))
                                   for n in ast.walk(tree))


def _code(block, out):
    out.append(".. code-block:: python")
    out.append("")
    for ln in textwrap.dedent("\n".join(block)).splitlines():
        out.append("   " + ln if ln.strip() else "")
    out.append("")


def _formulas(block, out, link):
    """Indented lines of formulas: one line of math per line, the columns kept apart."""
    out.append(".. container:: lk-formulas")
    out.append("")
    for ln in block:
        if not ln.strip():
            continue
        pad = _indent(ln)
        cells = re.split(r"\s{3,}", ln.strip())
        rendered = "\u2003\u2003".join(rst_inline(c, link) for c in cells)
        out.append("   | " + "\u2002" * (pad // 2) + rendered)
    out.append("")


def _section(lines, i, out, link):
    """``Args:`` and friends: a rubric, then a definition list of ``name: text`` items."""
    title = lines[i].strip().rstrip(":")
    out.append(f".. rubric:: {title}")
    out.append("")
    i += 1
    if i >= len(lines) or not lines[i].strip():
        return i
    base = _indent(lines[i])
    if base == 0:
        return i
    j = _block_end(lines, i, base)
    items, current = [], None
    for ln in lines[i:j]:
        m = re.match(r"^([\w*, ()/]+?):\s+(.*)$", ln.strip())
        if _indent(ln) == base and m and title not in ("Returns", "Yields"):
            current = [m.group(1), [m.group(2)]]
            items.append(current)
        elif current is not None:
            current[1].append(ln.strip())
        else:
            items.append([None, [ln.strip()]])
            current = items[-1]
    for name, text in items:
        body = rst_inline(" ".join(t for t in text if t), link)
        if name is None:
            out.append(body)
            out.append("")
        else:
            out.append("``%s``" % name)
            out.append("   " + body)
    out.append("")
    return j


def _bullets(lines, i, out, link):
    while i < len(lines) and BULLET.match(lines[i]):
        item = [lines[i][2:].strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) >= 2:
            item.append(lines[i].strip())
            i += 1
        out.append("- " + rst_inline(" ".join(item), link))
    out.append("")
    return i
