"""The Tensor: a NumPy value plus its place in the recorded graph, with PyTorch's autograd attributes.

What a Tensor holds (`__slots__`, set by `make`, the one constructor on hot paths):

    _data   the value: a Python float when it is a float64 scalar (so scalar code runs on `math`, several
            times faster than NumPy scalars), otherwise an ndarray. `normalize` keeps this invariant.
    _edge   None for a tensor that does not require grad; otherwise (grad_fn, output_nr), where a leaf's
            grad_fn is its AccumulateGrad node. So `requires_grad` is `_edge is not None`.
    _grad   the accumulated gradient (a Tensor) of a leaf, or of a non-leaf after retain_grad().
    _vc     the version counter, [version, epoch of the last change]; None until the first in-place change
            or until a view or detach() shares the data (graph.py explains the checks).
    _view, _views   set only on views and on their bases (views.py); unset on other tensors.

What this module defines is the value and its autograd attributes. The operations are given to Tensor by
the modules that own them, when `runtime` is imported (so that no module here imports one that imports
it back, but for graph.py, whose nodes and tensors refer to each other):

    functional.py   operators (+ - * / ** @, unary -, abs), math and reduction methods, `.T`, `x[i]`
    inplace.py      in-place operations: `+=` ... `**=`, `add_` ..., `x[i] = v` (so `zero_`, `fill_`...)
    numpy_api.py    NumPy's protocols: np.sin(t), np.sum(t) ... run on Tensors and record
    engine.py       backward()
    hooks.py        register_hook, register_post_accumulate_grad_hook

In-place operations (`+=`, `-=`, `*=`, `/=`, `**=`, `x[i] = v`, `zero_()`, `fill_()`, `copy_()`, `add_`, ...)
follow PyTorch: refused on a leaf that requires grad, or a view of one (outside `no_grad`); recorded on
other tensors when an operand requires grad; written into the tensor's memory, so its base and views see
the change (inplace.py: a view's base gets CopySlices as grad_fn, views get grad_fns replayed from the
base's); and counted, so that backward refuses a saved value that changed since it was saved.

`float(t)` and so `math.sin(t)` work on a 0-d tensor as in PyTorch: they return a plain float, outside the
graph, with PyTorch's warning when t requires grad (use `np.sin(t)` or `runtime.sin(t)` to stay recorded).

Complex tensors cannot require grad (the rules are for real numbers; complex gradients would need
conjugating): refused at creation, by requires_grad_(), and by an operation that would make a complex
result from a tensor that requires grad (COMPLEX). Complex tensors that need no gradient work.

Known differences from PyTorch: a float64 scalar is an immutable Python float, so an in-place change to
a 0-d tensor is not seen through its `detach()` aliases, and `y[0]` of a 1-D y is a copy, not a 0-d view
(arrays are shared as in PyTorch); `size` is NumPy's element count (use `numel()`, or `shape` for
PyTorch's `size()`); `max`/`min` with an axis return values only (NumPy's semantics); comparisons return
plain bools/arrays, not tensors; Python numbers and lists become float64 (PyTorch makes int64 from ints).
"""
from __future__ import annotations

import warnings

import numpy as np


ndarray = np.ndarray
F64 = np.dtype(np.float64)
_new = object.__new__

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
COMPLEX = ("complex numbers are not supported by the tape's gradients: its derivative rules are for real "
           "numbers (a complex gradient would need conjugating), so a complex tensor cannot require grad. "
           "Split the value into its real and imaginary parts and compute with two real tensors (e.g. "
           "|z| = sqrt(re**2 + im**2)), or detach() what needs no gradient.")
NOT_LEAF = "you can only change requires_grad flags of leaf variables."
NOT_LEAF_HINT = (" If you want to use a computed variable in a subgraph that doesn't require "
                 "differentiation use var_no_grad = var.detach().")
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
ARRAY_HINT = (" (A function that is not NumPy's turned a Tensor that requires grad into an array: "
              "SciPy's Python functions such as scipy.special.logsumexp, softmax and log_softmax do; "
              "call runtime.logsumexp, runtime.softmax, ... instead, or a NumPy function or ufunc, which "
              "reach the tape. np.array([t1, t2]) of tensors: use np.stack.)")


def normalize(v):
    """The stored form of a value: a Python float for a float64 scalar, otherwise an ndarray."""
    c = v.__class__
    if c is float:
        return v
    if c is ndarray:
        if v.ndim == 0 and v.dtype == F64:
            return float(v)
        return v
    if c is np.float64:
        return float(v)
    return np.asarray(v)


def make(data, edge):
    """A Tensor around an already-normalized value (no checks: the hot path of every operation)."""
    t = _new(Tensor)
    t._data = data
    t._edge = edge
    t._grad = None
    t._vc = None
    return t


