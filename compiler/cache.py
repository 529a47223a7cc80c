"""The on-disk cache of generated code: a second process decorating the same function loads the
code the first one generated instead of lowering, differentiating and optimising it again.

Where: `$SOURCEAD_CACHE_DIR`, else `$XDG_CACHE_HOME/sourcead`, else `~/.cache/sourcead`. Off with
`SOURCEAD_CACHE=off` (or `grad(f, cache=False)`).

What is cached, per decorated function (`grad` / `value_and_grad` of a plain function):
- the code decoration makes: the float version of scalar code (and its guards), or the entry and
  the generic source of array code;
- each version a call signature builds later: np.float64 scalars, arrays of given shapes and
  dtypes (one file per signature, written when it is first built).
Not cached (built as before): functions taken apart as containers (api.Structured), functions
whose graph depends on a value (api.ByValue), `simplify="sympy"` versions built after decoration,
the generic version a specialised one falls back to (after a Deopt), jvp/vjp/hessian and higher
derivatives, and any decoration that warned (the warning is shown each time instead).

The key is everything that decides the code (cache_key.py: the source of the function and of
every function it may inline, what each name they read refers to, wrt and the options, registered
rules, this package's source, the Python, NumPy and astor versions). What it cannot describe makes
the function uncacheable, never a guess.

An entry names the objects its code uses (cache_names.py: NumPy, a helper of ours, the user's
globals dict or a closure cell, found again from the function by the path that reached it); an
entry whose objects cannot all be found again, or whose checksum fails (truncated, corrupt), is
ignored and rebuilt. Writes go to a temporary file renamed into place, so concurrent processes
never see half an entry.

A function loaded from the cache (`Loaded`) has everything a call needs; its graphs and lowering
(`.graph`, `.ir_for` of the float version, a signature never built before, `.export`) are built
again when first needed, from the functions its names refer to then.
"""
from __future__ import annotations

import base64
import hashlib
import inspect
import json
import marshal
import os
import tempfile
import threading
import types
import warnings

from . import api
from .api import Compiled
from .buildlog import SlowBuildWarning
from .cache_key import FORMAT, Uncacheable, _identity, function_key  # noqa: F401  (for users)
from .cache_names import Naming, Unresolved
from .ir import Graph
from .loader import load_code, origin
from .specialize import all_eqns, signature_key

_MAGIC = b"sourcead-cache %d " % FORMAT
_OFF = ("off", "0", "false", "no")


class StaleWarning(UserWarning):
    """A function loaded from the cache is built again (to make a new version, or its graphs)
    after a name it reads was rebound: the new build uses what the names refer to now."""


# --- where --------------------------------------------------------------------------------------

def cache_dir():
    """The directory entries live in (it need not exist yet)."""
    explicit = os.environ.get("SOURCEAD_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sourcead")


def enabled():
    return os.environ.get("SOURCEAD_CACHE", "").strip().lower() not in _OFF


def clear():
    """Remove every entry of the cache; returns how many files went."""
    folder = os.path.join(cache_dir(), f"v{FORMAT}")
    removed = 0
    for dirpath, _, files in os.walk(folder, topdown=False):
        for name in files:
            try:
                os.remove(os.path.join(dirpath, name))
                removed += 1
            except OSError:
                pass
        try:
            os.rmdir(dirpath)
        except OSError:
            pass
    return removed


