"""Names: user variables, parameters and globals named like the code generator's own names.

Each function below is written so that a generated name that shadows or reuses a user name changes
the result; gradients are compared with hand-derived formulas and central differences. The code that
runs must be the code `.source` shows, the names the source binds must never mean something else
than the same names in the user's code, calls must leave the user's module alone and read its
numbers when they run. Emission must be deterministic.
"""
import ast
import math
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import hygiene_funcs as H
from compiler import grad, value_and_grad
from generated_checks import (assert_compiled_from, assert_globals_unchanged, assert_names_hygienic,
                              assert_runs_source, globals_snapshot, numeric_globals_read)
from runtime.gradcheck import numerical_grad

HERE = os.path.dirname(os.path.abspath(__file__))


def _params_named_like_modules_and_adjoints():
    def f(np, math, dx, dq):
        grad = np * math
        t1 = grad + dx * dq
        type = t1 * t1
        float = type + np
        return float * dx

    return f


def _locals_named_like_helpers():
    def f(x, d):
        respecialize = x * d
        sin = respecialize + 1.0
        make_f_grad = sin * sin
        t1 = make_f_grad + math.sin(x)
        dx = t1 * np.cos(d)
        type = dx + x
        float = type * 2.0
        grad = float - d
        return grad

    return f


def _parameter_named_d_and_local_dd():
    def f(d, x):
        dd = d * x
        dx = dd * dd + x
        return dx + math.exp(d)

    return f


def _sin_is_a_local_number():
    def f(x):
        sin = x * 2.0
        return math.sin(sin) + np.exp(sin)

    return f


def _adjoint_names_already_taken():
    def f(x, y):
        dx = x * y
        dy = dx + y
        ddx = dy * dx
        return ddx + math.cos(dx)

    return f


def _loop_helpers_named_by_the_user():
    def f(x, tape):
        reversed = x * 2.0
        acc = x
        tape_1 = tape + 1.0
        for i in range(3):
            acc = acc * tape + reversed * tape_1
        return acc

    return f


CASES = {
    "params np math dx dq": (_params_named_like_modules_and_adjoints(), (0.3, 0.7, 1.1, -0.4)),
    "locals respecialize sin make_f_grad t1 dx type float grad": (_locals_named_like_helpers(), (0.3, 0.7)),
    "param d local dd dx": (_parameter_named_d_and_local_dd(), (0.3, 0.7)),
    "local sin shadows math.sin": (_sin_is_a_local_number(), (0.3,)),
    "locals dx dy ddx": (_adjoint_names_already_taken(), (0.3, -0.7)),
    "loop with locals tape reversed tape_1": (_loop_helpers_named_by_the_user(), (0.3, 0.7)),
    "hostile module globals": (H.f, (0.3,)),
    "user function named type": (H.type, (0.3,)),
    "user function named float": (H.float, (0.3,)),
}


@pytest.mark.parametrize("fn, point", list(CASES.values()), ids=list(CASES))
def test_hygiene_gradients_match_central_differences(fn, point):
    g = grad(fn, wrt=tuple(range(len(point))))
    got = g(*point)
    for i, gi in enumerate(got):
        assert gi == pytest.approx(numerical_grad(fn, point, i), rel=1e-6, abs=1e-9), i
    value, _ = value_and_grad(fn, wrt=0)(*point)
    assert value == fn(*point)


@pytest.mark.parametrize("fn, point", list(CASES.values()), ids=list(CASES))
@pytest.mark.parametrize("make", [grad, value_and_grad])
def test_the_code_that_runs_is_compiled_from_the_source(fn, point, make):
    # seen by a profiler: the generated function a float call runs is the one `.source` compiles
    # to (bytecode, constants, names, line table), linecache holds exactly `.source` for its
    # tracebacks, and no other generated code runs
    g = make(fn, wrt=tuple(range(len(point))))
    result, ran = assert_runs_source(g, point, g.source)
    assert ran.code is g.__code__
    assert_compiled_from(g.__code__, g.source)
    assert result == g(*point)


@pytest.mark.parametrize("fn, point", list(CASES.values()), ids=list(CASES))
def test_generated_names_never_mean_something_else_than_the_users(fn, point):
    # every name the source binds is new, a local of the user's, or a helper that is the very
    # object the user's name refers to (a helper `np` is allowed only where the user's np is NumPy)
    g = grad(fn, wrt=tuple(range(len(point))))
    _, ran = assert_runs_source(g, point, g.source)
    assert_names_hygienic(fn, g.source, ran)


