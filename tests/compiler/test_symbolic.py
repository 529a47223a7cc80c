"""The optional SymPy pass: same gradients, shorter code where algebra allows, the same failures,
the primal's own value. (Its time budget and worker process: test_symbolic_budget.py.)"""
import importlib
import math
import sys
import warnings

import pytest

import symbolic_funcs as S
from compiler import GradError, grad, value_and_grad
from runtime.gradcheck import compare, numerical_grad

CASES = [(S.trig_identity, (0.3, 0.7)), (S.rational, (1.3, 0.4)), (S.with_loop, (0.6,)),
         (S.with_max, (0.8, 0.3)), (S.sqrt_squared, (2.0,)), (S.log_of_exp, (3.0,)),
         (S.exp_of_log, (1.7,)), (S.cancelled_quotient, (1.3, -0.6)), (S.asin_chain, (0.3,)),
         (S.numpy_scalar, (0.8,)), (S.chain9, (0.4, 0.9)), (S.chain8, (0.4, -0.3)),
         (S.chain30, (0.7, 0.2)), (S.chain50, (0.3, -0.5, 0.8)), (S.numpy_cancelled, (0.3, 0.5)),
         (S.fuzz_branch_reads_adjoint, (-1.8674,)), (S.fuzz_branch_reads_adjoint, (-1.1057,))]


@pytest.fixture(autouse=True)
def sympy_worker_ready(monkeypatch):
    """SymPy's worker started before the first decoration (a cold start takes a second or more),
    and a budget ample on a loaded machine: these tests are about what the pass computes (its
    budget: test_symbolic_budget.py). Each piece's rewrites still stop after PIECE_SECONDS."""
    import compiler.symbolic as symbolic
    assert symbolic.start_worker(wait=30)
    monkeypatch.setattr(symbolic, "BUDGET_SECONDS", 20.0)
    monkeypatch.setattr(symbolic, "PIECE_SECONDS", 0.1)  # (the long chains' pieces: quicker)


