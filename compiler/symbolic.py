"""Optional SymPy simplification of scalar gradients: `grad(f, simplify="sympy")`.

Exact by construction. The forward (primal) equations are never rewritten, so the value
`value_and_grad` returns is the function's value as Python computes it. SymPy sees the adjoint as
expressions built from `+ - * /`, integer powers and `math` functions of values; anything else
(loops, branches, `max`, NumPy calls, `**` with other exponents) is an opaque symbol. SymPy's answer
may only be spelled with sums, products and integer powers of values the original code computed,
and divisions by values the original code divided by, one at a time (`a / b / c`, never
`a / (b * c)`, which can underflow to a division by zero); a function call in the answer must be one
the original code made, and its value is reused, never recomputed. Symbols are real (a `math`
function raises rather than leave the reals), so SymPy may use `log(exp(x)) = x` or
`sqrt(x)**2 = x`; such an identity holds wherever the original code does not raise, and where it
raises, the next paragraph keeps the error.

Failures are kept, in order. Every original equation that may raise (a `math` call, `**`, `%`, a
division...) and that the simplified gradient no longer needs stays where it was, its result unused:
`math.sqrt(x)` still raises at x < 0. A division it no longer needs leaves `1.0 / d` behind, which
raises exactly when the division did (unless d is divided by again before anything else may raise).
The simplified code's own divisions are by those same values, after them, so the first exception
is the original's. NumPy functions return nan or inf instead of raising: a quotient by a value
derived from one stays opaque, and a simplified gradient must still read every NumPy value the
original read, so a nan propagates as before. Where every intermediate value is finite, the result
equals the unsimplified gradient up to rounding; where one overflows to inf (or is nan), algebra
that holds for real numbers (x - x = 0) may give a number where the original gave nan.

Bounded. SymPy runs in a worker process (compiler/symbolic_worker.py), started on first use and
reused; one that does not answer in time is killed and replaced. The pass, waiting for the worker
included, takes at most `BUDGET_SECONDS` (plus `_GRACE` if the worker must be killed, and the few
milliseconds of turning the answer into equations); past it, the unsimplified gradient is used and
one `SimplifyWarning` names the function. The work is cut in pieces: an adjoint value whose
expression grows past `PIECE_OPS` operations is simplified on its own and is one symbol to the
values that use it, so no SymPy call sees more than about 2 * PIECE_OPS operations; each piece's
rewrites stop after `PIECE_SECONDS` or at its share of the budget (see the worker), and
`sympy.simplify` and `cancel` only run on pieces of at most `SIMPLIFY_OPS` operations. A simplified
piece is kept only if the whole gradient gets shorter. Graphs of more than `MAX_EQNS` equations are
left alone.
"""
from __future__ import annotations

import atexit
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import warnings

from .ir import Builder, Const, Eqn, Graph, Var, regions
from .ir import free_vars as _free_vars
from .passes import _size, optimize, simplify
from .symbolic_worker import cost as _cost

MAX_EQNS = 400
PIECE_OPS = 40
SIMPLIFY_OPS = 40
BUDGET_SECONDS = 2.0
BOUND_STEPS = True    # each piece's rewrites stop at its share of the budget (see the worker)
PIECE_SECONDS = 0.25  # and after this long
_GRACE = 0.1      # seconds the worker may answer late before it is killed
_MARGIN = 0.05    # seconds of the budget kept for turning the answer into equations

_FUNCTIONS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
              "sqrt")
# Primitives that never raise on Python numbers: dropping one cannot drop a failure.
_NEVER_RAISE = frozenset(("add", "sub", "mul", "neg", "select", "max", "min", "lt", "le", "gt",
                          "ge", "eq", "ne", "not", "and", "or", "sign", "tuple"))


class SimplifyWarning(UserWarning):
    """SymPy did not simplify a gradient in time (or failed): the unsimplified gradient is used."""


