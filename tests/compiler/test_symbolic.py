"""The optional SymPy pass: same gradients, shorter code where algebra allows, bounded cost."""
import pytest

import symbolic_funcs as S
from compiler import GradError, grad
from runtime.gradcheck import compare, numerical_grad

CASES = [(S.trig_identity, (0.3, 0.7)), (S.rational, (1.3, 0.4)), (S.with_loop, (0.6,)),
         (S.with_max, (0.8, 0.3))]


@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_simplified_gradient_equals_plain_gradient_and_central_differences(fn, args):
    wrt = tuple(range(len(args)))
    plain = grad(fn, wrt=wrt)(*args)
    simple = grad(fn, wrt=wrt, simplify="sympy")(*args)
    for i, (a, b) in enumerate(zip(plain, simple)):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-12)
        assert compare(b, numerical_grad(fn, args, i))[2]
        assert type(b) is float


def test_identities_cancel():
    plain = grad(S.trig_identity, wrt=(0, 1)).source
    simple = grad(S.trig_identity, wrt=(0, 1), simplify="sympy").source
    assert len(simple.splitlines()) < len(plain.splitlines())
    assert "sin(x)" not in simple and "cos(x)" not in simple  # d/dx (sin^2 + cos^2) = 0


def test_graphs_beyond_the_size_bound_are_left_alone(monkeypatch):
    import compiler.symbolic as symbolic
    monkeypatch.setattr(symbolic, "MAX_EQNS", 3)
    plain = grad(S.trig_identity, wrt=(0, 1)).source
    assert grad(S.trig_identity, wrt=(0, 1), simplify="sympy").source == plain


def test_unknown_simplifier_is_a_clear_error():
    with pytest.raises(GradError, match="sympy"):
        grad(S.rational, simplify="maxima")