def outcome(fn, *args):
    """What a call gives: ("value", result) or ("raises", exception type)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return "value", fn(*args)
    except Exception as exc:  # noqa: BLE001
        return "raises", type(exc)


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_simplified_gradient_equals_plain_gradient_and_central_differences(fn, args):
    wrt = tuple(range(len(args)))
    plain = grad(fn, wrt=wrt)(*args)
    value, simple = value_and_grad(fn, wrt=wrt, simplify="sympy")(*args)
    assert value == fn(*args)  # bit for bit: the primal's equations are never rewritten
    for i, (a, b) in enumerate(zip(plain, simple)):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-12)
        assert compare(b, numerical_grad(fn, args, i))[2]
        assert type(b) is type(a)  # a float (NumPy's scalars where the function makes them)


def test_identities_cancel():
    plain = grad(S.trig_identity, wrt=(0, 1))
    simple = grad(S.trig_identity, wrt=(0, 1), simplify="sympy")
    assert len(simple.source.splitlines()) < len(plain.source.splitlines())
    # d/dx (sin^2 + cos^2) = 2 sin cos - 2 cos sin = 0: no product of the two is left. The calls
    # stay, as checks: math.sin(inf) raises, so the gradient must raise there too.
    forward, gradient = simple.source.split("# gradient of line")
    body = "\n".join(gradient.splitlines()[1:])
    import re
    trig = re.findall(r"(\w+) = (?:sin|cos)\(x\)", forward)
    assert len(trig) == 2  # the checks, computed forwards
    assert "sin" not in body and "cos" not in body
    assert not any(re.search(rf"\b{name}\b", body) for name in trig)
    assert outcome(simple, math.inf, 0.7) == outcome(S.trig_identity, math.inf, 0.7) == \
        ("raises", ValueError)
    # exp(2 log y) is y**2: the gradient in y is 2y plus the tanh term, with no exp left in it
    assert "exp" not in body


# --- failures: where the function raises, the simplified gradient raises the same error -----------

DOMAIN = [(S.sqrt_squared, (-1.0,)), (S.sqrt_squared, (0.0,)), (S.log_of_exp, (1000.0,)),
          (S.log_of_exp, (-800.0,)), (S.exp_of_log, (0.0,)), (S.exp_of_log, (-2.0,)),
          (S.cancelled_quotient, (1.0, 0.0)), (S.cancelled_quotient, (0.5, 0.5)),
          (S.asin_chain, (1.0,)), (S.asin_chain, (1.5,)), (S.asin_chain, (-1.0,)),
          (S.rational, (0.7, 0.7)), (S.trig_identity, (0.3, 0.0)), (S.trig_identity, (0.3, -1.0)),
          (S.chain9, (math.inf, 0.5)), (S.square_by_logs, (0.0,)), (S.numpy_cancelled, (1.0, 0.5))]


@pytest.mark.parametrize("fn, args", DOMAIN, ids=[f"{c[0].__name__}{c[1]}" for c in DOMAIN])
@pytest.mark.parametrize("make", [grad, value_and_grad])
def test_simplified_gradient_fails_where_the_plain_one_does(fn, args, make):
    wrt = tuple(range(len(args)))
    plain = outcome(make(fn, wrt=wrt), *args)
    simple = outcome(make(fn, wrt=wrt, simplify="sympy"), *args)
    if plain[0] == "raises":
        assert simple == plain
    else:
        assert simple[0] == "value"


def test_an_identity_leaves_its_calls_as_checks():
    simple = grad(S.square_by_logs, simplify="sympy")
    body = "\n".join(simple.source.split("# gradient of line")[1].splitlines()[1:])
    assert "2.0 * y" in body and "exp(" not in body and "log(" not in body  # d/dy y**2 = 2y
    assert simple(1.5) == 3.0
    assert outcome(simple, -1.0) == outcome(S.square_by_logs, -1.0) == ("raises", ValueError)


def test_issue_examples_raise_as_the_function_does():
    assert outcome(S.sqrt_squared, -1.0) == ("raises", ValueError)
    assert outcome(grad(S.sqrt_squared, simplify="sympy"), -1.0) == ("raises", ValueError)
    assert outcome(S.log_of_exp, 1000.0) == ("raises", OverflowError)
    assert outcome(grad(S.log_of_exp, simplify="sympy"), 1000.0) == ("raises", OverflowError)
    # and elsewhere the identities hold: the gradient is 1, with nothing left to compute
    assert grad(S.sqrt_squared, simplify="sympy")(2.0) == 1.0
    assert grad(S.log_of_exp, simplify="sympy")(3.0) == 1.0
    assert "return 1.0" in grad(S.log_of_exp, simplify="sympy").source


def test_a_dropped_division_still_raises_at_zero():
    # d/dx sqrt(x)**2 = 2 sqrt(x) * 0.5 / sqrt(x): SymPy cancels it to 1, but at x = 0 the
    # gradient divides by zero, so the simplified code keeps a test of that division
    simple = grad(S.sqrt_squared, simplify="sympy")
    assert outcome(grad(S.sqrt_squared), 0.0) == outcome(simple, 0.0) == ("raises", ZeroDivisionError)
    assert "1.0 /" in simple.source


def test_a_numpy_quotient_is_not_turned_into_a_python_one():
    # 1 + s - s with s from NumPy is a NumPy float64: divided by 0.0 it is inf, where 1.0 / 0.0
    # would raise. The quotient stays as it was.
    plain, simple = grad(S.numpy_cancelled, wrt=(0, 1)), grad(S.numpy_cancelled, wrt=(0, 1), simplify="sympy")
    a, b = outcome(plain, 1.0, 0.5), outcome(simple, 1.0, 0.5)
    assert a[0] == b[0] == "value" and a[1][0] == b[1][0] == math.inf


def test_numpy_values_are_never_cancelled():
    # np.sqrt(-1.0) is nan (NumPy does not raise): the gradient stays nan, as the plain one is
    plain, simple = outcome(grad(S.numpy_scalar), -1.0), outcome(grad(S.numpy_scalar, simplify="sympy"), -1.0)
    assert plain[0] == simple[0] == "value" and math.isnan(plain[1]) and math.isnan(simple[1])


def test_random_chains_agree_with_the_plain_gradient_everywhere(tmp_path, monkeypatch):
    """A differential test: random chains of math calls (log, sqrt, asin, / unguarded, so many
    points raise), at points chosen to hit the domain edges: the same error, or the same value
    and a gradient equal up to rounding."""
    import random

    source = "import math\n\n" + "\n\n".join(
        S.random_chain_source(f"chain{i}", 12, seed=i, per_line=2) for i in range(6))
    (tmp_path / "symbolic_random_chains.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("symbolic_random_chains")
    rng = random.Random(7)
    try:
        for i in range(6):
            fn = getattr(module, f"chain{i}")
            plain = value_and_grad(fn, wrt=(0, 1, 2))
            simple = value_and_grad(fn, wrt=(0, 1, 2), simplify="sympy")
            for _ in range(12):
                args = [rng.choice([rng.uniform(-2.0, 2.0), 0.0, 1.0, -1.0, 0.5]) for _ in range(3)]
                a, b = outcome(plain, *args), outcome(simple, *args)
                if a[0] == "raises" or b[0] == "raises":
                    assert a == b, (i, args)
                    continue
                assert b[1][0] == a[1][0] or math.isnan(a[1][0]) and math.isnan(b[1][0])
                for p, q in zip(a[1][1], b[1][1]):
                    assert q == pytest.approx(p, rel=1e-8, abs=1e-10, nan_ok=True), (i, args)
    finally:
        sys.modules.pop("symbolic_random_chains", None)


def test_graphs_beyond_the_size_bound_are_left_alone(monkeypatch):
    import compiler.symbolic as symbolic
    monkeypatch.setattr(symbolic, "MAX_EQNS", 3)
    plain = grad(S.trig_identity, wrt=(0, 1)).source
    assert grad(S.trig_identity, wrt=(0, 1), simplify="sympy").source == plain


def test_long_chains_are_simplified_in_pieces(monkeypatch):
    import compiler.symbolic as symbolic
    from compiler.passes import optimize, prune_saves
    from compiler.specialize import specialize

    compiled = grad(S.chain50, wrt=(0, 1, 2))._sourcead
    graph = prune_saves(optimize(specialize(compiled.grad_graph, {}, {}, default="scalar")))
    problem = symbolic._Problem(graph, [0, 1, 2])
    assert len(problem.pieces) > 3
    assert all(problem.ops[k] <= 2 * symbolic.PIECE_OPS + 1 for k, _ in problem.pieces)


def test_unknown_simplifier_is_a_clear_error():
    with pytest.raises(GradError, match="sympy"):
        grad(S.rational, simplify="maxima")
