"""Pictures of a compiled gradient (compiler/drawing.py): the seed lecture's circuit with its numbers,
loops and branches as clusters, ids that never collide with the user's names, escaped labels, the
gradients in the picture exactly those the function returns, and real SVG/PNG files when Graphviz's
`dot` program is installed (CI installs it)."""
import html
import importlib.util
import math
import re
import shutil
import sys

import numpy as np
import pytest

from compiler import grad, value_and_grad
from compiler import drawing
from compiler import picture as pic
from compiler.__main__ import main
from compiler.errors import GradError
from compiler.interpret import run

HAS_DOT = shutil.which("dot") is not None
RENDERS = HAS_DOT and importlib.util.find_spec("graphviz") is not None  # the program and package
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` program is not installed "
                                                   "(apt-get install graphviz); CI has it")


def seed(x, y, z):
    q = x + y
    return q * z


def rnn(w, b, h):
    for i in range(3):
        h = math.tanh(w * h + b)
    return h


def branchy(x, y):
    if x > 0:
        z = x * y
    else:
        z = x + y
    return z * 2.0


def shadows(eq0, n1, cluster_0, n0):
    return eq0 * n1 + cluster_0 * n0


def layer(W, x):
    return np.sum(np.tanh(W @ x))


def contraction(A, x):
    return np.sum(np.einsum("ij,j->i", A, x))


def halving(x):
    while x > 1.0:
        x = x * 0.5
    return x


def nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(2):
            s = s + x * i * j
        if s > 1.0:
            s = s * 0.5
    return s


def dead_division(x, y):
    unused = y / x
    return math.atan(y)


def forks(x):
    return x * x + x


# --- reading a picture --------------------------------------------------------------------------

def plain(label):
    """A label's text: tags dropped, entities read, lines joined by spaces."""
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label.strip('"')
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", inner)).split())


def coloured(label, colour):
    found = re.search(f'<font color="{colour}"[^>]*>(.*?)</font>', label or "")
    return html.unescape(found.group(1)) if found else None


def wires(picture):
    """(tail text, head text, value, gradient) per wire, forks looked through: a fork's incoming
    wire carries the numbers, each outgoing wire gets them too."""
    text = {nid: plain(attrs["label"]) for nid, attrs, _ in picture.nodes}
    points = {nid for nid, attrs, _ in picture.nodes if attrs.get("shape") == "point"}
    into = {head: (tail, attrs) for tail, head, attrs in picture.edges if head in points}
    out = []
    for tail, head, attrs in picture.edges:
        if head in points:
            continue
        label = attrs.get("label", "")
        if tail in points:
            tail, fork = into[tail]
            label = fork.get("label", "")
        out.append((text[tail], text[head], coloured(label, pic.VALUE),
                    coloured(label, pic.GRADIENT)))
    return out


def svg_text(svg):
    """SVG as text with Graphviz's character references read (it writes `-` as `&#45;`)."""
    return html.unescape(svg.decode() if isinstance(svg, bytes) else svg)


def node_texts(picture):
    return [plain(attrs["label"]) for _, attrs, _ in picture.nodes]


# --- the seed lecture ---------------------------------------------------------------------------

def test_seed_example_carries_the_lectures_numbers():
    g = grad(seed, wrt=("x", "y", "z"))
    made = drawing.picture(g._sourcead, (-2.0, 5.0, -4.0), {}, backward=True)
    found = set(wires(made))
    assert ("x", "q = x + y", "-2", "-4") in found
    assert ("y", "q = x + y", "5", "-4") in found
    assert ("q = x + y", "*", "3", "-4") in found     # q = 3 flowing forward, -4 flowing back
    assert ("z", "*", "-4", "3") in found
    assert ("*", "seed", "-12", "1") in found         # f = -12, its own gradient 1
    assert len(found) == 5
    assert "df/dx" not in made.title and "dseed/dx = -4" in made.title


def test_values_only_without_backward_and_structure_without_arguments():
    g = grad(seed, wrt=("x", "y", "z"))
    values = drawing.picture(g._sourcead, (-2.0, 5.0, -4.0))
    assert all(gr is None for *_, gr in wires(values))
    assert {v for *_, v, _ in wires(values)} == {"-2", "5", "3", "-4", "-12"}
    bare = drawing.picture(g._sourcead)
    assert all(v is None and gr is None for *_, v, gr in wires(bare))
    assert sorted(node_texts(bare)) == sorted(["x", "y", "z", "q = x + y", "*", "seed"])
    with pytest.raises(TypeError, match="needs the arguments"):
        g.draw(backward=True)


