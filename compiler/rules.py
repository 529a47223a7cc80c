"""Derivative rules: one table, one line per differentiable input of each primitive, for both designs.

The compiler instantiates each formula as equations of its IR (`vjp` below) and emits them as Python;
the tape (runtime/ops.py) compiles the same formulas into the backward functions of its nodes when it
is imported, the way PyTorch generates its autograd nodes from derivatives.yaml. A rule either design
needs is added here, never to the tape.

Notation, as in PyTorch's derivatives.yaml and ChainRules:
  g    the adjoint of the primitive's output (the upstream gradient)
  out  the primitive's output, already computed by the forward pass (reused, never recomputed)
  x, y ...  the inputs, named in the entry's first field; a trailing `*name` collects the remaining
       inputs (shape values, index parts, the arrays of a join). A formula for it, after the formulas
       of the named inputs, gives each of those inputs its contribution: `i` is its position among
       them and `<name>_shapes` their shapes.
  other names are the primitive's parameters (axis, keepdims, index...)
Each formula is the input's contribution to the gradient: the local derivative applied to `g`.
`None` means the primitive is not differentiable in that input (its contribution is an exact zero,
so the reverse pass skips it). Formulas are Python expressions over primitives; a call such as
`cos(x)` uses the same library as the primitive it differentiates (math for math.sin, NumPy for np.sin;
the tape's own function for a Tensor). For arrays, a broadcast input receives its formula summed back to
its own shape by the reverse pass. Helpers such as `sum_grad` are primitives too (compiler/support.py
implements them for the compiler, runtime/ops.py for the tape, with the same meaning).

Non-differentiable points follow one convention in both designs (README, "Kinks and ties"): ties of
max/min split g evenly between the tied inputs; elsewhere PyTorch's values (abs'(0) = 0, clip passes g
at its bounds, sqrt'(0) = inf; where `math` raises on a float, as math.sqrt'(0) does, so does the
compiler's code).

Names in generated code. The adjoint of a value `x` is `dx` (`g` is the adjoint of a rule's output);
its tangent, in forward mode, will be `x_dot`. Tangent (JVP) formulas will live beside this table in
a dict keyed the same way, one formula per primitive giving `out_dot` from the inputs, `out` and the
inputs' tangents (`"mul": ("x y", "x_dot * y + x * y_dot")`), so a generated function can hold a
value, its tangent and its adjoint (`x`, `x_dot`, `dx`; `dx_dot` in forward-over-reverse) without a
clash.
"""
from __future__ import annotations

import ast

import numpy as np

from .ir import Const, Var
from . import library
from .primitives import PRIMS, having

