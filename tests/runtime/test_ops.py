"""Every rule of the tape (runtime/ops.py, generated from compiler/rules.py) and every composite in
functional.py, against central differences.

Each case is a function of its inputs written with runtime's functions, which also run on plain NumPy
values: the same function gives the tape's gradient (on Tensors) and the numerical one (on arrays, via
runtime.gradcheck). Random float64 inputs come from a fixed non-trivial seed; the output is weighted by a
random cotangent, so every output entry matters. Second derivatives (create_graph=True) are checked the
same way, against central differences of the tape's own first derivative.
"""
from compiler.library import BY_NAME as LIBRARY
import ast
from dataclasses import dataclass, field

import numpy as np
import pytest

import runtime as rt
from runtime import functional as F
from runtime.gradcheck import compare, numerical_grad
from runtime.ops import TABLE

SEED = 20240531


# Input generators: each takes a Generator and returns a float (shape ()) or an array.
def normal(*shape):
    return lambda rng: _shaped(rng.normal(size=shape), shape)


def uniform(lo, hi, *shape):
    return lambda rng: _shaped(rng.uniform(lo, hi, size=shape), shape)


def positive(*shape):
    return uniform(0.5, 2.0, *shape)


def away_from_zero(*shape):
    return lambda rng: _shaped(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape), shape)


def fixed(value):
    return lambda rng: value if np.ndim(value) == 0 else np.array(value, dtype=np.float64)


def _shaped(a, shape):
    return float(a) if shape == () else a


@dataclass
class Case:
    op: str                 # the primitive or composite the case covers
    fn: object
    inputs: list
    label: str = ""
    second_order: bool = True
    differentiable: list = field(default_factory=list)   # indices (default: all)

    @property
    def id(self):
        return f"{self.op}-{self.label}" if self.label else self.op


UNARY_DOMAINS = {
    "log": positive, "log2": positive, "log10": positive, "sqrt": positive,
    "log1p": lambda *s: uniform(-0.5, 2.0, *s), "asin": lambda *s: uniform(-0.8, 0.8, *s),
    "acos": lambda *s: uniform(-0.8, 0.8, *s), "tan": lambda *s: uniform(-1.2, 1.2, *s),
    "abs": away_from_zero,
}

CASES = []
for name, prim in TABLE.items():
    if prim.elementwise and prim.inputs == ("x",) and name not in LIBRARY:  # (tests/library)
        dom = UNARY_DOMAINS.get(name, normal)
        fn = F.FUNCTIONS[name]
        CASES.append(Case(name, fn, [dom(2, 3)], "matrix"))
        CASES.append(Case(name, fn, [dom()], "scalar"))

BINARY_DOMAINS = {
    "div": (normal, away_from_zero), "pow": (positive, normal), "hypot": (away_from_zero, away_from_zero),
    "atan2": (away_from_zero, away_from_zero),
}
for name in ("add", "sub", "mul", "div", "pow", "max", "min", "atan2", "hypot", "logaddexp"):
    fn = F.FUNCTIONS[name]
    da, db = BINARY_DOMAINS.get(name, (normal, normal))
    CASES += [
        Case(name, fn, [da(2, 3), db(2, 3)], "same-shape"),
        Case(name, fn, [da(2, 3), db(3)], "broadcast-row"),
        Case(name, fn, [da(2, 1), db(1, 3)], "broadcast-outer"),
        Case(name, fn, [da(), db(2, 3)], "scalar-tensor-with-array"),
        Case(name, fn, [da(), db()], "scalars"),
        Case(name, lambda a, f=fn: f(a, 1.7), [da(2, 3)], "constant-right"),
        Case(name, lambda b, f=fn: f(1.3, b), [db(3)], "constant-left"),
    ]
CASES += [
    Case("pow", lambda a: F.pow(a, 3), [normal(2, 3)], "integer-exponent-negative-base"),
    Case("pow", lambda a: F.pow(a, 0.5), [positive()], "sqrt-exponent-scalar"),
]