def simplify_gradients(graph, gradient_indices, budget=None):
    """The graph with each result at `gradient_indices` simplified by SymPy (see the module doc),
    within `budget` seconds (BUDGET_SECONDS by default). Returns `graph` itself when nothing is
    simplified."""
    start = time.monotonic()
    budget = BUDGET_SECONDS if budget is None else budget
    name = graph.name.removesuffix("_grad")
    if len(graph.eqns) > MAX_EQNS:
        return graph
    try:
        problem = _Problem(graph, gradient_indices)
        if not problem.pieces:
            return graph
        answer = _WORKER.ask(problem.request(start + budget - _MARGIN, SIMPLIFY_OPS),
                             start + budget + _GRACE)
        if answer.get("status") == "ok":
            return problem.rebuild(answer["results"], start + budget)
    except Exception as exc:  # a bug of ours: the unsimplified gradient is still right
        if os.environ.get("SOURCEAD_DEBUG"):
            raise
        answer = {"status": "error", "error": f"internal error: {type(exc).__name__}: {exc}"}
    if answer.get("status") == "timeout":
        why = "" if answer.get("started", True) else \
            " (the SymPy worker process was still starting: compiler.symbolic.start_worker() " \
            "starts it ahead)"
        message = (f"SymPy did not simplify the gradient of {name} within its budget of "
                   f"{budget:g} s{why}; using the unsimplified gradient (compiler.symbolic."
                   "BUDGET_SECONDS sets the budget).")
    else:
        message = (f"SymPy could not simplify the gradient of {name} "
                   f"({answer.get('error', 'the worker process failed')}); using the "
                   "unsimplified gradient.")
    warnings.warn(message, SimplifyWarning, stacklevel=_caller_level())
    return graph


# --- the problem sent to SymPy -----------------------------------------------------------------

