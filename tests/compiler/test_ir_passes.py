"""The IR: verifier, printer, and optimisation passes checked against a reference evaluator.

The reference evaluator (reference_eval.py) applies each primitive's `impl` equation by equation; it
shares nothing with the emitter or the loader. Passes must not change what a graph computes: the
optimised gradient graph evaluates to exactly the unoptimised one's values, and both to what the
generated Python code returns.
"""
import inspect
import math

import pytest

import corpus_funcs as C
import golden_funcs as G
from compiler import grad, value_and_grad
from compiler.ir import Builder, Const, Eqn, Graph, IRError, Var, regions, verify
from compiler.passes import eliminate_dead_code, optimize, simplify
from compiler.primitives import PRIMS
from compiler.reverse import reverse
from reference_eval import evaluate
from runtime.gradcheck import numerical_grad
from test_corpus import CORPUS, CORPUS_KNOWN_BUGS

ALL = [pytest.param(fn, pts, id=fn.__name__)
       for fn, pts in CORPUS + [(f, p) for f, p, _ in CORPUS_KNOWN_BUGS]]


def _nargs(pts):
    return len(pts[0])


def _full(fn, point):
    """The point with the function's defaults filled in: a graph takes every parameter."""
    bound = inspect.signature(fn).bind(*point)
    bound.apply_defaults()
    return list(bound.arguments.values())


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# --- the verifier -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, pts", ALL)
def test_verify_accepts_lowered_and_differentiated_graphs(fn, pts):
    n = _nargs(pts)
    f = value_and_grad(fn, wrt=tuple(range(n)))
    assert verify(f.graph)
    assert verify(f.grad_graph)
    assert verify(reverse(f.graph, list(range(n)), with_value=True))
    assert verify(optimize(f.graph))


def _xy():
    return Var("x"), Var("y")


def test_verify_accepts_a_hand_built_graph():
    x, y = _xy()
    q, out = Var("q"), Var("out")
    g = Graph("ok", [x, y], [Eqn("add", [x, y], [q]), Eqn("mul", [q, Const(2.0)], [out])], [out])
    assert verify(g)


def test_verify_rejects_use_before_definition():
    x, y = _xy()
    q, out = Var("q"), Var("out")
    g = Graph("bad", [x, y], [Eqn("mul", [q, y], [out]), Eqn("add", [x, y], [q])], [out])
    with pytest.raises(IRError, match="before it is defined"):
        verify(g)


def test_verify_rejects_a_variable_defined_twice():
    x, y = _xy()
    q = Var("q")
    g = Graph("bad", [x, y], [Eqn("add", [x, y], [q]), Eqn("mul", [x, y], [q])], [q])
    with pytest.raises(IRError, match="defined twice"):
        verify(g)


def test_verify_rejects_an_equation_redefining_a_parameter():
    x, y = _xy()
    g = Graph("bad", [x, y], [Eqn("add", [x, y], [x])], [x])
    with pytest.raises(IRError, match="defined twice"):
        verify(g)


def test_verify_rejects_a_parameter_listed_twice():
    x, _ = _xy()
    g = Graph("bad", [x, x], [], [x])
    with pytest.raises(IRError, match="defined twice"):
        verify(g)


def test_verify_rejects_an_undefined_result():
    x, y = _xy()
    g = Graph("bad", [x, y], [], [Var("nowhere")])
    with pytest.raises(IRError, match="result"):
        verify(g)


def test_verify_rejects_a_non_atom_input():
    x, y = _xy()
    out = Var("out")
    g = Graph("bad", [x, y], [Eqn("add", [x, 2.0], [out])], [out])
    with pytest.raises(IRError, match="non-atom"):
        verify(g)


def test_verify_rejects_a_region_reading_an_undefined_value():
    x, c, out, inner = Var("x"), Var("c"), Var("out"), Var("inner")
    then = Graph("then", [], [Eqn("mul", [Var("ghost"), x], [inner])], [inner])
    orelse = Graph("else", [], [], [x])
    g = Graph("bad", [x], [Eqn("gt", [x, Const(0.0)], [c]),
                           Eqn("cond", [c], [out], {"then": then, "else": orelse})], [out])
    with pytest.raises(IRError, match="before it is defined"):
        verify(g)


def test_ir_error_is_an_internal_error_not_a_grad_error():
    from compiler import GradError
    assert not issubclass(IRError, GradError)


# --- the printer --------------------------------------------------------------------------------------

SEED_IR = """\
seed(x, y, z):
  q = add x y
  t1 = mul q z
  return t1"""

LOG_SQUARE_IR = """\
log_square(x):
  t1 = pow x 2
  t2 = log t1 lib='math'
  t3 = add t2 1
  return t3"""


def test_printer_seed_function():
    assert str(grad(G.seed, wrt=(0, 1, 2)).graph) == SEED_IR


def test_printer_shows_constants_and_library():
    assert str(grad(G.log_square).graph) == LOG_SQUARE_IR


