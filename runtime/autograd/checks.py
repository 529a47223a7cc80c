"""`gradcheck` and `gradgradcheck`: the tape's Jacobians against central differences, with PyTorch's
signatures, default tolerances and verdicts.

gradcheck(func, inputs) builds, for each output o of func and each input x that requires grad, two
Jacobians of shape (o.size, x.size):

    numerical   column by column, (f(x + eps e_k) - f(x - eps e_k)) / (2 eps), func run on new copies of
                the inputs (runtime/gradcheck.py, NumPy only)
    analytical  row by row, by the backward pass: grad(o, inputs, grad_outputs=e_j)

and passes when |analytical - numerical| <= atol + rtol * |numerical| at every entry (torch.allclose's
test; a NaN fails). The defaults, eps 1e-6, atol 1e-5, rtol 1e-3, are PyTorch's and meant for float64:
a float32 input gets a warning. An output that does not require grad has a zero analytical Jacobian, so
its numerical one must be zero too. As in PyTorch the backward must be reentrant: a second pass with the
same gradient gives the same rows (within nondet_tol). check_grad_dtypes=True also wants each gradient
in its input's dtype. fast_mode=True compares u^T J v for random u, v (a fixed seed) instead of whole
Jacobians: one directional difference per input and one backward pass per output.

A failure raises GradcheckError (a RuntimeError) that names the output, the input, the worst entry and
both values; with raise_exception=False gradcheck returns False instead.

gradgradcheck(func, inputs, grad_outputs) is gradcheck of the vector-Jacobian product
(inputs, u) -> grad(func(inputs), inputs, u, create_graph=True): it checks the backward of the backward,
with respect to the inputs and to u. Without grad_outputs, u is drawn uniformly from [-1, 1] with a fixed
seed, so a check gives the same verdict every run.

Options that need forward-mode AD or vmap (check_forward_ad, check_batched_grad,
check_batched_forward_grad, check_fwd_over_rev) raise NotImplementedError when set: the tape has
neither. check_undefined_grad, gen_non_contig_grad_outputs and masked are accepted and change nothing:
the tape has no undefined gradients, no strides of its own and no sparse tensors.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..engine import grad
from ..grad_mode import enable_grad
from ..gradcheck import numerical_jacobian
from ..tensor import Tensor, make, normalize

SEED = 20240531         # u and v of fast_mode, and gradgradcheck's grad_outputs
SHOWN = 64              # a mismatch message prints both Jacobians when they have at most this many entries


class GradcheckError(RuntimeError):
    """gradcheck or gradgradcheck found an analytical gradient that disagrees with the numerical one."""


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """True when the tape's gradients of func at inputs match central differences (module docstring);
    otherwise raises GradcheckError, or returns False when raise_exception=False."""
    _refuse(check_forward_ad=check_forward_ad, check_batched_grad=check_batched_grad,
            check_batched_forward_grad=check_batched_forward_grad)
    args = _as_tuple(inputs)
    diff = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of "
                         "them have requires_grad=True.")
    for k in diff:
        if args[k].dtype != np.float64:
            warnings.warn(f"Input #{k} requires gradient and is not a double precision floating point "
                          f"({args[k].dtype}): gradcheck's tolerances are meant for float64 and will likely "
                          f"fail.", UserWarning, stacklevel=2)
    if not check_backward_ad:
        return True
    try:
        if fast_mode:
            _check_directions(func, args, diff, eps, atol, rtol)
        else:
            _check_jacobians(func, args, diff, eps, atol, rtol, nondet_tol, check_grad_dtypes)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """gradcheck of func's vector-Jacobian product, so of its second derivatives (module docstring)."""
    _refuse(check_fwd_over_rev=check_fwd_over_rev, check_batched_grad=check_batched_grad)
    args = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(SEED)
        with enable_grad():
            outs = _differentiable(_outputs(func(*args)))
        seeds = tuple(_leaf(rng.uniform(-1.0, 1.0, o.shape).astype(o.dtype), True) for o in outs)
    else:
        seeds = _as_tuple(grad_outputs)
    n_args = len(args)
    diff = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]

    def vjp_of_func(*values):
        xs, us = values[:n_args], values[n_args:]
        outs = _differentiable(_outputs(func(*xs)))
        if not outs:
            return ()
        grads = grad(outs, [xs[k] for k in diff], us, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    try:
        return gradcheck(vjp_of_func, args + seeds, eps=eps, atol=atol, rtol=rtol, nondet_tol=nondet_tol,
                         check_grad_dtypes=check_grad_dtypes, check_backward_ad=check_rev_over_rev,
                         fast_mode=fast_mode)
    except GradcheckError as error:
        if not raise_exception:
            return False
        raise GradcheckError(f"gradgradcheck: the gradients of func's vector-Jacobian product (its outputs "
                             f"are the gradients of func's inputs that require grad, its inputs are func's "
                             f"{n_args} inputs then the {len(seeds)} grad_outputs) are wrong.\n"
                             f"{error}") from None


def _refuse(**options):
    for name, value in options.items():
        if value:
            raise NotImplementedError(f"{name}=True needs forward-mode AD or vmap, which the tape does not "
                                      f"have; leave it False")


def _as_tuple(x):
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x,)


