"""The page that explains a gradient (compiler/explain.py, explain_page.py): its sections, the links
from generated lines to the user's, the seed example's numbers, the inputs that never reach the
output (by the graph's structure, not by the values), the picture's absence said in the page, the
command line; and, marked slow, the page opened in headless Chromium: its script runs, wires the
links, lights a line asked for in the address, and logs nothing to the console."""
import html.parser
import importlib.util
import inspect
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import compiler
from compiler.errors import GradError
from compiler.explain import gather, link_lines, reaches_output, unused_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = (-2.0, 5.0, -4.0)
RENDERS = shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None
HAS_SYMPY = importlib.util.find_spec("sympy") is not None
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "google-chrome-stable") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium to open the page in (apt-get install chromium); CI has it")


def seed(x, y, z):
    q = x + y
    return q * z


def leaves_some(x, y, n, w):
    if n > 0:
        return x * x
    return x + math.floor(w)


def untaken(x, u):
    s = x * x
    if s > 0:
        return s
    return s * u


def discarded_carry(x, a):
    s = 1.0
    t = 0.0
    for i in range(3):
        s = s * x
        t = t + a
    return s


def bounded(x, n):
    s = 0.0
    for i in range(int(n)):
        s = s + x
    return s


def square(v):
    return v * v


def calls_helper(x, y):
    a = square(x)
    return a * y


def layer(W, x, b):
    return np.sum(np.tanh(W @ x))


def root(x):
    return math.sqrt(x)


def log_near_one(x):
    return math.log(x - 1.0)


def by_keys(p):
    return p["a"] * p["b"]


def line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


class Page(html.parser.HTMLParser):
    """The page's elements with their attributes, the text of each element with an id, and
    the rows of its tables."""

    def __init__(self, text):
        super().__init__()
        self.elements = []      # (tag, attrs)
        self.text_of = {}       # id -> text inside
        self.rows = {}          # table's section id -> [[cell text]]
        self._open = []         # ids open, with their depth
        self._depth = 0
        self._section = None
        self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag in ("br", "meta", "img", "input", "link"):
            return
        self._depth += 1
        if attrs.get("id"):
            self._open.append((attrs["id"], self._depth))
            self.text_of[attrs["id"]] = ""
        if tag == "section":
            self._section = attrs.get("id")
        if tag == "tr":
            self._row = []
            self.rows.setdefault(self._section, []).append(self._row)
        if tag in ("td", "th") and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag in ("br", "meta", "img", "input", "link"):
            return
        if tag in ("tr", "table"):
            self._row = None
        while self._open and self._open[-1][1] >= self._depth:
            self._open.pop()
        self._depth -= 1

    def handle_data(self, data):
        for ident, _ in self._open:
            self.text_of[ident] += data
        if self._row is not None and self._row:
            self._row[-1] += data

    def with_attr(self, name, value=None):
        return [a for _, a in self.elements if name in a and (value is None or a[name] == value)]


@pytest.fixture(scope="module")
def seed_page():
    return compiler.explain(seed, *SEED)


# --- the page's content ------------------------------------------------------------------------------

def test_the_page_has_every_section_and_no_outside_resource(seed_page):
    page = Page(seed_page)
    ids = {a["id"] for a in page.with_attr("id")}
    assert {"code", "check", "unused", "picture", "formula", "ir", "timing"} <= ids
    assert {"user-code-0", "generated-code", "primal-ir", "gradient-ir"} <= ids
    # self-contained: no script, style or image is fetched, and no link leaves the page
    assert not page.with_attr("src")
    assert all(a["href"].startswith("#") for a in page.with_attr("href"))
    assert "<style>" in seed_page and "<script>" in seed_page
    assert 'data-ready="no"' in seed_page  # the script sets it to "yes" once the links are wired


def test_the_seed_examples_numbers_are_in_the_check_table(seed_page):
    rows = Page(seed_page).rows["check"]
    body = {r[0]: r for r in rows[1:]}
    assert [body[n][1] for n in "xyz"] == ["-4", "-4", "3"]
    assert all(float(body[n][2]) == pytest.approx(float(body[n][1]), abs=1e-6) for n in "xyz")
    assert [body[n][5] for n in "xyz"] == ["yes"] * 3
    assert "seed = -12" in seed_page and "dseed/dz = 3" in seed_page