def test_printer_fork_names_the_shared_value_once():
    text = str(grad(G.fork, wrt=(0, 1)).graph)
    assert text.splitlines()[0] == "fork(x, y):"
    assert "  a = mul x y" in text and "  b = mul a a" in text
    assert text.count("a = ") == 1


def test_printer_is_deterministic_and_independent_of_variable_ids():
    first = str(grad(G.fork, wrt=0).graph)
    Var("burn some ids"), Var(), Var()
    assert str(grad(G.fork, wrt=0).graph) == first
    assert "#" not in first  # no internal ids leak into the text


def test_printer_one_equation_per_line():
    f = grad(C.long_expression, wrt=(0, 1))
    lines = str(f.graph).splitlines()
    assert len(lines) == len(f.graph.eqns) + 2  # header, one line per equation, return


# --- the reference evaluator agrees with Python on the primal graphs ------------------------------

@pytest.mark.parametrize("fn, pts", ALL)
def test_reference_evaluator_matches_python_on_primal_graph(fn, pts):
    graph = grad(fn, wrt=tuple(range(_nargs(pts)))).graph
    for p in pts:
        assert evaluate(graph, _full(fn, p)) == [fn(*p)]


# --- passes preserve values ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn, pts", ALL)
def test_optimize_preserves_primal_values(fn, pts):
    graph = grad(fn, wrt=0).graph
    opt = optimize(graph)
    verify(opt)
    for p in pts:
        assert evaluate(opt, _full(fn, p)) == evaluate(graph, _full(fn, p))


def _gradient_graph_cases():
    out = []
    for fn, pts in CORPUS + [(f, p) for f, p, _ in CORPUS_KNOWN_BUGS]:
        marks = ()
        if any(fn is f for f, _, _ in CORPUS_KNOWN_BUGS):
            marks = pytest.mark.xfail(strict=True, reason=(
                "BUG: the generated Python differs from the (correct) gradient IR it was emitted "
                "from: loop with a branch, see test_corpus.CORPUS_KNOWN_BUGS"))
        out.append(pytest.param(fn, pts, id=fn.__name__, marks=marks))
    return out


@pytest.mark.parametrize("fn, pts", _gradient_graph_cases())
def test_optimize_preserves_gradient_graph_values(fn, pts):
    n = _nargs(pts)
    compiled = value_and_grad(fn, wrt=tuple(range(n)))
    raw = reverse(compiled.graph, list(range(n)), with_value=True)
    opt = optimize(raw)
    verify(opt)
    for p in pts:
        expected = evaluate(raw, _full(fn, p))
        got = evaluate(opt, _full(fn, p))
        assert all(_same(a, b) for a, b in zip(got, expected)), (p, got, expected)
        # ... and the generated Python computes the same numbers as the IR it was emitted from
        value, grads = compiled(*p)
        assert [value, *grads] == pytest.approx(expected, rel=1e-15, abs=0.0)


@pytest.mark.parametrize("fn, pts", ALL)
def test_optimize_reaches_a_fixed_point_and_never_grows(fn, pts):
    n = _nargs(pts)
    raw = reverse(grad(fn, wrt=0).graph, list(range(n)), with_value=True)
    once = optimize(raw)
    twice = optimize(once)
    assert _size(once) <= _size(raw)
    assert _size(twice) == _size(once)
    assert str(twice) == str(once)


def _size(graph):
    return sum(1 + sum(_size(sub) for sub in regions(e)) for e in graph.eqns)


# --- individual simplifications, on hand-built graphs -------------------------------------------------

def _unary_graph(build):
    """Graph(x) -> [build(builder, x)], built WITHOUT the Builder's on-the-fly simplification."""
    x = Var("x")
    eqns = []

    def emit(prim, ins, **params):
        out = Var()
        eqns.append(Eqn(prim, ins, [out], params))
        return out

    return Graph("g", [x], eqns, [build(emit, x)])


@pytest.mark.parametrize("build, expected_eqns", [
    pytest.param(lambda e, x: e("mul", [x, Const(1.0)]), 0, id="x*1"),
    pytest.param(lambda e, x: e("mul", [Const(1.0), x]), 0, id="1*x"),
    pytest.param(lambda e, x: e("add", [x, Const(0.0)]), 0, id="x+0"),
    pytest.param(lambda e, x: e("add", [Const(0.0), x]), 0, id="0+x"),
    pytest.param(lambda e, x: e("sub", [x, Const(0.0)]), 0, id="x-0"),
    pytest.param(lambda e, x: e("div", [x, Const(1.0)]), 0, id="x/1"),
    pytest.param(lambda e, x: e("pow", [x, Const(1.0)]), 0, id="x**1"),
    pytest.param(lambda e, x: e("mul", [Const(-1.0), x]), 1, id="-1*x is neg"),
    pytest.param(lambda e, x: e("add", [x, e("mul", [Const(2.0), Const(3.0)])]), 1, id="2*3 folded"),
    pytest.param(lambda e, x: e("mul", [e("sin", [x], lib="math"), e("sin", [x], lib="math")]), 2,
                 id="common subexpression shared"),
    pytest.param(lambda e, x: (e("exp", [x], lib="np"), x)[1], 0, id="dead equation dropped"),
    pytest.param(lambda e, x: (e("exp", [x], lib="math"), x)[1], 1,
                 id="dead math call kept: it may raise"),
    pytest.param(lambda e, x: e("neg", [e("neg", [x])]), 0, id="double negation"),
    pytest.param(lambda e, x: e("add", [x, e("neg", [e("sin", [x], lib="math")])]), 2,
                 id="x + -s is x - s"),
    pytest.param(lambda e, x: e("select", [Const(True), x, Const(2.0)]), 0, id="select on constant"),
])
def test_simplification_preserves_value(build, expected_eqns):
    graph = _unary_graph(build)
    opt = optimize(graph)
    verify(opt)
    assert len(opt.eqns) == expected_eqns, str(opt)
    for x in (0.7, -1.3, 2.5):
        assert evaluate(opt, [x]) == evaluate(graph, [x])


