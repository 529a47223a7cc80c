"""The gradient as a formula: `formula(f)` gives df/dx, df/dy... as SymPy expressions.

    >>> print(formula(f))          # f(x, y, z) = (x + y) * z
    df/dx = z
    df/dy = z
    df/dz = x + y

For straight-line scalar code -- numbers in, a number out, `+ - * / **`, `math` functions, no loops,
branches, arrays or containers -- the compiler's own gradient (the scalar version `grad(f).source`
shows) is spelled in SymPy: nothing is derived again, SymPy's automatic rewrites only tidy it
(`1.0 * z` is `z`). What the gradient computes once and reads several times is written once, as a
definition (`s = exp(x*y)`, as `sympy.cse` would give, but read off the compiler's graph, in time
linear in it), named after the variable of `f` (or its adjoint, `ds`) that holds it, else t1, t2...;
so the formula stays as small as the code instead of exploding into one tree per gradient (a
ten-line chain: 113 operations, against millions written out).

The SymPy pass (compiler/symbolic.py) lends its machinery: the graph becomes numbered nodes in its
language, which its worker process turns into expressions (compiler/symbolic_worker.build); the walk
over the graph is this module's own, since it refuses what the pass would leave opaque. The work
runs under the pass's budget, compiler.symbolic.BUDGET_SECONDS, counted once the worker is up (it is
started and waited for first: a second or two, once per process). Past the budget, or for code
outside the class above, a GradError says so and what to read instead.

Special points. Some derivative rules guard a point with a test `a == b`: x**y's derivative at
y == 0 (where y * x**(y - 1) would be 0 * inf), the split of max(x, y) at a tie. The formula takes
such a test as false -- the gradient where a != b, which is the textbook formula -- and lists the
conditions in `holds_where` (printed as a last line). At those points the compiled gradient is the
one to read.
"""
from __future__ import annotations

import inspect
import math
import os
import time

from .errors import GradError, Location, error_at
from .symbolic_worker import OutOfTime, _Alarm, build

STARTUP_SECONDS = 60.0  # waiting for the SymPy worker to start (not counted in the budget)

_OUTSIDE = (", and a formula covers straight-line scalar code only (numbers in, a number out, "
            "arithmetic and math functions: no loops, branches, arrays or containers); {how} "
            "shows its gradient as code.")


def formula(f, wrt=None, budget=None):
    """The gradient of `f` as a `Formula` of SymPy expressions (see the module doc). `f` is a plain
    function (differentiated with respect to `wrt`, by default every parameter) or what `grad` or
    `value_and_grad` returned (its own `wrt`, or the part of it `wrt` names). `budget`: seconds
    SymPy may take (compiler.symbolic.BUDGET_SECONDS by default)."""
    try:
        import sympy  # noqa: F401, PLC0415  (the answer is made of SymPy objects)
    except ImportError:
        raise GradError("formula() needs SymPy: pip install sympy") from None
    compiled, pairs, how = _compiled(f, wrt)
    from .specialize import specialise_gradient  # noqa: PLC0415
    graph = specialise_gradient(compiled.grad_graph, compiled.gradient_of())
    name = compiled.primal.name  # (f_grad for grad(grad(f)): its formula is f's second derivative)
    converter = _Converter(graph, how, name, compiled.primal)
    roots = [converter.number(converter.value(graph.results[i])) for i, _ in pairs]
    answer = _solve(converter, roots, name, how, budget)
    symbols = {n[2]: sympy.Symbol(n[2], real=True) for n in converter.nodes if n[0] == "atom"}
    return Formula(name, [w for _, w in pairs], answer["definitions"], answer["gradient"],
                   answer["holds"], symbols)


# --- which gradient -------------------------------------------------------------------------------

