"""The values a name can hold while a function is lowered, and the scopes that hold them.

A name holds an atom of the IR (a `Var`, or a `Const` known when the graph is built), or one of the
build-time values below, which never reach the graph: a module or function (`PyObj`), a tuple, a
bound method, a nested `def`, a list built with `.append`. `as_atom` is where a build-time value
used as a number is refused.
"""
from __future__ import annotations

import types

import numpy as np

from ..aliasing import storage_hint
from ..errors import error_at
from ..ir import Const, Var

NUMBER_TYPES = (bool, int, float, np.number)


class PyObj:
    """A Python object resolved at build time: a module, a function, a class."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class TupleVal:
    """A Python tuple of values (from `a, b` or a function returning several values)."""

    __slots__ = ("items", "is_list")

    def __init__(self, items, is_list=False):
        self.items = list(items)
        self.is_list = is_list


class NamedVal(TupleVal):
    """A namedtuple: a tuple whose items are also attributes (`p.w`)."""

    __slots__ = ("cls",)

    def __init__(self, cls, items):
        super().__init__(items)
        self.cls = cls

    def attr(self, name):
        fields = getattr(self.cls, "_fields", ())
        return self.items[fields.index(name)] if name in fields else None


class DictVal:
    """A dict whose keys are known when the graph is built (a `wrt` argument's structure, a dict
    literal, dict(a=...)); its values are any values the lowering holds."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = dict(items)


class ObjVal:
    """An instance of a dataclass (or another plain class) whose attributes are values."""

    __slots__ = ("cls", "attrs")

    def __init__(self, cls, attrs):
        self.cls = cls
        self.attrs = dict(attrs)

    def attr(self, name):
        return self.attrs.get(name)


class ContainerMethod:
    """`d.items` before it is called: a method of a container (dict: items, keys, values, get)."""

    __slots__ = ("value", "name")

    def __init__(self, value, name):
        self.value = value
        self.name = name


CONTAINERS = (TupleVal, DictVal, ObjVal)


class OpaqueMethod:
    """`rng.normal` or `labels.argmax` before it is called: a method with no rule, called as written
    (a `call` equation whose first argument is the receiver)."""

    __slots__ = ("value", "name")

    def __init__(self, value, name):
        self.value = value
        self.name = name


class BoundMethod:
    """`x.sum` before it is called: the array and the primitive the method stands for."""

    __slots__ = ("value", "prim")

    def __init__(self, value, prim):
        self.value = value
        self.prim = prim


class LocalFunc:
    """A `def` nested in the function being lowered; called by inlining it in its defining scope."""

    __slots__ = ("node", "scope")

    def __init__(self, node, scope):
        self.node = node
        self.scope = scope


class UserMethod:
    """`self.forward` before it is called: a function of the user's bound to its receiver (an
    ObjVal, or a PyObj of a class for a classmethod); calling it inlines the function."""

    __slots__ = ("fn", "receiver")

    def __init__(self, fn, receiver):
        self.fn = fn
        self.receiver = receiver


class PartialVal:
    """`functools.partial(f, a, k=v)` before it is called: the function (a PyObj, LocalFunc or
    UserMethod) and the arguments it binds (values the lowering holds)."""

    __slots__ = ("func", "args", "kwargs")

    def __init__(self, func, args, kwargs):
        self.func = func
        self.args = list(args)
        self.kwargs = dict(kwargs)


class ListVal:
    """A list started as `name = []`, built with `.append` and read with sum(), len() or np.stack:
    its running sum, its length and its items (a `list_new` value each append extends, pruned as
    dead code when never stacked). An append makes a new ListVal of the same list (`origin`), which
    every name bound to that list then holds; branches merge and loops carry its three values like
    numbers. Only the function activation that started it appends to it."""

    __slots__ = ("name", "total", "length", "items", "origin", "activation")

    # (attribute, the suffix of the hint its merged or carried value gets: `terms_sum`)
    FIELDS = (("total", "sum"), ("length", "len"), ("items", "items"))

    def __init__(self, name, total, length, items, origin=None, activation=None):
        self.name = name
        self.total = total
        self.length = length
        self.items = items
        self.origin = origin if origin is not None else self
        self.activation = activation

    @classmethod
    def start(cls, name, b, activation):
        """`name = []`."""
        return cls(name, Const(0), Const(0), b.emit("list_new", [], hint=name),
                   activation=activation)

    def appended(self, b, value, name):
        """The list after `name.append(value)`."""
        total = b.emit("add", [self.total, value], hint=name + "_sum")
        position = b.emit("len", [self.items], hint=name + "_index")
        items = b.emit("list_append", [self.items, value, position], hint=name)
        length = b.emit("add", [self.length, Const(1)], hint=name + "_len")
        return self.replaced(total=total, length=length, items=items)

    def replaced(self, **fields):
        values = {attr: fields.get(attr, getattr(self, attr)) for attr, _ in self.FIELDS}
        return ListVal(self.name, origin=self.origin, activation=self.activation, **values)

    def same_list(self, other):
        return isinstance(other, ListVal) and other.origin is self.origin


