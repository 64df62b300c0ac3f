"""Pytrees (`cr.tree`): nested tuples, lists, dicts, None, namedtuples and registered classes.

`flatten(tree) -> (leaves, treedef)` and `unflatten(treedef, leaves)`. `None` is a node with no
children (so it survives a round trip and never becomes a leaf), as in JAX. Dict entries are
visited in sorted key order. Every transform takes and returns pytrees; register your own
classes with `register` or `register_dataclass`.

Examples
--------
>>> import chainrule as cr
>>> leaves, td = cr.tree.flatten({"w": [1.0, 2.0], "b": 3.0, "name": None})
>>> print(leaves, td)
[3.0, 1.0, 2.0] dict(*, NoneType(), list(*, *))
>>> cr.tree.map(lambda x: 2 * x, {"w": [1.0, 2.0], "b": 3.0})
{'b': 6.0, 'w': [2.0, 4.0]}
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .errors import RegistrationError

_Flatten = Callable[[Any], tuple[Iterable[Any], Any]]
_Unflatten = Callable[[Any, Iterable[Any]], Any]
_REGISTRY: dict[type, tuple[_Flatten, _Unflatten]] = {}


def register(cls: type, flatten: _Flatten, unflatten: _Unflatten) -> type:
    """Register `cls` as a pytree node.

    Parameters
    ----------
    cls : type
        The class.
    flatten : callable
        `flatten(obj) -> (children, aux)`: the children (pytrees themselves) and static data;
        `aux` must be hashable and comparable (it is part of the structure).
    unflatten : callable
        `unflatten(aux, children) -> obj`: an instance built from the static data and children.

    Returns
    -------
    type
        `cls`.

    Raises
    ------
    RegistrationError
        If `cls` is already registered.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> _ = cr.tree.register(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    >>> print(cr.tree.leaves(Pair(1.0, [2.0, 3.0])))
    [1.0, 2.0, 3.0]
    >>> g = cr.grad(lambda p: p.a * p.b)(Pair(2.0, 5.0))
    >>> print(g.a, g.b)
    5.0 2.0
    """
    if cls in _REGISTRY:
        raise RegistrationError(f"{cls.__name__} is already registered as a pytree node")
    if cls in _PLAIN_LEAVES or cls in (tuple, list, dict, type(None)):
        raise RegistrationError(f"{cls.__name__} is built in (a leaf, or a container already "
                                f"handled): register a class of your own")
    _REGISTRY[cls] = (flatten, unflatten)
    return cls


def register_dataclass(cls: type | None = None, *, data_fields: Iterable[str] | None = None,
                       meta_fields: Iterable[str] | None = None) -> Any:
    """Register a dataclass as a pytree.

    By default every field is a child; fields listed in `meta_fields` (or marked
    `field(metadata={"static": True})`) are static metadata instead. Usable as a decorator with
    or without arguments.

    Parameters
    ----------
    cls : type, optional
        The dataclass. Omitted, a decorator is returned.
    data_fields : iterable of str, optional
        The fields that are children, in order (default: every `init` field not static).
    meta_fields : iterable of str, optional
        Fields that are static metadata: part of the structure, not leaves.

    Returns
    -------
    type or callable
        `cls`, registered; or, without `cls`, a decorator registering its argument.

    Raises
    ------
    TypeError
        If the class is not a dataclass.
    RegistrationError
        If it is already registered.

    Examples
    --------
    >>> import dataclasses
    >>> import chainrule as cr
    >>> @cr.tree.register_dataclass(meta_fields=["name"])
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: float
    ...     b: float
    ...     name: str = "layer"
    >>> g = cr.grad(lambda p: p.w * 3.0 + p.b)(Params(1.0, 2.0))
    >>> print(g.w, g.b, g.name)
    3.0 1.0 layer
    """

    def wrap(c: type) -> type:
        if not dataclasses.is_dataclass(c):
            raise TypeError(f"register_dataclass: {c.__name__} is not a dataclass; decorate it "
                            f"with @dataclasses.dataclass first")
        fields = [f for f in dataclasses.fields(c) if f.init]
        metas = set(meta_fields or ()) | {f.name for f in fields if f.metadata.get("static")}
        datas = (list(data_fields) if data_fields is not None
                 else [f.name for f in fields if f.name not in metas])
        metas_l = [f.name for f in fields if f.name in metas]

        def _flatten(obj: Any) -> tuple[list[Any], tuple[Any, ...]]:
            return ([getattr(obj, n) for n in datas], tuple(getattr(obj, n) for n in metas_l))

        def _unflatten(aux: tuple[Any, ...], children: Iterable[Any]) -> Any:
            kw = dict(zip(datas, children))
            kw.update(zip(metas_l, aux))
            return c(**kw)

        return register(c, _flatten, _unflatten)

    return wrap if cls is None else wrap(cls)


class TreeDef:
    """The structure of a pytree with its leaves taken out.

    Instances are made by `flatten` (or `structure`) and compared with `==`; they are hashable.
    `num_leaves` is the number of leaves; `repr` shows the structure with `*` for each leaf.

    Parameters
    ----------
    kind : Any
        The node type (`tuple`, `list`, `dict`, `type(None)`, a namedtuple or registered class),
        or None for a leaf.
    aux : Any
        The node's static data (a dict's sorted keys, a registered class's `aux`).
    children : tuple of TreeDef
        The structures of the children.

    Examples
    --------
    >>> import chainrule as cr
    >>> td = cr.tree.structure([1.0, (2.0, 3.0)])
    >>> print(td, td.num_leaves, td == cr.tree.structure([0, (0, 0)]))
    list(*, tuple(*, *)) 3 True
    """

    __slots__ = ("kind", "aux", "children", "num_leaves", "_hash")

    def __init__(self, kind: Any, aux: Any, children: tuple[TreeDef, ...]) -> None:
        self.kind = kind
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)
        self._hash: int | None = None

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self.kind is other.kind and self.aux == other.aux
                and self.children == other.children)

    def __hash__(self) -> int:
        if self._hash is None:  # cached: structures are keys of compiled-code caches
            self._hash = hash((id(self.kind), _hashable(self.aux), self.children))
        return self._hash

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        name = getattr(self.kind, "__name__", str(self.kind))
        return f"{name}({', '.join(map(repr, self.children))})"


def _hashable(aux: Any) -> Any:
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


LEAF = TreeDef(None, None, ())


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of a pytree, in order, and its structure.

    Parameters
    ----------
    tree : Any
        A pytree: tuples, lists, dicts (visited in sorted key order), None, namedtuples and
        registered classes are nodes; anything else is a leaf.

    Returns
    -------
    leaves : list
        The leaves, left to right.
    treedef : TreeDef
        The structure, for `unflatten`.

    Examples
    --------
    >>> import chainrule as cr
    >>> leaves, td = cr.tree.flatten({"b": (1.0, 2.0), "a": None})
    >>> print(leaves, td)
    [1.0, 2.0] dict(NoneType(), tuple(*, *))
    """
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


#: types that are always leaves (checked first: the common case, and the cheapest)
_PLAIN_LEAVES = frozenset({np.ndarray, float, int, complex, bool, np.float64, np.float32})


def _flatten(x: Any, leaves: list[Any]) -> TreeDef:
    t = type(x)
    if t in _PLAIN_LEAVES:
        leaves.append(x)
        return LEAF
    if t is tuple or t is list:
        return TreeDef(t, None, tuple([_flatten(c, leaves) for c in x]))
    if t is dict:
        keys = sorted(x, key=_key_order)
        return TreeDef(dict, tuple(keys), tuple(_flatten(x[k], leaves) for k in keys))
    if x is None:
        return TreeDef(type(None), None, ())
    if _is_namedtuple(x):
        return TreeDef(t, None, tuple(_flatten(c, leaves) for c in x))
    reg = _REGISTRY.get(t)
    if reg is not None:
        children, aux = reg[0](x)
        return TreeDef(t, aux, tuple(_flatten(c, leaves) for c in children))
    leaves.append(x)
    return LEAF


def _key_order(k: Any) -> tuple[str, Any]:
    return (type(k).__name__, k)


def unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """The pytree of structure `treedef` holding `leaves`.

    Parameters
    ----------
    treedef : TreeDef
        The structure, from `flatten` or `structure`.
    leaves : iterable
        One value per leaf, in order.

    Returns
    -------
    Any
        The rebuilt pytree.

    Raises
    ------
    ValueError
        If there are more leaves than the structure holds.

    Examples
    --------
    >>> import chainrule as cr
    >>> leaves, td = cr.tree.flatten((1.0, [2.0, 3.0]))
    >>> cr.tree.unflatten(td, [x * 10 for x in leaves])
    (10.0, [20.0, 30.0])
    """
    it = iter(leaves)
    out = _unflatten(treedef, it)
    rest = list(it)
    if rest:
        raise ValueError(f"unflatten: {len(rest)} leaves left over for structure {treedef}")
    return out


def _unflatten(td: TreeDef, it: Iterable[Any]) -> Any:
    kind = td.kind
    if kind is None:
        return next(iter(it))  # type: ignore[call-overload]
    children = [_unflatten(c, it) for c in td.children]
    if kind is tuple:
        return tuple(children)
    if kind is list:
        return children
    if kind is dict:
        return dict(zip(td.aux, children))
    if kind is type(None):
        return None
    if isinstance(kind, type) and issubclass(kind, tuple):
        return kind(*children)
    return _REGISTRY[kind][1](td.aux, children)


def node_children(x: Any) -> tuple[list[Any], Callable[[Iterable[Any]], Any]] | None:
    """One level down of a registered pytree node, and how to rebuild it.

    For an instance of a registered pytree class (a dataclass, a `cr.nn` Module): its
    children, one level down, and a function building the same kind of node from new children;
    None for anything else (tuples, lists and dicts included).

    Parameters
    ----------
    x : Any
        The value.

    Returns
    -------
    tuple or None
        `(children, rebuild)`, or None when `x` is not an instance of a registered class.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.tree.node_children((1.0, 2.0)))
    None
    """
    reg = _REGISTRY.get(type(x))
    if reg is None:
        return None
    children, aux = reg[0](x)
    unflatten_node = reg[1]

    def rebuild(items: Iterable[Any]) -> Any:
        return unflatten_node(aux, list(items))

    return list(children), rebuild


def leaves(tree: Any) -> list[Any]:
    """The leaves of a pytree, in order (`flatten(tree)[0]`).

    Parameters
    ----------
    tree : Any
        A pytree.

    Returns
    -------
    list
        Its leaves.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.leaves({"a": 1.0, "b": [2.0, None]})
    [1.0, 2.0]
    """
    out: list[Any] = []
    _leaves(tree, out)
    return out


def _leaves(x: Any, out: list[Any]) -> None:
    """`_flatten` without building the structure."""
    t = type(x)
    if t in _PLAIN_LEAVES:
        out.append(x)
    elif t is tuple or t is list:
        for c in x:
            _leaves(c, out)
    else:
        _flatten(x, out)


def structure(tree: Any) -> TreeDef:
    """The structure of a pytree (`flatten(tree)[1]`).

    Parameters
    ----------
    tree : Any
        A pytree.

    Returns
    -------
    TreeDef
        Its structure.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.structure({"a": 1.0, "b": [2.0, 3.0]})
    dict(*, list(*, *))
    """
    return flatten(tree)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply `f` to each leaf of `tree` (and the matching leaves of `rest`); also `cr.tree.map`.

    Parameters
    ----------
    f : callable
        Called with one leaf of `tree` and the leaf at the same place in each of `rest`.
    tree : Any
        A pytree.
    *rest : Any
        Pytrees of the same structure as `tree`.

    Returns
    -------
    Any
        A pytree of `tree`'s structure holding the results.

    Raises
    ------
    ValueError
        If a tree of `rest` has another structure.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.map(lambda x, y: x + y, (1.0, [2.0]), (10.0, [20.0]))
    (11.0, [22.0])
    """
    ls, td = flatten(tree)
    others = [flatten(r) for r in rest]
    for i, (_, otd) in enumerate(others):
        if otd != td:
            raise ValueError(f"tree_map: argument {i + 1} has structure {otd}, expected {td}")
    return unflatten(td, [f(*xs) for xs in zip(ls, *(o[0] for o in others))])


def owned_arrays(values: list[Any], foreign: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
    """The values with every NumPy array made the caller's own.

    `values` with every NumPy array made the caller's own: a copy where the array is a view,
    read-only (a broadcast), one of `foreign` (the user's cotangent), or already handed out
    earlier in the list. Linear rules pass cotangents through unchanged, so without this two
    gradients could be the same object and writing into one would change the other.

    Parameters
    ----------
    values : list
        The values (gradients, typically).
    foreign : list, optional
        Arrays the caller does not own (they are copied if they appear in `values`).

    Returns
    -------
    list
        The values, arrays copied where needed.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> a = np.ones(2)
    >>> x, y = cr.tree.owned_arrays([a, a])
    >>> x is a, y is a
    (True, False)
    """
    seen = {id(f) for f in foreign}
    out = []
    for v in values:
        if isinstance(v, np.ndarray) and (v.base is not None or not v.flags.writeable
                                          or id(v) in seen):
            v = v.copy()
        seen.add(id(v))
        out.append(v)
    return out


def is_float_leaf(x: Any) -> bool:
    """True for leaves that carry derivatives: floating or complex arrays and Python floats.

    Parameters
    ----------
    x : Any
        A leaf.

    Returns
    -------
    bool
        Whether `x` is differentiated (booleans, integers and strings are not).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> [cr.tree.is_float_leaf(v) for v in (1.0, 1, True, np.ones(2), np.arange(2), "s")]
    [True, False, False, True, False, False]
    """
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, complex)):
        return True
    d = getattr(x, "dtype", None)
    if d is None:
        return False
    return np.dtype(d).kind in "fc"


def node_items(x: Any) -> list[tuple[Any, Any]] | None:
    """One level down of a pytree node as `(key, child)` pairs.

    In flatten order: positions of tuples and lists, dict keys, namedtuple field names,
    positions of a registered class's children; `[]` for None; None for a leaf.

    Parameters
    ----------
    x : Any
        A pytree node or leaf.

    Returns
    -------
    list of tuple or None
        The pairs, or None when `x` is a leaf.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.node_items({"b": 2.0, "a": 1.0})
    [('a', 1.0), ('b', 2.0)]
    >>> print(cr.tree.node_items(3.0))
    None
    """
    t = type(x)
    if t is tuple or t is list:
        return list(enumerate(x))
    if t is dict:
        return [(k, x[k]) for k in sorted(x, key=_key_order)]
    if x is None:
        return []
    if _is_namedtuple(x):
        return list(zip(t._fields, x))  # type: ignore[attr-defined]
    node = node_children(x)
    return None if node is None else list(enumerate(node[0]))


def rebuild(like: Any, items: Iterable[Any]) -> Any:
    """A tuple, list or namedtuple of `like`'s type holding `items`.

    Parameters
    ----------
    like : tuple or list
        A tuple, list or namedtuple whose type is used.
    items : iterable
        The new entries.

    Returns
    -------
    tuple or list
        The new sequence.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.rebuild((0, 0), [1, 2])
    (1, 2)
    """
    items = list(items)
    if hasattr(like, "_fields"):
        return type(like)(*items)
    return type(like)(items)


def map_paired(f: Callable[[Any, Any], Any], d: Any, x: Any, placeholder: Any = 0.0) -> Any:
    """Map over the leaves of `x` with the matching parts of a derivative `d`.

    `f(d_part, leaf)` at each leaf of `x`, with `d` (a derivative of `x`) read alongside it;
    the result has x's structure. Tuples, lists, dicts and registered classes are walked
    through; where `d` is not a node of x's kind (a number standing for a whole subtree of
    zeros, a missing dict entry), each leaf below gets `placeholder`. This is the structural
    map of derivatives that generated code builds lazily (see source/runtime.py).

    Parameters
    ----------
    f : callable
        `f(d_part, leaf)`.
    d : Any
        The derivative, shaped like `x` or partly a placeholder.
    x : Any
        The pytree giving the structure.
    placeholder : Any, optional
        What stands for a missing part of `d`.

    Returns
    -------
    Any
        A pytree of `x`'s structure.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tree.map_paired(lambda d, x: d + x, {"a": 1.0}, {"a": 10.0, "b": 20.0})
    {'a': 11.0, 'b': 20.0}
    """
    if isinstance(x, (tuple, list)):
        parts = d if isinstance(d, (tuple, list)) else [placeholder] * len(x)
        return rebuild(x, (map_paired(f, a, b, placeholder) for a, b in zip(parts, x)))
    if isinstance(x, dict):
        found = d if isinstance(d, dict) else {}
        return {k: map_paired(f, found.get(k, placeholder), v, placeholder)
                for k, v in x.items()}
    node = node_children(x)
    if node is not None:
        kids, build = node
        same = node_children(d) if type(d) is type(x) else None
        parts = same[0] if same is not None else [placeholder] * len(kids)
        return build(map_paired(f, a, b, placeholder) for a, b in zip(parts, kids))
    return f(d, x)


# short aliases used across the package
map = tree_map  # noqa: A001
