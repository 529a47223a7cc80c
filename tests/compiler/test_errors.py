"""Every way a user can hand the compiler something it cannot differentiate.

Each case must raise `compiler.GradError` (never an internal AttributeError/KeyError, never with an
internal exception chained for the traceback to show) whose message holds: the user's file, the
line of the offending code, that line's text, a caret line under the offending code, and what to do
instead. Offending lines carry a `# E:<id>` marker; expected line numbers and text are found by the
marker, never hard-coded.
"""
import math
import os
import re

import numpy as np
import pytest

import corpus_funcs
from compiler import GradError, check_grad, grad, value_and_grad

THIS_FILE = os.path.abspath(__file__)
CORPUS_FILE = os.path.abspath(corpus_funcs.__file__)

# Words that introduce advice: "use ...", "define ...", "pass ...", "rewrite ...", "instead".
_ADVICE = re.compile(r"\b(use|define|pass|remove|rewrite|write|put|move|return|check|name each|"
                     r"name at least|name parameters|assign|import|wrap|validate|replace|instead|stop using|"
                     r"did you mean|its parameters are)\b|parameter\(s\): ", re.IGNORECASE)


def _marked_line(path, marker):
    with open(path) as fh:
        lines = fh.read().splitlines()
    hits = [i for i, line in enumerate(lines, 1) if line.rstrip().endswith(f"# E:{marker}")]
    assert len(hits) == 1, f"marker E:{marker} must be on exactly one line of {path}"
    return hits[0], lines[hits[0] - 1]


def assert_points_at(exc, path, marker, anchor, suggestion=None, advice=True):
    """The message names `path`, the marked line, shows its text and puts a caret under `anchor`."""
    assert type(exc) is GradError, f"{type(exc).__name__}: {exc}"
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), \
        "an internal exception is chained to the GradError (the user would see its traceback)"
    message = str(exc)
    lineno, text = _marked_line(path, marker)
    assert f'File "{path}", line {lineno}' in message, message
    lines = message.splitlines()
    stripped = text.strip()
    shown = [i for i, line in enumerate(lines) if line.strip() == stripped]
    assert shown, f"the source line is not shown:\n{message}"
    i = shown[0]
    assert i + 1 < len(lines) and re.fullmatch(r"\s*\^+\s*", lines[i + 1]), f"no caret line:\n{message}"
    text_col = lines[i].index(stripped)
    caret_col = lines[i + 1].index("^") - text_col
    assert stripped[caret_col:].startswith(anchor), \
        f"caret at {stripped[caret_col:]!r}, expected under {anchor!r}:\n{message}"
    explanation = "\n".join(lines[i + 2:])
    assert explanation.strip(), message
    if suggestion is not None:
        assert suggestion in explanation, message
    if advice:
        assert _ADVICE.search(explanation), f"the message does not say what to do instead:\n{message}"
    assert "Traceback" not in message
    assert "internal compiler error" not in message


def _raises(thunk):
    with pytest.raises(Exception) as info:
        thunk()
    return info.value


# --- unsupported syntax ----------------------------------------------------------------------------

def uses_try(x):
    try:  # E:try
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_lambda(x):
    sq = lambda t: t * t  # noqa: E731  # E:lambda
    return sq(x)


def generator_function(x):
    yield x * x  # E:yield


def uses_with(x):
    with open(os.devnull) as fh:  # E:with
        y = x * 2.0
    return y


G_COUNT = 3.0


def uses_global(x):
    global G_COUNT  # E:global
    return x * G_COUNT


def uses_starred(x):
    args = (x, 2.0)
    return math.atan2(*args)  # E:starred


def uses_fstring(x):
    label = f"value {x}"  # E:fstring
    return x * x


async def async_function(x):  # E:async
    return x * x


def uses_nonlocal_free_walrus(x):
    return (y := x * 2.0) + y  # E:walrus


def uses_raise(x):
    raise ValueError("no")  # E:raise


def uses_del(x):
    y = x
    del y  # E:del
    return x