def _compiled(f, wrt):
    """(the Compiled gradient, [(result index, parameter name)], how to see it as code)."""
    from .api import grad  # noqa: PLC0415  (formula.py is also imported by the SymPy worker)
    compiled = getattr(f, "_sourcead", None)
    if compiled is None:
        fn = inspect.unwrap(f) if callable(f) else f
        if not inspect.isfunction(fn):
            raise GradError(f"formula() takes a function written in Python (or what grad or "
                            f"value_and_grad returned), not {type(f).__name__}.")
        if wrt is None:
            wrt = tuple(p.name for p in inspect.signature(fn).parameters.values()
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY))
        made = grad(fn, wrt=wrt if isinstance(wrt, (tuple, list)) else (wrt,))
        compiled = getattr(made, "_sourcead", None)
        how = (f"grad({fn.__name__}).source (or `python -m compiler show "
               f"{_short(fn.__code__.co_filename)}:{fn.__name__}`)")
        if compiled is None:
            raise error_at(_where(fn), f"formula({fn.__name__}): its arguments are containers, or "
                           "its code is chosen by their values" + _OUTSIDE.format(how=how))
        wrt = None
    else:
        how = "the .source of what grad returned"
        if compiled.mode != "grad":
            raise GradError(f"formula() takes a function, or what grad or value_and_grad returned; "
                            f"{compiled.fn.__name__} is a {compiled.mode}: pass the function itself.")
    names = [compiled.names[i] for i in compiled.wrt]
    pairs = [(index, name) for (index, _), name in zip(compiled.gradient_of(), names)]
    if wrt is not None:
        wanted = [compiled.names[w] if isinstance(w, int) and not isinstance(w, bool) else w
                  for w in (wrt if isinstance(wrt, (tuple, list)) else (wrt,))]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise GradError(f"formula(wrt={wrt!r}): {compiled.fn.__name__}'s gradient is with respect "
                            f"to {', '.join(names)} only: name some of them, or pass the function "
                            "itself.")
        pairs = [p for w in wanted for p in pairs if p[1] == w]
    if compiled.scalar_version is None:
        from .specialize import ARRAY_MAKERS, all_eqns  # noqa: PLC0415
        eqn = next((e for e in all_eqns(compiled.primal) if e.prim in ARRAY_MAKERS), None)
        loc = eqn.loc[0] if eqn is not None and eqn.loc else None
        what = _what_is(eqn, loc) if eqn is not None else "arrays"
        raise error_at(loc or _where(compiled.fn), f"formula({compiled.fn.__name__}): this line "
                       f"holds {what}" + _OUTSIDE.format(how=how))
    return compiled, pairs, how


def _where(fn):
    code = fn.__code__
    return Location(code.co_filename, fn.__name__, code.co_firstlineno)


def _short(path):
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


# --- the graph as numbered nodes (compiler/symbolic_worker.py's language) --------------------------

# primitive -> the SymPy function of the same meaning, called on the inputs (Python's math, NumPy's
# elementwise functions and operators alike: on one number they agree)
_CALLS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh", "acosh": "acosh",
    "atanh": "atanh", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "Abs", "sign": "sign",
    "atan2": "atan2", "max": "Max", "min": "Min", "fmax": "Max", "fmin": "Min", "floor": "floor",
    "ceil": "ceiling", "mod": "Mod", "remainder": "Mod", "erf": "erf", "erfc": "erfc",
    "gamma": "gamma", "lgamma": "loggamma", "digamma": "digamma",
}
_IDENTITY = frozenset(("float", "float64", "positive", "copy", "stop_gradient", "astype", "cast"))
_RELATIONS = {"lt": "Lt", "le": "Le", "gt": "Gt", "ge": "Ge"}
_LOOPS = frozenset(("for", "while", "loop_reverse"))