COND = np.array([[True, False, True], [False, False, True]])
CASES += [
    Case("select", lambda a, b: F.where(COND, a, b), [normal(2, 3), normal(2, 3)], "same-shape"),
    Case("select", lambda a, b: F.where(COND, a, b), [normal(3), normal()], "broadcast"),
    Case("clip", lambda x, lo, hi: F.clip(x, lo, hi),
         [fixed([-1.5, -0.2, 0.1, 0.7, 1.3]), fixed(-0.5), fixed(0.5)], "tensor-bounds"),
    Case("clip", lambda x: F.clip(x, -0.5, None), [fixed([[-1.5, -0.2], [0.1, 1.3]])], "lower-only"),
    Case("clip", lambda x, lo, hi: F.clip(x, lo, hi),
         [fixed([0.3, 2.5, -1.0]), fixed([1.0, 1.0, 1.0]), fixed([0.5, 0.5, 0.5])], "bounds-crossed"),
]

for name, fn in (("sum", F.sum), ("mean", F.mean), ("prod", F.prod), ("amax", F.max), ("amin", F.min)):
    CASES += [
        Case(name, lambda x, f=fn: f(x), [normal(3, 4)], "all"),
        Case(name, lambda x, f=fn: f(x, axis=1), [normal(3, 4)], "axis"),
        Case(name, lambda x, f=fn: f(x, axis=-1, keepdims=True), [normal(2, 3, 4)], "negative-axis-keepdims"),
        Case(name, lambda x, f=fn: f(x, axis=(0, 2)), [normal(2, 3, 4)], "axis-tuple"),
        Case(name, lambda x, f=fn: f(x, axis=None, keepdims=True), [normal(2, 3)], "all-keepdims"),
        Case(name, lambda x, f=fn: f(x), [normal()], "scalar"),
    ]
CASES.append(Case("prod", lambda x: F.prod(x, axis=1), [fixed([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]])],
                  "with-a-zero", second_order=False))
CASES.append(Case("prod", lambda x: F.prod(x), [fixed([1.5, 0.0, 2.0, 0.0])], "two-zeros", second_order=False))