class _Problem:
    """A graph's straight-line scalar arithmetic as numbered nodes (compiler/symbolic_worker.py),
    cut into pieces of at most about 2 * PIECE_OPS operations: an adjoint value whose expression
    grows past PIECE_OPS is simplified on its own, and is one symbol to the values that use it."""

    def __init__(self, graph, gradient_indices):
        self.graph = graph
        self.nodes = []
        self.atoms = []        # node -> the Var or Const whose value it is
        self.ops = []          # node -> operations in its expression, as a tree
        self.real = []         # node -> its value is a real number (a Python float or int)
        self.tainted = []      # node -> frozenset of NumPy-made atoms its value reads
        self.locs = []         # node -> the location of the equation that computes it
        self.node_of = {}      # Var -> the node its users see
        self.defining = {}     # Var -> its own node (the expression, even where users see a symbol)
        self.consts = {}
        for p in graph.params:
            self.atom(p, real=True)
        for eqn in graph.eqns:
            ins = [self.node(a) for a in eqn.ins]
            if len(eqn.outs) == 1 and not regions(eqn) and self.transparent(eqn, ins):
                k = self.operation(eqn, ins)
                if self.ops[k] > PIECE_OPS:  # users see a symbol; the piece is simplified alone
                    self.atom(eqn.out, real=self.real[k], tainted=self.tainted[k])
                continue
            below = frozenset().union(*(self.tainted[i] for i in ins))
            # NumPy made it, or it computed from NumPy values (0 / 0 is nan, not an error): its
            # value may be nan where `math` would raise, so simplification must not drop it
            np_made = eqn.params.get("lib") == "np" or _uses_numpy(eqn) or bool(below)
            is_real = (not np_made and not regions(eqn) and eqn.prim not in ("pow", "user_vjp")
                       and all(self.real[i] for i in ins))
            for v in eqn.outs:
                k = self.atom(v, real=is_real, tainted=below)
                if np_made:
                    self.tainted[k] = below | {k}
        self.pieces = self.choose_pieces(set(gradient_indices))

    def choose_pieces(self, gradient_indices):
        """(node, var) for each value to simplify: the gradients, and adjoint values cut off as
        pieces whose only users are sums, products and quotients (as the numerator), so the
        simplified value can stand in for the original wherever it is read."""
        graph = self.graph
        # values of the forward pass (and any the function's value is computed from): never
        # rewritten, and computed anyway
        forward = self.forward = set(graph.params)
        for eqn in graph.eqns:
            if not (eqn.loc and eqn.loc[1] == "adjoint") and all(
                    a in forward for a in eqn.ins if isinstance(a, Var)):
                forward.update(eqn.outs)
        for i, r in enumerate(graph.results):
            if i not in gradient_indices and isinstance(r, Var):
                forward.add(r)
        for eqn in reversed(graph.eqns):
            if any(v in forward for v in eqn.outs):
                forward.update(a for a in eqn.ins if isinstance(a, Var))
        users_ok = {}
        for eqn in graph.eqns:
            for position, a in enumerate(eqn.ins):
                if isinstance(a, Var):
                    ok = eqn.prim in ("add", "sub", "mul", "neg") or (eqn.prim == "div" and position == 0)
                    ok = ok and eqn.params.get("lib") is None and not regions(eqn)
                    users_ok[a] = users_ok.get(a, True) and ok
            for sub in regions(eqn):
                for a in _free_vars(sub):
                    users_ok[a] = False
        results = {r for i, r in enumerate(graph.results) if i in gradient_indices}
        pieces = []
        for eqn in graph.eqns:
            v = eqn.outs[0] if eqn.outs else None
            k = self.defining.get(v)
            if k is None or v in forward or not users_ok.get(v, True):
                continue
            if v in results or (self.node_of[v] != k and eqn.loc and eqn.loc[1] == "adjoint"):
                pieces.append((k, v))
        return pieces

    def atom(self, v, real=False, tainted=frozenset()):
        k = self.add(("atom", real), v, 0, real, tainted)
        if isinstance(v, Var):
            self.node_of[v] = k
        return k

    def add(self, node, atom, ops, real, tainted):
        self.nodes.append(node)
        self.locs.append(None)
        self.atoms.append(atom)
        self.ops.append(ops)
        self.real.append(real)
        self.tainted.append(tainted)
        return len(self.nodes) - 1

    def node(self, a):
        if isinstance(a, Var):
            k = self.node_of.get(a)
            return self.atom(a) if k is None else k  # a value from outside (not in this graph)
        key = (type(a.value), a.value)
        k = self.consts.get(key)
        if k is None:
            v = a.value
            number = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and \
                v not in (float("inf"), float("-inf"))
            k = self.add(("num", v) if number else ("atom", False), a, 0, number, frozenset())
            self.consts[key] = k
        return k

    def transparent(self, eqn, ins):
        lib = eqn.params.get("lib")
        prim = eqn.prim
        if prim in ("add", "sub", "mul", "neg"):
            return lib is None
        if prim == "div":  # a quotient of NumPy values is nan or inf at zero, not an error
            return lib is None and not self.tainted[ins[0]] and not self.tainted[ins[1]]
        if prim == "pow":
            e = eqn.ins[1]
            return lib in (None, "math") and isinstance(e, Const) and not isinstance(e.value, bool) \
                and isinstance(e.value, (int, float)) and e.value == int(e.value) \
                and abs(e.value) <= 16
        return prim in _FUNCTIONS and lib == "math"

    def operation(self, eqn, ins):
        prim = eqn.prim
        if prim == "pow":
            node = ("pow", ins[0], int(eqn.ins[1].value))
            ins = ins[:1]
        elif prim in _FUNCTIONS:
            node = ("call", prim, ins[0])
        else:
            node = (prim, *ins)
        k = self.add(node, eqn.out, 1 + sum(self.ops[i] for i in ins), all(self.real[i] for i in ins),
                     frozenset().union(*(self.tainted[i] for i in ins)))
        self.locs[k] = eqn.loc
        self.node_of[eqn.out] = self.defining[eqn.out] = k
        return k

    def request(self, deadline_monotonic, simplify_ops):
        wall = time.time() + (deadline_monotonic - time.monotonic())
        return {"nodes": self.nodes, "roots": [k for k, _ in self.pieces], "deadline": wall,
                "simplify": [self.ops[k] <= simplify_ops for k, _ in self.pieces],
                "bound_steps": BOUND_STEPS, "seconds": PIECE_SECONDS}

    # --- the answer, back into equations -------------------------------------------------------

    def rebuild(self, answers, deadline=None):
        """The graph with the simplified pieces, and checks for the failures they dropped, if that
        is smaller than the original. Pieces are taken one at a time, the most promising first,
        each only if it makes the whole graph smaller (while time is left, up to the monotonic
        `deadline`): a shorter piece can still cost more, when what it no longer reads is computed
        anyway for other pieces."""
        promise = {}
        for (k, v), answer in zip(self.pieces, answers):
            if answer is None or not self.tainted[k] <= self.reads_numpy(answer):
                continue  # a NumPy value (maybe nan) the original read would be dropped
            promise[v] = (_cost(answer) - self.size_of(k), answer)
        best, best_size, chosen = self.graph, _size(self.graph), {}
        for v in sorted(promise, key=lambda u: promise[u][0]):
            if deadline is not None and time.monotonic() >= deadline:
                break
            trial = {**chosen, v: promise[v][1]}
            candidate = self.assemble(trial)
            if candidate is not None and _shared_size(candidate) < best_size:
                best, best_size, chosen = candidate, _shared_size(candidate), trial
        if best is self.graph:
            return best
        best = optimize(best)
        return best if _size(best) < _size(self.graph) else self.graph

    def size_of(self, k):
        """Equations the piece's own expression takes beyond the forward values it reads (those
        are computed anyway), shared subexpressions once."""
        seen, stack = set(), [k]
        while stack:
            i = stack.pop()
            node = self.nodes[i]
            if i not in seen and node[0] not in ("atom", "num") and self.atoms[i] not in self.forward:
                seen.add(i)
                stack.extend(_inputs(node))
        return len(seen)

    def where(self, k):
        """The source location a piece's new code is shown under: its own equation's, or (for a
        sum the reverse pass made, which has none) the latest user line among those it reads."""
        if self.locs[k] is not None:
            return self.locs[k]
        found, seen, stack = None, set(), [k]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            loc = self.locs[i]
            if loc is not None and loc[1] == "adjoint" and (
                    found is None or loc[0].lineno > found[0].lineno):
                found = loc
            stack.extend(_inputs(self.nodes[i]))
        return found

    def reads_numpy(self, answer):
        nodes, _ = answer
        found = set()
        for node in nodes:
            if node[0] == "orig":
                found |= self.tainted[node[1]]
        return found

    def emit(self, b, answer, subst):
        nodes, root = answer
        values = []
        for node in nodes:
            kind = node[0]
            if kind == "orig":
                v = self.atoms[node[1]]
                v = subst.get(v, v)
            elif kind == "num":
                v = Const(node[1])
            elif kind == "add":
                plus, minus = [values[i] for i in node[1]], [values[i] for i in node[2]]
                v = plus[0] if plus else b.emit("neg", [minus.pop(0)])
                for t in plus[1:]:
                    v = b.emit("add", [v, t])
                for t in minus:
                    v = b.emit("sub", [v, t])
            elif kind == "mul":
                coeff, factors, divisors = node[1:]
                v = values[factors[0]] if factors else None
                for f in factors[1:]:
                    v = b.emit("mul", [v, values[f]])
                if v is None:
                    v = Const(abs(coeff))
                elif abs(coeff) != 1.0:
                    v = b.emit("mul", [Const(abs(coeff)), v])
                for d in divisors:
                    v = b.emit("div", [v, self.atoms[nodes[d][1]]])  # the original divisor
                if coeff < 0:
                    v = b.emit("neg", [v])
            else:  # abs
                v = b.emit("abs", [values[node[1]]])
            values.append(v)
        return values[root]

    def assemble(self, chosen):
        """The graph with each chosen piece's value computed from its answer, right where the
        original computed it, and every failure the original code could raise kept (None if a
        dropped equation cannot be kept on its own, e.g. a loop). Not yet optimised."""
        b = Builder(simplify=simplify)
        original = set()
        subst = {}
        defined = set(self.graph.params)
        for eqn in self.graph.eqns:
            ins = tuple(subst.get(a, a) if isinstance(a, Var) else a for a in eqn.ins)
            if ins != eqn.ins:
                eqn = Eqn(eqn.prim, ins, eqn.outs, eqn.params, eqn.loc)
            b.eqns.append(eqn)
            original.add(id(eqn))
            defined.update(eqn.outs)
            answer = chosen.get(eqn.outs[0]) if eqn.outs else None
            if answer is not None and all(  # (the worker only uses values computed before)
                    not isinstance(self.atoms[n[1]], Var) or self.atoms[n[1]] in defined
                    for n in answer[0] if n[0] == "orig"):
                b.loc = self.where(self.defining[eqn.out])
                subst[eqn.out] = self.emit(b, answer, subst)
        results = [subst.get(a, a) if isinstance(a, Var) else a for a in self.graph.results]
        live = {a for a in results if isinstance(a, Var)}
        numpy = _numpy_values(self.graph.eqns)
        kept = []
        for eqn in reversed(b.eqns):
            if not (eqn.params.get("_effect") or any(v in live for v in eqn.outs)):
                if id(eqn) not in original or eqn.prim in _NEVER_RAISE:
                    continue
                if regions(eqn) or len(eqn.outs) != 1:
                    return None
                if eqn.prim == "div" and eqn.params.get("lib") is None and not any(
                        a in numpy for a in eqn.ins if isinstance(a, Var)):
                    d = eqn.ins[1]
                    if isinstance(d, Const) and isinstance(d.value, (int, float)) and d.value:
                        continue
                    # `a / d` raises exactly when d == 0, whatever a is: keep only that test
                    eqn = Eqn("div", (Const(1.0), d), (Var(),), {"_effect": True}, eqn.loc)
                else:
                    eqn = Eqn(eqn.prim, eqn.ins, eqn.outs, {**eqn.params, "_effect": True},
                              eqn.loc)
            kept.append(eqn)
            live.update(a for a in eqn.ins if isinstance(a, Var))
            for sub in regions(eqn):  # what a branch or a loop body reads from outside
                live.update(_free_vars(sub))
        kept.reverse()
        return Graph(self.graph.name, self.graph.params, _needed_tests(kept), results)


