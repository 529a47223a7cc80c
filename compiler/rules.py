"""Derivative rules: one table, one line per differentiable input of each primitive.

Notation, as in PyTorch's derivatives.yaml and ChainRules:
  g    the adjoint of the primitive's output (the upstream gradient)
  out  the primitive's output, already computed by the forward pass (reused, never recomputed)
  x, y ...  the inputs, named in the entry's first field
Each formula is the input's contribution to the gradient: the local derivative applied to `g`.
`None` means the primitive is not differentiable in that input (its contribution is an exact zero,
so the reverse pass skips it). Formulas are Python expressions over primitives; a call such as
`cos(x)` uses the same library as the primitive it differentiates (math for math.sin, NumPy for np.sin).
For arrays, a broadcast input receives its formula summed back to its own shape by the reverse pass.
"""
from __future__ import annotations

import ast

from .ir import Const, Var
from .primitives import PRIMS, having

RULES = {
    # primitive: (inputs, d/d input 1, d/d input 2, ...)
    "add":      ("x y", "g", "g"),
    "sub":      ("x y", "g", "-g"),
    "mul":      ("x y", "g * y", "g * x"),                     # the mul gate swaps its inputs
    "div":      ("x y", "g / y", "-g * out / y"),
    # d/dy x**y = x**y log x: real only for x > 0. At x == 0 (where x**y is 0 for y > 0) it is 0:
    # log reads 1.0 there instead of raising (math) or giving -inf * 0 = nan (NumPy).
    "pow":      ("x y", "g * y * x ** (y - 1)", "g * out * log(select(x == 0.0, 1.0, x))"),
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
    "sqrt":     ("x", "g * 0.5 / out"),
    "square":   ("x", "g * 2.0 * x"),
    # abs has a kink at 0; we take the subgradient 0 there (sign(0) == 0), as PyTorch and JAX do.
    "abs":      ("x", "g * sign(x)"),
    "atan2":    ("y x", "g * x / (x * x + y * y)", "-g * y / (x * x + y * y)"),
    "hypot":    ("x y", "g * x / out", "g * y / out"),
    # max and min route g to the input they returned (ties go where the primal's choice went).
    "max":      ("x y", "select(y > x, 0.0, g)", "select(y > x, g, 0.0)"),
    "min":      ("x y", "select(y < x, 0.0, g)", "select(y < x, g, 0.0)"),
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
    "copy":     ("x", "g"),
    "astype":   ("x", None),                                    # made by the compiler only
    "index_add": ("*xs",), "iadd": ("x y", None, None), "user_vjp": ("*xs",), "zero_like": ("x", None),
    # A list's adjoint is the adjoint of the array it is stacked into, items along the first axis:
    # an appended value gets its own row of it.
    "list_new": ("",),
    "list_append": ("items v pos", "g", "getitem(g, pos, index=first)", None),
    "stack_list": ("items", "moveaxis_grad(g, axis=axis)"),
    # clip passes g where x was inside [lo, hi]; the bounds get none (they are usually constants).
    "clip":     ("x lo hi", "clip_grad(g, x, lo, hi)", None, None),
    "logaddexp": ("x y", "g * exp(x - out)", "g * exp(y - out)"),
    # x[index]: g scattered back with np.add.at (indices may repeat); the index carries none.
    "getitem":  ("x *parts", "index_grad(g, x, *parts, index=index)"),
    # y = x with y[index] = v: the overwritten entries of x no longer reach y; v gets g where it
    # was written (of a place an index array writes twice, only the write NumPy kept).
    "setitem":  ("x v *parts", "cleared(g, *parts, index=index)",
                 "written_grad(g, *parts, index=index)"),
    # aliasing (aliasing.py): whether NumPy made a view, a check before a write; no gradient
    "shares": ("a b", None, None), "write_check": ("*xs",),
    "shape": ("x", None), "len": ("x", None), "ndim": ("x", None), "size": ("x", None),
    "zeros": ("*s", ), "ones": ("*s",), "eye": ("n", None), "zeros_like": ("x", None),
    "ones_like": ("x", None), "full": ("*s",), "arange": ("*s",), "tuple": ("*s",),
}