CASES += [
    Case("matmul", F.matmul, [normal(2, 3), normal(3, 4)], "matrix-matrix"),
    Case("matmul", F.matmul, [normal(3), normal(3, 4)], "vector-matrix"),
    Case("matmul", F.matmul, [normal(2, 3), normal(3)], "matrix-vector"),
    Case("matmul", F.matmul, [normal(3), normal(3)], "vector-vector"),
    Case("matmul", F.matmul, [normal(2, 2, 3), normal(2, 3, 4)], "batched"),
    Case("matmul", F.matmul, [normal(2, 3), normal(2, 3, 4)], "broadcast-batch"),
    Case("matmul", F.matmul, [normal(3), normal(2, 3, 4)], "vector-batched"),
    Case("matmul", F.matmul, [normal(2, 2, 3), normal(3)], "batched-vector"),
    Case("reshape", lambda x: F.reshape(x, (3, -1)), [normal(2, 3, 2)]),
    Case("reshape", lambda x: F.reshape(x, ()), [normal(1, 1)], "to-scalar"),
    Case("transpose", lambda x: F.transpose(x), [normal(2, 3, 4)], "reverse"),
    Case("transpose", lambda x: F.transpose(x, (1, 0, 2)), [normal(2, 3, 4)], "axes"),
    Case("broadcast_to", lambda x: F.broadcast_to(x, (2, 3, 4)), [normal(3, 1)]),
    Case("getitem", lambda x: F.getitem(x, (slice(1, None), slice(None, None, -2))), [normal(3, 4)], "slices"),
    Case("getitem", lambda x: F.getitem(x, -1), [normal(3, 4)], "negative-int"),
    Case("getitem", lambda x: F.getitem(x, np.array([0, 2, 0, 0])), [normal(3, 2)], "int-array-repeats"),
    Case("getitem", lambda x: F.getitem(x, np.array([[True, False, True], [False, True, True]])),
         [normal(2, 3)], "boolean-mask"),
    Case("getitem", lambda x: F.getitem(x, (Ellipsis, None, np.array([1, 1]))), [normal(2, 3)],
         "ellipsis-newaxis-array"),
    Case("getitem", lambda x: F.getitem(x, (np.array([0, 1, 1]), np.array([2, 0, 0]))), [normal(2, 3)],
         "paired-arrays-repeats"),
    Case("index_grad", lambda x: F.scatter_add(x, np.array([0, 2, 0]), (4, 2)), [normal(3, 2)], "repeats"),
    Case("index_grad", lambda x: F.scatter_add(x, (slice(None), 1), (2, 3)), [normal(2)], "basic"),
    Case("concatenate", lambda a, b: F.concatenate([a, b], axis=1), [normal(2, 3), normal(2, 1)], "axis-1"),
    Case("concatenate", lambda a, b: F.concatenate([a, b], axis=None), [normal(2, 2), normal(3)], "flat"),
    Case("stack", lambda a, b, c: F.stack([a, b, c], axis=-1), [normal(2, 3), normal(2, 3), normal(2, 3)]),
    Case("stack", lambda a, b: F.stack([a, b]), [normal(), normal()], "scalars"),
    Case("copy", F.clone, [normal(2, 3)]),
    # composites
    Case("dot", F.dot, [normal(3), normal(3)], "vectors"),
    Case("dot", F.dot, [normal(2, 3), normal(3)], "matrix-vector"),
    Case("dot", F.dot, [normal(2, 3), normal(3, 2)], "matrices"),
    Case("dot", F.dot, [normal(), normal(3)], "scalar"),
    Case("outer", F.outer, [normal(3), normal(2, 2)]),
    Case("expand_dims", lambda x: F.expand_dims(x, (0, -1)), [normal(2, 3)]),
    Case("squeeze", lambda x: F.squeeze(x, 1), [normal(2, 1, 3)]),
    Case("squeeze", F.squeeze, [normal(1, 3, 1)], "all"),
    Case("swapaxes", lambda x: F.swapaxes(x, 0, -1), [normal(2, 3, 4)]),
    Case("flatten", F.flatten, [normal(2, 3)]),
    Case("square", F.square, [normal(2, 3)]),
    Case("reciprocal", F.reciprocal, [away_from_zero(2, 3)]),
]


def _setitem_fn(x, v):
    y = F.mul(x, 1.0)               # a fresh result (a non-leaf Tensor, or a new array)
    y[1:, ::2] = v
    return y


def _setitem_array_fn(x, v):
    y = F.mul(x, 1.0)
    y[np.array([0, 2])] = v
    return y


def _setitem_repeats_fn(x, v):
    y = F.mul(x, 1.0)
    y[np.array([0, 2, 0])] = v          # NumPy keeps the last write to row 0: v[0] reaches nothing
    return y


CASES += [
    Case("setitem", _setitem_fn, [normal(3, 4), normal(2, 2)], "slice"),
    Case("setitem", _setitem_fn, [normal(3, 4), normal(2)], "broadcast-value"),
    Case("setitem", _setitem_array_fn, [normal(3, 2), normal(2)], "int-array"),
    Case("setitem", _setitem_repeats_fn, [normal(3, 2), normal(3, 2)], "int-array-repeats"),
]


def _args(case, seed_offset=0):
    rng = np.random.default_rng([SEED, CASES.index(case), seed_offset])
    return [gen(rng) for gen in case.inputs]


def _weights(shape, rng):
    return float(rng.normal()) if shape == () else rng.normal(size=shape)


