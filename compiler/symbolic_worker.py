"""The SymPy half of `simplify="sympy"`: runs in a worker process (see compiler/symbolic.py).

This module imports nothing from the compiler, so the worker starts with SymPy alone. It receives a
problem as plain data and answers with plain data:

problem: {"nodes": [...], "roots": [node, ...], "simplify": [bool per root], "deadline": t,
          "bound_steps": bool, "seconds": s}
    Each node is one tuple, numbered by position, its inputs numbered before it:
    ("atom", real)            a value SymPy must not look into (`real`: a Python float or int)
    ("num", value)            an int or float constant
    ("add"|"sub"|"mul"|"div", i, j), ("neg", i), ("pow", i, k)   arithmetic; k an int constant
    ("call", name, i)         sin cos tan asin acos atan sinh cosh tanh exp log sqrt
    (compiler/formula.py also sends ("atom", real, name), ("call", name, i, j...) for any SymPy
    function, and ("select", c, i, j); and a "module" whose solve_in_worker answers the problem)
    `deadline` is a time.time() value; `simplify` says whether to try `sympy.simplify` and
    `cancel` too; with `bound_steps`, each root's rewrites stop after `seconds` or at its share.
answer: {"status": "ok", "results": [encoding or None per root]} or {"status": "timeout"}
    An encoding is (nodes, root), each node one of:
    ("orig", i)               the value node i of the problem already has (computed as it was)
    ("num", float)
    ("add", (terms...), (subtracted terms...))
    ("mul", coefficient, (factors...), (divisors...))   every divisor an ("orig", i) of a node the
                                                  original code divided by, divided one at a time
    ("abs", i)

What an answer may contain is what makes the result exact (see compiler/symbolic.py): sums, products
and integer powers of known values, divisions only by values the original code divided by, and no
function call the original code did not make (a call is reused, never recomputed).

Time. The expressions are built and spelled as they are first (SymPy's automatic rewrites already
cancel `x / x` and `s*c - c*s`); then each root in turn tries cheap rewrites (`factor_terms`,
`together`) and, when small, `sympy.simplify` and `cancel`, keeping the cheapest answer. (Measured on
181 pieces of random chains: SymPy's automatic rewrites gave the best answer 165 times,
`factor_terms` 11, `together` and `cancel` twice each, `simplify` once; `cancel` took 32 s of the 42.)
With `bound_steps`, each root's rewrites stop after `seconds` or at its share of the time left (an
alarm interrupts the one running), so the answer comes before the deadline; at the deadline itself
the answer is "timeout".
"""
from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time

FUNCTIONS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
             "sqrt")


class Reject(Exception):
    """A SymPy result the compiler cannot spell exactly (a new function call or divisor)."""


class OutOfTime(BaseException):
    """The problem's deadline passed. A BaseException, so SymPy's `except Exception` lets it by."""


class StepOver(BaseException):
    """One rewrite used up its share of the time."""


def solve(problem):
    """Simplify each root; {"status": "timeout"} once the deadline passes."""
    import sympy

    deadline = problem["deadline"]
    if time.time() >= deadline:
        return {"status": "timeout"}
    roots = problem["roots"]
    full = problem.get("simplify") or [True] * len(roots)
    bound = problem.get("bound_steps", True)
    try:
        with _Alarm(deadline) as alarm:
            solver = _Solver(sympy, problem)
            results = [solver.encode(solver.exprs[root], root) for root in roots]  # as built
            for i, (root, f) in enumerate(zip(roots, full)):
                now = time.time()  # each root's rewrites stop at its share, short of the deadline
                share = deadline if not bound else \
                    now + min(0.9 * (deadline - now) / (len(roots) - i), problem.get("seconds", 1e9))
                results[i] = solver.better(root, results[i], f, alarm, share)
            return {"status": "ok", "results": results}
    except OutOfTime:
        return {"status": "timeout"}
    except RecursionError:
        return {"status": "ok", "results": [None] * len(roots)}


