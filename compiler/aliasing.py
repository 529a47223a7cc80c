"""NumPy's aliasing, followed in a functional IR: which names see the same memory, and what a write
through one of them does to the others.

The IR has no memory: `y[i] = v` makes a new value of y (`setitem`). That is Python's meaning only
when no other name sees y's array. This module keeps, per scope, how the names of arrays the
function made are related, so that a write through any of them becomes exact functional updates:

- a `Storage` is one array's memory; its current value is kept in the scope under `Storage.key`, so
  branches merge it and loops carry it like any name;
- a `View` says how a name reads that memory: the steps from the storage's value to the name's
  (`getitem`, `transpose`, `reshape`...), and `shared`, whether NumPy really made a view. That is
  NumPy's decision, asked of NumPy where it depends on shapes and strides (`y[0]` is a row view of
  a matrix but a scalar copy of a vector, `y.T.reshape(-1)` copies): a `shares` equation
  (np.may_share_memory between the name's value and the storage's) computed when the view is taken.

A write through a name rebuilds the storage's value (`setitem` into the base, transposes and
reshapes undone), then every name that sees the storage is read from it again, all under `if
shared:`. Names whose relation to the others is not known (a value merged after an `if`, a helper's
parameter, a global) are UNKNOWN: a write into one, or into any name while one exists, is checked
when the code runs (`write_check`), and refused at the user's line if the memory is in fact shared.
Arguments and globals are never written: such writes are refused, statically where the write can
only change the caller's array, else when the code runs (a float argument updated with `*=` is just
rebound, as in Python).
"""
from __future__ import annotations

import ast
import itertools

import numpy as np

from .errors import error_at
from .ir import Const, Eqn, Var
from .primitives import PRIMS, having

# Primitives whose result may be a view of their first input (NumPy decides)...
VIEW_PRIMS = having("view", "always") | having("view", "maybe")
# ... and those whose result is always a view when the input is an array.
ALWAYS_VIEWS = having("view", "always")

_ids = itertools.count(1)


class Storage:
    """One array's memory. `owner` names the argument whose memory it is (writes refused)."""

    __slots__ = ("key", "owner", "is_array")

    def __init__(self, root_name, owner=None, is_array=Const(True)):
        self.key = f"<mem {root_name}#{next(_ids)}>"
        self.owner = owner
        self.is_array = is_array  # whether the memory is an array's (a float's is never written)


class View:
    """How a name sees a storage: `steps` from the storage's value, and whether NumPy made a view
    (`shared`, an atom: Const(True) or a bool variable computed when the view was taken)."""

    __slots__ = ("storage", "steps", "shared")

    def __init__(self, storage, steps, shared):
        self.storage = storage
        self.steps = steps
        self.shared = shared


UNKNOWN = "unknown"


def storage_hint(key):
    """The readable hint of a storage key: the name of the array it started as."""
    return key[len("<mem "):].split("#")[0]


class WriteCheck:
    """Bound into generated code at a write the compiler could not prove harmless: raises the
    user's GradError if the written array shares memory with another name's (or the caller's)."""

    def __init__(self, location, target, others, reason, arguments=()):
        self.location = location
        self.target = target
        self.others = others
        self.reason = reason
        self.arguments = arguments  # which of `others` are the caller's arguments

    def __call__(self, value, *others):
        if not isinstance(value, np.ndarray):
            return  # numbers are immutable: the write rebinds the name, as in Python
        for name, other in zip(self.others, others):
            if isinstance(other, np.ndarray) and _shares(value, other):
                reason = _argument_reason if name in self.arguments else self.reason
                raise error_at(self.location, reason(self.target, name))


def _shares(a, b):
    try:
        return np.shares_memory(a, b, max_work=10 ** 6)
    except np.exceptions.TooHardError:
        return True


