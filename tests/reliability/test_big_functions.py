"""Very large functions: a 2,000-term expression, a 5,000-statement body.

No stage (frontend, passes, codegen, the emitted source's compilation) may recurse once per term or
per statement: Python's default recursion limit is 1,000. Gradients are checked against analytic
formulas and central differences; decoration times are printed (never asserted).
"""
import math
import time

import numpy as np
import pytest

from compiler import GradError, grad, value_and_grad
from reliability_helpers import assert_matches_central_differences, load_source

N_TERMS = 2000
N_STATEMENTS = 5000


def _decorate(capsys, label, make, fn):
    start = time.perf_counter()
    g = make(fn)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[reliability] decorating {label}: {elapsed * 1e3:.0f} ms, "
              f"{len(g.source.splitlines())} generated lines")
    return g


def _coefficients():
    return [0.5 + 0.001 * i for i in range(N_TERMS)]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """One module holding every big function (written once, imported with importlib)."""
    coeffs = _coefficients()
    sum_expr = " + ".join(f"x*{c!r}" for c in coeffs)
    prod_factors = [1e-4 * (i % 7) for i in range(N_TERMS)]
    prod_expr = "x" + "".join(f" * (1.0 + {a!r}*x)" for a in prod_factors)
    # mixed: + x*c, - x/d, * k, + math.sin(x), cycling (a left-nested chain of all four operators)
    mixed_expr = "x" + "".join(
        [f" + x*{0.001 * i!r}", f" - x/{1.0 + i!r}", f" * {1.0 + 1e-5 * i!r}", " + math.sin(x)"][i % 4]
        for i in range(N_TERMS))
    stmts = "\n".join(f"    a = a * 1.0001 + math.sin(x) * {1e-3 * (i % 5)!r}" for i in range(N_STATEMENTS))
    array_expr = "x" + "".join(
        [f" + x*{0.001 * i!r}", f" - x/{1.0 + i!r}", f" * {1.0 + 1e-5 * i!r}", " + np.sin(x)"][i % 4]
        for i in range(N_TERMS))
    text = (
        "import math\nimport numpy as np\n\n"
        f"def big_sum(x):\n    return {sum_expr}\n\n"
        f"def big_product(x):\n    return {prod_expr}\n\n"
        f"def big_mixed(x):\n    return {mixed_expr}\n\n"
        f"def big_statements(x):\n    a = x\n{stmts}\n    return a\n\n"
        f"def big_array_mixed(x):\n    return np.sum({array_expr})\n"
    )
    module = load_source(tmp_path_factory.mktemp("big"), text, "big")
    module.prod_factors = prod_factors
    return module


def test_2000_term_sum(big, capsys):
    g = _decorate(capsys, "a 2,000-term sum", grad, big.big_sum)
    x = 0.7
    assert g(x) == pytest.approx(sum(_coefficients()), rel=1e-12)
    value, dx = value_and_grad(big.big_sum)(x)
    assert value == pytest.approx(big.big_sum(x), rel=1e-12)
    assert dx == pytest.approx(sum(_coefficients()), rel=1e-12)
    compile(g.source, "<big_sum>", "exec")


def test_2000_factor_product(big, capsys):
    g = _decorate(capsys, "a 2,000-factor product", grad, big.big_product)
    x = 0.7
    # d/dx x * prod(1 + a_i x) = f(x) * (1/x + sum a_i / (1 + a_i x))
    fx = big.big_product(x)
    expected = fx * (1.0 / x + sum(a / (1.0 + a * x) for a in big.prod_factors))
    assert g(x) == pytest.approx(expected, rel=1e-10)
    assert_matches_central_differences(big.big_product, (x,), g(x), (0,))


def test_2000_term_mixed_chain(big, capsys):
    g = _decorate(capsys, "a 2,000-term + - * / sin chain", value_and_grad, big.big_mixed)
    for x in (0.3, -1.2):
        value, dx = g(x)
        assert value == pytest.approx(big.big_mixed(x), rel=1e-12)
        assert_matches_central_differences(big.big_mixed, (x,), dx, (0,))


