"""Pytree helpers of the optimisers: readable leaf paths for error messages, and matching a
gradient tree against the parameter tree it was computed for.

A gradient from `cr.grad` has the structure of the differentiated argument, except that a
non-float leaf (a string, an integer) gets `None`, which is a pytree node with no leaves. So the
gradient of `{"w": W, "name": "fc"}` flattens to one leaf, not two; `ParamIndex.align` accepts
both forms.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from .._core import tree
from .._core.primitive import shape_of


def leaf_paths(params: Any) -> list[str]:
    """One path per leaf of `params`, in `tree.flatten` order, e.g. `['w']`, `[0].bias`,
    `.layers[1].weight`. Used only to say which leaf an error is about."""
    out: list[str] = []
    _walk(params, "", out)
    return out


def _walk(x: Any, path: str, out: list[str]) -> None:
    items = tree.node_items(x)
    if items is None:
        out.append(path or "<root>")
        return
    registered = tree.node_children(x) is not None
    for key, child in items:
        if registered:
            _walk(child, path + _child_name(x, child, key), out)
        elif isinstance(key, str) and type(x) is not dict:  # a namedtuple's field
            _walk(child, f"{path}.{key}", out)
        elif type(x) is dict:
            _walk(child, f"{path}[{key!r}]", out)
        else:
            _walk(child, f"{path}[{key}]", out)


def _child_name(obj: Any, child: Any, i: int) -> str:
    """`.attr` when the child is one of `obj`'s attributes (modules and dataclasses keep their
    children that way), else `[i]`: the pytree registry records children, not their names."""
    attrs: dict[str, Any] = {}
    if dataclasses.is_dataclass(obj):
        attrs.update((f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj))
    attrs.update(getattr(obj, "__dict__", {}))
    for name, value in attrs.items():
        if value is child:
            return f".{name}"
    return f"[{i}]"


_NONE = tree.structure(None)


def _mask(td: tree.TreeDef, is_param: Iterator[bool]) -> tree.TreeDef:
    """`td` with the leaves that are not parameters replaced by None nodes (built on the
    structure alone, so no registered class is asked to hold a None)."""
    if td.kind is None:
        return td if next(is_param) else _NONE
    return tree.TreeDef(td.kind, td.aux, tuple(_mask(c, is_param) for c in td.children))


def same_layout(a: tree.TreeDef, b: tree.TreeDef) -> bool:
    """Whether two structures have the same nodes, keys and leaves, ignoring the static data of
    registered classes: a module's static part holds its buffers, which a forward pass updates
    in place (BatchNorm's running statistics), so the gradient's snapshot of it differs from the
    parameters' while the parameters still correspond one to one (their shapes are checked)."""
    if a is b:
        return True
    if a.kind is not b.kind or len(a.children) != len(b.children):
        return False
    if a.kind is dict and a.aux != b.aux:
        return False
    return all(same_layout(x, y) for x, y in zip(a.children, b.children))


class ParamIndex:
    """The float leaves of a parameter tree, with their paths, and how to find the matching
    leaves in a gradient tree."""

    def __init__(self, params: Any) -> None:
        leaves, self.treedef = tree.flatten(params)
        self.leaves = leaves
        self.float_idx = [i for i, x in enumerate(leaves) if tree.is_float_leaf(x)]
        self._params = params
        self._paths: list[str] | None = None
        self._masked: tree.TreeDef | None = None
        # a flat list of arrays (PyTorch's `list(model.parameters())` habit): any gradient tree
        # with the same float leaves in the same order will do
        self.flat = (type(params) is list
                     and all(c.kind is None for c in self.treedef.children))

    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = leaf_paths(self._params)
        return self._paths

    def path(self, k: int) -> str:
        """The path of the k-th float leaf."""
        return self.paths[self.float_idx[k]]

    def float_leaves(self) -> list[Any]:
        return [self.leaves[i] for i in self.float_idx]

    def masked_treedef(self) -> tree.TreeDef:
        """The structure `cr.grad` gives: non-float leaves replaced by None."""
        if self._masked is None:
            self._masked = _mask(self.treedef, (tree.is_float_leaf(x) for x in self.leaves))
        return self._masked

    def align(self, grads: Any, who: str) -> list[Any]:
        """The leaves of `grads` that belong to the float leaves of the parameters, in order,
        checked for shape."""
        gl, gtd = tree.flatten(grads)
        if same_layout(gtd, self.treedef):
            out = [gl[i] for i in self.float_idx]
        elif same_layout(gtd, self.masked_treedef()):
            out = gl
        elif self.flat:
            out = [g for g in gl if tree.is_float_leaf(g)]
            if len(out) != len(self.float_idx):
                raise ValueError(f"{who}: the gradients have {len(out)} float leaves, but there "
                                 f"are {len(self.float_idx)} parameters; differentiate with "
                                 f"respect to the parameters the optimiser was given")
        else:
            raise ValueError(f"{who}: the gradients have structure {gtd}, but the parameters "
                             f"have structure {self.treedef}; differentiate with respect to the "
                             f"same pytree the optimiser was given (cr.grad(loss)(params, ...))")
        for k, (p, g) in enumerate(zip(self.float_leaves(), out)):
            ps, gs = shape_of(p), shape_of(g)
            if ps != gs:
                raise ValueError(f"{who}: the gradient of parameter {self.path(k)} has shape "
                                 f"{gs}, but the parameter has shape {ps}; pass the gradient of "
                                 f"the loss with respect to these parameters")
        return out