def uses_class(x):
    class K:  # E:class
        pass
    return x


def uses_import(x):
    import cmath  # E:import
    return x


def uses_assert(x):
    assert x > 0  # E:assert
    return x


def uses_list_comprehension(x):
    return sum([x * i for i in (1.0, 2.0) if x > i])  # E:listcomp


def uses_generator_expression(x):
    return len({x * i for i in (1.0, 2.0)})  # E:genexp


def uses_discarded_expression(x):
    x + 1.0  # E:discard
    return x


def uses_complex_constant(x):
    return x * 1j  # E:complex


def uses_keyword_to_primitive(x):
    return math.atan2(y=x, x=2.0)  # E:primkw


def uses_pow_modulus(x):
    return pow(x, 2.0, 3.0)  # E:powmod


def uses_undefined_name(x):
    return x * not_defined_anywhere  # noqa: F821  # E:undefined


def uses_before_assignment(x):
    y = z * x  # noqa: F821  # E:before
    z = x
    return y


def uses_star_params(x, *rest):  # E:varargs
    return x


def uses_decorated_nested_def(x):
    @staticmethod  # E:nested_decorator
    def inner(u):
        return u
    return inner(x)


def returns_a_list(x):
    return [x, x]  # E:list


def returns_a_tuple(x):
    return x, 2.0 * x  # E:return_tuple


def uses_for_else(x):
    for i in range(3):
        x = x * 2.0
    else:
        x = x + 1.0  # E:for_else
    return x


def _helper_two(u, v):
    return u * v


def calls_helper_with_unexpected_keyword(x):
    return _helper_two(x, w=2.0)  # E:unexpected_kw


def calls_helper_with_missing_argument(x):
    return _helper_two(x)  # E:missing_arg


def calls_helper_with_too_many(x):
    return _helper_two(x, x, x)  # E:too_many


def unpack_mismatch(x):
    a, b = x, x, x  # E:unpack
    return a * b


def tuple_as_number(x):
    t = (x, x)
    return t * 2.0  # E:tuple_number


def calls_a_number(x):
    return x(2.0)  # E:call_number


def uses_attribute_of_number(x):
    return x.real  # E:attr


def primitive_wrong_arity(x):
    return math.sin(x, x)  # E:arity


def recursive(x):
    return recursive(x * 0.5) + x  # E:recursion


def _mutual_a(u):
    return _mutual_b(u) + 1.0


def _mutual_b(u):
    return _mutual_a(u) * 2.0  # E:mutual


def mutually_recursive(x):
    return _mutual_a(x)


def no_return(x):  # E:no_return
    y = x * x


def bare_return(x):
    y = x * x
    return  # E:bare_return


def uses_gamma(x):  # (math.nextafter: no rule is planned for it)
    return math.nextafter(x, 3.0) * 2.0  # E:gamma


def uses_numpy_without_rule(x):  # (np.i0: no rule is planned for it)
    return np.i0(x) * 2.0  # E:np_cbrt


# (id, function, marker, anchor, expected text in the explanation or None). The brief's required
# cases name a suggestion; every case must at least give advice (see _ADVICE).
SYNTAX_CASES = [
    ("try", uses_try, "try", "try", "check the inputs"),
    ("with", uses_with, "with", "with", "move the context manager"),
    ("global", uses_global, "global", "global", "pass the value as an argument"),
    ("starred-call-argument", uses_starred, "starred", "*args", "pass the arguments one by one"),
    ("walrus", uses_nonlocal_free_walrus, "walrus", "y :=", "assign on a line of its own"),
    ("raise", uses_raise, "raise", "raise", None),
    ("del", uses_del, "del", "del", None),
    ("class", uses_class, "class", "class", None),
    ("import-inside", uses_import, "import", "import", None),
    ("assert", uses_assert, "assert", "assert", None),
    ("comprehension-condition-on-data", uses_list_comprehension, "listcomp", "x > i", "np.where"),
    ("set-comprehension", uses_generator_expression, "genexp", "{x * i", None),
    ("for-else", uses_for_else, "for_else", "x = x + 1.0", "set a flag before `break`"),
    ("discarded-expression", uses_discarded_expression, "discard", "x + 1.0", None),
    ("complex-constant", uses_complex_constant, "complex", "1j", None),
    ("primitive-keyword-arguments", uses_keyword_to_primitive, "primkw", "math.atan2", None),
    ("star-params", uses_star_params, "varargs", "rest", None),
    ("nested-def-decorator", uses_decorated_nested_def, "nested_decorator", "staticmethod", None),
    ("recursion", recursive, "recursion", "recursive(", "Rewrite it with a loop"),
    ("no-return", no_return, "no_return", "def no_return", "`return <expression>`"),
    ("bare-return", bare_return, "bare_return", "return", None),
    ("math-gamma-no-rule", uses_gamma, "gamma", "math.nextafter", "wrap a Python implementation"),
    ("np-cbrt-no-rule", uses_numpy_without_rule, "np_cbrt", "np.i0", "wrap a Python implementation"),
]