def _numpy_values(eqns):
    """Values that may be NumPy scalars: made by NumPy, or computed from one."""
    found = set()
    for e in eqns:
        if e.params.get("lib") == "np" or _uses_numpy(e) or any(a in found for a in e.ins
                                                                 if isinstance(a, Var)):
            found.update(e.outs)
    return found


def _needed_tests(eqns):
    """`eqns` without the division tests (`1.0 / d` kept for a dropped division) that are not
    needed for the same first error: d was divided by (or its `math.log` taken) before, or is
    divided by later with nothing but divisions (which raise the same ZeroDivisionError) and
    operations that cannot raise in between."""
    numpy = _numpy_values(eqns)

    def raising_division(e):  # raises ZeroDivisionError exactly when its divisor is 0
        return e.prim == "div" and e.params.get("lib") is None and not any(
            a in numpy for a in e.ins if isinstance(a, Var))

    out = []
    divided = set()
    for i, eqn in enumerate(eqns):
        division = raising_division(eqn)
        if division and eqn.params.get("_effect") and isinstance(eqn.ins[0], Const):
            d = eqn.ins[1]
            if d in divided:
                continue
            later = next((e for e in eqns[i + 1:] if e.prim not in _NEVER_RAISE and not (
                raising_division(e) and e.ins[1] != d)), None)  # another division raises alike
            if later is not None and raising_division(later) and later.ins[1] == d:
                continue
        if division:
            divided.add(eqn.ins[1])
        elif eqn.prim in ("log", "log2", "log10") and eqn.params.get("lib") == "math":
            divided.add(eqn.ins[0])  # math.log(0.0) raises: a later test of the value cannot
        out.append(eqn)
    return out


