"""What the pictures of both designs share: the seed lectures' style, DOT text, and rendering.

The lectures draw backprop as a circuit: each gate with the values flowing forward written above its
wires (green) and the gradients flowing back written below them (red). The compiler's picture
(drawing.py) and the tape's (runtime/drawing.py) are both built as a `Picture`: nodes, edges
carrying a value and a gradient, and clusters (a loop's body, a branch). A Picture writes its own
DOT text, so `g.dot()` needs nothing installed; `digraph()` hands that text to the `graphviz`
package (`pip install "sourcead[draw]"`), whose object renders itself in notebooks, and `save`
writes .svg, .png, .pdf (those need Graphviz's `dot` program) or .dot files.

Node and cluster ids are generated (`n0`, `cluster_1`), never taken from the user's names, so a
parameter called `n1` or `return` collides with nothing; every label is an HTML-like label with the
user's text escaped (quotes, backslashes, `<`, `>`, `&` all stand for themselves).
"""
from __future__ import annotations

import html
import itertools
import os

import numpy as np

VALUE = "#2e7d32"       # the forward values: green, above the wires
GRADIENT = "#c62828"    # the gradients: red, below them
MUTED = "#9e9e9e"       # what did not run (a branch not taken)
LOOP = "#1565c0"        # a loop's body
TAKEN = "#ef6c00"       # the branch that ran
FONT = "Helvetica"

INSTALL_PACKAGE = 'pip install "sourcead[draw]" (or pip install graphviz)'
INSTALL_PROGRAM = ("install Graphviz, which provides it: apt-get install graphviz (Debian, Ubuntu), "
                   "brew install graphviz (macOS), conda install -c conda-forge graphviz, or see "
                   "https://graphviz.org/download/")


class RenderError(RuntimeError):
    """A picture cannot be made into an image here (Graphviz's `dot` program is missing)."""


# --- text --------------------------------------------------------------------------------------

def text(s, colour=None, bold=False, small=False):
    """One escaped fragment of an HTML-like label."""
    out = html.escape(str(s), quote=True)
    if bold:
        out = f"<b>{out}</b>"
    if colour or small:
        attrs = (f' color="{colour}"' if colour else "") + (' point-size="10"' if small else "")
        out = f"<font{attrs}>{out}</font>"
    return out


def label(*lines):
    """An HTML-like label, one fragment (from `text`) a line; empty lines are left out."""
    kept = [line for line in lines if line]
    return "<" + "<br/>".join(kept) + ">" if kept else '""'


_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32",
          "bool": "bool", "complex128": "c128"}


def number(v):
    """A value as the lectures write it (3, -12, 0.2695); an array by its type and a summary,
    `f64[64,128] mean 0.02`, or its entries when there are four or fewer."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return number(v[()])
        kind = f"{_SHORT.get(str(v.dtype), str(v.dtype))}[{','.join(map(str, v.shape))}]"
        if 0 < v.size <= 4 and v.ndim == 1:
            return f"{kind} [{', '.join(number(x) for x in v)}]"
        if v.size and v.dtype.kind in "fiu":
            return f"{kind} mean {float(np.mean(v)):.3g}"
        return kind
    if v is None:
        return "None"
    if isinstance(v, (list, tuple)):
        return f"{type(v).__name__} of {len(v)}"
    if isinstance(v, complex):
        return f"{v:.4g}"
    return type(v).__name__


def sequence(values, elided=False, count=None):
    """The values a variable took, one per iteration: `0.537, 0.3527, 0.2695`, or the first two,
    an ellipsis and the last (`(100×)` after it) for longer runs; arrays by their last value."""
    count = count if count is not None else len(values)
    if not values:
        return ""
    if count == 1:
        return number(values[0])
    if any(isinstance(v, np.ndarray) and v.ndim for v in values):
        return f"last {number(values[-1])} ({count}×)"
    if count <= 3 and not elided:
        return ", ".join(number(v) for v in values)
    return f"{number(values[0])}, {number(values[1])}, …, {number(values[-1])} ({count}×)"


def output_shape(name):
    """The output's node: a double circle around a short name, a double box around a long one."""
    if len(name) <= 4:
        return {"shape": "doublecircle", "margin": "0.02"}
    return {"shape": "box", "style": "rounded", "peripheries": "2"}


# --- the picture ---------------------------------------------------------------------------------