# Primitives whose inputs broadcast against each other: each input's contribution is summed back
# to its own shape by the reverse pass (`unbroadcast`, removed when the shapes are known equal).
BROADCASTING = having("broadcasts")

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
           ast.FloorDiv: "floordiv", ast.Mod: "mod"}
_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
# Primitives spelled as Python operators: they carry no library.
_OPERATOR_PRIMS = set(_BINOPS.values()) | set(_CMPOPS.values()) | {"neg"}


class Rule:
    """A parsed table entry: input names, and per input a formula (an expression AST) or None."""

    def __init__(self, prim, names, formulas, user_vjp=None):
        self.prim = prim
        self.user_vjp = user_vjp  # a rule registered by the user: vjp(g, out, *args), called as is
        self.names = names.split()
        self.rest = None  # a trailing `*name` collects the remaining inputs, which get no gradient
        if self.names and self.names[-1].startswith("*"):
            self.rest = self.names.pop()[1:]
        self.formulas = [None if f is None else ast.parse(f, mode="eval").body for f in formulas]
        self.formulas += [None] * (len(self.names) - len(self.formulas))
        if len(self.names) != len(self.formulas):
            raise ValueError(f"rule for {prim}: {len(self.names)} inputs, {len(self.formulas)} formulas")
        used = set()
        for f in self.formulas:
            if f is not None:
                used |= {n.id for n in ast.walk(f) if isinstance(n, ast.Name)}
        # What the backward pass reads from the forward pass: derived from the formulas.
        self.saves_out = "out" in used or user_vjp is not None  # vjp(g, out, *args)
        self.saves_inputs = [n in used for n in self.names]


TABLE = {prim: Rule(prim, entry[0], entry[1:]) for prim, entry in RULES.items()}
for _prim_name in ("concatenate", "stack"):  # variadic: their rule is _join_vjp below
    TABLE[_prim_name] = Rule(_prim_name, "*xs", ())


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
    if eqn.prim in ("concatenate", "stack"):
        return _join_vjp(builder, eqn, g, wanted)
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
    env = dict(zip(rule.names, eqn.ins))
    if rule.rest is not None:
        env["*" + rule.rest] = list(eqn.ins[len(rule.names):])
    env.update({k: v for k, v in eqn.params.items() if k != "lib"})
    env["first"] = ("atom",)
    env["g"] = g
    env["out"] = eqn.out
    lib = eqn.params.get("lib")
    results = []
    for formula, want in zip(rule.formulas, wanted):
        if formula is None or not want:
            results.append(None)
        else:
            results.append(_instantiate(builder, formula, env, lib))
    results += [None] * (len(eqn.ins) - len(results))
    return results


def _join_vjp(b, eqn, g, wanted):
    """concatenate and stack: each input gets its own slice of g."""
    axis = eqn.params.get("axis", 0)
    results = []
    if eqn.prim == "stack":
        for i, want in enumerate(wanted):
            results.append(b.emit("stack_grad", [g], axis=axis, index_=i) if want else None)
        return results
    shapes = [b.emit("shape", [x]) for x in eqn.ins]
    for i, want in enumerate(wanted):
        results.append(b.emit("concat_grad", [g] + shapes, axis=axis, index_=i) if want else None)
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
        params = {k.arg: env[k.value.id] if isinstance(k.value, ast.Name) else k.value.value
                  for k in node.keywords
                  if not isinstance(k.value, ast.Name) or k.value.id in env}  # absent: default
        if prim in _OPERATOR_PRIMS or prim == "select" or set(PRIMS[prim].funcs) == {None}:
            return b.emit(prim, args, **params)  # one spelling only: no library to choose
        return b.emit(prim, args, lib=lib, **params)
    raise ValueError(f"unsupported syntax in a rule formula: {ast.dump(node)}")


def differentiable_prims():
    return sorted(name for name, p in PRIMS.items() if p.differentiable)


__all__ = ["RULES", "TABLE", "vjp", "rule_for", "MissingRule", "differentiable_prims", "Var"]