class _Converter:
    """The scalar gradient graph as numbered nodes for the worker: ("atom", True, name) for a
    parameter or a global, ("num", v), arithmetic, ("call", sympy_name, i...), ("select", c, i, j).
    A value is a node number, or a Python bool for a test known here (`a == b` taken as false: see
    the module doc; `special` collects those pairs). Anything else is refused at its line."""

    def __init__(self, graph, how, name, primal):
        from .ir import Namer  # noqa: PLC0415
        self.how, self.name, self.primal = how, name, primal
        self.nodes, self.memo, self.of = [], {}, {}
        self.relational = set()     # nodes that are conditions, not numbers
        self.special = []           # (i, j): a test i == j taken as false
        self.names = {}             # node -> (rank, name): 0 your variable, 1 its adjoint
        namer = Namer()
        for p in graph.params:
            self.of[p] = self.add(("atom", True, namer(p)))
        for eqn in graph.eqns:
            self.equation(eqn, namer)

    def add(self, node):
        found = self.memo.get(node)
        if found is None:
            found = self.memo[node] = len(self.nodes)
            self.nodes.append(node)
        return found

    def value(self, atom):
        from .ir import Const  # noqa: PLC0415
        if not isinstance(atom, Const):
            return self.of[atom]
        v = atom.value
        if isinstance(v, bool):
            return v
        if not isinstance(v, (int, float)) or isinstance(v, float) and not math.isfinite(v):
            raise GradError(f"formula({self.name}): the gradient holds the constant {v!r}"
                            + _OUTSIDE.format(how=self.how))
        return self.constant(v)

    def constant(self, v):
        """A number as SymPy should show it: 1 for 1.0, 1/2 for 0.5, 9.81 for 9.81, log(2) for math.log(2)."""
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, int):
            return self.add(("num", v))
        for known, spell in ((math.pi, ("call", "acos", -1)), (math.e, ("call", "exp", 1)),
                             (math.log(2), ("call", "log", 2)), (math.log(10), ("call", "log", 10))):
            if v == known or v == -known:
                node = self.add((spell[0], spell[1], self.add(("num", spell[2]))))
                return node if v > 0 else self.add(("neg", node))
        from fractions import Fraction  # noqa: PLC0415  (not loaded with the package)
        r = Fraction(v).limit_denominator(10 ** 6)
        if float(r) == v and r.denominator <= 12:  # 1/2, 2/3; 9.81 reads better as 9.81
            return self.add(("num", r))
        return self.add(("call", "Float", self.add(("num", Fraction(v)))))  # kept as a decimal

    def number(self, v):
        """`v` where a number is read: a test is 1 where true, else 0 (Python's True + 1 == 2)."""
        if isinstance(v, bool):
            return self.add(("num", int(v)))
        if v in self.relational:
            return self.add(("select", v, self.add(("num", 1)), self.add(("num", 0))))
        return v

    def condition(self, v):
        """`v` where a truth is read: a number is true where it is not 0."""
        if isinstance(v, bool) or v in self.relational:
            return v
        return self.test(("call", "Ne", v, self.add(("num", 0))))

    def test(self, node):
        k = self.add(node)
        self.relational.add(k)
        return k

    def equation(self, eqn, namer):
        from .ir import Const, Var, regions  # noqa: PLC0415
        prim = eqn.prim
        if regions(eqn) or len(eqn.outs) != 1:
            self.refuse(eqn, "a loop" if prim in _LOOPS else
                        "a branch (an `if`, or `a if test else b`)" if prim == "cond" else
                        "a call returning several values")
        if not _handled(eqn):
            self.refuse(eqn, None)
        ins = [self.value(a) for a in eqn.ins]
        num = [self.number(v) for v in ins]
        if prim in ("add", "sub", "mul", "div"):
            out = self.add((prim, *num))
        elif prim == "neg":
            out = self.add(("neg", num[0]))
        elif prim == "pow":
            e = eqn.ins[1]
            if isinstance(e, Const) and isinstance(e.value, (int, float)) and not isinstance(
                    e.value, bool) and float(e.value).is_integer() and abs(e.value) <= 64:
                out = self.add(("pow", num[0], int(e.value)))
            else:
                out = self.add(("call", "Pow", *num))
        elif prim == "square":
            out = self.add(("pow", num[0], 2))
        elif prim in _IDENTITY:
            out = ins[0]
        elif prim in _CALLS:
            out = self.add(("call", _CALLS[prim], *num))
        elif prim in _COMPOSITES:
            out = _COMPOSITES[prim](self, *num)
        elif prim in _RELATIONS:
            out = self.test(("call", _RELATIONS[prim], *num))
        elif prim in ("eq", "ne"):
            if num[0] == num[1]:
                out = prim == "eq"
            else:
                self.special.append((num[0], num[1]))
                out = prim == "ne"
        elif prim == "not":
            c = self.condition(ins[0])
            out = (not c) if isinstance(c, bool) else self.test(("call", "Not", c))
        elif prim in ("and", "or"):
            a, b = (self.condition(v) for v in ins)
            if isinstance(a, bool) or isinstance(b, bool):
                known, other = (a, b) if isinstance(a, bool) else (b, a)
                out = (other if known else False) if prim == "and" else (True if known else other)
            else:
                out = self.test(("call", "And" if prim == "and" else "Or", a, b))
        elif prim == "select":
            c = self.condition(ins[0])
            if isinstance(c, bool):
                out = ins[1] if c else ins[2]
            elif ins[1] in self.relational or ins[2] in self.relational or \
                    isinstance(ins[1], bool) or isinstance(ins[2], bool):
                out = self.add(("select", c, num[1], num[2]))
            else:
                out = self.add(("select", c, ins[1], ins[2]))
        elif prim in ("global", "cell"):
            out = self.add(("atom", True, namer(eqn.out)))
        else:  # polygamma (the rules of gamma and lgamma call it)
            out = self.add(("call", "polygamma", self.constant(int(eqn.params.get("n", 0))),
                            num[0]))
        self.of[eqn.out] = out
        hint = eqn.out.hint
        if isinstance(hint, Var) and hint.hint and isinstance(hint.hint, str):
            rank = 1  # the adjoint of your variable: `ds` (not of a temporary: `dt1` means nothing)
        elif hint and isinstance(hint, str):
            rank = 0
        else:
            rank = 2
        if rank < 2 and not isinstance(out, bool):
            name = namer(eqn.out)
            if self.names.get(out, (2,))[0] > rank:
                self.names[out] = (rank, name)

    def refuse(self, eqn, what):
        loc = eqn.loc[0] if eqn.loc else None
        if what is None:
            what = _what_is(self.user_equation(eqn, loc) or eqn, loc)
        raise error_at(loc, f"formula({self.name}): this line holds {what}"
                       + _OUTSIDE.format(how=self.how))

    def user_equation(self, eqn, loc):
        """For a helper of the reverse pass (sum_grad), the call of yours on the same line that
        it differentiates (np.sum)."""
        from .specialize import all_eqns  # noqa: PLC0415
        from .primitives import PRIMS  # noqa: PLC0415
        if loc is None or eqn.prim not in PRIMS or not PRIMS[eqn.prim].internal:
            return None
        return next((e for e in all_eqns(self.primal) if e.loc and e.loc[0].lineno == loc.lineno
                     and e.loc[0].filename == loc.filename and not _handled(e)), None)