@pytest.mark.slow  # (CI runs the slow ones separately: -m slow)
def test_5000_statement_function(big, capsys):
    g = _decorate(capsys, "a 5,000-statement function", value_and_grad, big.big_statements)
    x = 0.4
    value, dx = g(x)
    assert value == pytest.approx(big.big_statements(x), rel=1e-12)
    # a_{k+1} = 1.0001 a_k + c_k sin x  =>  da/dx follows the same recurrence with cos x
    d = 1.0
    for i in range(N_STATEMENTS):
        d = d * 1.0001 + 1e-3 * (i % 5) * math.cos(x)
    assert dx == pytest.approx(d, rel=1e-10)
    assert_matches_central_differences(big.big_statements, (x,), dx, (0,))


@pytest.mark.slow  # (CI runs the slow ones separately: -m slow)
def test_2000_term_array_expression(big, capsys):
    g = _decorate(capsys, "a 2,000-term array expression", grad, big.big_array_mixed)
    x = np.linspace(-0.5, 0.5, 4)
    start = time.perf_counter()
    dx = g(x)
    with capsys.disabled():
        print(f"[reliability] first call (specialisation) of the 2,000-term array gradient: "
              f"{(time.perf_counter() - start) * 1e3:.0f} ms")
    assert_matches_central_differences(big.big_array_mixed, (x,), dx, (0,))


# --- deep nesting that Python itself accepts -----------------------------------------------------

def _elif_chain(n):
    lines = ["def piecewise(x):", "    if x < 0.0:", "        y = x"]
    for i in range(n):
        lines += [f"    elif x < {i}.5:", f"        y = x * {i}.0"]
    lines += ["    else:", "        y = x * x", "    return y", ""]
    return "\n".join(lines)


def _ifexp_chain(n):
    chain = " ".join(f"x * {i}.0 if x < {i}.5 else" for i in range(n))
    return f"def piecewise(x):\n    return {chain} x * x\n"


@pytest.mark.xfail(strict=True, raises=GradError,
                   reason="LIMITATION: an if/elif chain of ~97+ branches (valid Python) nests the "
                          "generated if/else blocks past Python's 100 indentation levels: refused "
                          "with a GradError that says so")
def test_120_branch_elif_chain(tmp_path):
    module = load_source(tmp_path, _elif_chain(120), "elif")
    g = grad(module.piecewise)
    for x in (-1.0, 0.2, 57.3, 200.0):
        expected = 1.0 if x < 0 else (2 * x if x >= 119.5 else float(math.floor(x + 0.5)))
        assert g(x) == pytest.approx(expected)


@pytest.mark.xfail(strict=True, raises=GradError,
                   reason="LIMITATION: a chain of ~97+ conditional expressions (a if c else b if ...) "
                          "nests the generated if/else past 100 indentation levels: refused with a "
                          "GradError that says so")
def test_120_conditional_expression_chain(tmp_path):
    module = load_source(tmp_path, _ifexp_chain(120), "ifexp")
    g = grad(module.piecewise)
    for x in (0.2, 57.3, 200.0):
        expected = 2 * x if x >= 119.5 else float(math.floor(x + 0.5))
        assert g(x) == pytest.approx(expected)


def test_90_branch_elif_chain_still_works(tmp_path):
    # below the threshold of the bug above: the same construction is differentiated correctly
    module = load_source(tmp_path, _elif_chain(90), "elif90")
    g = grad(module.piecewise)
    for x in (-1.0, 0.2, 57.3, 200.0):
        expected = 1.0 if x < 0 else (2 * x if x >= 89.5 else float(math.floor(x + 0.5)))
        assert g(x) == pytest.approx(expected)


def test_2000_unary_minus_chain(tmp_path):
    module = load_source(tmp_path, f"def negs(x):\n    return {'-' * N_TERMS}x * x\n", "negs")
    assert grad(module.negs)(0.75) == pytest.approx(1.5)


def test_2000_term_power_tower(tmp_path):
    tower = " ** ".join(["1.0"] * N_TERMS)
    module = load_source(tmp_path, f"def tower(x):\n    return x ** {tower}\n", "tower")
    assert grad(module.tower)(0.75) == pytest.approx(1.0)