EMPTY_LIST = object()  # `[]` before it is assigned to a name


_MISSING = object()


class Bindings(dict):
    """A scope's names -> values that also answers "which names hold this very object?" without
    a scan: aliasing asks it at each assignment (which names see this array?), and a scan of every
    name there made lowering quadratic in the function's length. Every way the lowering changes a
    binding keeps the index in step; `holders` lists names in the dict's own order. A copy (a
    branch's scope) also knows which names it rebound (`changed`), so merging two branches reads
    those, not every name in scope."""

    __slots__ = ("_holders", "_rank", "_next", "_changed")

    def __init__(self):
        super().__init__()
        self._holders = {}  # id(value) -> frozenset of the names bound to that object (alive)
        self._rank = {}     # name -> its position in the dict's order (first insertion)
        self._next = 0
        self._changed = None  # in a copy: the names bound anew or removed since

    def changed(self):
        """The names rebound or removed since this copy was made (None: not a copy)."""
        return self._changed

    def order(self, key):
        """The key's position in the dict's order (for keys it holds)."""
        return self._rank[key]

    def holders(self, value):
        """The names bound to `value` (by identity), in the order the dict iterates them."""
        names = self._holders.get(id(value))
        if not names:
            return ()
        if len(names) == 1:
            return tuple(names)
        return sorted(names, key=self._rank.__getitem__)

    def __setitem__(self, key, value):
        old = dict.get(self, key, _MISSING)
        if old is value:
            return
        if self._changed is not None:
            self._changed.add(key)
        if old is _MISSING:
            self._rank[key] = self._next
            self._next += 1
        else:
            self._release(key, old)
        dict.__setitem__(self, key, value)
        names = self._holders.get(id(value))
        self._holders[id(value)] = frozenset((key,)) if names is None else names | {key}

    def _release(self, key, value):
        names = self._holders[id(value)] - {key}
        if names:
            self._holders[id(value)] = names
        else:
            del self._holders[id(value)]

    def __delitem__(self, key):
        value = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        self._release(key, value)
        del self._rank[key]
        if self._changed is not None:
            self._changed.add(key)

    def pop(self, key, *default):
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def copy(self):
        out = Bindings()
        dict.update(out, self)
        out._holders = dict(self._holders)  # (frozensets: a branch's changes stay its own)
        out._rank = dict(self._rank)
        out._next = self._next
        out._changed = set()
        return out

    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError("Bindings keeps an index: change it by item, pop or update")

    popitem = clear = __ior__ = _unsupported


class Scope:
    """Names bound in one function activation; `parent` is the scope a nested def was defined in."""

    def __init__(self, src, parent=None):
        self.src = src
        self.parent = parent
        self.vars = Bindings()
        self.params = {}   # parameter name -> the value the caller passed
        self.views = {}    # name -> how it sees memory other names see (aliasing.py)
        self.activation = self  # shared by the branch and loop-body scopes of one activation

    def branch(self):
        """A scope for one branch or loop body: it sees every binding, and its own assignments
        are merged back by the caller."""
        inner = Scope(self.src, self.parent)
        inner.vars = self.vars.copy()
        inner.params = self.params
        inner.views = dict(self.views)
        inner.activation = self.activation
        return inner

    def lookup(self, name):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        raise KeyError(name)

    def rebind_list(self, lst):
        """Every name of this scope bound to `lst`'s list now holds `lst` (after an append)."""
        for key, value in self.vars.items():
            if lst.same_list(value):
                self.vars[key] = lst


def bound(scope, name):
    try:
        scope.lookup(name)
        return True
    except KeyError:
        return False


def descends(scope, ancestor):
    """Whether `scope` is (a branch copy of) `ancestor`'s activation."""
    return scope.parent is ancestor.parent