RULES = {
    # primitive: (inputs, d/d input 1, d/d input 2, ...)
    "add":      ("x y", "g", "g"),
    "sub":      ("x y", "g", "-g"),
    "mul":      ("x y", "g * y", "g * x"),                     # the mul gate swaps its inputs
    # d/dy reads the inputs, not the result (as PyTorch: the tape may change the result in place), and
    # shares g / y with d/dx
    "div":      ("x y", "g / y", "-(g / y) * x / y"),
    # x**y, as PyTorch: d/dx is 0 where y == 0 (x**0 is constant, even at x = 0, where
    # y * x**(y - 1) would be 0 * inf); d/dy = x**y log x is 0 where x == 0 and y >= 0 (log reads 1.0
    # there instead of raising (math) or giving 0 * -inf = nan (NumPy)).
    "pow":      ("x y", "g * y * x ** select(y == 0.0, 1.0, y - 1.0)",
                 "g * out * log(select(y >= 0.0, select(x == 0.0, 1.0, x), x))"),
    "mod":      ("x y", "g", "-g * (x // y)"),
    "floordiv": ("x y", None, None),                           # piecewise constant
    "neg":      ("x", "-g"),
    "float":    ("x", "g"),
    "sin":      ("x", "g * cos(x)"),
    "cos":      ("x", "-g * sin(x)"),
    "tan":      ("x", "g * (1.0 + out * out)"),
    "asin":     ("x", "g / sqrt(1.0 - x * x)"),
    "acos":     ("x", "-g / sqrt(1.0 - x * x)"),
    "atan":     ("x", "g / (1.0 + x * x)"),
    "sinh":     ("x", "g * cosh(x)"),
    "cosh":     ("x", "g * sinh(x)"),
    "tanh":     ("x", "g * (1.0 - out * out)"),
    "exp":      ("x", "g * out"),
    "expm1":    ("x", "g * (out + 1.0)"),
    "log":      ("x", "g / x"),
    "log1p":    ("x", "g / (1.0 + x)"),
    "log2":     ("x", "g / (x * 0.6931471805599453)"),         # ln 2
    "log10":    ("x", "g / (x * 2.302585092994046)"),          # ln 10
    # inf at 0, as PyTorch, for NumPy; math.sqrt's raises ZeroDivisionError there, as Python's 1 / 0.0
    # does (the compiler keeps `math` semantics, and its SymPy pass relies on them)
    "sqrt":     ("x", "g * 0.5 / out"),
    "square":   ("x", "g * 2.0 * x"),
    # abs has a kink at 0; we take the subgradient 0 there (sign(0) == 0), as PyTorch and JAX do.
    "abs":      ("x", "g * sign(x)"),
    "atan2":    ("y x", "g * x / (x * x + y * y)", "-g * y / (x * x + y * y)"),
    "hypot":    ("x y", "g * x / out", "g * y / out"),
    # max and min send g to the input they returned; a tie splits it evenly (PyTorch, JAX), so
    # max(x, 0.0) at x = 0 gives x half. The two parts always sum to g: where y is nan, x keeps it
    # all, as Python's max(x, y) returns x unless y > x.
    "max":      ("x y", "g * (1.0 - (y > x) - 0.5 * (x == y))", "g * ((y > x) + 0.5 * (x == y))"),
    "min":      ("x y", "g * (1.0 - (y < x) - 0.5 * (x == y))", "g * ((y < x) + 0.5 * (x == y))"),
    "select":   ("c x y", None, "select(c, g, 0.0)", "select(c, 0.0, g)"),
    # Piecewise constant or boolean results: no gradient flows through them.
    "sign":     ("x", None),
    "floor":    ("x", None),
    "ceil":     ("x", None),
    "trunc":    ("x", None),
    "round":    ("x", None),
    "int":      ("x", None),
    "not":      ("x", None),
    "range_len": ("a b c", None, None, None),
    "and":      ("x y", None, None),
    "or":       ("x y", None, None),
    "global":   ("",),                                          # reads of the user's environment
    "cell":     ("",),
    "lt": ("x y", None, None), "le": ("x y", None, None), "gt": ("x y", None, None),
    "ge": ("x y", None, None), "eq": ("x y", None, None), "ne": ("x y", None, None),

    # Arrays. Reductions hand g back to every entry they read (sum_grad broadcasts it, mean_grad
    # also divides by the count); the helpers live in compiler/support.py.
    "sum":      ("x", "sum_grad(g, x, axis=axis, keepdims=keepdims)"),
    "mean":     ("x", "mean_grad(g, x, axis=axis, keepdims=keepdims)"),
    # max/min reductions: g goes to the arg-max entries, shared equally between ties.
    "amax":     ("x", "extreme_grad(g, x, out, axis=axis, keepdims=keepdims)"),
    "amin":     ("x", "extreme_grad(g, x, out, axis=axis, keepdims=keepdims)"),
    # prod: the product of the other entries, computed without dividing (exact at zeros).
    "prod":     ("x", "prod_grad(g, x, axis=axis, keepdims=keepdims)"),
    "matmul":   ("x y", "matmul_grad_a(g, x, y)", "matmul_grad_b(g, x, y)"),
    "outer":    ("x y", "outer_grad_a(g, y)", "outer_grad_b(g, x)"),
    "transpose": ("x", "transpose_grad(g, axes=axes)"),
    "reshape":  ("x *shape", "reshape_grad(g, x)"),
    "expand_dims": ("x", "reshape_grad(g, x)"),
    "squeeze":  ("x", "reshape_grad(g, x)"),
    # np.broadcast_to(x, shape): g summed back to x's shape (the tape's; not lowered from your code)
    "broadcast_to": ("x *shape", "unbroadcast(g, x)"),
    "copy":     ("x", "g"),
    "astype":   ("x", None),                                    # made by the compiler only
    "stop_gradient": ("x", None),                               # the user's: a constant here
    "index_add": ("*xs",), "iadd": ("x y", None, None), "user_vjp": ("*xs",), "zero_like": ("x", None),
    # A list's adjoint is the adjoint of the array it is stacked into, items along the first axis:
    # an appended value gets its own row of it.
    "list_new": ("",),
    "list_append": ("items v pos", "g", "getitem(g, pos, index=first)", None),
    "stack_list": ("items", "moveaxis_grad(g, axis=axis)"),
    # The arrays of a join: each gets its own slice of g.
    "concatenate": ("*xs", "concat_grad(g, *xs_shapes, axis=axis, index_=i)"),
    "stack":    ("*xs", "stack_grad(g, axis=axis, index_=i)"),
    # clip(x, lo, hi) is min(max(x, lo), hi) with PyTorch's clamp gradients: x gets g where
    # lo <= x <= hi (the bounds included); lo where x < lo < hi; hi where x > hi, or everywhere
    # when hi < lo (the result is hi there). A bound of None gets nothing.
    "clip":     ("x lo hi", "clip_grad(g, x, lo, hi)", "clip_lo_grad(g, x, lo, hi)",
                 "clip_hi_grad(g, x, lo, hi)"),
    "logaddexp": ("x y", "g * exp(x - out)", "g * exp(y - out)"),
    # x[index]: g scattered back with np.add.at (indices may repeat); the index carries none.
    "getitem":  ("x *parts", "index_grad(g, x, *parts, index=index)"),
    # ... and that scatter is linear in what it scatters: its adjoint reads g at the index.
    "index_grad": ("h x *parts", "getitem(g, *parts, index=index)", None),
    # y = x with y[index] = v: the overwritten entries of x no longer reach y; v gets g where it
    # was written (of a place an index array writes twice, only the write NumPy kept).
    "setitem":  ("x v *parts", "cleared(g, *parts, index=index)",
                 "written_grad(g, *parts, index=index)"),
    # aliasing (aliasing.py): whether NumPy made a view, a check before a write; no gradient
    "shares": ("a b", None, None), "write_check": ("*xs",), "deopt": ("",),
    # a call with no rule (primitives.py): no gradient flows; reverse.py refuses it where one should
    "call": ("*xs",),
    "shape": ("x", None), "len": ("x", None), "ndim": ("x", None), "size": ("x", None),
    "zeros": ("*s", ), "ones": ("*s",), "eye": ("n", None), "zeros_like": ("x", None),
    "ones_like": ("x", None), "full": ("v *s", "unbroadcast(g, v)"), "arange": ("*s",), "tuple": ("*s",),
}