def _argument_reason(target, owner):
    what = "" if target == owner else f" (`{target}` is `{owner}` or a view of it)"
    return (f"this write into `{target}` would change the array the caller passed as `{owner}`{what}: the "
            f"compiler never modifies your arrays. Work on a new array instead: "
            f"`{target} = {target} * 2.0` rather than `{target} *= 2.0`, or "
            f"`{target} = {target}.copy()` before writing into it.")


def _unknown_reason(target, other):
    return (f"`{target}` shares memory with `{other}` here, so this write would change `{other}` "
            f"too, and the compiler cannot tell how the two are related (a value from a branch, "
            f"a helper function, a global). Make `{target}` a copy where it is assigned "
            f"(`.copy()`), or write into `{other}` directly.")


class Memory:
    """The aliasing bookkeeping of one lowering (see the module docstring)."""

    def __init__(self, lowering):
        self.low = lowering
        # arguments the user's own function may write into (a check is emitted for each): a run
        # of the user's function (api.check_result) gets copies of these, never the caller's
        self.written_arguments = set()
        self.writes_unknown = False

    # -- what a name sees ------------------------------------------------------------------------

    def view_of(self, name, scope):
        """The name's View, None for an array no other name sees, or UNKNOWN."""
        if name in scope.views:
            return scope.views[name]
        if name in scope.vars:
            return None
        return UNKNOWN  # bound in an enclosing function: a closure over the caller's array

    def argument(self, name, var, scope):
        """An argument of the decorated function: its memory is the caller's."""
        storage = Storage(name, owner=name)
        scope.vars[storage.key] = var
        scope.views[name] = View(storage, (), Const(True))

    def assigned(self, name, value, scope, new_object=False):
        """After `name = <expression>` bound `value`: what memory does the name see now?"""
        scope.views.pop(name, None)
        if new_object or not isinstance(value, Var):
            return
        traced = self.trace(value, scope, exclude=name)
        if traced is None:
            scope.views[name] = UNKNOWN
            return
        if traced == "fresh":
            return
        base_name, steps = traced
        base_view = self.view_of(base_name, scope)
        if base_view is UNKNOWN:
            scope.views[name] = UNKNOWN
            return
        if base_view is None:  # the first name to see base_name's array: it becomes a storage
            base_value = scope.vars[base_name]
            shared = self.low.b.emit("shares", [base_value, base_value], hint="is_array", lib="np")
            storage = Storage(base_name, is_array=shared)
            scope.vars[storage.key] = base_value
            base_view = scope.views[base_name] = View(storage, (), shared)
        shared = base_view.shared
        if not all(_always_a_view(step) for step in steps):
            base_value = scope.vars[base_view.storage.key]
            shared = self.low.b.emit("shares", [value, base_value], hint=f"{name}_is_view",
                                     lib="np")
        scope.views[name] = View(base_view.storage, base_view.steps + steps, shared)

    def trace(self, value, scope, exclude):
        """(name, steps) if `value` is a name's value or a view of one, "fresh" if it is a new
        object, None if that cannot be told (a value merged after a branch, a parameter...)."""
        steps = []
        v = value
        while True:
            owner = next((key for key in scope.vars.holders(v)
                          if key != exclude and key.isidentifier()), None) \
                if isinstance(v, Var) else None
            if owner is not None:
                return owner, tuple(reversed(steps))
            eqn = self.low.producers.get(v)
            if eqn is None or eqn.prim in ("global", "cell"):
                return None
            if PRIMS[eqn.prim].view == "opaque":
                return None  # a library view (np.swapaxes...): writes near it are checked
            if eqn.prim not in VIEW_PRIMS:
                return "fresh"
            if eqn.prim == "getitem" and any(isinstance(a, Const) and isinstance(a.value, list)
                                             for a in eqn.ins[1:]):
                return "fresh"  # x[[0, 2]]: advanced indexing copies
            steps.append((eqn.prim, tuple(eqn.ins[1:]), dict(eqn.params)))
            v = eqn.ins[0]

    # -- writes ----------------------------------------------------------------------------------

    def write(self, name, old, new, scope, node):
        """`name` now holds `new`, written into the array it held (`old`) in place: make every
        name that sees that memory see the write (or refuse, see the module docstring)."""
        view = self.view_of(name, scope)
        loc = scope.src.location(node)
        if view is UNKNOWN:
            others = self.live_values(scope, exclude=name)
            self.check(loc, name, old, others, _unknown_reason)
            self.writes_unknown = True
        elif view is not None and view.storage.owner is not None:
            base = scope.vars[view.storage.key]
            self.check(loc, name, old, [(view.storage.owner, base)], _argument_reason)
            self.written_arguments.add(view.storage.owner)
        else:
            unknown = [(n, scope.vars[n]) for n, v in scope.views.items()
                       if v is UNKNOWN and n != name and isinstance(scope.vars.get(n), Var)]
            if unknown:
                self.check(loc, name, old, unknown, _unknown_reason)
                self.writes_unknown = True
        if view is None or view is UNKNOWN or view.storage.owner is not None:
            scope.vars[name] = new
            return
        self.write_through(name, view, new, scope)

    def check(self, loc, name, old, others, reason):
        if not isinstance(old, Var) or not others:
            return
        arguments = {n for n, v in others if v in self.low.root_params}
        check = WriteCheck(loc, name, [n for n, _ in others], reason, arguments)
        b = self.low.b
        b.eqns.append(Eqn("write_check", [old] + [v for _, v in others], (),
                          {"_check": check, "_effect": True}, b.loc))

    def live_values(self, scope, exclude):
        """Every other value the function can still reach: names in this scope and the functions
        it was called from, the storages behind their views, and the global arrays it reads."""
        out, seen = [], set()
        for s in [scope] + list(reversed(self.low.scope_stack)):
            for key, v in s.vars.items():
                if not isinstance(v, Var) or v in seen or (s is scope and key == exclude):
                    continue
                if key.isidentifier() or key.startswith("<mem "):
                    seen.add(v)
                    out.append((storage_hint(key) if key.startswith("<mem ") else key, v))
        for ident, value in self.low.global_arrays(scope):
            out.append((ident, value))
        return out

    def write_through(self, name, view, new, scope):
        storage = view.storage
        members = [(m, v) for m, v in scope.views.items()
                   if v is not UNKNOWN and v.storage is storage and m in scope.vars]
        base = scope.vars[storage.key]
        old_values = [scope.vars[m] for m, _ in members]

        def then():
            new_base = self.unapply(base, view.steps, new)
            values = [new_base]
            for (m, mv), old in zip(members, old_values):
                fresh = self.apply(new_base, mv.steps, m)
                # a write went through, so the memory is an array's: names that see all of it, or a
                # view NumPy always makes, see the write
                if mv.shared in (view.shared, storage.is_array) or is_true(mv.shared):
                    values.append(fresh)
                else:
                    values.append(self.low.conditional(mv.shared, lambda f=fresh: [f],
                                                       lambda o=old: [o], [m])[0])
            return values

        otherwise = [base] + [new if m == name else old for (m, _), old in zip(members, old_values)]
        hints = [storage_hint(storage.key)] + [m for m, _ in members]
        outs = self.low.conditional(view.shared, then, lambda: otherwise, hints)
        scope.vars[storage.key] = outs[0]
        for (m, _), out in zip(members, outs[1:]):
            scope.vars[m] = out

    def apply(self, base, steps, hint):
        value = base
        for k, (prim, extra, params) in enumerate(steps):
            value = self.low.b.emit(prim, [value, *extra], hint=hint if k == len(steps) - 1 else "",
                                    **params)
        return value

    def unapply(self, base, steps, new):
        """The storage's value after its view (`steps` from `base`) was overwritten with `new`."""
        if not steps:
            return new
        b = self.low.b
        prim, extra, params = steps[0]
        inner = b.emit(prim, [base, *extra], **params)
        inner_new = self.unapply(inner, steps[1:], new)
        if prim == "getitem":
            return b.emit("setitem", [base, inner_new, *extra], index=params["index"])
        if prim == "transpose":
            axes = params.get("axes")
            back = {"axes": tuple(int(a) for a in np.argsort(axes))} if axes is not None else {}
            return b.emit("transpose", [inner_new], **back)
        shape = b.emit("shape", [base])  # reshape, squeeze, expand_dims: the same entries
        return b.emit("reshape", [inner_new, shape])

    # -- control flow ----------------------------------------------------------------------------

    def merged(self, scope, branches):
        """After an `if`: a name whose view differs between the branches is UNKNOWN."""
        names = set(scope.views)
        for inner in branches:
            names |= set(inner.views)
        for name in sorted(names):  # a deterministic order: the generated code never varies
            before = scope.views.get(name)
            if all(inner.views.get(name) is before for inner in branches):
                continue
            if name in scope.vars:
                scope.views[name] = UNKNOWN
            else:
                scope.views.pop(name, None)

    def loop_carried(self, loop, scope):
        """Names (and storages) an in-place write in a loop body may change without assigning
        them: when the body writes in place into a name that may see other memory, every bound
        name the loop reads, and every storage."""
        if not _writes_into_shared(loop, scope):
            return set()
        read = {n.id for n in ast.walk(loop) if isinstance(n, ast.Name)}
        out = {n for n in read if n in scope.vars}
        out |= {k for k in scope.vars if k.startswith("<mem ")}
        # a write through `z` (an alias or view of `a`) changes `a` though the loop never names it
        out |= {n for n, v in scope.views.items() if v is not UNKNOWN and n in scope.vars}
        if isinstance(loop, ast.For):  # the loop's own variables are set by the loop, not carried
            out -= {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        return out

    def loop_entry(self, body_scope, stmts):
        """A name the body rebinds may see other memory from the second iteration on."""
        for name in _rebound_names(stmts):
            if name in body_scope.views:
                body_scope.views[name] = UNKNOWN

    def loop_exit(self, scope, body_scope, entry_views):
        for name in sorted(set(body_scope.views) | set(entry_views)):
            if body_scope.views.get(name) is entry_views.get(name):
                continue
            if name in scope.vars:
                scope.views[name] = UNKNOWN
            else:
                scope.views.pop(name, None)


def _always_a_view(step):
    """Slicing and transposing an array always give a view; an integer index may give a number,
    an index array a copy, a reshape either: NumPy decides those when the code runs."""
    prim, _, params = step
    if prim == "getitem":
        return "atom" not in repr(params["index"])
    return prim in ALWAYS_VIEWS


def is_true(atom):
    return isinstance(atom, Const) and atom.value is True


_NEW_OBJECTS = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.List, ast.Tuple)