def _outputs(result):
    """func's floating-point Tensor outputs (the ones that have a Jacobian)."""
    return [o for o in _as_tuple(result) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _differentiable(outputs):
    return [o for o in outputs if o.requires_grad]


def _leaf(value, requires_grad):
    t = make(normalize(value), None)
    return t.requires_grad_(True) if requires_grad else t


def _array(t):
    return np.asarray(t._data)


def _probe(func, args, k):
    """func of a new value of input k (the other inputs unchanged): the outputs' values, as arrays. The new
    input requires grad as the original does, and grad mode is on, so a func that differentiates inside
    (gradgradcheck's) works."""
    def f(value):
        probe = list(args)
        probe[k] = _leaf(value, True)
        with enable_grad():
            return [_array(o) for o in _outputs(func(*probe))]
    return f


def _check_jacobians(func, args, diff, eps, atol, rtol, nondet_tol, check_grad_dtypes):
    numerical = {k: numerical_jacobian(_probe(func, args, k), _array(args[k]), eps) for k in diff}
    with enable_grad():
        outputs = _outputs(func(*args))
    for k in diff:
        if len(numerical[k]) != len(outputs):
            raise GradcheckError(f"func returned {len(numerical[k])} floating-point outputs for a perturbed "
                                 f"input #{k} but {len(outputs)} at the inputs given")
    wrt = [args[k] for k in diff]
    for i, out in enumerate(outputs):
        rows = [np.zeros((out.size, args[k].size)) for k in diff]
        if out.requires_grad:
            for j in range(out.size):
                first = _vjp_row(out, wrt, j, diff, check_grad_dtypes)
                again = _vjp_row(out, wrt, j, diff, check_grad_dtypes)
                for n, (a, b) in enumerate(zip(first, again)):
                    worst = float(np.max(np.abs(a - b), initial=0.0))
                    if not worst <= nondet_tol:
                        raise GradcheckError(
                            f"Backward is not reentrant: running backward twice with the same input and "
                            f"grad_output gives gradients of input #{diff[n]} that differ by {worst:.6g} "
                            f"(the tolerance for nondeterminism, nondet_tol, is {nondet_tol}), although "
                            f"the analytical gradient may match the numerical one.")
                    rows[n][j] = a
        for n, k in enumerate(diff):
            _compare(rows[n], numerical[k][i], i, out, k, args[k], atol, rtol)


def _vjp_row(out, wrt, j, diff, check_grad_dtypes):
    """Row j of d out / d wrt, one flat array per input: the backward pass of the one-hot gradient e_j."""
    seed = np.zeros(out.size, dtype=out.dtype)
    seed[j] = 1.0
    grads = grad(out, wrt, seed.reshape(out.shape), retain_graph=True, allow_unused=True)
    row = []
    for n, (g, x) in enumerate(zip(grads, wrt)):
        if g is None:
            row.append(np.zeros(x.size))
            continue
        if g.shape != x.shape:
            raise GradcheckError(f"Gradient of input #{diff[n]} has shape {g.shape}, the input {x.shape}")
        if check_grad_dtypes and g.dtype != x.dtype:
            raise GradcheckError(f"Gradient has dtype mismatch: input #{diff[n]} is {x.dtype}, its gradient "
                                 f"{g.dtype}")
        row.append(np.asarray(g._data, dtype=np.float64).reshape(-1))
    return row


def _compare(analytical, numerical, i, out, k, x, atol, rtol):
    allowed = atol + rtol * np.abs(numerical)
    excess = np.abs(analytical - numerical) - allowed
    excess = np.where(np.isnan(excess), np.inf, excess)      # a NaN on either side fails, as allclose
    if excess.size == 0 or np.max(excess) <= 0:
        return
    r, c = np.unravel_index(int(np.argmax(excess)), excess.shape)
    out_at = _entry(r, out.shape)
    in_at = _entry(c, x.shape)
    a, n = analytical[r, c], numerical[r, c]
    lines = [f"Jacobian mismatch for output {i} with respect to input {k},",
             f"worst entry: d output{out_at} / d input{in_at} is {a:.6g} analytically but {n:.6g} "
             f"numerically (difference {abs(a - n):.3g}, allowed {allowed[r, c]:.3g} = atol + rtol * "
             f"|numerical|); {int(np.sum(excess > 0))} of {excess.size} entries differ"]
    if not out.requires_grad:
        lines.append(f"(output {i} does not require grad, so its analytical Jacobian is zero)")
    if excess.size <= SHOWN:
        with np.printoptions(precision=6, suppress=True):
            lines += [f"numerical:\n{numerical}", f"analytical:\n{analytical}"]
    raise GradcheckError("\n".join(lines))


def _entry(flat, shape):
    return "" if not shape else "[" + ", ".join(str(int(n)) for n in np.unravel_index(flat, shape)) + "]"


def _check_directions(func, args, diff, eps, atol, rtol):
    """fast_mode: u_i^T J_ik v_k for every output i and input k, by a directional difference along v_k
    and by the backward pass of u_i."""
    rng = np.random.default_rng(SEED)
    with enable_grad():
        outputs = _outputs(func(*args))
    us = [rng.uniform(-1.0, 1.0, o.shape) for o in outputs]
    vs = {k: rng.uniform(-1.0, 1.0, args[k].shape) for k in diff}
    wrt = [args[k] for k in diff]
    for i, (out, u) in enumerate(zip(outputs, us)):
        if out.requires_grad:
            grads = grad(out, wrt, u.astype(out.dtype), retain_graph=True, allow_unused=True)
        else:
            grads = [None] * len(wrt)
        for n, k in enumerate(diff):
            f = _probe(func, args, k)
            x = _array(args[k])
            v = vs[k]
            up, down = f((x + eps * v).astype(x.dtype))[i], f((x - eps * v).astype(x.dtype))[i]
            numerical = float(np.sum(u * (up - down))) / (2.0 * eps)
            g = grads[n]
            analytical = 0.0 if g is None else float(np.sum(np.asarray(g._data, dtype=np.float64) * v))
            allowed = atol * float(np.sum(np.abs(u))) * float(np.sum(np.abs(v))) + rtol * abs(numerical)
            if not abs(analytical - numerical) <= allowed:
                raise GradcheckError(
                    f"Jacobian mismatch for output {i} with respect to input {k} (fast mode: u^T J v for "
                    f"random u and v): {analytical:.6g} analytically but {numerical:.6g} numerically "
                    f"(difference {abs(analytical - numerical):.3g}, allowed {allowed:.3g}). Run with "
                    f"fast_mode=False to see the worst entry of the Jacobian.")


__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]