def _tape_grads(case, args, w):
    ts = [rt.tensor(a, requires_grad=True) for a in args]
    out = case.fn(*ts)
    out.backward(w)
    return out, ts


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradient_matches_central_differences(case):
    args = _args(case)
    expected = case.fn(*args)                   # the same function on plain values
    w = _weights(np.shape(expected), np.random.default_rng([SEED, 1]))
    out, ts = _tape_grads(case, args, w)
    np.testing.assert_allclose(np.asarray(out.detach().numpy()), expected, rtol=1e-12, atol=1e-12)
    for i, (a, t) in enumerate(zip(args, ts)):
        numeric = numerical_grad(case.fn, args, i, seed=w)
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == np.shape(a), f"input {i}: gradient shape {t.grad.shape} != {np.shape(a)}"
        assert t.grad.dtype == np.float64
        err, rel, ok = compare(t.grad.numpy(), numeric)
        assert ok, f"input {i}: max abs err {err:.3g}, rel {rel:.3g}\n{t.grad.numpy()}\nvs\n{numeric}"


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=lambda c: c.id)
def test_second_derivative_matches_central_differences_of_the_first(case):
    args = _args(case)
    rng = np.random.default_rng([SEED, 2])
    w = _weights(np.shape(case.fn(*args)), rng)
    v = _weights(np.shape(args[0]), rng)

    def directional_first_derivative(*raw):
        ts = [rt.tensor(a, requires_grad=True) for a in raw]
        g, = rt.autograd.grad(case.fn(*ts), ts[0], grad_outputs=w)
        return float(np.sum(g.numpy() * v))

    ts = [rt.tensor(a, requires_grad=True) for a in args]
    g, = rt.autograd.grad(case.fn(*ts), ts[0], grad_outputs=w, create_graph=True)
    assert np.isclose(float(np.sum(g.detach().numpy() * v)), directional_first_derivative(*args))
    if not g.requires_grad:         # linear in every input: the first derivative is a constant
        hessian_rows = [None] * len(ts)
    else:
        hessian_rows = rt.autograd.grad(F.sum(g * v), ts, allow_unused=True)
    for i, (a, h) in enumerate(zip(args, hessian_rows)):
        numeric = numerical_grad(directional_first_derivative, args, i)
        analytic = np.zeros(np.shape(a)) if h is None else h.numpy()
        err, rel, ok = compare(analytic, numeric, atol=1e-5, rtol=1e-4)
        assert ok, f"input {i}: max abs err {err:.3g}, rel {rel:.3g}\n{analytic}\nvs\n{numeric}"


def test_every_primitive_and_composite_has_a_gradient_case():
    covered = {c.op for c in CASES}
    # the library's functions have theirs in tests/library/ (test_library.py walks them)
    missing = (set(TABLE) | set(F.COMPOSITES)) - covered - set(LIBRARY)
    assert not missing, f"add a gradient case to tests/runtime/test_ops.py for: {sorted(missing)}"


def test_every_input_the_table_differentiates_has_a_rule():
    from compiler.rules import TABLE as RULES
    for prim in TABLE.values():
        rule = RULES[prim.name]
        formulas = {rule.rest: rule.rest_formula} if prim.variadic else dict(zip(rule.names, rule.formulas))
        wanted = {n for n in prim.inputs if formulas.get(n) is not None}
        assert set(prim.rules) == wanted, prim.name


def test_the_tape_runs_the_compilers_formulas():
    # one table: the tape's rule for an input is the compiler's formula (a shape-only argument aside)
    from compiler.rules import RULES
    assert TABLE["sin"].rules["x"].__code__.co_filename == TABLE["mul"].rules["y"].__code__.co_filename
    for name in ("sin", "tanh", "mul", "div", "max", "logaddexp", "atan2", "select", "clip"):
        entry = RULES[name]
        for inp, text in zip(entry[0].split(), entry[1:]):
            if text is None:          # select's condition: no rule in either design
                assert inp not in TABLE[name].formulas
                continue
            assert ast.unparse(TABLE[name].formulas[inp]) == ast.unparse(ast.parse(text)), (name, inp)
    assert ast.unparse(TABLE["sum"].formulas["x"]) == "sum_grad(g, x_shape, axis=axis, keepdims=keepdims)"
    # a ** b is the tape's pow (its kernel gives nan, not a complex number, for a negative base)
    assert ast.unparse(TABLE["pow"].formulas["x"]) == "g * y * pow(x, select(y == 0.0, 1.0, y - 1.0))"