# The library's functions (compiler/library/): each entry brings its formulas, and a helper with a
# rule of its own brings that.
RULES.update({e.name: (e.inputs, *e.formulas) for e in library.ENTRIES})
RULES.update({h.name: h.rule for h in library.HELPERS.values() if h.rule is not None})

# Primitives whose inputs broadcast against each other: each input's contribution is summed back
# to its own shape by the reverse pass (`unbroadcast`, removed when the shapes are known equal).
BROADCASTING = having("broadcasts")

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
           ast.FloorDiv: "floordiv", ast.Mod: "mod"}
_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
# Primitives spelled as Python operators: they carry no library.
_OPERATOR_PRIMS = set(_BINOPS.values()) | set(_CMPOPS.values()) | {"neg"}


class Rule:
    """A parsed table entry: input names, and per input a formula (an expression AST) or None;
    `rest_formula` is the formula of every input a trailing `*name` collects (None: they get none)."""

    def __init__(self, prim, names, formulas, user_vjp=None):
        self.prim = prim
        self.user_vjp = user_vjp  # a rule registered by the user: vjp(g, out, *args), called as is
        self.names = names.split()
        self.rest = None  # a trailing `*name` collects the remaining inputs
        if self.names and self.names[-1].startswith("*"):
            self.rest = self.names.pop()[1:]
        parsed = [None if f is None else ast.parse(f, mode="eval").body for f in formulas]
        self.rest_formula = None
        if self.rest is not None and len(parsed) == len(self.names) + 1:
            self.rest_formula = parsed.pop()
        self.formulas = parsed + [None] * (len(self.names) - len(parsed))
        if len(self.names) != len(self.formulas):
            raise ValueError(f"rule for {prim}: {len(self.names)} inputs, {len(self.formulas)} formulas")
        used = set()
        for f in self.formulas + [self.rest_formula]:
            if f is not None:
                used |= {n.id for n in ast.walk(f) if isinstance(n, ast.Name)}
        # What the backward pass reads from the forward pass: derived from the formulas.
        self.saves_out = "out" in used or user_vjp is not None  # vjp(g, out, *args)
        self.saves_inputs = [n in used for n in self.names]