_ARITY = {"atan2": 2, "max": 2, "min": 2, "fmax": 2, "fmin": 2, "mod": 2, "remainder": 2,
          "hypot": 2, "logaddexp": 2, "xlogy": 2}
_OTHERS = frozenset(("add", "sub", "mul", "div", "neg", "pow", "square", "eq", "ne", "not", "and",
                     "or", "select", "global", "cell"))


def _handled(eqn):
    """Whether the converter spells this equation (a primitive it knows, with its usual inputs)."""
    prim = eqn.prim
    if prim == "polygamma":
        n = eqn.params.get("n", 0)
        return isinstance(n, int) and len(eqn.ins) == 1
    if prim in _CALLS or prim in _COMPOSITES:
        return len(eqn.ins) == _ARITY.get(prim, 1) and len(eqn.outs) == 1
    return prim in _OTHERS or prim in _IDENTITY or prim in _RELATIONS


_CONTAINERS = frozenset(("list_new", "list_append", "stack_list", "tuple", "dict_new"))


def _what_is(eqn, loc):
    """What a refused equation is, in the user's terms."""
    from .primitives import PRIMS  # noqa: PLC0415
    lib = eqn.params.get("lib")
    code = _snippet(loc)
    label = f"{lib}.{eqn.prim}" if lib in ("np", "math") else \
        f"{eqn.params['label']}()" if isinstance(eqn.params.get("label"), str) else \
        f"`{code}`" if code else eqn.prim
    prim = PRIMS.get(eqn.prim)
    if eqn.prim in ("getitem", "setitem", "index_grad", "written_grad", "cleared"):
        return f"indexing ({label}), of an array or a container"
    if eqn.prim in _CONTAINERS:
        return f"a container ({label})"
    if eqn.prim in ("call", "user_vjp"):
        return f"a call SymPy cannot follow ({label})"
    if prim is not None and not prim.elementwise:
        return f"{label}, an operation on arrays"
    return f"{label}, which has no SymPy equivalent here"


