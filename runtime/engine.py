"""The backward pass: an iterative walk over the recorded graph (no recursion, so a chain of 100,000
operations is fine).

Order. Every node gets a creation number when recorded, and a node is always made after the nodes of its
inputs; so visiting nodes from the newest down is a topological order of the backward pass. The walk
keeps a heap of the nodes that have received gradient and always runs the newest: by then every node
that uses its value has run, so its gradient is complete (contributions from each use of a value that
fans out are summed first). No pass over the graph is needed to count dependencies, and nothing that
does not lead from the roots is touched.

Each node's `apply` turns its output gradient into one gradient per input (graph.py); leaves'
AccumulateGrad nodes add into `.grad`. Without retain_graph, a node drops its saved values once run.
`grad()` walks the same way but prunes to the nodes that lead to its inputs, captures the gradient that
reaches each, and leaves every `.grad` untouched. Grad mode is set to `create_graph` for the walk, so
rules record exactly when asked to.

Hooks (hooks.py) registered on a tensor run on the gradient its node received, just before the node runs
(for a leaf, before the gradient is added into `.grad`), and before retain_grad() stores it. For an input
of `grad()` the gradient returned is the hooked one, except where the input's node must also run to reach
another input: then, as in PyTorch 2.13, it is captured before the hooks, which still change what flows on.

The gradient received so far is kept on the node itself (`_buf`), cheaper than a dictionary; so one
graph (leaves included) should be walked by one backward at a time, not from several threads at once.
"""
from __future__ import annotations

from heapq import heapify, heappop, heappush
from sys import getrefcount

import numpy as np

from .grad_mode import STATE
from .graph import RETAINED, AccumulateGrad, accumulate
from .hooks import HOOKS, run_hooks, run_post_hooks
from .tensor import Tensor, make, normalize


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradients of `tensors` (weighted by `grad_tensors`) into the leaves' `.grad`."""
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(tensors)
    roots, seeds = _roots(tensors, grads, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    run(roots, seeds, retain_graph, create_graph, None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated into `.grad`)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grads = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    roots, seeds = _roots(outputs, grads, create_graph)
    targets = []
    for t in inputs:
        if not isinstance(t, Tensor) or t._edge is None:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        targets.append(t._edge)
    if retain_graph is None:
        retain_graph = create_graph
    captured = run(roots, seeds, retain_graph, create_graph, targets)
    result = []
    for k, edge in enumerate(targets):
        g = captured.get(edge)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {k} appears to not have been used in "
                                   f"the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        else:
            result.append(g if g.__class__ is Tensor else make(_owned(normalize(g)), None))
    return tuple(result)


def _owned(g):
    # A returned gradient must not alias a buffer another gradient shares (or a read-only view).
    return g if g.__class__ is float else np.array(g, copy=True)


def _as_tuple(x):
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _roots(tensors, grads, create_graph):
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} gradients for {len(tensors)} tensors")
    roots, seeds = [], []
    for k, (t, g) in enumerate(zip(tensors, grads)):
        if not isinstance(t, Tensor) or t._edge is None:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
        d = t._data
        if g is None:
            if d.__class__ is not float and d.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seed = 1.0 if d.__class__ is float else np.ones_like(d)
        else:
            seed = g if isinstance(g, Tensor) else make(normalize(np.asarray(g, dtype=t.dtype)), None)
            if seed.shape != t.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of {list(seed.shape)} "
                                   f"and output[{k}] has a shape of {list(t.shape)}.")
            if not create_graph:
                seed = seed._data
        if create_graph and seed.__class__ is not Tensor:
            seed = make(seed, None)
        roots.append(t._edge)
        seeds.append(seed)
    return roots, seeds


def _add_to(node, nr, g):
    """Add g to the gradient node has received for output nr; True if it is the first (so queue it)."""
    if node._n_outputs == 1:
        prev = node._buf
        node._buf = g if prev is None else prev + g
        return prev is None
    slots = node._buf
    first = slots is None
    if first:
        slots = node._buf = [None] * node._n_outputs
    slots[nr] = g if slots[nr] is None else slots[nr] + g
    return first


def run(roots, seeds, retain_graph, create_graph, targets):
    prev_mode = STATE.enabled
    STATE.enabled = create_graph
    try:
        return _walk(roots, seeds, retain_graph, create_graph, targets)
    finally:
        STATE.enabled = prev_mode