class Store:
    """Entries on disk, one file each: a header line with the checksum of what follows, then
    JSON. A file that fails its checksum or names another key is treated as absent."""

    def __init__(self, folder):
        self.folder = os.path.join(folder, f"v{FORMAT}")

    def path(self, key, version=None):
        name = key if version is None else f"{key}-{version}"
        return os.path.join(self.folder, key[:2], name + ".entry")

    def read(self, key, version=None):
        try:
            with open(self.path(key, version), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        head, _, body = data.partition(b"\n")
        if not head.startswith(_MAGIC) or head[len(_MAGIC):].decode("ascii", "replace") != \
                hashlib.sha256(body).hexdigest():
            return None  # truncated or corrupt: rebuilt and written again
        try:
            entry = json.loads(body.decode("utf-8"))
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or \
                entry.get("version") != version:
            return None
        return entry

    def write(self, key, version, entry):
        """Atomically: written beside its place under a temporary name, then renamed onto it."""
        entry = dict(entry, key=key, version=version)
        body = json.dumps(entry, separators=(",", ":")).encode("utf-8")
        data = _MAGIC + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body
        final = self.path(key, version)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as fh:
                fh.write(data)
            os.replace(temporary, final)
        except BaseException:
            try:
                os.remove(temporary)
            except OSError:
                pass
            raise


# --- entries --------------------------------------------------------------------------------------

def _product(fn, naming):
    """A generated function as an entry stores it: its code (compiled), source, and what each of
    its free names holds."""
    made = origin(fn)
    if made is None:
        raise Uncacheable("a function not made by the loader")
    names = list(fn.__code__.co_freevars)
    objects = [made.cells[n] if n in made.cells else made.bindings[n] for n in names]
    descriptions = naming.describe_all(objects)
    return {"source": made.source, "factory": made.factory_name, "func_name": fn.__code__.co_name,
            "code": base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii"),
            "free": [[n, d] for n, d in zip(names, descriptions)]}


def _function(product, naming, compiled):
    code = marshal.loads(base64.b64decode(product["code"]))
    if not isinstance(code, types.CodeType):
        raise Unresolved("not code")
    free = dict((n, d) for n, d in product["free"])
    if list(code.co_freevars) != [n for n, _ in product["free"]]:
        raise Unresolved("free names differ")
    bindings, cells = {}, {}
    for name in code.co_freevars:
        desc = free[name]
        value = naming.resolve(desc)
        (cells if desc[0] == "cell" else bindings)[name] = value
    fn = compiled.fn
    return load_code(code, product["source"], product["factory"], product["func_name"], bindings,
                     cells, fn.__globals__, fn.__defaults__, fn.__kwdefaults__)


def _environment(compiled):
    """The globals and cells the gradient reads live, in the order `specialize.environment` lists
    them (their values are part of a version's signature)."""
    found, seen = [], set()
    for eqn in all_eqns(compiled.grad_graph):
        if eqn.prim == "global":
            key = (id(eqn.params["_ns"]), eqn.params["name"])
            item = ("global", eqn.params["_ns"], eqn.params["name"])
        elif eqn.prim == "cell":
            key = id(eqn.params["_cell"])
            item = ("cell", eqn.params["_cell"], None)
        else:
            continue
        if key not in seen:
            seen.add(key)
            found.append(item)
    return found


def _version_key(key):
    """A stable text for a signature key (specialize.signature_key holds Python types)."""
    def part(p):
        if isinstance(p, type):
            return ["type", _identity(p)]
        if isinstance(p, tuple):
            return [part(q) for q in p]
        return p
    text = json.dumps([part(p) for p in key], separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Handle:
    """One decorated function's place in the store: its key, and the versions read from disk
    (never written back)."""

    def __init__(self, store, key):
        self.store, self.key = store, key
        self.loaded = set()

    def save(self, compiled):
        """The decoration's product, and what a Loaded needs besides it."""
        naming = Naming(compiled.fn, compiled)
        environment = _environment(compiled)
        described = naming.describe_all([held for _, held, _ in environment])
        env = [[kind, d, name] for (kind, _, name), d in zip(environment, described)]
        meta = {"func_name": compiled.func_name, "names": list(compiled.names),
                "positional": list(compiled.positional), "kwonly": list(compiled.kwonly),
                "wrt": list(compiled.wrt), "wrt_is_tuple": compiled.wrt_is_tuple,
                "by_value": compiled.by_value, "scalar": compiled.scalar_version is not None,
                "ir": compiled.function.ir, "env": env}
        entry = {"meta": meta, "source": compiled.source,
                 "function": _product(compiled.function, naming)}
        self.store.write(self.key, None, entry)

    def save_version(self, compiled, key, values, found):
        version = _version_key(key)
        if found[1] is compiled.function or version in self.loaded or compiled.simplify:
            return
        try:
            entry = {"function": _product(found[1], Naming(compiled.fn, compiled)),
                     "typed": compiled.last_typed, "signature": compiled.describe(values)}
            self.store.write(self.key, version, entry)
        except (Uncacheable, OSError, ValueError, TypeError):
            pass  # built, just not kept

    def load_version(self, compiled, key):
        version = _version_key(key)
        entry = self.store.read(self.key, version)
        if entry is None:
            return None
        try:
            fn = _function(entry["function"], Naming(compiled.fn, compiled), compiled)
        except (Unresolved, KeyError, TypeError, ValueError, EOFError):
            return None
        self.loaded.add(version)
        compiled.last_typed = entry.get("typed")
        return entry["function"]["source"], fn


# --- a function loaded from the cache -------------------------------------------------------------

class LazyGraph(Graph):
    """`f.graph` / `f.grad_graph` of a function loaded from the cache: the graph, built the first
    time anything of it is read."""

    def __init__(self, owner, attribute):  # noqa: super().__init__ is what reading it does
        self.__dict__["_source"] = (owner, attribute)

    def __getattr__(self, name):
        if name not in Graph.__slots__:
            raise AttributeError(name)
        owner, attribute = self.__dict__["_source"]
        graph = getattr(owner, attribute)
        for slot in Graph.__slots__:
            object.__setattr__(self, slot, getattr(graph, slot))
        return getattr(graph, name)


# What a Loaded keeps of its own when the pipeline is run again for it.
_OWN = {"function", "source", "versions", "typed_graphs", "cache", "fast", "lock",
        "scalar_version", "last_typed", "store", "structured", "_structured", "wrt_spec",
        "_materialized", "_building", "env_spec"}


class Loaded(Compiled):
    """A decorated function whose generated code was read from the cache. What a call needs is
    here; anything else (the graphs, the lowering, a new version) runs the pipeline first."""

    def __init__(self, fn, wrt, with_value, simplify, has_aux, meta, handle):
        self.__dict__["_materialized"] = False
        self.fn, self.wrt_spec, self.mode, self.scalar_output = fn, wrt, "grad", False
        self.simplify, self.with_value, self.has_aux = simplify, with_value, has_aux
        self.user_call = fn
        self.wrt, self.wrt_is_tuple = list(meta["wrt"]), meta["wrt_is_tuple"]
        self.names, self.positional = list(meta["names"]), list(meta["positional"])
        self.kwonly = list(meta["kwonly"])
        self.signature = inspect.signature(fn)
        self.leaf_owner, self.flat, self.extra_names = {}, False, []
        self.user_count = len(self.names)
        self.func_name, self.by_value = meta["func_name"], meta["by_value"]
        self.cache, self.fast = {}, {}
        self.npos = len(self.positional) if not self.kwonly else -1
        self.lock = threading.RLock()
        self.versions, self.typed_graphs, self.last_typed = {}, {}, None
        self.store = handle
        self.env_spec = meta["env"]

    def finish(self, function, source, scalar, ir):
        self.function, self.source = function, source
        self.scalar_version = function if scalar else None
        self.types_only = not self.env and not self.by_value and scalar
        self.expose(self.wrt_spec, LazyGraph(self, "primal"), LazyGraph(self, "grad_graph"), ir)

    @property
    def structured(self):
        """Calls with containers (api.Structured): made when first called with them."""
        found = self.__dict__.get("_structured", _MISSING)
        if found is _MISSING:
            found = self.__dict__["_structured"] = _Structured(self)
        return found

    @structured.setter
    def structured(self, value):
        self.__dict__["_structured"] = value

    def build_version(self, values):
        key = signature_key(list(values) + [get() for get in self.env], self.by_value)
        found = self.store.load_version(self, key) if self.store is not None else None
        if found is not None:
            return found
        return super().build_version(values)

    def __getattr__(self, name):
        if name.startswith("__") or "_materialized" not in self.__dict__:
            raise AttributeError(name)
        if name == "src" and not self.__dict__["_materialized"]:
            from .frontend import parse_function  # noqa: PLC0415  (a message about an argument)
            self.src = parse_function(self.fn)
            return self.src
        self.materialize()  # (another thread building it: waited for)
        return object.__getattribute__(self, name)

    def materialize(self):
        """Run the pipeline for this function (as decorating it without the cache would have)."""
        if self.__dict__["_materialized"]:
            return
        with api._build_lock, api._deep_recursion():
            if self.__dict__["_materialized"] or self.__dict__.get("_building"):
                return
            self.__dict__["_building"] = True
            try:
                self._build()
                self.__dict__["_materialized"] = True
            finally:
                self.__dict__["_building"] = False

    def _build(self):
        try:
            key_now = function_key(self.fn, self.wrt_spec, self.with_value, self.simplify,
                                   self.has_aux)
        except Uncacheable:
            key_now = None
        if self.store is not None and key_now != self.store.key:
            warnings.warn(StaleWarning(
                f"{self.fn.__qualname__} was loaded from the cache of generated code, and a "
                "name it reads (a function it calls, a module's constant) has been rebound "
                "since: versions built from now on use what the names refer to now. Decorate "
                f"{self.fn.__name__} again to use them everywhere."), stacklevel=5)
        collecting = api.gc.isenabled()
        api.gc.disable()
        try:
            real = Compiled(self.fn, self.wrt_spec, self.with_value, self.simplify,
                            has_aux=self.has_aux)
        finally:
            if collecting:
                api.gc.enable()
        for name, value in vars(real).items():
            if name not in _OWN:
                self.__dict__[name] = value
        self.function.graph, self.function.grad_graph = real.primal, real.grad_graph


_MISSING = object()


class _Structured(api.Structured):
    """A Loaded function's api.Structured: whether a call has containers is answered from what
    the entry says (no source read); the rest is set up the first time one is passed."""

    def __init__(self, owner):  # noqa: super().__init__ runs when containers first come
        self.owner, self.ready = owner, False
        self.forced, self.ints_by_value = {}, False
        self.wrt_args, self.signature = set(owner.wrt), owner.signature

    def __call__(self, args, kwargs):
        if not self.ready:
            o = self.owner
            api.Structured.__init__(self, o.fn, o.wrt_spec, o.with_value, o.simplify, o, None,
                                    has_aux=o.has_aux)
            self.ready = True
        return super().__call__(args, kwargs)


# --- decorating through the cache -----------------------------------------------------------------

def compile_through(fn, wrt, with_value, simplify, has_aux, build):
    """`build(fn, ...)` (api._compile), or its product read from the cache."""
    if not enabled():
        return build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
    store = Store(cache_dir())
    try:
        key = function_key(fn, wrt, with_value, simplify, has_aux)
    except (Uncacheable, OSError, RecursionError, ValueError, TypeError):
        return build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
    with api._build_lock:
        found = _load(store, key, fn, wrt, with_value, simplify, has_aux)
        if found is not None:
            return found
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                made = build(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
        finally:
            _warn_again(caught, fn)
        compiled = getattr(made, "_sourcead", None)
        # a slow build is kept like any other (the next process is then fast); any other
        # warning must be seen again, so that build is not kept
        kept = not [w for w in caught if not issubclass(w.category, SlowBuildWarning)]
        if kept and type(compiled) is Compiled and compiled.fn is fn:
            handle = Handle(store, key)
            try:
                handle.save(compiled)
            except (Uncacheable, OSError, ValueError, TypeError):
                return made  # built, just not kept
            compiled.store = handle
        return made


def _load(store, key, fn, wrt, with_value, simplify, has_aux):
    entry = store.read(key)
    if entry is None:
        return None
    handle = Handle(store, key)
    try:
        meta = entry["meta"]
        compiled = Loaded(fn, wrt, with_value, simplify, has_aux, meta, handle)
        naming = Naming(fn, compiled)
        compiled.env = []
        for kind, desc, name in meta["env"]:
            held = naming.resolve(desc)
            if kind == "global":
                compiled.env.append(lambda ns=held, name=name: ns.get(name))
            else:
                compiled.env.append(lambda cell=held: cell.cell_contents)
        function = _function(entry["function"], naming, compiled)
        compiled.finish(function, entry["source"], meta["scalar"], meta["ir"])
    except (Unresolved, KeyError, TypeError, ValueError, EOFError):
        return None  # named something this process does not have: built (and written) again
    return function


def _warn_again(caught, fn):
    """Warnings recorded while building, issued again as they were (the user must see them)."""
    registry = fn.__globals__.setdefault("__warningregistry__", {}) if caught else None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                               registry=registry)