def _snippet(loc):
    if loc is None or not loc.text:
        return ""
    end = loc.end_col if loc.end_col is not None and loc.end_col > loc.col else len(loc.text)
    return loc.text[loc.col:end].strip()


def _log_of(c, x, base):
    return c.add(("call", "log", x, c.add(("num", base))))


_COMPOSITES = {
    "expm1": lambda c, x: c.add(("sub", c.add(("call", "exp", x)), c.add(("num", 1)))),
    "log1p": lambda c, x: c.add(("call", "log", c.add(("add", c.add(("num", 1)), x)))),
    "log2": lambda c, x: _log_of(c, x, 2),
    "log10": lambda c, x: _log_of(c, x, 10),
    "exp2": lambda c, x: c.add(("call", "Pow", c.add(("num", 2)), x)),
    "reciprocal": lambda c, x: c.add(("div", c.add(("num", 1)), x)),
    "hypot": lambda c, x, y: c.add(("call", "sqrt", c.add(("add", c.add(("pow", x, 2)),
                                                               c.add(("pow", y, 2)))))),
    "logaddexp": lambda c, x, y: c.add(("call", "log", c.add(("add", c.add(("call", "exp", x)),
                                                                  c.add(("call", "exp", y)))))),
    "expit": lambda c, x: c.add(("div", c.add(("num", 1)), c.add((
        "add", c.add(("num", 1)), c.add(("call", "exp", c.add(("neg", x)))))))),
    "xlogy": lambda c, x, y: c.add(("mul", x, c.add(("call", "log", y)))),
    "cbrt": lambda c, x: c.add(("call", "real_root", x, c.add(("num", 3)))),
    "degrees": lambda c, x: c.add(("mul", x, c.constant(180 / math.pi))),
    "radians": lambda c, x: c.add(("mul", x, c.constant(math.pi / 180))),
}


# --- SymPy's half, in the worker process -------------------------------------------------------

def _solve(converter, roots, name, how, budget):
    """Ask the SymPy worker (compiler/symbolic.py's) for the formula, within the budget."""
    from . import symbolic  # noqa: PLC0415
    budget = symbolic.BUDGET_SECONDS if budget is None else budget
    if not symbolic.start_worker(wait=STARTUP_SECONDS):
        raise GradError(f"formula({name}): the SymPy worker process did not start within "
                        f"{STARTUP_SECONDS:g} s: check that `python -c 'import sympy'` works.")
    start = time.monotonic()
    problem = {"module": __name__, "nodes": converter.nodes, "roots": roots,
               "special": converter.special, "names": converter.names,
               "deadline": time.time() + budget}
    answer = symbolic._WORKER.ask(problem, start + budget + symbolic._GRACE)
    if answer.get("status") == "timeout":
        raise GradError(f"formula({name}): SymPy did not finish the formula within its budget of "
                        f"{budget:g} s (formula(..., budget=seconds) or compiler.symbolic."
                        f"BUDGET_SECONDS allows more); {how} shows the gradient as code.")
    if answer.get("status") != "ok":
        raise GradError(f"formula({name}): SymPy failed "
                        f"({answer.get('error', 'the worker process failed')}); {how} shows the "
                        "gradient as code.")
    return answer