def test_every_generated_block_links_to_the_users_line_it_comes_from(seed_page):
    page = Page(seed_page)
    generated = [a for tag, a in page.elements if "data-phase" in a]
    user = {a["data-key"]: a for a in page.with_attr("data-key") if "data-phase" not in a}
    assert generated, "no generated line is linked"
    for a in generated:
        assert a["data-key"] in user, a  # each link lands on a line of the user's
    q_line, return_line = line_of(seed, "q = x + y"), line_of(seed, "return q * z")
    assert set(user) == {f"0:{q_line}", f"0:{return_line}"}
    assert user[f"0:{q_line}"]["id"] == f"L0-{q_line}"
    # the generated code of `q = x + y` is linked to that line, and its marker links back there
    assert "q = x + y" in page.text_of[f"L0-{q_line}"]
    markers = [a for _, a in page.elements if a.get("href") == f"#L0-{q_line}"]
    assert markers
    # the function's `def` line made no code: it is shown, not linked
    assert f'id="L0-{q_line - 1}"' in seed_page and f"0:{q_line - 1}" not in user


def test_the_picture_formula_ir_and_timings_are_there(seed_page):
    page = Page(seed_page)
    if RENDERS:
        assert seed_page.count("<svg") == 1 and "q = x + y" in page.text_of["picture"]
    else:
        assert "Graphviz" in page.text_of["picture"]
    if HAS_SYMPY:
        assert "dseed/dz = x + y" in page.text_of["formula"]
    assert "add x y" in page.text_of["primal-ir"]
    assert "unbroadcast" in page.text_of["gradient-ir"] or "mul" in page.text_of["gradient-ir"]
    timing = page.rows["timing"]
    assert len(timing) == 5 and all(r[1].strip() for r in timing)
    assert "Every input reaches the output" in page.text_of["unused"]


def test_the_gradient_returned_is_read_out():
    ex = gather(seed, SEED, with_formula=False)
    assert ex.returns == [("seed", "t1"), ("dseed/dx", "z"), ("dseed/dy", "z"), ("dseed/dz", "q")]
    assert dict(ex.gradients) == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert ex.timing.decoration > 0 and ex.timing.gradient > 0 and ex.timing.primal > 0


# --- inputs that never reach the output ----------------------------------------------------------------

def test_inputs_with_no_path_and_with_no_gradient_path_are_listed():
    ex = gather(leaves_some, (1.0, 2.0, 3.0, 4.0), with_formula=False)
    assert {(u.name, u.why) for u in ex.unused} == {("y", "no path"), ("n", "no gradient path"),
                                                     ("w", "no gradient path")}
    page = Page(compiler.explain(leaves_some, 1.0, 2.0, 3.0, 4.0, with_formula=False))
    listed = {a["data-input"] for a in page.with_attr("data-input")}
    assert listed == {"y", "n", "w"}
    assert "branch" in page.text_of["formula"]  # the formula is skipped, saying why


def test_a_zero_gradient_by_the_values_is_not_listed():
    """u's gradient is 0 at x = 1 (its branch is not taken), but u reaches the output: not listed."""
    ex = gather(untaken, (1.0, 3.0), with_formula=False)
    assert dict(ex.gradients)["u"] == 0.0
    assert ex.unused == []


def test_the_walk_follows_loops_precisely():
    from compiler import value_and_grad
    compiled = value_and_grad(discarded_carry, wrt=(0, 1))._sourcead
    x, a = compiled.primal.params
    assert reaches_output(compiled.primal, x)
    assert not reaches_output(compiled.primal, a)  # carried into t, which is never returned
    assert [(u.name, u.why) for u in unused_inputs(compiled)] == [("a", "no path")]
    bounds = value_and_grad(bounded, wrt=(0, 1))._sourcead
    assert [(u.name, u.why) for u in unused_inputs(bounds)] == [("n", "no gradient path")]