TABLE = {prim: Rule(prim, entry[0], entry[1:]) for prim, entry in RULES.items()}


class MissingRule(KeyError):
    pass


def rule_for(prim):
    rule = TABLE.get(prim)
    if rule is None:
        raise MissingRule(f"no derivative rule for primitive {prim!r}: add one to compiler/rules.py")
    return rule


def vjp(builder, eqn, g, wanted):
    """The contributions of `eqn` to its inputs' adjoints, appended to `builder`.

    `wanted[i]` says whether input i needs an adjoint; the result has an atom or None per input.
    """
    lib = eqn.params.get("lib")
    rule = rule_for(eqn.prim)
    if rule.user_vjp is not None:  # the user's own rule, called by the generated code
        if not any(wanted):
            return [None] * len(eqn.ins)
        hints = [a if isinstance(a, Var) else "" for a in eqn.ins]
        outs = builder.emit_multi("user_vjp", [g, eqn.out] + list(eqn.ins),
                                  [h for h in hints], vjp=rule.user_vjp)
        for o, h in zip(outs, hints):
            o.hint = h
        return [o if w else None for o, w in zip(outs, wanted)]
    named = len(rule.names)
    env = dict(zip(rule.names, eqn.ins))
    rest = list(eqn.ins[named:])
    if rule.rest is not None:
        env["*" + rule.rest] = rest
    env.update({k: v for k, v in eqn.params.items() if k != "lib"})
    env["first"] = ("atom",)
    env["g"] = g
    env["out"] = eqn.out
    results = []
    for formula, want in zip(rule.formulas, wanted):
        if formula is None or not want:
            results.append(None)
        else:
            results.append(_instantiate(builder, formula, env, lib))
    if rule.rest_formula is not None and any(wanted[named:]):
        if any(isinstance(n, ast.Name) and n.id == rule.rest + "_shapes"
               for n in ast.walk(rule.rest_formula)):
            env["*" + rule.rest + "_shapes"] = [builder.emit("shape", [x]) for x in rest]
        for i, want in enumerate(wanted[named:]):
            results.append(_instantiate(builder, rule.rest_formula, {**env, "i": i}, lib)
                           if want else None)
    results += [None] * (len(eqn.ins) - len(results))
    return results


def _instantiate(b, node, env, lib):
    """Build the IR for one formula. Calls take the primal's library; operators take none."""
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Constant):
        return Const(node.value)
    # Arithmetic in the rule of a NumPy function keeps NumPy's semantics even on Python floats
    # (np.log(0.0) has the derivative inf, with a warning, where 1.0 / 0.0 would raise).
    arith = {"lib": "np"} if lib == "np" else {}
    if isinstance(node, ast.BinOp):
        return b.emit(_BINOPS[type(node.op)], [_instantiate(b, node.left, env, lib),
                                               _instantiate(b, node.right, env, lib)], **arith)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return b.emit("neg", [_instantiate(b, node.operand, env, lib)], **arith)
    if isinstance(node, ast.Compare):
        return b.emit(_CMPOPS[type(node.ops[0])], [_instantiate(b, node.left, env, lib),
                                                   _instantiate(b, node.comparators[0], env, lib)])
    if isinstance(node, ast.Call):
        prim = node.func.id
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                args.extend(env["*" + a.value.id])
            else:
                args.append(_instantiate(b, a, env, lib))
        params = {k.arg: env[k.value.id] if isinstance(k.value, ast.Name) else
                  ast.literal_eval(k.value)
                  for k in node.keywords
                  if not isinstance(k.value, ast.Name) or k.value.id in env}  # absent: default
        if prim in _OPERATOR_PRIMS or prim == "select" or set(PRIMS[prim].funcs) == {None}:
            return b.emit(prim, args, **params)  # one spelling only: no library to choose
        return b.emit(prim, args, lib=lib, **params)
    raise ValueError(f"unsupported syntax in a rule formula: {ast.dump(node)}")