def solve_in_worker(problem):
    """The worker's answer (compiler/symbolic_worker.py calls it): the nodes built into SymPy
    expressions, a value read more than once a definition of its own (see `_Built`)."""
    import sympy  # noqa: PLC0415
    deadline = problem["deadline"]
    if time.time() >= deadline:
        return {"status": "timeout"}
    try:
        with _Alarm(deadline):
            built = _Built(sympy, problem)
            return {"status": "ok", "definitions": built.definitions, "gradient": built.gradient,
                    "holds": built.holds}
    except OutOfTime:
        return {"status": "timeout"}
    except RecursionError:
        return {"status": "error", "error": "the expressions are too deep for SymPy"}


def _inputs(node):
    kind = node[0]
    if kind in ("add", "sub", "mul", "div"):
        return node[1:3]
    if kind in ("neg", "pow"):
        return node[1:2]
    if kind == "call":
        return node[2:]
    return node[1:4] if kind == "select" else ()


class _Built:
    """The problem's nodes as SymPy expressions, shared as the graph shares them: a value read
    more than once (the compiler's graph has one node per value it computes once) is a definition,
    a symbol to the expressions that read it, so no gradient is an exploded tree and building takes
    time linear in the graph. Definitions are kept where they say something: named after your
    variable (or its adjoint), or with two operations or a function call in them; the rest, and
    any that SymPy's rewrites leave read once, are written where they are read. Definitions with
    no name of yours are t1, t2... in order."""

    def __init__(self, s, problem):
        self.s = s
        nodes, roots, names = problem["nodes"], problem["roots"], problem["names"]
        uses = [0] * len(nodes)
        for r in roots:
            uses[r] += 1
        for i, j in problem["special"]:
            uses[i] += 1
            uses[j] += 1
        live = set(roots) | {k for pair in problem["special"] for k in pair}
        for k in range(len(nodes) - 1, -1, -1):
            if k in live:
                for i in _inputs(nodes[k]):
                    uses[i] += 1
                    live.add(i)
        exprs, self.definitions = [], []
        for k, node in enumerate(nodes):
            e = build(s, node, exprs) if k in live else None
            if uses[k] > 1 and node[0] not in ("atom", "num") and self.worth_naming(e, k, names):
                symbol = s.Symbol(names[k][1], real=True) if k in names else s.Dummy(real=True)
                self.definitions.append((symbol, e))
                e = symbol
            exprs.append(e)
        self.gradient = [_tidy(s, exprs[r]) for r in roots]
        self.holds = []
        for i, j in problem["special"]:
            c = s.Ne(exprs[i], exprs[j])
            if c is not s.true and c not in self.holds:
                self.holds.append(c)
        self.inline_read_once()
        self.name_the_rest({n[2] for n in nodes if n[0] == "atom"} |
                           {name for _, name in names.values()})

    def worth_naming(self, e, k, names):
        s = self.s
        if isinstance(e, s.logic.boolalg.Boolean) or e.is_Atom:
            return False
        return k in names or s.count_ops(e) >= 2 or bool(e.atoms(s.Function))

    def inline_read_once(self):
        """Write each definition read once (or never) where it is read, the last first."""
        s = self.s
        for index in range(len(self.definitions) - 1, -1, -1):
            symbol, e = self.definitions[index]
            later = [d for _, d in self.definitions[index + 1:]] + self.gradient + self.holds
            reads = sum(_count(d, symbol) for d in later)
            if reads > 1:
                continue
            del self.definitions[index]
            swap = {symbol: e}
            self.definitions[index:] = [(t, d.xreplace(swap)) for t, d in self.definitions[index:]]
            self.gradient = [_tidy(s, d.xreplace(swap)) for d in self.gradient]
            self.holds = [d.xreplace(swap) for d in self.holds]

    def name_the_rest(self, taken):
        s = self.s
        fresh = (f"t{n}" for n in range(1, 10 ** 6) if f"t{n}" not in taken)
        swap, definitions = {}, []
        for symbol, e in self.definitions:
            if isinstance(symbol, s.Dummy):
                swap[symbol] = s.Symbol(next(fresh), real=True)
            definitions.append((swap.get(symbol, symbol), _tidy(s, e.xreplace(swap))))
        self.definitions = definitions
        self.gradient = [e.xreplace(swap) for e in self.gradient]
        self.holds = [e.xreplace(swap) for e in self.holds]