# Control flags kept in a scope beside the user's names (keys that are not identifiers).
RETURNED, RETURN_VALUE, BREAK, CONTINUE = "<returned>", "<return value>", "<break>", "<continue>"
EXIT_FLAGS = (RETURNED, BREAK, CONTINUE)
FLAG_KEYS = {RETURNED, RETURN_VALUE, BREAK, CONTINUE}
_FLAG_HINTS = {RETURNED: "returned", RETURN_VALUE: "result", BREAK: "stop", CONTINUE: "skip"}


def hint(key):
    """The hint of the value a scope key holds once merged or carried: the name, readably."""
    if key in _FLAG_HINTS:
        return _FLAG_HINTS[key]
    if key.startswith("<mem "):
        return storage_hint(key)
    return key.replace("<", "_").replace(">", "")


def is_true(atom):
    return isinstance(atom, Const) and atom.value is True


def is_false(atom):
    return isinstance(atom, Const) and atom.value is False


def what(value):
    """How a message names a value the lowering holds (never its internal class)."""
    if isinstance(value, LocalFunc):
        return f"the function `{value.node.name}` (a def)"
    if isinstance(value, (UserMethod, PartialVal)):
        return "a function (a method or a functools.partial)"
    if isinstance(value, ListVal) or value is EMPTY_LIST:
        return "a list"
    if isinstance(value, NamedVal):
        return f"a {value.cls.__name__} (a namedtuple)"
    if isinstance(value, TupleVal):
        return "a list" if value.is_list else "a tuple"
    if isinstance(value, DictVal):
        return "a dict"
    if isinstance(value, ObjVal):
        return f"a {value.cls.__name__}"
    if isinstance(value, PyObj):
        return f"`{getattr(value.obj, '__name__', type(value.obj).__name__)}` (a function or module)"
    return f"a {type(value).__name__}"


def as_atom(value, src, node):
    """The value as an atom of the IR; a build-time value used as a number is refused."""
    if isinstance(value, (Var, Const)):
        return value
    if isinstance(value, TupleVal):
        raise error_at(src.location(node), f"{what(value)} is used where a number is expected: pick "
                                           "one entry (t[0]) or unpack it (a, b = t) instead.")
    if isinstance(value, (DictVal, ObjVal)):
        raise error_at(src.location(node), f"{what(value)} is used where a number is expected: read "
                                           "one of its entries (d['w'], p.w) instead.")
    if isinstance(value, ListVal) or value is EMPTY_LIST:
        raise error_at(src.location(node),
                       "a list is used where a number is expected: lists built with append() "
                       "can be read with sum(...) and len(...).")
    if isinstance(value, (PyObj, LocalFunc)):
        label = getattr(getattr(value, "obj", None), "__name__", None) or "a function or module"
        raise error_at(src.location(node),
                       f"{label} is used as a value here: only numbers flow through a "
                       "differentiated computation. Did you forget to call it?")
    raise error_at(src.location(node), f"unsupported value {value!r}")


def constant(value, src, node):
    """A constant of the code (or a default value) as an atom: numbers only."""
    if isinstance(value, NUMBER_TYPES) and not isinstance(value, complex):
        return Const(value)
    if isinstance(value, complex):
        raise error_at(src.location(node), "complex numbers are not supported: use real floats.")
    if value is None or isinstance(value, (str, bytes)) or value is Ellipsis:
        # configuration (mode="valid", axis=None, einsum subscripts): fine where nothing
        # differentiates it; arithmetic on it fails as it does in your function
        return Const(value)
    kind = type(value).__name__
    raise error_at(src.location(node),
                   f"a {kind} constant cannot take part in a differentiated computation: "
                   "use numbers only.")


def environment_value(value, src, node, ident, read):
    """A global or closure value: numbers are read at call time (`read()` emits the read),
    callables resolved now."""
    if isinstance(value, NUMBER_TYPES) and not isinstance(value, complex) or \
            isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return read()
    if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
                          np.ufunc)) or callable(value):
        return PyObj(value)
    if isinstance(value, tuple) and all(isinstance(v, NUMBER_TYPES) for v in value):
        return TupleVal(Const(v) for v in value)
    from ..trees import is_plain_object  # noqa: PLC0415
    if is_plain_object(value):  # an object of the user's: its attributes read as it is used
        return PyObj(value)
    raise error_at(src.location(node),
                   f"`{ident}` holds a {type(value).__name__}, which cannot take part in a "
                   "differentiated computation: use numbers.")