# --- tangents (forward mode) ---------------------------------------------------------------------
#
# Each primitive's tangent, `out_dot`, is a sum of terms, one per input that has a tangent (`x_dot`
# for input `x`), in the same notation as the reverse rules above. A term is:
#   a formula      over the inputs, `out`, the parameters and the tangents (`x_dot`);
#   LINEAR         the primitive is jointly linear in the inputs so marked: one call of it with each
#                  of them replaced by its tangent (zeros where one has none), the rest as they are;
#   EACH           the primitive is linear in this input alone (matmul in each operand): the
#                  primitive with this input replaced by its tangent;
#   ROWS           no closed form here yet: the tangent is assembled from the reverse rule, one
#                  output entry at a time (exact, and costs one reverse rule per entry of `out`);
#   REVERSE        the reverse formula with `g` replaced by the tangent (right where the input's
#                  Jacobian is diagonal: elementwise, or numbers);
#   OTHERS         (a helper computing operand `which`'s adjoint) linear in each other operand;
#   UNKNOWN        no rule yet: a tangent reaching it is refused, saying so;
#   None           no tangent flows through this input (piecewise constant, an index, a shape).
# Elementwise primitives need no entry: their reverse formula with `g` replaced by an input's
# tangent is that input's term (the Jacobian of an elementwise function is diagonal, so it is its
# own transpose). Adjoint helpers have entries too, so that a gradient graph can be differentiated
# forwards again (hessians: forward over reverse); most are linear in `g`.
LINEAR, EACH, ROWS, REVERSE, OTHERS, UNKNOWN = (library.LINEAR, library.EACH, library.ROWS,
                                               library.REVERSE, library.OTHERS, library.UNKNOWN)
_MARKERS = (LINEAR, EACH, ROWS, REVERSE, OTHERS, UNKNOWN)

_REDUCE_TANGENT = "sum({}(ones_like(out), x, {}axis=axis, keepdims=keepdims) * x_dot, axis=axis, " \
                  "keepdims=keepdims)"

TANGENTS = {
    "select":   ("c x y", None, LINEAR, LINEAR),
    "copy":     ("x", LINEAR),
    "sum":      ("x", LINEAR),
    "mean":     ("x", LINEAR),
    # max/min/prod reductions: the reverse rule's weights at g = 1, summed against x_dot
    "amax":     ("x", _REDUCE_TANGENT.format("extreme_grad", "out, ")),
    "amin":     ("x", _REDUCE_TANGENT.format("extreme_grad", "out, ")),
    "prod":     ("x", _REDUCE_TANGENT.format("prod_grad", "")),
    "prod_grad": ("g x", LINEAR, UNKNOWN),
    "matmul":   ("x y", EACH, EACH),
    "outer":    ("x y", EACH, EACH),
    "transpose": ("x", LINEAR),
    "reshape":  ("x *shape", LINEAR, None),
    "expand_dims": ("x", LINEAR),
    "squeeze":  ("x", LINEAR),
    "broadcast_to": ("x *shape", LINEAR, None),
    "getitem":  ("x *parts", LINEAR, None),
    "setitem":  ("x v *parts", LINEAR, LINEAR, None),
    "list_append": ("items v pos", LINEAR, LINEAR, None),
    "stack_list": ("items", LINEAR),
    "concatenate": ("*xs", LINEAR),
    "stack":    ("*xs", LINEAR),
    "full":     ("v *s", LINEAR, None),
    "float":    ("x", "x_dot"),
    "fresh":    ("x", LINEAR),
    "float64":  ("x", "x_dot"),
    # The reverse pass's helpers: linear in the adjoint g they carry; the value they read beside it
    # gives only a shape or a piecewise-constant mask, or, for the products, is the other factor.
    "unbroadcast": ("g x", LINEAR, None),
    "sum_grad":  ("g x", LINEAR, None),
    "mean_grad": ("g x", LINEAR, None),
    "extreme_grad": ("g x out", LINEAR, None, None),
    "matmul_grad_a": ("g a b", EACH, None, EACH),
    "matmul_grad_b": ("g a b", EACH, EACH, None),
    "outer_grad_a": ("g b", EACH, EACH),
    "outer_grad_b": ("g a", EACH, EACH),
    "index_grad": ("g x *parts", LINEAR, None, None),
    "cleared":   ("g *parts", LINEAR, None),
    "written_grad": ("g *parts", LINEAR, None),
    "transpose_grad": ("g", LINEAR),
    "reshape_grad": ("g x", LINEAR, None),
    "concat_grad": ("g *shapes", LINEAR, None),
    "stack_grad": ("g", LINEAR),
    "moveaxis_grad": ("g", LINEAR),
    "clip_grad": ("g x lo hi", LINEAR, None, None, None),
    "clip_lo_grad": ("g x lo hi", LINEAR, None, None, None),
    "clip_hi_grad": ("g x lo hi", LINEAR, None, None, None),
    # accumulation the specialiser makes: a sum
    "iadd":      ("x y", "x_dot", "y_dot"),
    "index_add": ("acc g *parts", LINEAR, LINEAR, None),
}
TANGENTS.update({e.name: (e.inputs, *e.tangent) for e in library.ENTRIES if e.tangent is not None})
TANGENTS.update({h.name: (h.inputs, *h.tangent) for h in library.HELPERS.values()
                 if h.tangent is not None})