@pytest.mark.parametrize("x", [math.inf, -math.inf, math.nan])
def test_x_times_zero_is_not_folded_so_inf_and_nan_give_nan(x):
    graph = _unary_graph(lambda e, v: e("mul", [v, Const(0.0)]))
    opt = optimize(graph)
    assert math.isnan(evaluate(opt, [x])[0])


def test_failing_constant_fold_is_left_to_run():
    # log(-1.0) raises in math: the fold must not raise at build time, nor invent a value.
    graph = _unary_graph(lambda e, v: e("add", [v, e("log", [Const(-1.0)], lib="math")]))
    opt = optimize(graph)
    assert any(eq.prim == "log" for eq in opt.eqns)
    with pytest.raises(ValueError):
        evaluate(opt, [1.0])


def test_simplify_answers_none_when_nothing_applies():
    x, y = _xy()
    assert simplify("mul", (x, y), {}) is None
    assert simplify("mul", (x, Const(0.0)), {}) is None


def test_eliminate_dead_code_keeps_only_what_results_need():
    x = Var("x")
    a, b, c = Var("a"), Var("b"), Var("c")
    g = Graph("g", [x], [Eqn("sin", [x], [a], {"lib": "np"}), Eqn("cos", [x], [b], {"lib": "np"}),
                         Eqn("mul", [a, x], [c])], [c])
    kept = eliminate_dead_code(g)
    assert [e.prim for e in kept.eqns] == ["sin", "mul"]
    assert evaluate(kept, [0.7]) == evaluate(g, [0.7])
    # a math call nothing reads is kept all the same: it may raise (math.cos(inf))
    g = Graph("g", [x], [Eqn("sin", [x], [a], {"lib": "math"}), Eqn("cos", [x], [b], {"lib": "math"}),
                         Eqn("mul", [a, x], [c])], [c])
    assert [e.prim for e in eliminate_dead_code(g).eqns] == ["sin", "cos", "mul"]


def test_every_primitive_evaluates_in_every_library_it_names():
    # the evaluator (and constant folding) rely on impl(lib) for each lib a primitive lists
    for name, prim in PRIMS.items():
        for lib, impl in prim.funcs.items():
            if impl is not None:
                assert prim.impl(lib) is impl, (name, lib)


def test_builder_simplifies_as_it_builds_only_when_asked():
    # no import-time switch: a builder simplifies when it is given passes.simplify, never otherwise
    x = Var("x")
    b = Builder(simplify=simplify)
    assert b.emit("mul", [x, Const(1.0)]) is x
    assert b.eqns == []
    plain = Builder()
    assert plain.emit("mul", [x, Const(1.0)]) is not x
    assert [e.prim for e in plain.eqns] == ["mul"]


def test_reverse_without_simplify_keeps_every_adjoint_equation():
    def f(x, y):
        return x * y

    graph = grad(f, wrt=(0, 1)).graph
    raw = reverse(graph, [0, 1], with_value=False, simplify=None)
    simplified = reverse(graph, [0, 1], with_value=False)
    assert len(raw.eqns) > len(simplified.eqns)


_LOOPS_WITH_BRANCHES = [C.loop_with_branch_on_carried, C.while_with_branch, C.loop_branch_on_index,
                        C.swap_inside_branch_inside_loop]


@pytest.mark.parametrize("fn, pts", [pytest.param(f, p, id=f.__name__) for f, p in CORPUS
                                     if f in _LOOPS_WITH_BRANCHES])
def test_gradient_ir_of_loop_with_branch_is_right(fn, pts):
    """Loops with branches (once miscompiled in emission): the IR itself matches central differences."""
    n = _nargs(pts)
    raw = reverse(grad(fn, wrt=0).graph, list(range(n)), with_value=False)
    opt = optimize(raw)
    for p in pts:
        for i, g in enumerate(evaluate(opt, _full(fn, p))):
            assert g == pytest.approx(numerical_grad(fn, p, i), rel=1e-6, abs=1e-9)