def test_unused_array_inputs_and_a_typed_version():
    W, x, b = np.ones((2, 3)), np.ones(3), np.ones(2)
    ex = gather(layer, (W, x, b), with_formula=False)
    assert [(u.name, u.why) for u in ex.unused] == [("b", "no path")]
    assert "f64[2,3]" in ex.gradient_ir and "float64[2, 3]" in ex.signature
    assert ex.formula is None and "arrays" in ex.formula_note


# --- linking -------------------------------------------------------------------------------------------

def test_link_lines_follows_blocks_by_indentation():
    source = "\n".join([
        "def make_f(np):",
        "",
        "    def f_grad(x):",
        "        # line 3: s = x * x",
        "        s = x * x",
        "        # line 4: if s > 0:",
        "        t = s > 0",
        "        if t:",
        "            r = s",
        "        else:",
        "            # helper, line 9: return v",
        "            r = 0.0",
        "        # gradient of line 3: s = x * x",
        "        dx = 2.0 * x",
        "        return r, dx",
        "    return f_grad",
    ])
    lines = link_lines(source, "f")
    key = {line.text.strip(): (line.key, line.phase) for line in lines}
    assert key["s = x * x"] == (("f", 3), "forward")
    assert key["if t:"] == (("f", 4), "forward") and key["r = s"] == (("f", 4), "forward")
    assert key["else:"] == (("f", 4), "forward")
    assert key["r = 0.0"] == (("helper", 9), "forward")
    assert key["dx = 2.0 * x"] == (("f", 3), "gradient")
    assert key["return r, dx"] == (None, None) and key["return f_grad"] == (None, None)
    assert key["def f_grad(x):"] == (None, None)
    assert [line.marker for line in lines].count(True) == 4


def test_a_helper_the_function_calls_is_shown_and_linked():
    ex = gather(calls_helper, (2.0, 3.0), with_formula=False)
    assert [s.name for s in ex.sources] == ["calls_helper", "square"]
    assert ("square", line_of(square, "return v * v")) in ex.keys()
    page = Page(compiler.explain(calls_helper, 2.0, 3.0, with_formula=False))
    assert f"1:{line_of(square, 'return v * v')}" in {a["data-key"] for a in
                                                       page.with_attr("data-phase")}


# --- what the page says instead of failing --------------------------------------------------------------

def test_without_graphviz_the_page_says_so(monkeypatch):
    monkeypatch.setenv("PATH", "")  # no `dot` program
    page = compiler.explain(seed, *SEED, with_formula=False)
    assert "<svg" not in page
    assert "Graphviz" in Page(page).text_of["picture"]


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(GradError, match="no float argument"):
        compiler.explain(seed, 1, 2, 3)
    with pytest.raises(GradError, match="containers"):
        compiler.explain(by_keys, {"a": 1.0, "b": 2.0})
    with pytest.raises(GradError, match="containers"):
        compiler.explain(by_keys, {"a": 1.0, "b": 2.0}, wrt="p")
    with pytest.raises(GradError, match="not int"):
        compiler.explain(3, 1.0)


def test_a_gradient_undefined_at_the_point_is_said_at_the_users_function():
    with pytest.raises(GradError, match=r"(?s)line \d+, in root.*ZeroDivisionError.*another point"):
        compiler.explain(root, 0.0)


def test_a_check_that_cannot_run_is_said_in_the_page():
    text = compiler.explain(log_near_one, 1.0 + 1e-10, with_formula=False)
    check = Page(text).text_of["check"]
    assert "could not run" in check and "ValueError" in check
    assert "not checked" in text.split("</header>")[0]


def test_a_decorated_function_and_a_path(tmp_path):
    f = compiler.grad(seed, wrt=("x", "z"))
    out = tmp_path / "f.html"
    text = compiler.explain(f, *SEED, path=out, with_formula=False)
    assert out.read_text(encoding="utf-8") == text
    assert [r[0] for r in Page(text).rows["check"][1:]] == ["x", "z"]
    assert [(u.name, u.differentiated) for u in gather(f, SEED, with_formula=False).unused] == []