# Constructs a user may reasonably try, refused at the right place, but without saying what to write
# instead (an f-string: remove it; t[1]: unpack the tuple; [x, x]: use a tuple...).
_NO_ADVICE = "BUG: the message points at the code but gives no suggestion of what to do instead"
NO_ADVICE_CASES = [
    ("f-string", uses_fstring, "fstring", 'f"value'),
    ("pow-with-modulus", uses_pow_modulus, "powmod", "pow("),
    ("tuple-used-as-number", tuple_as_number, "tuple_number", "t"),
    ("attribute-of-number", uses_attribute_of_number, "attr", "x.real"),
]

# A differentiated function must return one number. Returning several is refused, but the error points
# at the `def` line (not at the `return`), calls a list a tuple, and does not say what to do.
_RESULT_BUG = ("BUG: a non-scalar result is reported at the def line, not at the return statement "
               "(frontend.lower_root passes src.node to as_atom), without advice")
RESULT_CASES = [
    ("returns-a-tuple", returns_a_tuple, "return_tuple", "x, 2.0 * x"),
    ("returns-a-list", returns_a_list, "list", "[x, x]"),
]


@pytest.mark.parametrize("fn, marker, anchor",
                         [pytest.param(*c[1:], id=c[0]) for c in RESULT_CASES])
def test_non_scalar_result_points_at_the_return(fn, marker, anchor):
    exc = _raises(lambda: grad(fn))
    assert_points_at(exc, THIS_FILE, marker, anchor)


@pytest.mark.parametrize("fn", [c[1] for c in RESULT_CASES], ids=[c[0] for c in RESULT_CASES])
def test_non_scalar_result_is_a_grad_error(fn):
    exc = _raises(lambda: grad(fn))
    assert type(exc) is GradError and f'File "{THIS_FILE}"' in str(exc)
    assert "internal compiler error" not in str(exc)


# Plain mistakes, worded like Python's own errors (the fix is the obvious one): located, no advice needed.
MISTAKE_CASES = [
    ("undefined-name", uses_undefined_name, "undefined", "not_defined_anywhere"),
    ("used-before-assignment", uses_before_assignment, "before", "z"),
    ("call-unexpected-keyword", calls_helper_with_unexpected_keyword, "unexpected_kw", "_helper_two"),
    ("call-missing-argument", calls_helper_with_missing_argument, "missing_arg", "_helper_two"),
    ("call-too-many-arguments", calls_helper_with_too_many, "too_many", "_helper_two"),
    ("unpack-count-mismatch", unpack_mismatch, "unpack", "a, b"),
    ("calling-a-number", calls_a_number, "call_number", "x("),
    ("primitive-wrong-arity", primitive_wrong_arity, "arity", "math.sin"),
]


@pytest.mark.parametrize("fn, marker, anchor, suggestion",
                         [pytest.param(*c[1:], id=c[0]) for c in SYNTAX_CASES])
