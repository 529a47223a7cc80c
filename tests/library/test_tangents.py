"""Forward mode over the whole library: for every gradient-check case of tests/library (each module's
CASES, and test_products' STRING_FORM), the compiler's jvp along a random tangent on each
differentiated argument against central differences of the function along that tangent, with the
case's own tolerances. Then the tangent table itself: every primitive has a tangent rule or is
refused on purpose; and a deliberately wrong rule is caught, so the check cannot pass vacuously.

Cases whose jvp fails because of a compiler bug are expected failures (xfail, strict) with the bug
in the reason; see KNOWN below.
"""
import ast
import importlib
import pathlib
import types
import zlib

import numpy as np
import pytest

from compiler import GradError, jvp
from compiler.custom import USER_RESOLVE
from compiler.library import ENTRIES
from compiler.primitives import PRIMS
from compiler.rules import TANGENT_TABLE, TANGENTS, TangentRule, _MARKERS
from harness import _close, _copy
from runtime.gradcheck import EPS_SCALE

HERE = pathlib.Path(__file__).parent
MODULES = [importlib.import_module(p.stem) for p in sorted(HERE.glob("test_*.py"))
           if p.stem not in ("test_library", "test_tangents")]
CASES = [case for m in MODULES for case in getattr(m, "CASES", []) + getattr(m, "STRING_FORM", [])]

# Primitives forward mode refuses on purpose: no tangent rule, by design.
REFUSED = {
    "tangent_by_rows": "the ROWS tangent itself (made by forward mode, never differentiated)",
    "user_vjp": "a rule registered by the user gives a VJP only",
}

_ROWS_BUG = ("BUG: every ROWS tangent crashes: rules.jvp emits builder.emit('tangent_by_rows', "
             "..., prim=eqn.prim) and Builder.emit's first parameter is `prim` -> TypeError 'got "
             "multiple values for argument prim' (raw TypeError, not GradError)")
_ROWS_CASES = """
    cholesky_weighted cholesky_batched eigh_values eigh_both eigh_batched qr_both qr_r qr_batched
    svd_all svd_wide svd_full svd_batched svdvals_sum svdvals_batched pinv_tall pinv_batched
    pinv_batched_wide pinv_rcond lstsq_solution lstsq_all lstsq_underdetermined matrix_power_3
    matrix_power_batched matrix_power_neg matrix_power_01 trapezoid_y trapezoid_dx_axis trapezoid_x
    trapezoid_x_matrix trapezoid_x_same_shape average_weighted average_weighted_axis
    average_weighted_tuple_keep average_weights_1d cumprod_flat cumprod_zeros cumprod_neg
    cumprod_method sort_last sort_axis0 sort_flat sort_f32""".split()

# id -> reason, for cases whose jvp is wrong or crashes because of the compiler (none left: the
# ROWS tangents, interp's left=/right=, solve with one vector for a batch and np.diag's read-only
# view were fixed after this file found them; a new entry is a strict xfail with its reason).
KNOWN = {}


def _reason(case):
    return KNOWN.get(case.id)


def _params():
    out = []
    for case in CASES:
        reason = _reason(case)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def _tangents(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return tuple(rng.normal(size=np.shape(case.args[k])) if isinstance(case.args[k], np.ndarray)
                 else float(rng.normal()) for k in case.wrt)


def directional_difference(case, tangents):
    """d/dt f(args + t v) at 0 by a central difference, in float64 (as the harness's
    numerical_grad probes float32 arguments with float64 values)."""
    base = [np.asarray(a, dtype=np.float64) if k in case.wrt and isinstance(a, np.ndarray)
            else float(a) if k in case.wrt else a for k, a in enumerate(case.args)]
    size = max(float(np.max(np.abs(t))) for t in tangents)
    scale = max([1.0] + [float(np.max(np.abs(base[k]))) for k in case.wrt])
    h = EPS_SCALE * scale / size

    def at(s):
        moved = [_copy(a) for a in base]
        for k, t in zip(case.wrt, tangents):
            moved[k] = base[k] + s * t
        return float(np.sum(np.asarray(case.f(*moved), dtype=np.float64)))

    return (at(h) - at(-h)) / (2.0 * h)


def check_jvp(case, f=None):
    """jvp of `f` (default: the case's) at the case's arguments, along a fixed random tangent."""
    f = f or case.f
    args = [_copy(a) for a in case.args]
    before = [_copy(a) for a in args]
    tangents = _tangents(case)
    out, d = jvp(f, args, tangents, wrt=case.wrt)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64),
                               np.asarray(case.f(*[_copy(a) for a in case.args]), dtype=np.float64),
                               rtol=1e-12, atol=1e-12, err_msg="jvp's primal value")
    assert np.shape(d) == np.shape(out), f"tangent shape {np.shape(d)}, output {np.shape(out)}"
    for a, b in zip(args, before):  # the caller's arrays are never written
        np.testing.assert_array_equal(a, b)
    # The harness bounds each gradient entry by atol + rtol |entry|; the directional derivative
    # sums entries times tangent components, so its absolute bound scales with sum |v|.
    total = sum(float(np.sum(np.abs(t))) for t in tangents)
    got = float(np.sum(np.asarray(d, dtype=np.float64)))
    want = directional_difference(case, tangents)
    _close(got, want, _Tol(case.atol * max(1.0, total), case.rtol), "compiler jvp along v")