# What forward mode may meet and pass by: values with no tangent at all.
NO_TANGENT = {"zero_like", "zeros_like", "ones_like", "zeros", "ones", "eye", "arange", "shape",
              "len", "ndim", "size", "tuple", "list_new", "global", "cell", "shares", "write_check",
              "deopt", "astype", "range_len", "call", "stop_gradient"}


class TangentRule:
    """A parsed tangent entry: per input a term (a formula AST, a marker, or None)."""

    def __init__(self, prim, names, terms, from_reverse=False):
        self.prim = prim
        self.from_reverse = from_reverse  # terms are the reverse formulas, read with g = x_dot
        self.names = names.split()
        self.rest = None
        if self.names and self.names[-1].startswith("*"):
            self.rest = self.names.pop()[1:]
        parsed = [t if t is None or t in _MARKERS else ast.parse(t, mode="eval").body
                  for t in terms]
        self.rest_term = None
        if self.rest is not None and len(parsed) == len(self.names) + 1:
            self.rest_term = parsed.pop()
        self.terms = parsed + [None] * (len(self.names) - len(parsed))

    def term(self, position):
        return self.terms[position] if position < len(self.terms) else self.rest_term


def _tangent_table():
    table = {}
    for prim, p in PRIMS.items():
        if prim in TANGENTS:
            entry = TANGENTS[prim]
            table[prim] = TangentRule(prim, entry[0], entry[1:])
        elif p.elementwise and p.differentiable and prim in TABLE:
            rule = TABLE[prim]
            names = " ".join(rule.names + (["*" + rule.rest] if rule.rest else []))
            terms = rule.formulas + ([rule.rest_formula] if rule.rest_formula is not None else [])
            table[prim] = TangentRule(prim, names, [], from_reverse=True)
            table[prim].terms = list(rule.formulas)
            table[prim].rest_term = rule.rest_formula
        elif not p.differentiable and not p.internal or prim in NO_TANGENT:
            table[prim] = TangentRule(prim, "", [])  # nothing flows: every term None
    return table


TANGENT_TABLE = _tangent_table()


class MissingTangent(KeyError):
    pass


def tangent_rule(prim):
    rule = TANGENT_TABLE.get(prim)
    if rule is None:
        raise MissingTangent(prim)
    return rule


