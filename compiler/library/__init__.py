"""The library: NumPy, SciPy and `math` functions beyond the core primitives, one module per family.

Each function is one `Fn` entry, and that entry is all either design needs: the primitive and its
facts (compiler/primitives.py registers it), the callables a user may call for it (resolution), its
static parameters (read from the call, by NumPy's own signature), its derivative formulas (added to
compiler/rules.py's table, so the tape compiles the same ones), and the name of the tape's function.
A formula that needs more than arithmetic calls a helper, written once in plain NumPy in the same
module with `@helper`: the compiler's generated code calls it on arrays, the tape's backward nodes on
values (and, under create_graph=True, on Tensors, through NumPy's dispatch to the tape's functions).

Adding a differentiable function is one entry (plus a helper where the formula needs one) and a
gradient-check case in tests/library/.
"""
from __future__ import annotations

import inspect


# Forward-mode terms (rules.TANGENTS explains them): how a tangent passes through an input.
LINEAR, EACH, ROWS, REVERSE = "linear", "each", "rows", "reverse"
OTHERS = "others"    # a helper of operand `which`: linear in each of the other operands
UNKNOWN = "unknown"  # no rule yet: a tangent reaching this input is refused


class Fn:
    """One library function as a primitive.

    name      the primitive's name (unique; generated code spells the call as `impls` say)
    inputs    the differentiable positional inputs, named as the formulas read them ("x", "x y"),
              in the order of the callable's first positional parameters
    formulas  one per input, in rules.py's notation (`g`, `out`, the inputs, the parameters);
              None: no gradient flows to that input
    family    the facts it shares with others: "elementwise", "unary", "reduction", "linalg",
              "view", "shape" (see primitives.FAMILIES), with `facts` overriding any of them
    np, math  the callables by library (np= is NumPy's or SciPy's array function; math= the one for
              Python floats); `also`: more callables a user may call for it
    params    static keyword parameters (axis, ddof, ...), read from the call when the graph is
              built, by the callable's signature; any other argument must keep its default
    method    the ndarray method spelling it too (x.cumsum(axis=0)), if any
    tangent   its forward-mode terms, one per input, in rules.TANGENTS' notation (elementwise
              functions need none: their reverse formulas serve)
    tape      the tape's public name (runtime.<tape>), None when the tape has no function for it
    parts     for a callable returning a tuple (slogdet, eigh, qr): how many parts; each part the user
              reads is an equation with the static parameter `part` (formulas read it); parts never
              read cost nothing, parts read are computed by one call each
    bind      where the callable's signature does not say which arguments are inputs (np.einsum's
              subscripts first, np.vstack's tuple): bind(args, kwargs, ctx) -> (inputs, params),
              with ctx.const(value, what) the constant a parameter must be and ctx.items(value) the
              items of a tuple or list argument; the same function binds for both designs
    """

    def __init__(self, name, inputs, *formulas, family, np=None, math=None, also=(), params="",
                 method=None, tape="", facts=None, tangent=None, parts=None, bind=None):
        self.name = name
        self.inputs = inputs
        self.formulas = formulas
        self.family = family
        self.impls = {k: v for k, v in (("np", np), ("math", math)) if v is not None}
        self.also = tuple(also)
        self.params = tuple(params.split())
        self.method = method
        self.tape = (getattr(np, "__name__", name) if tape == "" else tape)
        self.facts = dict(facts or {})
        self.tangent = tangent
        self.parts = parts
        self.bind = bind

    @property
    def fn(self):
        """The array callable (NumPy's or SciPy's), else math's."""
        return self.impls.get("np") or self.impls.get("math")

    def signature(self):
        """The callable's parameters, or None for a ufunc (positional inputs only)."""
        try:
            return inspect.signature(self.fn)
        except (TypeError, ValueError):
            return None

    def __repr__(self):
        return f"<library function {self.name}>"


class Helper:
    """A function the formulas call (`helper(g, x, out, axis=None)`): its keyword parameters (those
    with defaults) are the equation's static parameters; `fresh`: it returns a new array."""

    def __init__(self, fn, fresh, rule=None, tangent=None):
        self.fn = fn
        self.name = fn.__name__
        self.fresh = fresh
        self.rule = rule
        self.tangent = tangent  # a term per input, as rules.TANGENTS writes them
        sig = inspect.signature(fn)
        self.inputs = " ".join(p.name if p.kind is not p.VAR_POSITIONAL else "*" + p.name
                               for p in sig.parameters.values()
                               if p.default is p.empty and p.kind is not p.VAR_KEYWORD)
        self.kwargs = tuple(p.name for p in sig.parameters.values()
                            if p.default is not p.empty and p.kind is not p.VAR_POSITIONAL)


HELPERS = {}


def helper(fresh=True, rule=None, tangent=None):
    """Declare a helper of the formulas (compiler and tape both call it); `tangent`: how a tangent
    passes through it, for gradients differentiated forwards again (rules.TANGENTS' notation)."""
    def wrap(fn):
        HELPERS[fn.__name__] = Helper(fn, fresh, rule, tangent)
        return fn
    return wrap


def bind_arguments(names, args, kwargs, required):
    """A `bind=` function's arguments by name, as Python binds a signature (names, in order): the
    `required` ones must be given."""
    if len(args) > len(names):
        raise TypeError(f"takes at most {len(names)} arguments")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise TypeError(f"unexpected or repeated argument {key!r}")
        bound[key] = value
    missing = [n for n in required if n not in bound]
    if missing:
        raise TypeError(f"needs its argument `{missing[0]}`")
    return bound


def optional(module):
    """A module of an optional dependency (SciPy), or None when it is not installed."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


from . import elementwise, linalg, products, reductions, shapes, special  # noqa: E402

FAMILY_MODULES = (elementwise, special, reductions, shapes, products, linalg)
ENTRIES = [entry for module in FAMILY_MODULES for entry in module.ENTRIES]
BY_NAME = {entry.name: entry for entry in ENTRIES}