@pytest.mark.parametrize("fn, point", list(CASES.values()), ids=list(CASES))
def test_calls_leave_the_users_globals_alone(fn, point):
    snapshot = globals_snapshot(fn)
    grad(fn, wrt=tuple(range(len(point))))(*point)
    value_and_grad(fn, wrt=tuple(range(len(point))))(*point)
    assert_globals_unchanged(snapshot)


_READS_NUMBERS = {k: v for k, v in CASES.items() if numeric_globals_read(v[0])}


@pytest.mark.parametrize("fn, point", list(_READS_NUMBERS.values()), ids=list(_READS_NUMBERS))
def test_module_numbers_are_read_live_from_the_users_module(fn, point, monkeypatch):
    # change every module-level number the user's code reads (sentinels): the gradient and the
    # value follow, as they do in Python; a generated name that hid one of them, or a copy taken
    # when the gradient was built, would keep the old value
    wrt = tuple(range(len(point)))
    vg = value_and_grad(fn, wrt=wrt)
    before = vg(*point)
    for module_dict, name in numeric_globals_read(fn):
        monkeypatch.setitem(module_dict, name, module_dict[name] * 1.75 + 0.375)
    value, grads = vg(*point)
    assert value == fn(*point) != before[0]
    assert grads != before[1]
    for i, gi in enumerate(grads):
        assert gi == pytest.approx(numerical_grad(fn, point, i), rel=1e-6, abs=1e-9), i


def test_the_hygiene_cases_read_module_numbers():
    # the test above runs on something: H.f reads the numbers np, cos, dx, t1, respecialize
    assert {n for _, n in numeric_globals_read(H.f)} == {"np", "cos", "dx", "t1", "respecialize"}


def test_hostile_globals_hand_derived():
    for x in (0.3, -1.1):
        assert grad(H.f)(x) == pytest.approx(H.f_expected_grad(x), rel=1e-14)


def test_params_named_like_modules_hand_derived():
    f = CASES["params np math dx dq"][0]
    n, m, dx, dq = 0.3, 0.7, 1.1, -0.4
    t1 = n * m + dx * dq
    fl = t1 * t1 + n
    dt1 = 2 * t1 * dx  # d/dt1 of (t1^2 + n) * dx
    expected = (dt1 * m + dx, dt1 * n, fl + dt1 * dq, dt1 * dx)
    assert grad(f, wrt=(0, 1, 2, 3))(n, m, dx, dq) == pytest.approx(expected, rel=1e-14)


def test_user_global_named_dx_is_read_not_overwritten_by_the_adjoint_of_x():
    # H.f reads the global `dx`; the adjoint of x must get another name, and the global must survive.
    src = grad(H.f).source
    tree = ast.parse(src)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    assert "dx" not in stored
    assert H.dx == 0.5


def test_generated_code_does_not_assign_user_globals_it_reads():
    src = grad(H.f).source
    inner = ast.parse(src).body[0].body[0]
    assigned = {n.id for n in ast.walk(inner) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    params = {a.arg for a in inner.args.args}
    assert not (assigned | params) & {"np", "cos", "dx", "t1", "respecialize", "sin", "make_f_grad"}


# --- determinism -------------------------------------------------------------------------------------

def _fresh_copy(fn):
    """The same code in a new function object (a new identity: nothing cached by function object)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


@pytest.mark.parametrize("fn, point", list(CASES.values()), ids=list(CASES))
def test_emitted_source_is_deterministic_within_a_process(fn, point):
    wrt = tuple(range(len(point)))
    first = grad(fn, wrt=wrt).source
    second = grad(_fresh_copy(fn), wrt=wrt).source
    assert first == second
    assert str(grad(fn, wrt=wrt).graph) == str(grad(_fresh_copy(fn), wrt=wrt).graph)


def test_emitted_source_is_deterministic_across_processes_and_hash_seeds():
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        import corpus_funcs as C, hygiene_funcs as H
        from compiler import grad, value_and_grad
        for fn in (H.f, C.long_expression, C.builtin_sum_max_min, C.calls_user_functions):
            n = 1 if fn is H.f else 2
            sys.stdout.write(grad(fn, wrt=tuple(range(n))).source)
            sys.stdout.write(value_and_grad(fn, wrt=tuple(range(n))).source)
    """ % HERE)
    outputs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                cwd=HERE, timeout=60)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert "def make_f_grad(" not in outputs[0]  # the factory does not take the user's name make_f_grad