# --- the command line ----------------------------------------------------------------------------------

def test_the_command_writes_the_page(tmp_path):
    """As a user runs it: in a process of its own."""
    (tmp_path / "model.py").write_text("def f(x, y, z):\n    q = x + y\n    return q * z\n")
    env = {k: v for k, v in os.environ.items() if k != "SOURCEAD_DEBUG"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "compiler", "explain", "model.py:f", "--args",
                           "-2", "5", "-4", "--no-formula", "-o", "page.html"], cwd=tmp_path,
                          env=env, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote page.html"
    page = Page((tmp_path / "page.html").read_text(encoding="utf-8"))
    assert [r[1] for r in page.rows["check"][1:]] == ["-4", "-4", "3"]
    assert "--no-formula" in page.text_of["formula"]


def test_the_command_refuses_what_does_not_fit(tmp_path, capsys):
    from compiler.__main__ import main
    model = tmp_path / "model.py"
    model.write_text("def f(x, y, z):\n    q = x + y\n    return q * z\n")
    assert main(["explain", f"{model}:f", "--args", "1", "2", "3", "-o",
                 str(tmp_path / "missing" / "page.html")], prog="sourcead") == 2
    err = capsys.readouterr().err
    assert "no folder" in err and "Traceback" not in err
    assert main(["explain", f"{model}:f", "--args", "1", "-o", str(tmp_path / "p.html")],
                prog="sourcead") == 2
    assert "takes 3 argument(s)" in capsys.readouterr().err
    assert main(["explain", f"{model}:f", "--args", "1", "2", "3", "-o", str(tmp_path)],
                prog="sourcead") == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "p.html").exists()


# --- in a browser (slow) ---------------------------------------------------------------------------------

def open_in_chromium(path, tmp_path, fragment=""):
    """(the DOM after the page's scripts ran, the console lines Chromium logged)."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", path.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return done.stdout, console


@pytest.mark.slow
@needs_chromium
def test_chromium_runs_the_page_without_a_console_message(tmp_path):
    path = tmp_path / "seed.html"
    compiler.explain(seed, *SEED, path=path)
    dom, console = open_in_chromium(path, tmp_path)
    assert console == []
    body = next(a for tag, a in Page(dom).elements if tag == "body")
    assert body["data-ready"] == "yes" and "data-errors" not in body
    assert int(body["data-links"]) == 2  # the two lines of seed that make code
    if RENDERS:
        assert "<svg" in dom and "</svg>" in dom
    assert dom.count('data-phase="forward"') >= 4


@pytest.mark.slow
@needs_chromium
def test_chromium_lights_the_line_the_address_asks_for(tmp_path):
    path = tmp_path / "seed.html"
    compiler.explain(seed, *SEED, path=path, with_formula=False)
    q_line = line_of(seed, "q = x + y")
    dom, console = open_in_chromium(path, tmp_path, f"#line-0:{q_line}")
    assert console == []
    page = Page(dom)
    body = next(a for tag, a in page.elements if tag == "body")
    assert body["data-pinned"] == f"0:{q_line}"
    lit = [a for _, a in page.elements if "pin" in a.get("class", "").split()]
    assert {a["data-key"] for a in lit} == {f"0:{q_line}"}
    assert any(a.get("id") == f"L0-{q_line}" for a in lit)  # the user's line
    assert any("data-phase" in a for a in lit)               # and its generated block


@pytest.mark.slow
@needs_chromium
def test_the_browser_check_catches_a_broken_script(tmp_path):
    """The checks above can fail: a page whose script throws is caught by them."""
    page = compiler.explain(seed, *SEED, with_formula=False)
    broken = page.replace('"use strict";', '"use strict"; no_such_function();', 1)
    assert broken != page
    path = tmp_path / "broken.html"
    path.write_text(broken, encoding="utf-8")
    dom, console = open_in_chromium(path, tmp_path)
    assert any("no_such_function" in line for line in console)
    assert 'data-ready="yes"' not in dom