def _from_user(data, dtype=None, copy=False):
    """Python numbers and sequences of numbers become float64 (not int64 as in PyTorch); arrays keep
    their dtype unless one is given."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        a = np.array(data, dtype=dtype, copy=True if copy else None)
    elif isinstance(data, ndarray):
        a = data.copy() if copy else data
    elif isinstance(data, float) or (isinstance(data, int) and not isinstance(data, bool)):
        return float(data)
    elif isinstance(data, np.generic):
        a = np.asarray(data)
    else:
        a = np.asarray(data)
        if a.dtype.kind in "iu":
            a = a.astype(np.float64)
        elif a.dtype == object:
            raise TypeError(f"cannot make a tensor from {type(data).__name__} with mixed or non-numeric items")
    return normalize(a)


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of `data` (float64 unless `data` is an array or `dtype` says)."""
    if data.__class__ is float and dtype is None:
        t = make(data, None)
        if requires_grad:
            t._edge = (AccumulateGrad(t), 0)
        return t
    t = make(_from_user(data, dtype, copy=True), None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(x):
    """x if it is a Tensor, else a Tensor around it (sharing an ndarray, like torch.as_tensor)."""
    return x if isinstance(x, Tensor) else make(_from_user(x), None)


class Tensor:
    """A value that records the operations applied to it when it (or another input) requires grad.

    `Tensor(data)` wraps an ndarray without copying (like torch.from_numpy); `tensor(data)` copies.
    """

    __slots__ = ("_data", "_edge", "_grad", "_vc", "_view", "_views", "__weakref__")

    def __init__(self, data, requires_grad=False):
        self._data = _from_user(data)
        self._edge = None
        self._grad = None
        self._vc = None
        if requires_grad:
            self.requires_grad_(True)

    # ---- autograd attributes -------------------------------------------------------------------

    @property
    def requires_grad(self):
        return self._edge is not None

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Make a leaf require grad (or not); a result of a recorded operation cannot change."""
        e = self._edge
        if e is not None and e[0].__class__ is not AccumulateGrad:
            raise RuntimeError(NOT_LEAF if requires_grad else NOT_LEAF + NOT_LEAF_HINT)
        if not requires_grad:
            self._edge = None
        elif e is None:
            d = self._data
            if d.__class__ is not float and d.dtype.kind != "f":
                if d.dtype.kind == "c":
                    raise RuntimeError(COMPLEX)
                raise RuntimeError("Only Tensors of floating point dtype can require gradients")
            self._edge = (AccumulateGrad(self), 0)
        return self

    @property
    def grad_fn(self):
        e = self._edge
        if e is None or e[0].__class__ is AccumulateGrad:
            return None
        return e[0]

    @property
    def is_leaf(self):
        e = self._edge
        return e is None or e[0].__class__ is AccumulateGrad

    @property
    def output_nr(self):
        return 0 if self._edge is None else self._edge[1]

    @property
    def grad(self):
        g = self._grad
        if g is None and not self.is_leaf and not self._retains_grad():
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                          ".grad attribute won't be populated during backward(). Call .retain_grad() on the "
                          "non-leaf Tensor if you want its gradient, or use the leaf instead.",
                          UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        if value is not None:
            value = as_tensor(value)
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: {value.shape} "
                                   f"and the tensor is {self.shape}")
        self._grad = value

    def retain_grad(self):
        """Keep this non-leaf's gradient in `.grad` during backward (leaves always keep theirs)."""
        if self._edge is None:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self._retains_grad():
            return
        RETAINED.setdefault(self._edge[0], []).append(weakref.ref(self))

    def _retains_grad(self):
        e = self._edge
        return e is not None and any(r() is self for r in RETAINED.get(e[0], ()))

    @property
    def retains_grad(self):
        return self._retains_grad()

    def detach(self):
        """The same data (shared, with the version counter) as a new leaf that does not require grad."""
        t = make(self._data, None)
        t._vc = self._share_vc()
        return t

    def detach_(self):
        """Cut this tensor out of the graph: it becomes a leaf that does not require grad."""
        if view_info(self) is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._edge = None
        return self

    @property
    def data(self):
        """The value as a tensor outside the graph (like detach(); writes through it are not recorded)."""
        return self.detach()

    @data.setter
    def data(self, value):
        value = _from_user(value)
        if self._edge is not None and value.__class__ is not float and value.dtype.kind == "c":
            raise RuntimeError(COMPLEX)
        self._data = value

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc[0]

    @property
    def _base(self):
        """The tensor this one is a view of (the first that is not a view), or None (PyTorch's `_base`)."""
        info = view_info(self)
        return None if info is None else info.base

    def _is_view(self):
        return view_info(self) is not None

    def _share_vc(self):
        """The version counter, made now if need be, to be shared with a view or alias about to be made."""
        vc = self._vc
        if vc is None:
            vc = self._vc = [0, 0]
        return vc

    def _bump(self):
        """Record an in-place change: a new version, stamped with the new EPOCH (see graph.py)."""
        vc = self._vc
        if vc is None:
            vc = self._vc = [0, 0]
        vc[0] += 1
        EPOCH[0] += 1
        vc[1] = EPOCH[0]

    # ---- NumPy-like attributes -----------------------------------------------------------------

    @property
    def shape(self):
        d = self._data
        return () if d.__class__ is float else d.shape

    @property
    def dtype(self):
        d = self._data
        return F64 if d.__class__ is float else d.dtype

    @property
    def ndim(self):
        d = self._data
        return 0 if d.__class__ is float else d.ndim

    @property
    def size(self):
        """NumPy's element count (PyTorch's `size()` is `shape` here; its element count is numel())."""
        d = self._data
        return 1 if d.__class__ is float else d.size

    def numel(self):
        return self.size

    def dim(self):
        return self.ndim

    @property
    def device(self):
        return "cpu"

    # ---- conversions -----------------------------------------------------------------------------

    def item(self):
        """The value as a Python number (no gradient: it leaves the graph)."""
        d = self._data
        if d.__class__ is float:
            return d
        if d.size != 1:
            raise RuntimeError(f"a Tensor with {d.size} elements cannot be converted to Scalar")
        return d.item()

    def tolist(self):
        d = self._data
        return d if d.__class__ is float else d.tolist()

    def numpy(self):
        """The data as an ndarray (shared; a scalar gives a new 0-d array). Refused when it requires grad."""
        if self._edge is not None:
            raise RuntimeError(NUMPY_REQUIRES_GRAD)
        d = self._data
        return np.array(d) if d.__class__ is float else d

    def __array__(self, dtype=None, copy=None):
        if self._edge is not None:
            # a function that is neither a NumPy function nor a ufunc (scipy.special.logsumexp,
            # np.array of a list of tensors) turned the Tensor into an array
            raise RuntimeError(NUMPY_REQUIRES_GRAD + ARRAY_HINT)
        a = np.asarray(self._data, dtype=dtype)
        return a.copy() if copy else a

    def __float__(self):
        """float(t), and so math.sin(t): the value, outside the graph.

        Warning: like PyTorch, this drops the gradient (math.sin(t) is a plain float, so nothing after it
        reaches t). It warns when t requires grad; use np.sin(t) or runtime.sin(t) to stay on the tape.
        """
        if self._edge is not None:
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
                          "behavior. Consider using tensor.detach() first. (float(t) and math functions "
                          "drop the gradient; np.sin(t) or runtime.sin(t) keep it.)", UserWarning, stacklevel=2)
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        d = self._data
        if d.__class__ is float or d.dtype.kind not in "iub" or d.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(d.item())

    def __bool__(self):
        d = self._data
        if d.__class__ is float:
            return d != 0.0
        if d.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(d.item())

    def __len__(self):
        d = self._data
        if d.__class__ is float or d.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return d.shape[0]

    def __iter__(self):
        n = len(self) if self.ndim else None
        if n is None:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(n))

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self):
        a = np.asarray(self._data)
        whole = (a.dtype.kind == "f" and a.size > 0 and bool(np.all(np.isfinite(a)))
                 and bool(np.all(a == np.round(a))) and float(np.max(np.abs(a))) < 1e8)
        body = np.array2string(a, precision=0 if whole else 4, floatmode="fixed", separator=", ",
                               prefix="tensor(")
        extras = []
        if a.dtype != F64:
            extras.append(f"dtype={a.dtype}")
        fn = self.grad_fn
        if fn is not None:
            extras.append(f"grad_fn=<{fn.name()}>")
        elif self._edge is not None:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    __str__ = __repr__

    # Tensors are hashable by identity (== is elementwise), like PyTorch's.
    __hash__ = object.__hash__

    # ---- comparisons: plain, non-differentiable results (a bool for scalars, else a bool array) ----

    def __lt__(self, other):
        return self._data < _raw(other)

    def __le__(self, other):
        return self._data <= _raw(other)

    def __gt__(self, other):
        return self._data > _raw(other)

    def __ge__(self, other):
        return self._data >= _raw(other)

    def __eq__(self, other):
        return self._data == _raw(other)

    def __ne__(self, other):
        return self._data != _raw(other)

    def zero_(self):
        """Set every entry to 0 in place (e.g. `x.grad.zero_()`)."""
        self[...] = 0.0
        return self

    def fill_(self, value):
        self[...] = value
        return self

    def copy_(self, src):
        self[...] = src
        return self


def _raw(x):
    return x._data if x.__class__ is Tensor else x


def plain_index(index):
    """An index with any Tensor parts replaced by their arrays (int or bool)."""
    if index.__class__ is tuple:
        return tuple(p._data if p.__class__ is Tensor else p for p in index)
    return index._data if index.__class__ is Tensor else index



# Late import: graph.py's nodes and tensors refer to each other (the one pair of modules that import each
# other here, with ops.py <-> functional.py); views.py needs nothing from this module.
import weakref  # noqa: E402

from .graph import EPOCH, RETAINED, AccumulateGrad  # noqa: E402
from .views import view_info  # noqa: E402