def test_gradients_in_the_picture_are_what_the_function_returns():
    for fn, args in ((seed, (-2.0, 5.0, -4.0)), (rnn, (0.5, 0.1, 1.0)), (branchy, (1.5, -2.0)),
                     (branchy, (-1.5, 2.0)), (halving, (7.0,)), (forks, (3.0,))):
        g = value_and_grad(fn, wrt=tuple(range(fn.__code__.co_argcount)))
        compiled = g._sourcead
        value, expected = g(*args)
        returned = drawing._returned(compiled, compiled.arguments(args, {}))
        assert returned == expected
        walked, trace = run(compiled.grad_graph, compiled.arguments(args, {}))
        assert walked[1:] == pytest.approx(list(expected), rel=1e-12)  # the same graph, walked
        adjoints = drawing._adjoints(compiled, returned, trace)
        for i, want in zip(compiled.wrt, expected):
            (shown,), _, _ = adjoints[compiled.primal.params[i]]
            assert shown == want, (fn.__name__, i)
        made = drawing.picture(compiled, args, {}, backward=True)
        for name, want in zip(compiled.names, expected):
            assert {gr for tail, _, _, gr in wires(made) if tail == name} == {pic.number(want)}


def test_array_values_show_shape_and_summary():
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(64, 128)), rng.normal(size=128)
    g = grad(layer, wrt=("W", "x"))
    made = drawing.picture(g._sourcead, (W, x), {}, backward=True)
    (_, _, value, gradient), = [w for w in wires(made) if w[0] == "W"]
    assert value == f"f64[64,128] mean {W.mean():.3g}"
    assert gradient == f"f64[64,128] mean {g(W, x)[0].mean():.3g}"
    assert "f64[128]" in " ".join(v for *_, v, _ in wires(made) if v)


# --- control flow -------------------------------------------------------------------------------

def test_loop_is_a_cluster_drawn_once_with_its_trip_count_and_its_reads_connected():
    g = grad(rnn, wrt=("w", "b", "h"))
    made = drawing.picture(g._sourcead, (0.5, 0.1, 1.0), {}, backward=True)
    (loop, (attrs, _)), = made.clusters.items()
    assert "for i in range(3)" in plain(attrs["label"]) and "3 iterations" in plain(attrs["label"])
    inside = {nid: plain(a["label"]) for nid, a, c in made.nodes if c == loop}
    assert sum(t.startswith("h = tanh") for t in inside.values()) == 1   # the body, once
    heads = {head for tail, head, _ in made.edges}
    tails = {tail for tail, head, _ in made.edges}
    params = {plain(a["label"]): nid for nid, a, c in made.nodes if c is None}
    for name in ("w", "b"):  # read inside the loop: wired from outside into it
        assert any(t == params[name] and h in inside for t, h, _ in made.edges)
    assert all(nid in heads or nid in tails for nid in inside)
    # the carried h, per iteration: its values forwards, its gradients backwards in the same order
    carried = [w for w in wires(made) if w[0].startswith("h carried")]
    assert ("h carried", "*", "1, 0.537, 0.3527", "0.07222, 0.203, 0.4637") in carried
    assert ("h", "h carried", "1", pic.number(g(0.5, 0.1, 1.0)[2])) in wires(made)


def test_branches_are_clusters_with_the_taken_one_highlighted():
    g = grad(branchy, wrt=("x", "y"))
    for args, taken, skipped in (((1.5, -2.0), "then", "else"), ((-1.5, 2.0), "else", "then")):
        made = drawing.picture(g._sourcead, args, {}, backward=True)
        labels = {plain(a["label"]): a for a, _ in made.clusters.values()}
        assert "if x > 0" in labels
        assert labels[f"{taken} (taken)"]["color"] == pic.TAKEN
        assert "dashed" in labels[f"{skipped} (not taken)"]["style"]
        # both branches read x and y from outside: wired in, the skipped one greyed
        for name in ("x", "y"):
            reached = {h for t, h, *_ in wires(made) if t == name}
            assert {"z = x * y", "z = x + y"} <= reached
        made_values = {(t, h): v for t, h, v, _ in wires(made)}
        assert made_values[("z = x * y" if taken == "then" else "z = x + y", "z")] is not None
        assert made_values[("z = x + y" if taken == "then" else "z = x * y", "z")] is None


