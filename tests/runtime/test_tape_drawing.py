"""Pictures of the tape (runtime/drawing.py): what `out.grad_fn` recorded, with the values and
gradients the tape kept, in the compiler's style, so the two designs can be put side by side."""
import html
import math
import re
import shutil

import numpy as np
import pytest

import runtime as rt
from compiler import drawing, grad
from compiler import picture as pic
from runtime.drawing import picture

HAS_DOT = shutil.which("dot") is not None


def plain(label):
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label.strip('"')
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", inner)).split())


def coloured(label, colour):
    found = re.search(f'<font color="{colour}"[^>]*>(.*?)</font>', label or "")
    return html.unescape(found.group(1)) if found else None


def wires(made):
    """(tail text, head text, value, gradient) per wire, looking through fork points."""
    text = {nid: plain(attrs["label"]) for nid, attrs, _ in made.nodes}
    points = {nid for nid, attrs, _ in made.nodes if attrs.get("shape") == "point"}
    into = {head: (tail, attrs) for tail, head, attrs in made.edges if head in points}
    out = []
    for tail, head, attrs in made.edges:
        if head in points:
            continue
        label = attrs.get("label", "")
        if tail in points:
            tail, fork = into[tail]
            label = fork.get("label", "")
        out.append((text[tail], text[head], coloured(label, pic.VALUE),
                    coloured(label, pic.GRADIENT)))
    return out


def leaves(*values):
    return [rt.tensor(v, requires_grad=True) for v in values]


def seed_on_tape():
    x, y, z = leaves(-2.0, 5.0, -4.0)
    q = x + y
    f = q * z
    return (x, y, z), q, f


def test_seed_example_on_the_tape_carries_the_lectures_numbers():
    (x, y, z), _, f = seed_on_tape()
    f.backward(retain_graph=True)
    made = picture(f, {"x": x, "y": y, "z": z}, name="f")
    found = set(wires(made))
    assert ("x .grad = -4", "+ AddBackward", "-2", "-4") in found
    assert ("y .grad = -4", "+ AddBackward", "5", "-4") in found
    assert ("+ AddBackward", "* MulBackward", "3", "-4") in found   # q = 3 (saved by MulBackward)
    assert ("z .grad = 3", "* MulBackward", "-4", "3") in found
    assert ("* MulBackward", "f", "-12", "1") in found
    assert len(found) == 5
    assert made.note == ""


def test_the_two_designs_draw_the_same_numbers():
    (x, y, z), _, f = seed_on_tape()
    f.backward(retain_graph=True)
    tape = picture(f, {"x": x, "y": y, "z": z}, name="f")
    compiled = drawing.picture(grad(lambda x, y, z: (x + y) * z, wrt=(0, 1, 2))._sourcead,
                               (-2.0, 5.0, -4.0), {}, backward=True)
    numbers = lambda made: sorted((v, g) for *_, v, g in wires(made))  # noqa: E731
    assert numbers(tape) == numbers(compiled) == sorted(
        [("-2", "-4"), ("5", "-4"), ("3", "-4"), ("-4", "3"), ("-12", "1")])


def test_after_a_plain_backward_the_picture_says_what_was_freed():
    (x, y, z), _, f = seed_on_tape()
    f.backward()
    made = picture(f, {"x": x, "y": y, "z": z}, name="f")
    assert "retain_graph=True" in made.note
    found = set(wires(made))
    assert ("+ AddBackward", "* MulBackward", None, None) in found     # q: freed with the graph
    assert ("x .grad = -4", "+ AddBackward", "-2", "-4") in found      # leaves keep their .grad
    assert ("* MulBackward", "f", "-12", "1") in found


def test_retained_intermediate_shows_its_value_and_grad():
    x, y, z = leaves(-2.0, 5.0, -4.0)
    q = x + y
    q.retain_grad()
    f = q * z
    f.backward()
    found = set(wires(picture(f, {"x": x, "y": y, "z": z})))
    assert ("+ AddBackward", "* MulBackward", "3", "-4") in found


def test_replayed_gradients_match_backward_and_forks_sum():
    x, = leaves(3.0)
    out = x * x + x
    out.backward(retain_graph=True)
    made = picture(out, {"x": x})
    assert sum(a.get("shape") == "point" for _, a, _ in made.nodes) == 1
    assert {g for t, _, _, g in wires(made) if t.startswith("x")} == {"7"}   # 2x + 1
    assert float(x.grad) == 7.0


def test_loop_on_the_tape_is_unrolled_and_matches_the_compiled_gradient():
    def rnn(w, b, h):
        for _ in range(3):
            h = rt.tanh(w * h + b)
        return h

    w, b, h = leaves(0.5, 0.1, 1.0)
    out = rnn(w, b, h)
    out.backward(retain_graph=True)
    made = picture(out, {"w": w, "b": b, "h": h})
    assert sum("TanhBackward" in plain(a["label"]) for _, a, _ in made.nodes) == 3
    assert {g for t, _, _, g in wires(made) if t.startswith("h ")} == {pic.number(float(h.grad))}

    def compiled_rnn(w, b, h):
        for i in range(3):
            h = math.tanh(w * h + b)
        return h
    assert grad(compiled_rnn, wrt="h")(0.5, 0.1, 1.0) == pytest.approx(float(h.grad), rel=1e-15)


def test_arrays_and_values_only():
    W = rt.tensor(np.ones((64, 128)) * 0.5, requires_grad=True)
    s = np.sum(np.tanh(W @ np.ones(128)))
    made = picture(s, {"W": W}, backward=False)
    (_, _, value, gradient), = [w for w in wires(made) if w[0] == "W"]
    assert value == "f64[64,128] mean 0.5" and gradient is None


def test_refusals():
    with pytest.raises(TypeError, match="Tensor"):
        picture(3.0)
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        picture(rt.tensor(2.0) * 3.0)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` program is not installed "
                                        "(apt-get install graphviz); CI has it")
def test_renders_svg_for_real(tmp_path):
    pytest.importorskip("graphviz", reason="the graphviz Python package (the `draw` extra)")
    (x, y, z), _, f = seed_on_tape()
    f.backward(retain_graph=True)
    drawn = rt.draw(f, names={"x": x, "y": y, "z": z}, name="f")
    path = pic.save(drawn, tmp_path / "tape.svg")
    text = html.unescape(path.read_text())
    for number in ("-12", "-4", "3", "5", "-2"):
        assert f">{number}</text>" in text
    assert pic.save(drawn, tmp_path / "tape.png").read_bytes()[:4] == b"\x89PNG"