def test_unsupported_code_is_a_grad_error_pointing_at_it(fn, marker, anchor, suggestion):
    exc = _raises(lambda: grad(fn))
    assert_points_at(exc, THIS_FILE, marker, anchor, suggestion)


@pytest.mark.parametrize("fn, marker, anchor",
                         [pytest.param(*c[1:], id=c[0])
                          for c in NO_ADVICE_CASES])
def test_unsupported_code_message_says_what_to_do_instead(fn, marker, anchor):
    exc = _raises(lambda: grad(fn))
    assert_points_at(exc, THIS_FILE, marker, anchor)


@pytest.mark.parametrize("fn, marker, anchor",
                         [pytest.param(*c[1:], id=c[0]) for c in NO_ADVICE_CASES + MISTAKE_CASES])
def test_unsupported_code_points_at_the_code(fn, marker, anchor):
    # Everything but the advice: GradError, file, line, text, caret.
    exc = _raises(lambda: grad(fn))
    assert_points_at(exc, THIS_FILE, marker, anchor, advice=False)


def test_mutual_recursion_is_refused_at_the_inner_call():
    exc = _raises(lambda: grad(mutually_recursive))
    # _mutual_a -> _mutual_b -> _mutual_a: the call that closes the cycle is the one to show.
    assert_points_at(exc, THIS_FILE, "mutual", "_mutual_a(", "loop")


# --- functions the compiler cannot read as plain `def`s ---------------------------------------------

def test_generator_function_points_at_yield():
    exc = _raises(lambda: grad(generator_function))
    assert_points_at(exc, THIS_FILE, "yield", "yield", "Return the value")


def test_generator_function_is_a_grad_error_naming_file_and_function():
    exc = _raises(lambda: grad(generator_function))
    assert type(exc) is GradError
    assert f'File "{THIS_FILE}"' in str(exc) and "generator_function" in str(exc)
    assert "Return the value instead" in str(exc)


def test_async_function_points_at_async_def():
    exc = _raises(lambda: grad(async_function))
    assert_points_at(exc, THIS_FILE, "async", "async def", None)


def test_async_function_is_a_grad_error_naming_file_and_function():
    exc = _raises(lambda: grad(async_function))
    assert type(exc) is GradError
    assert f'File "{THIS_FILE}"' in str(exc) and "async_function" in str(exc)


def test_lambda_passed_to_grad_is_differentiated():
    assert grad(lambda x: x * x)(3.0) == 6.0
    assert grad(lambda x, y: x * y, wrt=1)(3.0, 2.0) == 3.0
    assert uses_lambda(2.0) == 4.0 and grad(uses_lambda)(2.0) == 4.0


def test_two_lambdas_with_the_same_parameters_on_a_line_are_refused():
    fs = [lambda x: x * x, lambda x: x + x]
    exc = _raises(lambda: grad(fs[0]))
    assert type(exc) is GradError and "def" in str(exc)


def test_function_made_by_exec_has_no_source():
    namespace = {}
    exec("def made_by_exec(x):\n    return x * x\n", namespace)
    exc = _raises(lambda: grad(namespace["made_by_exec"]))
    assert type(exc) is GradError
    message = str(exc)
    assert "made_by_exec" in message and "<string>" in message
    assert "exec()" in message and "Put the function in a .py file" in message
    assert exc.__cause__ is None and exc.__suppress_context__


@pytest.mark.parametrize("obj", [math.sin, np.sin, abs, int, object()],
                         ids=["math.sin", "np.sin", "builtin-abs", "a-class", "an-object"])
def test_non_function_objects_are_refused(obj):
    exc = _raises(lambda: grad(obj))
    assert type(exc) is GradError and "def" in str(exc)


# --- errors inside functions the user's function calls (another file) -----------------------------

def test_error_in_inlined_callee_points_into_the_callee_file():
    exc = _raises(lambda: grad(corpus_funcs.calls_bad_helper))
    assert_points_at(exc, CORPUS_FILE, "corpus_try", "try", "check the inputs")