def test_while_loop_and_every_node_wired():
    g = grad(halving)
    made = drawing.picture(g._sourcead, (7.0,), {}, backward=True)
    (attrs, _), = [c for c in made.clusters.values() if "while" in plain(c[0]["label"])]
    assert "3 iterations" in plain(attrs["label"])
    ends = {t for t, _, _ in made.edges} | {h for _, h, _ in made.edges}
    assert all(nid in ends for nid, _, _ in made.nodes)


def test_nested_regions_count_their_runs_and_wire_the_bounds_they_read():
    g = grad(nested, wrt="x")
    made = drawing.picture(g._sourcead, (0.7, 4), {}, backward=True)
    labels = [plain(a["label"]) for a, _ in made.clusters.values()]
    assert "for i in range(n) 4 iterations" in labels
    assert "for j in range(2) 2 iterations, each of 4 runs" in labels
    assert "then (taken 2 of 4 times)" in labels
    assert ("n", "i", "4", None) in wires(made)      # range(n) reads n: wired to the loop
    ends = {t for t, _, _ in made.edges} | {h for _, h, _ in made.edges}
    assert all(nid in ends for nid, _, _ in made.nodes)


def test_a_value_read_twice_forks_and_its_wire_carries_the_summed_gradient():
    g = grad(forks)
    made = drawing.picture(g._sourcead, (3.0,), {}, backward=True)
    assert sum(a.get("shape") == "point" for _, a, _ in made.nodes) == 1
    assert {gr for t, _, _, gr in wires(made) if t == "x"} == {"7"}    # 2x + 1 at 3


def test_a_value_that_raises_at_these_arguments_is_reported_at_its_line():
    g = grad(dead_division, wrt=("x", "y"))
    assert g(0.0, 1.0) == (0.0, 0.5)       # the gradient never computes the unused quotient
    with pytest.raises(GradError, match=r"(?s)line \d+, in dead_division.*unused = y / x.*"
                                        r"run as written, raises ZeroDivisionError"):
        g.draw(0.0, 1.0)


# --- ids and escaping ---------------------------------------------------------------------------

def test_user_names_never_collide_with_node_ids():
    g = grad(shadows, wrt=(0, 1, 2, 3))
    made = drawing.picture(g._sourcead, (1.0, 2.0, 3.0, 4.0), {}, backward=True)
    ids = [nid for nid, _, _ in made.nodes]
    assert len(ids) == len(set(ids))
    names = {plain(a["label"]): nid for nid, a, _ in made.nodes}
    for name, other in (("eq0", "n1"), ("cluster_0", "n0")):  # each multiplies the other
        assert (name, "*", None, None) not in wires(made)
        assert {h for t, h, *_ in wires(made) if t == name} == \
            {h for t, h, *_ in wires(made) if t == other}
        assert names[name] != name
    if RENDERS:  # Graphviz draws every node apart: none merged with another by its id
        svg = made.digraph().pipe(format="svg").decode()
        assert svg.count('class="node"') == len(ids)


def test_labels_are_escaped():
    assert pic.text('a"b\\c<d>&e') == "a&quot;b\\c&lt;d&gt;&amp;e"
    g = grad(contraction, wrt="A")
    made = drawing.picture(g._sourcead)
    source = made.source()
    assert "einsum(subscripts=&#x27;ij,j-&gt;i&#x27;)" in source
    assert "ij,j->i" not in source
    if RENDERS:
        assert "einsum(subscripts='ij,j->i')" in svg_text(made.digraph().pipe(format="svg"))


# --- the package and the program ----------------------------------------------------------------

def test_dot_text_needs_no_package_and_draw_says_how_to_install_it(monkeypatch):
    g = grad(seed, wrt=("x", "y", "z"))
    monkeypatch.setitem(sys.modules, "graphviz", None)   # import graphviz fails
    monkeypatch.setattr(pic, "_CLASS", [])
    text = g.dot(-2.0, 5.0, -4.0, backward=True)
    assert text.startswith('digraph "seed" {') and "-12" in text
    assert g.dot().startswith('digraph "seed" {')
    with pytest.raises(ImportError, match=re.escape('pip install "sourcead[draw]"')):
        g.draw(-2.0, 5.0, -4.0)
    assert g._repr_svg_() is None   # a notebook falls back to the plain repr