def _writes_into_shared(loop, scope):
    """Whether a loop body writes in place (`r *= 2`, `r[i] = v`) into a name that may see memory
    another name sees: one with a view before the loop, a loop variable over rows, or one the
    body assigns from anything but arithmetic (a subscript, a call, another name)."""
    written, fresh_only, assigned = set(), {}, set()
    for n in ast.walk(ast.Module(loop.body, [])):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            written.add(n.target.id)
        targets = n.targets if isinstance(n, ast.Assign) else \
            [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                written.add(t.value.id)
            elif isinstance(t, ast.Name) and not isinstance(n, ast.AugAssign):
                assigned.add(t.id)
                fresh = isinstance(n.value, _NEW_OBJECTS)
                fresh_only[t.id] = fresh_only.get(t.id, True) and fresh
    if isinstance(loop, ast.For):
        for t in ast.walk(loop.target):
            if isinstance(t, ast.Name):
                assigned.add(t.id)
                fresh_only[t.id] = False
    return any(name in scope.views or name in assigned and not fresh_only[name]
               for name in written)


def _rebound_names(stmts):
    names = set()
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, (ast.Assign, ast.AnnAssign, ast.For)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in targets:
                    names |= {m.id for m in ast.walk(t) if isinstance(m, ast.Name)
                              and isinstance(m.ctx, ast.Store)}
    return names