def test_missing_rule_in_inlined_callee_points_into_the_callee_file():
    exc = _raises(lambda: grad(corpus_funcs.calls_helper_without_rule))
    assert_points_at(exc, CORPUS_FILE, "corpus_gamma", "math.nextafter", "wrap a Python implementation")


# --- wrt ----------------------------------------------------------------------------------------------

def two_args(x, y):  # E:two_args
    return x * y


@pytest.mark.parametrize("wrt, suggestion", [
    pytest.param("z", "its parameters are: x, y", id="wrt-names-missing-argument"),
    pytest.param(("x", "z"), "its parameters are: x, y", id="wrt-tuple-with-missing-name"),
    pytest.param(2, "x, y", id="wrt-index-out-of-range"),
    pytest.param(-3, "x, y", id="wrt-negative-index-out-of-range"),
    pytest.param((0, 5), "x, y", id="wrt-tuple-with-bad-index"),
    pytest.param((), "name at least one parameter", id="wrt-empty"),
    pytest.param(True, "by position", id="wrt-bool"),
    pytest.param(1.0, "by position", id="wrt-float"),
    pytest.param(None, "by position", id="wrt-None"),
])
def test_bad_wrt_points_at_the_signature(wrt, suggestion):
    for make in (grad, value_and_grad):
        exc = _raises(lambda: make(two_args, wrt=wrt))
        assert_points_at(exc, THIS_FILE, "two_args", "def two_args", suggestion)


# --- argument values at call time -----------------------------------------------------------------

@pytest.mark.parametrize("bad, what", [
    pytest.param(1, "integer", id="int"),
    pytest.param("s", "str", id="str"),
    pytest.param(None, "NoneType", id="None"),
    pytest.param(True, "bool", id="bool"),
    pytest.param(1 + 2j, "complex", id="complex"),
    pytest.param(np.int64(3), "integer", id="np.int64"),
    pytest.param(np.array(3), "int", id="0-d-int-array"),
    pytest.param(np.array([1, 2]), "int", id="1-d-int-array"),
])
@pytest.mark.parametrize("position", ["positional", "keyword"])
def test_non_float_argument_in_wrt_is_refused_at_call_time(bad, what, position):
    g = grad(two_args, wrt="x")
    call = (lambda: g(bad, 2.0)) if position == "positional" else (lambda: g(x=bad, y=2.0))
    exc = _raises(call)
    assert_points_at(exc, THIS_FILE, "two_args", "x", "pass")
    assert "`x`" in str(exc) and what in str(exc)


def test_array_result_is_refused_as_not_scalar():
    exc = _raises(lambda: grad(two_args, wrt="x")(np.array([1.0, 2.0]), 2.0))
    assert type(exc) is GradError, f"{type(exc).__name__}: {exc}"
    assert "scalar" in str(exc) and THIS_FILE in str(exc)


def test_non_float_in_second_wrt_argument_names_that_argument():
    g = value_and_grad(two_args, wrt=(0, 1))
    exc = _raises(lambda: g(1.0, 2))
    assert_points_at(exc, THIS_FILE, "two_args", "y", "pass the float 2.0")
    assert "`y`" in str(exc)


def test_non_float_argument_not_in_wrt_is_not_checked():
    assert grad(two_args, wrt="x")(1.5, 2) == 2


def test_check_grad_without_float_arguments_is_a_grad_error():
    exc = _raises(lambda: check_grad(two_args, 1, 2))
    assert type(exc) is GradError and "pass floats" in str(exc)


# --- issue 9's small items: messages name the user's line, never the library's or ours ----------

def _einsum(A, x):  # (functions no rule is planned for: Bessel, phase unwrapping, FFT)
    return np.sum(np.i0(A @ x))  # E:einsum


def _convolve(x):
    return np.sum(np.unwrap(x, period=3.0))  # E:convolve


def _library_source(x):
    spectrum = np.fft.rfft(x)  # E:triu
    return np.sum(np.abs(spectrum))


def _def_in_branch(x, c):
    if c > 0:  # E:defbranch
        def h(t):
            return t * 2.0
    else:
        def h(t):
            return t * 3.0
    return h(x)