class _Tol:
    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("case", _params())
def test_jvp_matches_directional_differences(case):
    if case.id not in KNOWN:
        check_jvp(case)
        return
    try:  # an expected failure: reported in one line (formatting tracebacks through the
        check_jvp(case)  # compiler's large modules would cost seconds over these cases)
        return
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001
        message = f"{type(exc).__name__}: {str(exc)[:400]}"
    raise pytest.fail.Exception(message, pytrace=False) from None


# --- the table ------------------------------------------------------------------------------------

def _user_registered():
    return set(USER_RESOLVE.values())


def test_every_primitive_has_a_tangent_rule_or_is_refused():
    missing = sorted(set(PRIMS) - set(TANGENT_TABLE) - set(REFUSED) - _user_registered())
    assert not missing, f"primitives with no tangent rule (add to rules.TANGENTS or REFUSED): {missing}"
    for name in REFUSED:
        assert name in PRIMS, f"{name} is listed as refused but is no primitive"
        assert name not in TANGENT_TABLE, f"{name} has a tangent rule now: remove it from REFUSED"
    assert set(TANGENT_TABLE) <= set(PRIMS)


def test_every_differentiable_primitive_passes_a_tangent_somewhere():
    """A differentiable primitive whose tangent rule has no term at all would silently give zero."""
    for name, rule in TANGENT_TABLE.items():
        if PRIMS[name].differentiable:
            assert any(t is not None for t in rule.terms) or rule.rest_term is not None, name


def test_every_tangent_term_is_a_marker_or_a_formula_over_primitives():
    for name, rule in TANGENT_TABLE.items():
        for term in rule.terms + [rule.rest_term]:
            if term is None or term in _MARKERS:
                continue
            assert isinstance(term, ast.AST), (name, term)
            for node in ast.walk(term):
                if isinstance(node, ast.Call):
                    assert node.func.id in PRIMS, f"{name}: tangent calls unknown {node.func.id}"


def test_every_non_elementwise_library_entry_declares_its_tangent():
    """Elementwise entries reuse their reverse formulas; every other one needs `tangent=`."""
    for entry in ENTRIES:
        rule = TANGENT_TABLE[entry.name]
        if entry.tangent is None:
            assert rule.from_reverse or not PRIMS[entry.name].differentiable, entry.name
        else:
            assert entry.name in TANGENTS


def test_every_library_entry_has_a_tangent_case_here():
    covered = {c.entry for c in CASES}
    assert {e.name for e in ENTRIES} <= covered


# --- the check is not vacuous -----------------------------------------------------------------------

def _case(entry_id):
    return next(c for c in CASES if c.id == entry_id)


def _fresh(f):
    """A new function object with f's code: forward-mode code is compiled once per function, so
    a rule changed by a test must meet a function never compiled before."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    g.__qualname__ = f.__qualname__
    return g


def _wrong(monkeypatch, prim, position, formula):
    rule = TANGENT_TABLE[prim]
    terms = list(rule.terms)
    terms[position] = ast.parse(formula, mode="eval").body
    monkeypatch.setattr(rule, "terms", terms)


def test_a_wrong_elementwise_tangent_is_caught(monkeypatch):
    """cbrt's tangent (its reverse formula read with g = x_dot) made a factor off: g / (2 out^2)
    instead of g / (3 out^2). The check must fail, and pass again with the real rule."""
    case = _case("cbrt_array")
    assert TANGENT_TABLE["cbrt"].from_reverse
    check_jvp(case, _fresh(case.f))
    _wrong(monkeypatch, "cbrt", 0, "g / (2.0 * out * out)")
    with pytest.raises(AssertionError, match="compiler jvp along v"):
        check_jvp(case, _fresh(case.f))
    monkeypatch.undo()
    check_jvp(case, _fresh(case.f))


def test_a_wrong_declared_tangent_is_caught(monkeypatch):
    """cumsum declares LINEAR; replaced by the identity `x_dot`, a plausible slip."""
    case = _case("cumsum_axis")
    check_jvp(case, _fresh(case.f))
    rule = TANGENT_TABLE["cumsum"]
    assert rule.terms[0] == "linear" and not rule.from_reverse
    _wrong(monkeypatch, "cumsum", 0, "x_dot")
    with pytest.raises(AssertionError, match="compiler jvp along v"):
        check_jvp(case, _fresh(case.f))


def test_a_missing_tangent_is_refused_not_zero(monkeypatch):
    """A tangent rule that is removed is refused at the user's line, never taken as zero."""
    case = _case("cbrt_array")
    monkeypatch.delitem(TANGENT_TABLE, "cbrt")
    with pytest.raises(GradError, match="no tangent rule for cbrt"):
        check_jvp(case, _fresh(case.f))


def test_tangent_rule_markers_parse():
    rule = TangentRule("x", "a b *rest", ["linear", None, "a_dot * b"])
    assert rule.terms == ["linear", None] and isinstance(rule.rest_term, ast.AST)