def test_generated_backward_source_is_python_a_reader_can_follow():
    from runtime import ops
    assert "def MulBackward_apply(self, g, graph):" in ops.SOURCE
    assert "        dx = g * y\n" in ops.SOURCE      # the formula, inlined into the node's apply
    assert TABLE["mul"].node_class.apply.__code__.co_filename == TABLE["sin"].rules["x"].__code__.co_filename
    lines = TABLE["mul"].node_class.apply.__code__.co_filename
    import linecache
    assert linecache.getline(lines, 1).startswith("def ")


def test_saved_values_are_derived_from_the_rules():
    # mul keeps each input only for the other's gradient; exp keeps its result, not its input.
    mul = TABLE["mul"]
    assert [mul.saved_names[i] for i in mul.arg_index["x"]] == ["y"]
    assert [mul.saved_names[i] for i in mul.arg_index["y"]] == ["x"]
    assert TABLE["exp"].saved_names == ("out",)
    assert TABLE["add"].saved_names == ()
    assert TABLE["sum"].saved_names == ("x_shape", "axis", "keepdims")


def test_mul_keeps_only_what_the_needed_gradient_reads():
    a = rt.tensor([1.0, 2.0], requires_grad=True)
    b = rt.tensor([3.0, 4.0])                       # no gradient wanted: a need not be kept
    node = (a * b).grad_fn
    assert node._saved[0] is None and node._saved[1] is b


def test_maximum_splits_the_gradient_at_ties_like_pytorch():
    a = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = rt.tensor([1.0, 5.0, 0.0], requires_grad=True)
    F.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0, 1.0] and b.grad.tolist() == [0.5, 1.0, 0.0]


def test_max_reduction_shares_the_gradient_among_ties():
    x = rt.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]


def test_abs_has_zero_gradient_at_zero():
    x = rt.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


def test_pow_at_zero_base_gives_finite_gradients_like_pytorch():
    x = rt.tensor([0.0, 2.0], requires_grad=True)
    e = rt.tensor([0.0, 3.0], requires_grad=True)
    (x ** e).sum().backward()
    assert x.grad.tolist() == [0.0, 12.0]
    assert e.grad.tolist() == [0.0, 8.0 * np.log(2.0)]


def test_clip_passes_gradient_at_the_bounds_themselves():
    x = rt.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], requires_grad=True)
    x.clip(-0.5, 0.5).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_scalar_kernels_follow_numpy_not_python_at_singularities():
    with np.errstate(all="ignore"):
        assert F.log(0.0) == -np.inf and np.isnan(F.sqrt(-1.0)) and F.exp(1000.0) == np.inf
        assert F.div(1.0, 0.0) == np.inf and np.isnan(F.pow(-8.0, 1 / 3)) and F.pow(0.0, -1.0) == np.inf
        x = rt.tensor(0.0, requires_grad=True)
        rt.log(x).backward()
        assert x.grad.item() == np.inf                  # 1/0 in the rule: inf, as PyTorch, not an error


# ---- broadcasting, property-based -------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast together (sizes 1-3, up to 3 axes), including scalars ()."""
    a, b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes
    return a, b


@settings(max_examples=40, deadline=None, derandomize=True)
@given(shapes=broadcastable_pair(), op=st.sampled_from(["add", "sub", "mul", "div", "maximum", "hypot"]))
def test_binary_gradients_sum_back_to_each_input_shape(shapes, op):
    rng = np.random.default_rng([SEED, len(shapes[0]), len(shapes[1])])
    args = [_shaped(rng.uniform(0.5, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s), s) for s in shapes]
    fn = getattr(F, op)
    out = fn(*args)
    w = _weights(np.shape(out), rng)
    ts = [rt.tensor(a, requires_grad=True) for a in args]
    fn(*ts).backward(w)
    for i, (a, t) in enumerate(zip(args, ts)):
        assert t.grad.shape == np.shape(a)
        assert compare(t.grad.numpy(), numerical_grad(fn, args, i, seed=w))[2]