class _Alarm:
    """SIGALRM at the deadline (OutOfTime) or at the end of a step's share (StepOver), raised in
    the worker's main thread. POSIX only: elsewhere the parent's kill is the only bound."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.step_end = None
        self.armed = hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self.fire)
            self.arm(self.deadline)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    def arm(self, at):
        signal.setitimer(signal.ITIMER_REAL, max(at - time.time(), 1e-4))

    def fire(self, signum, frame):
        now = time.time()
        if now >= self.deadline - 1e-3:
            raise OutOfTime()
        if self.step_end is not None and now >= self.step_end - 1e-3:
            self.step_end = None
            self.arm(self.deadline)
            raise StepOver()
        self.arm(self.deadline if self.step_end is None else self.step_end)  # early, or stale

    @contextlib.contextmanager
    def step(self, end):
        """A context in which the running step is interrupted at `end` (if before the deadline)."""
        if self.armed and end < self.deadline:
            self.step_end = end
            self.arm(end)
        try:
            yield
        finally:
            if self.armed and self.step_end is not None:
                self.step_end = None
                self.arm(self.deadline)


class _Solver:
    def __init__(self, sympy, problem):
        self.s = s = sympy
        self.exprs = []
        self.known = {}      # expression -> (node, c): the expression is c * the node's value
        self.divisors = {}   # expression -> node the original code divided by
        self._divisor_powers = None
        for k, node in enumerate(problem["nodes"]):
            kind = node[0]
            try:
                e = self.build(node)
            except Exception:  # noqa: BLE001  (SymPy could not evaluate it: a symbol, then)
                e, kind = s.Symbol(f"a{k}", real=True), "atom"
            self.exprs.append(e)
            if kind == "div":
                self.divisors.setdefault(self.exprs[node[2]], node[2])
            if kind in ("atom", "call", "pow"):
                self.known.setdefault(e, (k, s.Integer(1)))
                c, rest = e.as_coeff_Mul()  # atan(-x) is -atan(x): atan(x) is -1 * the value
                if c.is_Number and c != 0 and c != 1:
                    self.known.setdefault(rest, (k, 1 / c))

    def build(self, node):
        return build(self.s, node, self.exprs)

    def better(self, root, found, full, alarm, share_end):
        """The cheapest spelling of node `root` among `found` (its spelling as built, or None)
        and a few rewrites, from the values computed before it (nodes numbered below it).
        Rewrites see function calls as symbols (`sympy.simplify` would otherwise spend its time
        on trigonometric forms the compiler could not spell anyway)."""
        s = self.s
        e = self.exprs[root]
        calls = {}
        for f in e.atoms(s.Function):
            calls[f] = s.Dummy(real=True)
        back = {v: f for f, v in calls.items()}
        plain = e.xreplace(calls)
        steps = [s.factor_terms, s.together]  # cheap; `cancel` and `simplify` rarely win
        if full:
            steps += [lambda x: s.simplify(x, ratio=1), self.cancel]
        for step in steps:
            if time.time() >= share_end:
                break
            try:
                with alarm.step(share_end):
                    candidate = self.encode(step(plain).xreplace(back), root)
            except StepOver:
                break
            except Exception:  # noqa: BLE001  (a rewrite SymPy could not do)
                continue
            if candidate is not None and (found is None or cost(candidate) < cost(found)):
                found = candidate
        return found

    def cancel(self, e):
        """`cancel`, with the denominator factored again (divisors are matched factor by factor)."""
        n, d = self.s.fraction(self.s.cancel(e))
        return n / self.s.factor(d)

    def encode(self, e, before):
        try:
            encoder = _Encoder(self, before)
            return encoder.nodes, encoder.node(e)
        except Exception:  # noqa: BLE001  (Reject, or SymPy failing to answer a question)
            return None

    def divisor_powers(self):
        """(node, {key: exponent}, c) per divisor, where the divisor is c times the product of the
        keys' powers (see `_key`); the longest products first."""
        if self._divisor_powers is None:
            table = []
            for expr, node in self.divisors.items():
                coeff, rest = expr.as_coeff_Mul()
                powers = {}
                for f in self.s.Mul.make_args(rest):
                    base, exp = f.as_base_exp()
                    if not exp.is_positive:
                        break
                    c, key = _key(self.s, base)
                    powers[key] = powers.get(key, 0) + exp
                    coeff *= c ** exp
                else:
                    if powers and coeff != 0:
                        table.append((node, powers, coeff))
            table.sort(key=lambda t: -sum(t[1].values()))
            self._divisor_powers = table
        return self._divisor_powers


def build(s, node, exprs):
    """The SymPy expression of one node, from `exprs`, those of the nodes numbered before it. (Also
    compiler/formula.py's conversion, which adds n-ary calls -- atan2, Pow, Lt -- and selects.)"""
    kind = node[0]
    if kind == "atom":
        name = node[2] if len(node) > 2 else f"a{len(exprs)}"
        return s.Symbol(name, real=True) if node[1] else s.Symbol(name)
    if kind == "num":
        v = node[1]
        return s.Integer(v) if isinstance(v, int) else s.Rational(v)
    if kind == "call":
        return getattr(s, node[1])(*(exprs[k] for k in node[2:]))
    if kind == "select":
        return s.Piecewise((exprs[node[2]], exprs[node[1]]), (exprs[node[3]], True))
    if kind == "neg":
        return -exprs[node[1]]
    if kind == "pow":
        return exprs[node[1]] ** node[2]
    a, b = exprs[node[1]], exprs[node[2]]
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    return a * b if kind == "mul" else a / b


def _key(s, base):
    """(c, key) with base == c * key, the same key for x - y, y - x and 2*x - 2*y."""
    c, key = s.expand(base).as_content_primitive()
    if key.could_extract_minus_sign():
        c, key = -c, -key
    return c, key


def cost(encoding):
    """Equations an encoding takes once spelled (compiler/symbolic.py)."""
    nodes, _ = encoding
    n = 0
    for node in nodes:
        if node[0] == "add":
            n += len(node[1]) + len(node[2]) - 1
        elif node[0] == "mul":
            n += max(len(node[2]) + len(node[3]) - 1, 0) + (abs(node[1]) != 1.0) + (node[1] < 0)
        elif node[0] == "abs":
            n += 1
    return n