def test_rendering_without_dot_says_how_to_install_it(monkeypatch, tmp_path):
    pytest.importorskip("graphviz", reason="the graphviz Python package (the `draw` extra)")
    g = grad(seed, wrt=("x", "y", "z"))
    drawn = g.draw(-2.0, 5.0, -4.0, backward=True)
    monkeypatch.setenv("PATH", str(tmp_path))            # no `dot` on it
    with pytest.raises(pic.RenderError, match="apt-get install graphviz"):
        drawn.pipe(format="svg")
    with pytest.raises(pic.RenderError, match="brew install graphviz"):
        pic.save(drawn, tmp_path / "seed.png")
    pic.save(drawn, tmp_path / "seed.dot")               # DOT text still works
    assert (tmp_path / "seed.dot").read_text() == drawn.source
    with pytest.raises(ValueError, match="suffix"):
        pic.save(drawn, tmp_path / "seed.jpeg")


@needs_dot
def test_renders_svg_and_png_for_real(tmp_path):
    pytest.importorskip("graphviz", reason="the graphviz Python package (the `draw` extra)")
    for fn, args in ((seed, (-2.0, 5.0, -4.0)), (rnn, (0.5, 0.1, 1.0)), (branchy, (1.0, 2.0))):
        drawn = grad(fn, wrt=tuple(range(len(args)))).draw(*args, backward=True)
        svg = pic.save(drawn, tmp_path / f"{fn.__name__}.svg")
        png = pic.save(drawn, tmp_path / f"{fn.__name__}.png")
        assert b"<svg" in svg.read_bytes()
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg_text((tmp_path / "seed.svg").read_bytes())
    for number in ("-12", "-4", "3", "5", "-2"):
        assert f">{number}</text>" in text


@needs_dot
def test_notebook_display_shows_the_last_drawing_or_the_graph():
    pytest.importorskip("graphviz", reason="the graphviz Python package (the `draw` extra)")
    g = grad(seed, wrt=("x", "y", "z"))
    assert "q = x + y" in g._repr_svg_() and ">-12</text>" not in svg_text(g._repr_svg_())
    drawn = g.draw(-2.0, 5.0, -4.0, backward=True)
    assert ">-12</text>" in svg_text(g._repr_svg_())
    assert "image/svg+xml" in drawn._repr_mimebundle_()


# --- the command line ---------------------------------------------------------------------------

SEED_FILE = '''\
import math


def f(x, y, z):
    q = x + y
    return q * z


def rnn(w, b, h):
    for i in range(3):
        h = math.tanh(w * h + b)
    return h
'''


def test_cli_graph_writes_pictures_and_dot_text(tmp_path, capsys, monkeypatch):
    (tmp_path / "seed.py").write_text(SEED_FILE)
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "seed.py:f", "--args", "-2", "5", "-4", "--backward",
                 "-o", "f.dot"], prog="sourcead") == 0
    text = (tmp_path / "f.dot").read_text()
    assert "q = x + y" in text and ">-12<" in text
    assert main(["graph", "seed.py:f", "--args", "-2", "5", "-4", "--backward", "--tape"],
                prog="sourcead") == 0
    out = capsys.readouterr().out
    assert "MulBackward" in out and ">3<" in out and ">-12<" in out
    assert main(["graph", "seed.py:rnn", "--args", "0.5", "0.1", "1", "--wrt", "w,b"],
                prog="sourcead") == 0
    assert "3 iterations" in capsys.readouterr().out
    if RENDERS:
        assert main(["graph", "seed.py:f", "--args", "-2", "5", "-4", "--backward",
                     "-o", "f.svg"], prog="sourcead") == 0
        assert b"<svg" in (tmp_path / "f.svg").read_bytes()


def test_cli_graph_errors(tmp_path, capsys, monkeypatch):
    (tmp_path / "seed.py").write_text(SEED_FILE)
    monkeypatch.chdir(tmp_path)
    cases = [(["seed.py:f", "--args", "1", "2"], 2, "takes 3 argument(s)"),
             (["seed.py:g", "--args", "1"], 2, "has no function `g`"),
             (["nofile.py:f", "--args", "1"], 2, "no such file"),
             (["seed.py:f", "--args", "1", "2", "3", "-o", "f.jpeg"], 2, ".svg, .png"),
             (["seed.py:f", "--args", "1", "2", "3", "--wrt", "w"], 2, "no parameter 'w'")]
    for argv, status, message in cases:
        assert main(["graph", *argv], prog="sourcead") == status
        err = capsys.readouterr().err
        assert err.startswith("sourcead graph: error:") and message in err, err
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot`: rendering says how to install it
    pytest.importorskip("graphviz")
    assert main(["graph", "seed.py:f", "--args", "1", "2", "3", "-o", "f.png"],
                prog="sourcead") == 1
    assert "apt-get install graphviz" in capsys.readouterr().err