def jvp(builder, eqn, dots):
    """The tangent of `eqn`'s output given its inputs' tangents (`dots`: an atom or None per
    input), appended to `builder`; None when no tangent reaches it."""
    if not any(d is not None for d in dots):
        return None
    rule = tangent_rule(eqn.prim)
    lib = eqn.params.get("lib")
    params = {k: v for k, v in eqn.params.items() if not k.startswith("_")}
    named = len(rule.names)
    env = dict(zip(rule.names, eqn.ins))
    env.update({n + "_dot": d for n, d in zip(rule.names, dots)})
    if rule.rest is not None:
        env["*" + rule.rest] = list(eqn.ins[named:])
    env.update({k: v for k, v in params.items() if k != "lib"})
    env["first"] = ("atom",)
    env["out"] = eqn.out
    terms, linear = [], []
    for position, (atom, dot) in enumerate(zip(eqn.ins, dots)):
        term = rule.term(position)
        if dot is None or term is None:
            continue
        if term == OTHERS:
            term = None if position - 1 == params.get("which", 0) else EACH
            if term is None:
                continue
        if term == UNKNOWN:
            raise MissingTangent(f"{eqn.prim} (its input {position + 1})")
        if term == LINEAR:
            linear.append(position)
        elif term == EACH:
            ins = list(eqn.ins)
            ins[position] = dot
            terms.append(builder.emit(eqn.prim, ins, **params))
        elif term == ROWS:
            terms.append(builder.emit("tangent_by_rows", [dot, eqn.out, *eqn.ins], of=eqn.prim,
                                      which=position, params=tuple(sorted(params.items()))))
        else:
            local = {**env, "i": position - named} if position >= named else env
            if term == REVERSE or rule.from_reverse:
                reverse = rule_for(eqn.prim)
                formula = term if rule.from_reverse else (
                    reverse.formulas[position] if position < len(reverse.names)
                    else reverse.rest_formula)
                local = {**local, "g": dot, "*" + (reverse.rest or "") + "_shapes": None}
                if reverse.rest is not None:
                    local["*" + reverse.rest] = list(eqn.ins[len(reverse.names):])
                local.update(zip(reverse.names, eqn.ins))
                terms.append(_instantiate(builder, formula, local, lib))
            else:
                terms.append(_instantiate(builder, term, local, lib))
    if linear:
        ins = []
        for position, atom in enumerate(eqn.ins):
            if position in linear:
                ins.append(dots[position])
            elif rule.term(position) == LINEAR:  # no tangent: zeros shaped like the value
                ins.append(builder.emit("zero_like", [atom]) if isinstance(atom, Var) else
                           Const(0.0 if np.ndim(atom.value) == 0 else np.zeros(np.shape(
                               atom.value)).tolist()))
            else:
                ins.append(atom)
        terms.insert(0, builder.emit(eqn.prim, ins, **params))
    if not terms:
        return None
    total = terms[0]
    for term in terms[1:]:
        total = builder.emit("add", [total, term], **({"lib": "np"} if lib == "np" else {}))
    return total


def evaluate_formula(prim, position, values, params, g):
    """The value of `prim`'s reverse formula for input `position` at these input values, for the
    adjoint `g` (ROWS tangents call it once per output entry)."""
    rule = rule_for(prim)
    named = len(rule.names)
    formula = rule.formulas[position] if position < named else rule.rest_formula
    env = dict(zip(rule.names, values))
    if rule.rest is not None:
        env["*" + rule.rest] = list(values[named:])
        env["*" + rule.rest + "_shapes"] = [np.shape(v) for v in values[named:]]
    env.update({k: v for k, v in params.items() if k != "lib"})
    env["i"] = position - named
    env["g"] = g
    env["out"] = params["_out"]
    lib = params.get("lib")

    def value(node):
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            return PRIMS[_BINOPS[type(node.op)]].impl("np").__call__(value(node.left),
                                                                     value(node.right))
        if isinstance(node, ast.UnaryOp):
            return -value(node.operand)
        if isinstance(node, ast.Compare):
            return PRIMS[_CMPOPS[type(node.ops[0])]].impl(None)(value(node.left),
                                                                value(node.comparators[0]))
        if isinstance(node, ast.Call):
            args = []
            for a in node.args:
                args.extend(env["*" + a.value.id] if isinstance(a, ast.Starred) else [value(a)])
            kw = {k.arg: env[k.value.id] if isinstance(k.value, ast.Name) else
                  ast.literal_eval(k.value)
                  for k in node.keywords
                  if not isinstance(k.value, ast.Name) or k.value.id in env}
            p = PRIMS[node.func.id]
            return p.evaluate("np" if "np" in p.funcs else lib, args, kw)
        raise ValueError(f"unsupported syntax in a rule formula: {ast.dump(node)}")

    return value(formula)


def differentiable_prims():
    return sorted(name for name, p in PRIMS.items() if p.differentiable)


__all__ = ["RULES", "TABLE", "vjp", "rule_for", "MissingRule", "differentiable_prims", "Var",
           "TANGENTS", "TANGENT_TABLE", "jvp", "tangent_rule", "MissingTangent"]