class _Encoder:
    def __init__(self, solver, before):
        self.solver = solver
        self.before = before  # only values of nodes numbered below this one may be used
        self.s = solver.s
        self.nodes = []
        self.memo = {}
        self.done = {}

    def known(self, e):
        found = self.solver.known.get(e)
        return found if found is not None and found[0] < self.before else None

    def add(self, node):
        found = self.memo.get(node)
        if found is None:
            found = self.memo[node] = len(self.nodes)
            self.nodes.append(node)
        return found

    def node(self, e):
        found = self.done.get(e)
        if found is None:
            found = self.done[e] = self.spell(e)
        return found

    def spell(self, e):
        known = self.known(e)
        if known is not None:
            node = self.add(("orig", known[0]))
            return node if known[1] == 1 else self.add(("mul", float(known[1]), (node,), ()))
        if e.is_Number:
            if not e.is_real or not e.is_finite:
                raise Reject(e)
            return self.add(("num", float(e)))
        if e.is_Add:
            plus, minus = [], []
            for term in e.args:
                coeff, _ = term.as_coeff_Mul()
                if coeff.is_Number and coeff.is_negative:
                    minus.append(self.node(-term))
                else:
                    plus.append(self.node(term))
            return self.add(("add", tuple(plus), tuple(minus)))
        if e.is_Mul or e.is_Pow:
            return self.product(e)
        if isinstance(e, self.s.Abs):
            return self.add(("abs", self.node(e.args[0])))
        if e.is_number and e.is_real and e.is_finite:  # pi / 2, sqrt(2): a constant
            return self.add(("num", float(e)))
        raise Reject(e)  # a function call or symbol the original code never computed

    def product(self, e):
        """coefficient * factors / divisors, each divisor a value the original code divided by."""
        coeff, rest = e.as_coeff_Mul()
        factors, below = [], {}
        for f in self.s.Mul.make_args(rest):
            known = self.known(f)
            base, exp = f.as_base_exp()
            if known is not None:
                factors.append(self.add(("orig", known[0])))
                coeff *= known[1]
            elif exp.is_Integer and exp > 0:
                factors.extend([self.node(base)] * int(exp))
            elif exp.is_negative:
                c, key = _key(self.s, base)
                below[key] = below.get(key, 0) - exp
                coeff *= c ** exp
            else:
                node, c, times = self.known_power(base, exp)
                factors.extend([node] * times)
                coeff *= c ** times
        divisors = []
        while below:  # cover the denominator with the original divisors, longest first
            for node, powers, c in self.solver.divisor_powers():
                if node < self.before and all(below.get(b, 0) >= k for b, k in powers.items()):
                    for b, k in powers.items():
                        below[b] -= k
                        if below[b] == 0:
                            del below[b]
                    divisors.append(self.add(("orig", node)))
                    coeff *= c
                    break
            else:
                raise Reject(e)
        if not (coeff.is_real and coeff.is_finite):
            raise Reject(coeff)
        if not divisors and len(factors) == 1 and coeff == 1:
            return factors[0]
        return self.add(("mul", float(coeff), tuple(factors), tuple(divisors)))

    def known_power(self, base, exp):
        """base ** exp as copies of a known value base ** r (sqrt(y) ** 3): (node, c, copies)."""
        for expr, (node, c) in self.solver.known.items():
            if node < self.before and expr.is_Pow and expr.base == base and expr.exp.is_Rational:
                times = exp / expr.exp
                if times.is_Integer and times > 0:
                    return self.add(("orig", node)), c, int(times)
        raise Reject(base ** exp)


def _answerer(problem):
    """What answers a problem: `solve`, or the `solve_in_worker` of the module it names
    (compiler/formula.py sends its own problems through this worker, under the same budget)."""
    module = problem.get("module")
    if module is None:
        return solve
    import importlib
    return importlib.import_module(module).solve_in_worker


def serve():
    """The worker's loop: one pickled problem in on stdin, one pickled answer out on stdout, until
    stdin closes (the parent exited or closed it). Exits too when the parent dies."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the answer channel
    parent = os.getppid()

    def orphaned():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    import sympy  # imported, and simplify's own imports done, before the first problem arrives
    a, b = sympy.symbols("a b", real=True)
    sympy.simplify(sympy.cancel((a * a - b * b) / (a - b)) + 1 / a, ratio=1)
    pickle.dump({"status": "ready"}, stdout)
    stdout.flush()
    while True:
        try:
            problem = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer = _answerer(problem)(problem)
        except (OutOfTime, StepOver):
            answer = {"status": "timeout"}
        except Exception as exc:  # noqa: BLE001  (reported to the parent, which keeps its code)
            answer = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        answer["id"] = problem.get("id")
        pickle.dump(answer, stdout)
        stdout.flush()


if __name__ == "__main__":
    serve()