def _walk(roots, seeds, retain_graph, create_graph, targets):
    # Order: a node is made after the nodes of its inputs, so its creation number (`_key`, decreasing,
    # graph.py) is a topological order. A heap yields the most recently made node that has received
    # gradient; every consumer of a node was made after it, so by then its gradient is complete.
    # The gradient received so far lives on the node (`_buf`), which is cheaper than a dict; hence one
    # graph is walked by one backward at a time.
    heap = []
    for (node, nr), seed in zip(roots, seeds):
        if _add_to(node, nr, seed):
            heap.append((node._key, node))
    heapify(heap)

    captured = runs = target_nodes = None
    if targets is not None:
        captured = {}
        target_nodes = {node for node, _ in targets}
        runs = _leading_to(roots, target_nodes)
    retained = RETAINED if RETAINED.data and targets is None else None
    hooked = HOOKS if HOOKS.data else None
    release = not retain_graph
    pop = heappop
    push = heappush
    gk = prev = None
    try:
        while heap:
            node = pop(heap)[1]
            g = node._buf
            node._buf = None
            if targets is None:
                if node.__class__ is AccumulateGrad:
                    # Inline, so that the reference count tells whether g is shared: once this loop's
                    # own variables let go, only `g` and getrefcount's argument refer to it, unless
                    # another node's buffer or a view does.
                    grads = gk = prev = None
                    owned = getrefcount(g) <= 2         # (before the call below puts g on the stack)
                    leaf = node._ref()
                    if hooked is not None and node in hooked:
                        g = run_hooks(node, g, create_graph)
                        if leaf is not None:
                            accumulate(leaf, g, create_graph, False)    # (a hook may have kept g)
                            run_post_hooks(node, leaf)
                    elif leaf is not None:
                        accumulate(leaf, g, create_graph, owned)
                    continue
                if hooked is not None and node in hooked:
                    g = run_hooks(node, g, create_graph)
                if retained is not None and node in retained:
                    _fill_retained(node, g, create_graph)
                grads = node.apply(g, create_graph)
            else:
                target = node in target_nodes
                useful = node in runs
                if not target and not useful:
                    continue
                hooks_due = hooked is not None and node in hooked
                if target:
                    if hooks_due and not useful:
                        g = run_hooks(node, g, create_graph)
                        hooks_due = False
                    for edge in targets:
                        if edge[0] is node:
                            captured[edge] = g if node._n_outputs == 1 else g[edge[1]]
                    if not useful:
                        continue
                if hooks_due:
                    g = run_hooks(node, g, create_graph)
                grads = node.apply(g, create_graph)
            if release and node._saved:
                node._saved = None
            k = 0
            for child, nr in node.next_functions:
                if child is not None:
                    gk = grads[k]
                    if gk is not None:
                        if child._n_outputs == 1:
                            prev = child._buf
                            if prev is None:
                                child._buf = gk
                                push(heap, (child._key, child))
                            else:
                                child._buf = prev + gk
                        elif _add_to(child, nr, gk):
                            push(heap, (child._key, child))
                k += 1
    finally:
        for _, node in heap:        # after an error, leave no gradient behind on the nodes
            node._buf = None
    return captured


def _leading_to(roots, target_nodes):
    """The nodes from which some target can be reached through at least one edge (those worth running)."""
    nodes = {}
    stack = [node for node, _ in roots]
    while stack:
        node = stack.pop()
        if node not in nodes:
            nodes[node] = None
            stack.extend(child for child, _ in node.next_functions if child is not None)
    useful = set()      # targets, and nodes leading to them
    runs = set()
    for node in sorted(nodes, key=lambda n: -n._key):      # inputs before consumers
        for child, _ in node.next_functions:
            if child is not None and child in useful:
                runs.add(node)
                useful.add(node)
                break
        if node in target_nodes:
            useful.add(node)
    return runs


def _fill_retained(node, g, create_graph):
    for ref in RETAINED[node]:
        t = ref()
        if t is not None and t._edge is not None and t._edge[0] is node:
            nr = t._edge[1]
            accumulate(t, g if node._n_outputs == 1 else g[nr], create_graph)


def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False):
    """Accumulate d(self)/d(leaf) (weighted by `gradient` for a non-scalar) into every leaf's .grad."""
    if gradient is None and self._data.__class__ is float and self._edge is not None and not create_graph:
        run([self._edge], [1.0], bool(retain_graph), False, None)     # the common case, direct
    else:
        backward((self,), (gradient,), retain_graph=retain_graph, create_graph=create_graph)


tensor_backward.__name__ = tensor_backward.__qualname__ = "backward"
Tensor.backward = tensor_backward       # (tensor.py: the modules that own Tensor's operations give them)

__all__ = ["backward", "grad", "run"]