class Picture:
    """Nodes, edges and nested clusters, with generated ids; written as DOT by `source()`."""

    def __init__(self, name, title=""):
        self.name = name
        self.title = title
        self.note = ""         # a line under the title (what the picture cannot show)
        self._ids = itertools.count()
        self.nodes = []        # (id, attrs, cluster id or None)
        self.edges = []        # (tail, head, attrs)
        self.clusters = {}     # id -> (attrs, parent id or None)

    def node(self, label_, cluster=None, **attrs):
        nid = f"n{next(self._ids)}"
        self.nodes.append((nid, {"label": label_, **attrs}, cluster))
        return nid

    def cluster(self, label_, parent=None, **attrs):
        cid = f"cluster_{next(self._ids)}"
        self.clusters[cid] = ({"label": label_, **attrs}, parent)
        return cid

    def edge(self, tail, head, value="", gradient="", **attrs):
        """A wire: `value` written above it in green, `gradient` below it in red."""
        if value or gradient:
            attrs["label"] = label(text(value, VALUE) if value else "",
                                   text(gradient, GRADIENT) if gradient else "")
        self.edges.append((tail, head, attrs))

    # -- DOT --

    def statements(self):
        """The DOT statements inside `digraph { ... }`, one a line."""
        legend = label(text(self.title, bold=True) if self.title else "",
                       text("values (green) above the wires, gradients (red) below", small=True),
                       text(self.note, MUTED, small=True) if self.note else "")
        lines = [f"\tgraph [rankdir=LR fontname={FONT} labelloc=t label={legend} nodesep=0.35 "
                 "ranksep=0.45]",
                 f"\tnode [fontname={FONT} fontsize=12]",
                 f"\tedge [fontname={FONT} fontsize=11 arrowsize=0.7]"]
        children = {}
        for cid, (_, parent) in self.clusters.items():
            children.setdefault(parent, []).append(cid)
        members = {}
        for nid, attrs, cluster in self.nodes:
            members.setdefault(cluster, []).append((nid, attrs))

        def block(cluster, depth):
            pad = "\t" * depth
            out = []
            for nid, attrs in members.get(cluster, ()):
                out.append(f"{pad}{nid} [{_attributes(attrs)}]")
            for cid in children.get(cluster, ()):
                out.append(f"{pad}subgraph {cid} {{")
                out.append(f"{pad}\tgraph [{_attributes(self.clusters[cid][0])}]")
                out.extend(block(cid, depth + 1))
                out.append(f"{pad}}}")
            return out

        lines += block(None, 1)
        lines += [f"\t{tail} -> {head}" + (f" [{_attributes(attrs)}]" if attrs else "")
                  for tail, head, attrs in self.edges]
        return lines

    def source(self):
        """The picture as DOT text (what `dot -Tsvg` reads)."""
        return f"digraph {_quote(self.name)} {{\n" + "\n".join(self.statements()) + "\n}\n"

    def digraph(self):
        """The picture as a `graphviz.Digraph` (renders itself in notebooks; `.source` is DOT)."""
        return drawing_class()(name=self.name, body=[s + "\n" for s in self.statements()])


def _quote(value):
    s = str(value)
    if s.startswith("<") and s.endswith(">"):
        return s  # an HTML-like label, escaped when made
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attributes(attrs):
    return " ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


# --- graphviz, rendering --------------------------------------------------------------------------

_CLASS = []


def graphviz_module():
    try:
        import graphviz  # noqa: PLC0415  (optional: the `draw` extra)
    except ImportError:
        raise ImportError(f"drawing needs the graphviz Python package: {INSTALL_PACKAGE}. "
                          "(g.dot() gives the DOT text without it.)") from None
    return graphviz


def drawing_class():
    """graphviz.Digraph, whose rendering says how to install Graphviz when `dot` is missing."""
    if _CLASS:
        return _CLASS[0]
    graphviz = graphviz_module()

    def guarded(method):
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise RenderError(f"rendering the picture needs Graphviz's `dot` program, which is "
                                  f"not on PATH: {INSTALL_PROGRAM}. The DOT text needs nothing: "
                                  "`.source`, or save it as a .dot file.") from None
        run.__name__ = method.__name__
        run.__doc__ = method.__doc__
        return run

    cls = type("Drawing", (graphviz.Digraph,), {
        "__doc__": "A picture of a gradient: a graphviz.Digraph (render, pipe, .source).",
        "pipe": guarded(graphviz.Digraph.pipe),
        "render": guarded(graphviz.Digraph.render),
        "view": guarded(graphviz.Digraph.view),
    })
    _CLASS.append(cls)
    return cls


FORMATS = ("svg", "png", "pdf", "dot", "gv")


def save(drawing, path):
    """Write a picture (a Picture or a graphviz.Digraph) to `path`, in the format its suffix names:
    .svg, .png, .pdf (rendered by Graphviz's `dot`), or .dot / .gv (the DOT text)."""
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: cannot tell the picture's format from its suffix: end the name "
                         f"with one of {', '.join('.' + f for f in FORMATS)}")
    if fmt in ("dot", "gv"):
        data = (drawing.source() if isinstance(drawing, Picture) else drawing.source).encode()
    else:
        if isinstance(drawing, Picture):
            drawing = drawing.digraph()
        data = drawing.pipe(format=fmt)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def svg_or_none(picture):
    """SVG text for a notebook, or None (the plain repr is shown) when Graphviz is missing."""
    try:
        return picture.digraph().pipe(format="svg").decode()
    except (ImportError, RenderError):
        return None