@pytest.mark.parametrize("fn, args, marker, anchor, name", [
    (_einsum, (np.eye(3), np.ones(3)), "einsum", "np.i0", "numpy.i0"),
    (_convolve, (np.ones(3),), "convolve", "np.unwrap", "numpy.unwrap"),
    (_library_source, (np.ones(3),), "triu", "np.fft.rfft", "numpy.fft.rfft"),
])
def test_library_function_without_rule_points_at_the_users_call(fn, args, marker, anchor, name):
    exc = _raises(lambda: grad(fn)(*args))
    assert_points_at(exc, THIS_FILE, marker, anchor, suggestion="register")
    assert name in str(exc) and "constant" not in str(exc)


def test_def_chosen_in_a_branch_is_named_as_a_def():
    exc = _raises(lambda: grad(_def_in_branch)(1.0, 1.0))
    assert_points_at(exc, THIS_FILE, "defbranch", "if c > 0")
    assert "LocalFunc" not in str(exc) and "def" in str(exc)


def test_another_librarys_array_is_named_by_type_and_shape():
    class FakeTensor:  # what a PyTorch or JAX array looks like to the compiler: a shape, no NumPy
        shape = (3,)

        def __repr__(self):
            return "FAKE" * 1000
    exc = _raises(lambda: grad(_convolve_free)(FakeTensor()))
    assert type(exc) is GradError
    message = str(exc)
    assert "FakeTensor of shape (3,)" in message and "np.asarray" in message
    assert "FAKE" not in message  # the value itself is never printed


def test_generated_code_python_rejects_is_an_internal_error_not_the_users():
    from compiler.loader import load
    with pytest.raises(GradError) as info:
        load("def f(:\n", "make_f", "f", {}, {}, {}, None, None)
    assert "internal compiler error" in str(info.value) and "nests deeper" not in str(info.value)


def _returns_early_in_loop(x, n=4):
    total = 0.0
    for i in range(n):
        total = total + math.sin(x * i)
        if total > 2.0:
            return total * x
        total = total * 0.5
    return total


def test_loop_with_early_return_does_not_guard_each_iteration():
    g = grad(_returns_early_in_loop)
    lines = [line.strip() for line in g.source.splitlines()]
    loop = lines.index(next(line for line in lines if line.startswith("for i in range")))
    first_statement = lines[loop + 1:loop + 4]
    assert not any("not returned" in line for line in first_statement), g.source
    for x in (0.3, 1.4):
        h = 1e-6
        numeric = (_returns_early_in_loop(x + h) - _returns_early_in_loop(x - h)) / (2 * h)
        assert g(x) == pytest.approx(numeric, rel=1e-6)


def test_internal_error_while_specialising_is_a_grad_error(monkeypatch):
    import compiler.api as api
    g = grad(_convolve_free, cache=False)  # built here, with the broken stage (not read from disk)

    def broken(*args, **kwargs):
        raise KeyError("boom")
    monkeypatch.setattr(api, "specialise_gradient", broken)
    with pytest.raises(GradError) as info:
        g(np.ones(3))
    assert "internal compiler error" in str(info.value) and "_convolve_free" in str(info.value)


def _convolve_free(x):
    return np.sum(x * x)


def _dead_log(x):
    return x + 0.0 * math.log(x)


def _dead_asin(x):
    unused = math.asin(x)  # noqa: F841
    return x * x


@pytest.mark.parametrize("fn", [_dead_log, _dead_asin])
def test_gradient_fails_where_the_function_does_even_if_the_failing_value_is_unused(fn):
    with pytest.raises(ValueError):
        fn(-2.0)
    with pytest.raises(ValueError):
        grad(fn)(-2.0)
    with pytest.raises(ValueError):
        value_and_grad(fn)(-2.0)
    assert grad(fn)(0.5) == pytest.approx((fn(0.5 + 1e-6) - fn(0.5 - 1e-6)) / 2e-6, rel=1e-6)