def _inputs(node):
    kind = node[0]
    if kind in ("pow", "neg"):
        return node[1:2]
    if kind == "call":
        return node[2:3]
    return node[1:3] if kind in ("add", "sub", "mul", "div") else ()


def _caller_level():
    """The stack level of the first frame outside the compiler: the user's decoration."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame, level = frame.f_back, level + 1
    return level


def _uses_numpy(eqn):
    for sub in regions(eqn):
        for e in sub.eqns:
            if e.params.get("lib") == "np" or _uses_numpy(e):
                return True
    return False


def _shared_size(graph):
    """`_size` once equal equations are shared, as the optimiser will share them."""
    seen = set()
    n = 0
    for e in graph.eqns:
        if regions(e) or e.params.get("_effect") or len(e.outs) != 1:
            n += 1 + sum(_size(sub) for sub in regions(e))
            continue
        key = (e.prim, e.params.get("lib"),
               tuple(a if isinstance(a, Var) else (type(a.value), repr(a.value)) for a in e.ins))
        if key not in seen:
            seen.add(key)
            n += 1
    return n


# --- the worker process --------------------------------------------------------------------------

_BOOT = ("import json, runpy, sys; sys.path[:] = json.loads(sys.argv[2]); "
         "runpy.run_path(sys.argv[1], run_name='__main__')")


class _Worker:
    """One SymPy process, started on first use and reused. One problem at a time: callers queue on
    a lock, and the time they wait counts against their budget. A worker that took a problem and
    does not answer by its deadline is killed (its own alarm should have answered "timeout"), and
    a new one starts at once, in the background; one still starting is left to start, and skips
    the problems whose deadline passed while it did."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.answers = None
        self.ready = None
        self.pid = None
        self.serial = 0

    def start(self):
        """Start the worker now (it imports SymPy in the background); returns at once."""
        with self.lock:
            self._ensure()
        return self.ready

    def _ensure(self):
        if self.proc is not None and self.pid == os.getpid() and self.proc.poll() is None:
            return
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "symbolic_worker.py")
        paths = json.dumps([p for p in sys.path if isinstance(p, str)])
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, path, paths],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, close_fds=True)
        self.pid = os.getpid()
        self.answers = queue.Queue()
        self.ready = threading.Event()
        threading.Thread(target=_read_answers, args=(self.proc.stdout, self.answers, self.ready),
                         daemon=True, name="sourcead-sympy-reader").start()

    def ask(self, problem, deadline):
        """The worker's answer, or {"status": "timeout"} if none came by `deadline` (monotonic)."""
        if not self.lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            return {"status": "timeout"}
        try:
            self.serial += 1
            problem = {**problem, "id": self.serial}
            try:
                self._ensure()
                self.proc.stdin.write(pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL))
                self.proc.stdin.flush()
            except Exception as exc:  # noqa: BLE001  (no interpreter to start, a closed pipe...)
                self._stop()
                return {"status": "error", "error": f"the SymPy worker could not start: {exc}"}
            while True:
                try:
                    answer = self.answers.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    if not self.ready.is_set():
                        return {"status": "timeout", "started": False}
                    self._stop()  # it has the problem and overran its own alarm
                    self._ensure()
                    return {"status": "timeout"}
                if answer is None:
                    self._stop()
                    return {"status": "error", "error": "the SymPy worker process exited"}
                if answer.get("id") == problem["id"]:
                    return answer
                # the "ready" message, or the answer to a problem whose caller stopped waiting
        finally:
            self.lock.release()

    def _stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and self.pid == os.getpid():
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001  (already gone)
                pass
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass

    def close(self):
        with self.lock:
            self._stop()


def _read_answers(stream, answers, ready):
    while True:
        try:
            answer = pickle.load(stream)
        except Exception:  # noqa: BLE001  (EOF: the worker exited or was killed)
            answers.put(None)
            return
        if answer.get("status") == "ready":
            ready.set()
        answers.put(answer)


_WORKER = _Worker()
atexit.register(_WORKER.close)


def start_worker(wait=None):
    """Start the SymPy worker ahead of the first `simplify="sympy"` decoration, which otherwise
    spends its budget waiting for it (a second or two: Python, then SymPy, start). With `wait`,
    wait up to that many seconds for it to be ready; returns whether it is."""
    _WORKER.start()
    return _WORKER.ready.wait(wait) if wait else _WORKER.ready.is_set()