def _count(e, symbol):
    """How many times `symbol` is read in `e` (a tree walk: a repeated subtree counts each time)."""
    if e == symbol:
        return 1
    return sum(_count(a, symbol) for a in e.args) if e.has(symbol) else 0


def _tidy(s, e):
    """Each sum or product of a Piecewise folded into it where that is shorter: 1 - (1 if x < 0
    else 0) is (0 if x < 0 else 1), but a long sum with one Piecewise term stays as it is."""
    if not e.has(s.Piecewise):
        return e
    from sympy.core.traversal import bottom_up  # noqa: PLC0415

    def fold(node):
        if not (node.is_Add or node.is_Mul) or not node.has(s.Piecewise):
            return node
        folded = s.piecewise_fold(node)
        return folded if s.count_ops(folded) < s.count_ops(node) else node
    return bottom_up(e, fold)


# --- the answer ---------------------------------------------------------------------------------

class Formula:
    """The gradient of one function as SymPy expressions.

    definitions  [(symbol, expression)], in order: the shared subexpressions (`q = x + y`)
    gradient     {parameter name: expression} (in the order of wrt), over the parameters and the
                 definitions
    holds_where  conditions (sympy.Ne) under which the gradient is this formula (see the module doc)
    symbols      {name: its SymPy symbol} (real) for the parameters and the globals read, to
                 substitute values

    str() prints it, `.latex()` is an `aligned` block, and notebooks show that."""

    def __init__(self, name, wrt, definitions, gradient, holds_where, symbols):
        self.name = name
        self.wrt = tuple(wrt)
        self.definitions = list(definitions)
        self.gradient = dict(zip(self.wrt, gradient))
        self.holds_where = tuple(holds_where)
        self.symbols = symbols

    def expanded(self):
        """{parameter name: expression} with the definitions substituted: one tree per gradient
        (what `sympy.lambdify` or a comparison wants; may be much longer)."""
        full = {}
        for symbol, e in self.definitions:
            full[symbol] = e.xreplace(full)
        return {w: e.xreplace(full) for w, e in self.gradient.items()}

    def __str__(self):
        lines = [f"{symbol} = {e}" for symbol, e in self.definitions]
        lines += [f"d{self.name}/d{w} = {e}" for w, e in self.gradient.items()]
        if self.holds_where:
            lines.append(f"(where {' and '.join(_relation_text(c) for c in self.holds_where)}; "
                         "elsewhere read the compiled gradient)")
        return "\n".join(lines)

    __repr__ = __str__

    def latex(self):
        """The formula as one LaTeX `aligned` block, a line per definition and per gradient."""
        import sympy  # noqa: PLC0415
        fn = self.name if len(self.name) == 1 else \
            "\\mathrm{" + self.name.replace("_", "\\_") + "}"  # one name, upright: \mathrm{loss}
        rows = [f"{sympy.latex(symbol)} &= {sympy.latex(e)}" for symbol, e in self.definitions]
        rows += [f"\\frac{{\\partial {fn}}}{{\\partial {sympy.latex(self.symbols.get(w, w))}}} "
                 f"&= {sympy.latex(e)}" for w, e in self.gradient.items()]
        if self.holds_where:
            rows.append(r"&\text{where } " + r",\ ".join(sympy.latex(c) for c in self.holds_where))
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self):
        return f"$$\n{self.latex()}\n$$"


def _relation_text(c):
    return f"{c.lhs} != {c.rhs}"
