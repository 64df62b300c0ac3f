"""The eager Tensor (PyTorch style): operations record themselves as they run; `backward()` walks
the recorded graph and accumulates gradients into the `.grad` of leaf tensors.

It is the tape interpreter of `tape.py` at level 0, always active: the functional transforms open
their levels above it, so the two styles mix without confusing each other.

A Tensor has NumPy's operators and methods (installed on every traced value by
`chainrule.numpy`) and, on top of them, PyTorch's method names (`x.exp()`, `x.view(2, -1)`,
`x.sum(dim=0, keepdim=True)`, `x.max(dim=1)`, ...). Where the two libraries give one name two
meanings, the PyTorch keyword (`dim=`, `keepdim=`, `unbiased=`) selects PyTorch's meaning and
NumPy's meaning stays otherwise; docs/tensor.md lists every such name. Each method is written
with chainrule's primitives, so the tape records it and its derivative is the primitives' own.

The examples in the docstrings assume ``import numpy as np`` and ``import chainrule as cr``.
"""
from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._core import checks, tree
from .._core.errors import ConcretizationError, InPlaceError
from .._core.primitive import Primitive, Trace, shape_of
from .._core.rules import CUSTOM_RULES
from ..ops import elementwise as E
from ..ops import nn as NN
from ..ops import shape as S
from .tape import LeafNode, Node, TapeTracer, backward, grad_mode, record_custom, unwrap_args


class EagerTrace(Trace):
    """Records only while grad mode is on and some argument requires grad. It keeps no list of
    nodes: the graph hangs off the tensors, and backward() orders what it reaches."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        vals, parents, _ = unwrap_args(self, args)
        if prim.nondiff or not parents or not grad_mode.enabled:
            ans = prim.bind(*vals, **params)
            if prim.multiple_results:
                return [Tensor._wrap(a, None) for a in ans]
            return Tensor._wrap(ans, None)
        # the Tensors themselves are saved, so that create_graph can differentiate the backward
        node: Node | None
        custom = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        if custom is not None and custom.fwd is not None:
            ans, node = record_custom(self, custom, prim, args, vals, parents, params, args)
            if node is None:
                return ans
        else:
            ans = prim.bind(*vals, **params)
            node = Node(prim, params, args, ans, parents)
        if prim.multiple_results:
            return [Tensor._wrap(a, node, k) for k, a in enumerate(ans)]
        return Tensor._wrap(ans, node)


EAGER = EagerTrace(0)


# ---------------------------------------------------------------------------------------------
# helpers of the PyTorch-named methods

class _Unset:
    """The default of a PyTorch keyword (`dim=`, `keepdim=`): 'not given', so that NumPy's
    meaning of the method stays when the keyword is absent."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not given>"


_UNSET: Any = _Unset()


class ValuesIndices(NamedTuple):
    """What `Tensor.max(dim=...)` and `Tensor.min(dim=...)` return, as PyTorch's
    ``torch.return_types.max``: the extreme values (differentiable) and their integer positions
    along `dim` (no derivative). Unpacks as ``values, indices = x.max(dim=1)``."""

    values: Tensor
    indices: Tensor


class TensorSize(int):
    """``x.size``: the number of elements, an int as NumPy's ``ndarray.size``, which can also be
    called as PyTorch's ``x.size()`` (the shape) or ``x.size(dim)`` (the length of one dimension).

    Examples
    --------
    >>> x = cr.tensor(np.zeros((2, 3)))
    >>> x.size, x.size(), x.size(1), x.size(-2)
    (6, (2, 3), 3, 2)
    """

    _shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> TensorSize:
        obj = super().__new__(cls, math.prod(shape))
        obj._shape = tuple(shape)
        return obj

    def __getnewargs__(self) -> tuple[Any, ...]:  # (pickle and copy rebuild it from the shape)
        return (self._shape,)

    def __call__(self, dim: Any = None) -> Any:
        if dim is None:
            return self._shape
        return self._shape[_dim(dim, len(self._shape), "size", scalar=False)]


def _dim(d: Any, ndim: int, method: str, *, scalar: bool = True, extra: int = 0) -> int:
    """A PyTorch dimension `d` of a tensor with `ndim` dimensions, as a non-negative int. With
    `scalar`, a 0-d tensor takes 0 and -1 (as in PyTorch); `extra` widens the range (unsqueeze
    may name the position after the last dimension)."""
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{method}(): a dimension must be an int, got {d!r} "
                        f"({type(d).__name__})")
    n = ndim + extra
    if scalar and n == 0:
        n = 1
    if not -n <= int(d) < n:
        raise np.exceptions.AxisError(
            f"{method}(): dimension {int(d)} is out of range for a tensor with {ndim} "
            f"dimension{'s' if ndim != 1 else ''} (expected one in [{-n}, {n - 1}])")
    return int(d) % n


def _dims(dim: Any, ndim: int, method: str) -> tuple[int, ...]:
    """PyTorch's `dim=` of a reduction (an int, or a tuple or list of ints; None: all
    dimensions) as a sorted tuple of distinct non-negative ints."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, (bool, np.bool_)):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            raise ValueError(f"{method}(): dim=() is ambiguous: PyTorch reduces an empty dim "
                             f"over every dimension, NumPy's axis=() over none; write dim=None "
                             f"for every dimension")
        dims = tuple(dim)
    else:
        raise TypeError(f"{method}(): dim must be an int, a tuple of ints or None, got {dim!r}")
    out = [_dim(d, ndim, method) for d in dims]
    if len(set(out)) != len(out):
        raise ValueError(f"{method}(): dimension repeated in dim={dim!r}")
    return tuple(sorted(d for d in out if d < ndim))  # (a 0-d tensor's dim 0 is no dimension)


def _numpy_kwargs(method: str, args: tuple[Any, ...], kwargs: dict[str, Any], dim: Any,
                  keepdim: Any, ndim: int) -> dict[str, Any]:
    """Translate PyTorch's `dim=` / `keepdim=` of a reduction into NumPy's `axis=` /
    `keepdims=`, which the NumPy-style method then takes."""
    kwargs = dict(kwargs)
    if dim is not _UNSET:
        if args or "axis" in kwargs:
            raise TypeError(f"{method}(): give the dimensions once, as dim= (PyTorch) or axis= "
                            f"(NumPy), not both")
        kwargs["axis"] = None if dim is None else _dims(dim, ndim, method)
    if keepdim is not _UNSET:
        if "keepdims" in kwargs:
            raise TypeError(f"{method}(): give keepdim= (PyTorch) or keepdims= (NumPy), "
                            f"not both")
        kwargs["keepdims"] = bool(keepdim)
    return kwargs


def _rsqrt(x: Any) -> Any:
    return E.reciprocal_p.bind1(E.sqrt_p.bind1(x))


class Tensor(TapeTracer):
    """An array that records the operations applied to it, for reverse-mode differentiation in
    the style of PyTorch (build one with `cr.tensor`).

    A tensor created with ``requires_grad=True`` is a *leaf*. Every operation on tensors that
    require grad (NumPy's operators, functions and methods, chainrule.numpy's functions, and the
    PyTorch-named methods below) records a node; ``y.backward()`` then walks the nodes reachable
    from `y` and adds dy/dleaf into each leaf's `.grad` (a NumPy array, accumulated across calls
    until you reset it with ``leaf.grad = None``).

    Parameters
    ----------
    data : array_like or Tensor
        The values, copied. Python floats become float64.
    requires_grad : bool, optional
        Make this tensor a leaf whose gradient `backward()` accumulates. Default False.
    dtype : data-type, optional
        The NumPy dtype of the values; by default NumPy's choice for `data`.

    Raises
    ------
    TypeError
        With ``requires_grad=True`` and data that are not floating-point (integers have no
        derivative): pass ``dtype=float`` or floating-point data.

    Notes
    -----
    Where NumPy and PyTorch give one method name two meanings (``max``, ``min``, ``squeeze``,
    ``var``, ``std``, ``transpose``, ``repeat``, ``size``), PyTorch's meaning is selected by
    PyTorch's keyword (``dim=``); see each method and docs/tensor.md.

    Examples
    --------
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4.])
    >>> y
    tensor(5., grad_fn=<sum>)
    """

    __slots__ = ("grad", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        value = np.array(data.value if isinstance(data, Tensor) else data, dtype=dtype)
        if requires_grad and not np.issubdtype(value.dtype, np.inexact):
            raise TypeError(f"only floating-point tensors can require gradients, got dtype "
                            f"{value.dtype}; pass dtype=float or floating-point data")
        super().__init__(EAGER, value, None, 0)
        self.grad: Any = None
        if requires_grad:
            self._make_leaf()

    @classmethod
    def _wrap(cls, value: Any, node: Node | None, idx: int = 0) -> Tensor:
        t = cls.__new__(cls)
        TapeTracer.__init__(t, EAGER, value, node, idx)
        t.grad = None
        return t

    def _make_leaf(self) -> None:
        self.node = LeafNode(weakref.ref(self))

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded (a leaf that asked for gradients, or
        the result of recorded operations). Settable on leaves only."""
        return self.node is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use "
                               ".detach() to get a new leaf")
        if flag and self.node is None:
            if not np.issubdtype(np.asarray(self.value).dtype, np.inexact):
                raise TypeError("only floating-point tensors can require gradients")
            self._make_leaf()
        elif not flag:
            self.node = None

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set `requires_grad` in place (PyTorch's spelling) and return this tensor.

        Parameters
        ----------
        flag : bool, optional
            Default True.

        Returns
        -------
        Tensor
            `self`.

        Raises
        ------
        RuntimeError
            On a tensor that is not a leaf (use ``.detach()`` first).
        TypeError
            With ``flag=True`` on a tensor of integers.

        Examples
        --------
        >>> w = cr.tensor([0.5, 1.5]).requires_grad_()
        >>> w.requires_grad, w.is_leaf
        (True, True)
        """
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (`cr.tensor`), False for results of recorded
        operations."""
        return self.node is None or self.node.prim is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the primitive that made this tensor (None for leaves)."""
        if self.node is None or self.node.prim is None:
            return None
        return self.node.prim.name

    def detach(self) -> Tensor:
        """The same values, cut from the graph: a tensor that does not require grad.

        Returns
        -------
        Tensor
            A new tensor sharing this one's values; nothing computed from it is recorded
            (unless it is made to require grad), so no gradient flows back through it.

        Examples
        --------
        >>> x = cr.tensor(2.0, requires_grad=True)
        >>> (x * x.detach()).backward()      # d/dx (x * c) with c = 2 held constant
        >>> float(x.grad)
        2.0
        """
        return Tensor._wrap(self.value, None)

    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        gradient : array_like or Tensor, optional
            The weight of each element of `self` (the vector of a vector-Jacobian product), of
            the shape of `self`. It may be left out when `self` has exactly one element (shape
            ``()``, ``(1,)``, ``(1, 1)``, ...): it is then 1.
        retain_graph : bool, optional
            Keep the graph's saved values so that `backward` can run through it again. By
            default they are freed as the pass goes.
        create_graph : bool, optional
            Record the backward pass itself, so that the gradients are tensors that can be
            differentiated again (higher derivatives). Implies `retain_graph`.

        Raises
        ------
        RuntimeError
            If `self` does not require grad (none of its inputs did); if `gradient` is left out
            and `self` has more than one element ("grad can be implicitly created only for
            scalar outputs": reduce it first, ``y.sum().backward()``, or pass `gradient`); if
            the graph was already freed by an earlier backward (pass ``retain_graph=True`` to
            the first one).
        ValueError
            If `gradient` does not have the shape of `self`.

        Examples
        --------
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x ** 2).backward(np.array([1.0, 0.0, 0.5]))   # a weighted sum of the rows
        >>> x.grad
        array([2., 0., 3.])
        >>> x.grad = None
        >>> (x ** 2).sum(dim=0, keepdim=True).backward()    # shape (1,): one element
        >>> x.grad
        array([2., 4., 6.])
        """
        if self.node is None:
            raise RuntimeError("backward(): this tensor does not require grad and has no "
                               "grad_fn; create its inputs with requires_grad=True")
        if gradient is None:
            gradient = _implicit_gradient(self, "backward()", "gradient")
        _run_backward([self], [gradient], retain_graph, create_graph, accumulate=True)

    # -- in-place updates (the optimiser's `p -= lr * p.grad` under no_grad) -----------------
    def _inplace(self, ufunc: Any, other: Any) -> Tensor:
        if grad_mode.enabled and self.requires_grad:
            raise InPlaceError(
                "in-place update of a tensor that requires grad would corrupt its graph; do it "
                "inside `with cr.no_grad():` (as an optimiser step does), or write x = x - v")
        o = other.value if isinstance(other, Tensor) else other
        if isinstance(self.value, np.ndarray) and self.value.flags.writeable:
            ufunc(self.value, o, out=self.value, casting="same_kind")
        else:
            self.value = np.asarray(ufunc(self.value, o))
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, other)

    def __setitem__(self, idx: Any, value: Any) -> None:
        if grad_mode.enabled and (self.requires_grad or isinstance(value, Tensor)
                                  and value.requires_grad):
            raise InPlaceError("x[idx] = v on a tensor that requires grad cannot be "
                               "differentiated; use x = cnp.at(x)[idx].set(v), or do it "
                               "inside `with cr.no_grad():`")
        self.value[idx] = value.value if isinstance(value, Tensor) else value

    # -- conversions and sizes --------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shared, not copied).

        Raises
        ------
        RuntimeError
            On a tensor that requires grad: call ``.detach().numpy()``, which says that the
            derivative is deliberately dropped.

        Examples
        --------
        >>> cr.tensor([1.0, 2.0], requires_grad=True).detach().numpy()
        array([1., 2.])
        """
        if self.requires_grad:
            raise RuntimeError("numpy() of a tensor that requires grad; use "
                               "tensor.detach().numpy()")
        return np.asarray(self.value)

    def item(self, *args: Any) -> Any:
        """The value of a one-element tensor as a Python number (PyTorch's and NumPy's
        ``item``); with arguments, NumPy's ``item(i)``, the element at that (flat) index.

        Returns
        -------
        int, float, complex or bool
            No derivative: the number is a constant.

        Raises
        ------
        ValueError
            When called without arguments on a tensor of more than one element.

        Examples
        --------
        >>> cr.tensor([[2.5]], requires_grad=True).item()
        2.5
        """
        v = np.asarray(self.value)
        if not args and v.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number; "
                             f"this one has shape {v.shape} ({v.size} elements). Index it "
                             f"first (x[i].item()), reduce it (x.sum().item()), or use "
                             f"x.tolist()")
        return v.item(*args)

    def tolist(self) -> Any:
        """The values as (nested) Python lists of numbers; no derivative.

        Examples
        --------
        >>> cr.tensor([[1.0, 2.0]], requires_grad=True).tolist()
        [[1.0, 2.0]]
        """
        return np.asarray(self.value).tolist()

    @property
    def size(self) -> TensorSize:  # type: ignore[override]
        """The number of elements (NumPy's ``x.size``, an int); called, PyTorch's ``x.size()``
        (the shape, a tuple) or ``x.size(dim)`` (the length of dimension `dim`). See
        `TensorSize`.

        Examples
        --------
        >>> x = cr.tensor(np.zeros((4, 3)))
        >>> x.size, x.size(0), x.size()
        (12, 4, (4, 3))
        """
        return TensorSize(self.shape)

    def numel(self) -> int:
        """The number of elements (PyTorch's ``numel``; NumPy's ``x.size``).

        Examples
        --------
        >>> cr.tensor(np.zeros((4, 3))).numel()
        12
        """
        return math.prod(self.shape)

    def dim(self) -> int:
        """The number of dimensions (PyTorch's ``dim()``; NumPy's ``x.ndim``).

        Examples
        --------
        >>> cr.tensor(np.zeros((4, 3))).dim()
        2
        """
        return len(self.shape)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise ConcretizationError("a tensor that requires grad cannot become a NumPy array "
                                      "silently; use tensor.detach().numpy()")
        return np.asarray(self.value, dtype=dtype)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.value), separator=", ", prefix="tensor(")
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        return f"tensor({body}{extra})"

    # -- PyTorch's elementwise methods -------------------------------------------------------
    def exp(self) -> Tensor:
        """The exponential e**x, elementwise (PyTorch's ``exp``); its derivative is e**x.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.exp().sum().backward()
        >>> bool(np.allclose(x.grad, np.exp(v)))
        True
        """
        out: Tensor = E.exp_p.bind1(self)
        return out

    def exp2(self) -> Tensor:
        """2**x, elementwise (PyTorch's ``exp2``); its derivative is 2**x * log(2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.exp2().sum().backward()
        >>> bool(np.allclose(x.grad, 2.0 ** v * np.log(2.0)))
        True
        """
        out: Tensor = E.exp2_p.bind1(self)
        return out

    def expm1(self) -> Tensor:
        """e**x - 1, accurate for small x, elementwise (PyTorch's ``expm1``); its derivative is
        e**x.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([1e-9, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.expm1().sum().backward()
        >>> bool(np.allclose(x.grad, np.exp(v)))
        True
        """
        out: Tensor = E.expm1_p.bind1(self)
        return out

    def log(self) -> Tensor:
        """The natural logarithm, elementwise (PyTorch's ``log``); its derivative is 1/x.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([0.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.log().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / v))
        True
        """
        out: Tensor = E.log_p.bind1(self)
        return out

    def log2(self) -> Tensor:
        """The base-2 logarithm, elementwise (PyTorch's ``log2``); its derivative is 1/(x log 2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([0.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.log2().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / (v * np.log(2.0))))
        True
        """
        out: Tensor = E.log2_p.bind1(self)
        return out

    def log10(self) -> Tensor:
        """The base-10 logarithm, elementwise (PyTorch's ``log10``); its derivative is 1/(x log 10).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([0.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.log10().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / (v * np.log(10.0))))
        True
        """
        out: Tensor = E.log10_p.bind1(self)
        return out

    def log1p(self) -> Tensor:
        """log(1 + x), accurate for small x, elementwise (PyTorch's ``log1p``); its derivative is
        1/(1 + x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([1e-9, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.log1p().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / (1.0 + v)))
        True
        """
        out: Tensor = E.log1p_p.bind1(self)
        return out

    def sqrt(self) -> Tensor:
        """The square root, elementwise (PyTorch's ``sqrt``); its derivative is 1/(2 sqrt(x)) (inf
        at 0).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([0.25, 4.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.sqrt().sum().backward()
        >>> bool(np.allclose(x.grad, 0.5 / np.sqrt(v)))
        True
        """
        out: Tensor = E.sqrt_p.bind1(self)
        return out

    def rsqrt(self) -> Tensor:
        """The reciprocal square root 1/sqrt(x), elementwise (PyTorch's ``rsqrt``); its derivative
        is -1/(2 x**1.5).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([0.25, 4.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.rsqrt().sum().backward()
        >>> bool(np.allclose(x.grad, -0.5 * v ** -1.5))
        True
        """
        out: Tensor = _rsqrt(self)
        return out

    def square(self) -> Tensor:
        """x**2, elementwise (PyTorch's ``square``); its derivative is 2x.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-1.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.square().sum().backward()
        >>> bool(np.allclose(x.grad, 2.0 * v))
        True
        """
        out: Tensor = E.square_p.bind1(self)
        return out

    def reciprocal(self) -> Tensor:
        """1/x, elementwise (PyTorch's ``reciprocal``); its derivative is -1/x**2.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-1.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.reciprocal().sum().backward()
        >>> bool(np.allclose(x.grad, -1.0 / v ** 2))
        True
        """
        out: Tensor = E.reciprocal_p.bind1(self)
        return out

    def sin(self) -> Tensor:
        """The sine, elementwise (PyTorch's ``sin``); its derivative is cos(x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.sin().sum().backward()
        >>> bool(np.allclose(x.grad, np.cos(v)))
        True
        """
        out: Tensor = E.sin_p.bind1(self)
        return out

    def cos(self) -> Tensor:
        """The cosine, elementwise (PyTorch's ``cos``); its derivative is -sin(x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.cos().sum().backward()
        >>> bool(np.allclose(x.grad, -np.sin(v)))
        True
        """
        out: Tensor = E.cos_p.bind1(self)
        return out

    def tan(self) -> Tensor:
        """The tangent, elementwise (PyTorch's ``tan``); its derivative is 1/cos(x)**2.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.tan().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / np.cos(v) ** 2))
        True
        """
        out: Tensor = E.tan_p.bind1(self)
        return out

    def asin(self) -> Tensor:
        """The inverse sine, elementwise (PyTorch's ``asin``); its derivative is 1/sqrt(1 - x**2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 0.25])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.asin().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / np.sqrt(1.0 - v * v)))
        True
        """
        out: Tensor = E.arcsin_p.bind1(self)
        return out

    def acos(self) -> Tensor:
        """The inverse cosine, elementwise (PyTorch's ``acos``); its derivative is -1/sqrt(1 -
        x**2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 0.25])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.acos().sum().backward()
        >>> bool(np.allclose(x.grad, -1.0 / np.sqrt(1.0 - v * v)))
        True
        """
        out: Tensor = E.arccos_p.bind1(self)
        return out

    def atan(self) -> Tensor:
        """The inverse tangent, elementwise (PyTorch's ``atan``); its derivative is 1/(1 + x**2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.atan().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / (1.0 + v * v)))
        True
        """
        out: Tensor = E.arctan_p.bind1(self)
        return out

    def sinh(self) -> Tensor:
        """The hyperbolic sine, elementwise (PyTorch's ``sinh``); its derivative is cosh(x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.sinh().sum().backward()
        >>> bool(np.allclose(x.grad, np.cosh(v)))
        True
        """
        out: Tensor = E.sinh_p.bind1(self)
        return out

    def cosh(self) -> Tensor:
        """The hyperbolic cosine, elementwise (PyTorch's ``cosh``); its derivative is sinh(x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.cosh().sum().backward()
        >>> bool(np.allclose(x.grad, np.sinh(v)))
        True
        """
        out: Tensor = E.cosh_p.bind1(self)
        return out

    def tanh(self) -> Tensor:
        """The hyperbolic tangent, elementwise (PyTorch's ``tanh``); its derivative is 1 -
        tanh(x)**2.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 1.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.tanh().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 - np.tanh(v) ** 2))
        True
        """
        out: Tensor = E.tanh_p.bind1(self)
        return out

    def asinh(self) -> Tensor:
        """The inverse hyperbolic sine, elementwise (PyTorch's ``asinh``); its derivative is
        1/sqrt(x**2 + 1).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 2.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.asinh().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / np.sqrt(v * v + 1.0)))
        True
        """
        out: Tensor = E.arcsinh_p.bind1(self)
        return out

    def acosh(self) -> Tensor:
        """The inverse hyperbolic cosine, elementwise (PyTorch's ``acosh``); its derivative is
        1/sqrt(x**2 - 1).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([1.5, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.acosh().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / np.sqrt(v * v - 1.0)))
        True
        """
        out: Tensor = E.arccosh_p.bind1(self)
        return out

    def atanh(self) -> Tensor:
        """The inverse hyperbolic tangent, elementwise (PyTorch's ``atanh``); its derivative is 1/(1
        - x**2).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-0.5, 0.25])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.atanh().sum().backward()
        >>> bool(np.allclose(x.grad, 1.0 / (1.0 - v * v)))
        True
        """
        out: Tensor = E.arctanh_p.bind1(self)
        return out

    def sigmoid(self) -> Tensor:
        """The logistic sigmoid 1/(1 + e**-x), without overflow for any x, elementwise (PyTorch's
        ``sigmoid``); its derivative is sigmoid(x) * sigmoid(-x).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-2.0, 0.0, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.sigmoid().sum().backward()
        >>> bool(np.allclose(x.grad, np.exp(-v) / (1.0 + np.exp(-v)) ** 2))
        True
        """
        out: Tensor = NN.sigmoid(self)
        return out

    def relu(self) -> Tensor:
        """max(x, 0), elementwise (PyTorch's ``relu``); its derivative is 1 where x > 0 and 0 where
        x <= 0 (relu'(0) = 0, as in PyTorch).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-2.0, 0.0, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.relu().sum().backward()
        >>> bool(np.allclose(x.grad, (v > 0).astype(float)))
        True
        """
        out: Tensor = NN.relu(self)
        return out

    def abs(self) -> Tensor:
        """The absolute value |x|, elementwise (PyTorch's ``abs``); its derivative is sign(x)
        (abs'(0) = 0, as in PyTorch).

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-2.0, 0.0, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.abs().sum().backward()
        >>> bool(np.allclose(x.grad, np.sign(v)))
        True
        """
        out: Tensor = E.abs_p.bind1(self)
        return out

    def neg(self) -> Tensor:
        """The negation -x, elementwise (PyTorch's ``neg``); its derivative is -1.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-2.0, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.neg().sum().backward()
        >>> bool(np.allclose(x.grad, -np.ones(2)))
        True
        """
        out: Tensor = E.neg(self)
        return out

    def negative(self) -> Tensor:
        """The negation -x (PyTorch's alias of neg), elementwise (PyTorch's ``negative``); its
        derivative is -1.

        Returns
        -------
        Tensor
            A new tensor of the shape of `self`, recorded when `self` requires grad.

        Examples
        --------
        >>> v = np.array([-2.0, 3.0])
        >>> x = cr.tensor(v, requires_grad=True)
        >>> x.negative().sum().backward()
        >>> bool(np.allclose(x.grad, -np.ones(2)))
        True
        """
        out: Tensor = E.neg(self)
        return out

    # -- powers and bounds -------------------------------------------------------------------
    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``, elementwise with broadcasting (PyTorch's ``pow``).

        Parameters
        ----------
        exponent : number, array_like or Tensor
            A tensor exponent that requires grad gets its derivative too.

        Returns
        -------
        Tensor
            d/dx x**p = p x**(p-1); d/dp x**p = x**p log(x).

        Examples
        --------
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> x.pow(3).sum().backward()
        >>> x.grad
        array([ 3., 12.])
        """
        if isinstance(exponent, (list, tuple)):
            exponent = np.asarray(exponent)
        out: Tensor = self ** exponent
        return out

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit the values to ``[min, max]`` (PyTorch's ``clamp``; NumPy's ``clip``).

        Parameters
        ----------
        min, max : number, array_like or Tensor, optional
            The bounds; at least one must be given. Where ``min > max`` the result is `max`,
            as in PyTorch.

        Returns
        -------
        Tensor
            The derivative with respect to `self` is 1 inside ``[min, max]``, boundaries
            included (as PyTorch's), and 0 outside; a bound that is a tensor requiring grad gets
            the derivative where it was taken.

        Raises
        ------
        ValueError
            If neither `min` nor `max` is given.

        Examples
        --------
        >>> x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
        >>> y = x.clamp(min=-1.0, max=1.0)
        >>> y.backward(np.ones(3))
        >>> y.detach().numpy(), x.grad
        (array([-1. ,  0.5,  1. ]), array([0., 1., 0.]))
        """
        if min is None and max is None:
            raise ValueError("clamp(): give at least one of min= and max=")
        r: Any = self
        if min is not None:
            lo = np.asarray(min) if isinstance(min, (list, tuple)) else min
            r = E.select(E.less_p.bind(r, lo), lo, r)
        if max is not None:
            hi = np.asarray(max) if isinstance(max, (list, tuple)) else max
            r = E.select(E.greater_p.bind(r, hi), hi, r)
        out: Tensor = r
        return out

    # -- reductions -------------------------------------------------------------------------
    def sum(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, **kwargs: Any) -> Any:
        """The sum over `dim` (PyTorch) or `axis` (NumPy): both spellings are accepted.

        Parameters
        ----------
        dim : int, tuple of ints or None, optional
            The dimensions to reduce (PyTorch's keyword); None or not given: all of them.
        keepdim : bool, optional
            Keep the reduced dimensions with length 1 (PyTorch's keyword).
        *args, **kwargs
            NumPy's ``sum(axis=None, dtype=None, out=None, keepdims=False, initial=None,
            where=True)``.

        Returns
        -------
        Tensor
            The derivative of the sum with respect to each summed element is 1.

        Raises
        ------
        TypeError
            If the dimensions are given twice (``dim=`` with ``axis``).
        numpy.exceptions.AxisError
            If a dimension is out of range.

        Examples
        --------
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> x.sum(dim=0), x.sum(axis=1), x.sum(1, keepdim=True).shape
        (tensor([4., 6.], grad_fn=<sum>), tensor([3., 7.], grad_fn=<sum>), (2, 1))
        """
        kwargs = _numpy_kwargs("sum", args, kwargs, dim, keepdim, self.ndim)
        return super().sum(*args, **kwargs)  # type: ignore[misc]

    def mean(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, **kwargs: Any) -> Any:
        """The mean over `dim` (PyTorch) or `axis` (NumPy): both spellings are accepted.

        Parameters
        ----------
        dim : int, tuple of ints or None, optional
            The dimensions to reduce; None or not given: all of them.
        keepdim : bool, optional
            Keep the reduced dimensions with length 1.
        *args, **kwargs
            NumPy's ``mean(axis=None, dtype=None, out=None, keepdims=False, where=True)``.

        Returns
        -------
        Tensor
            The derivative with respect to each averaged element is 1/n.

        Raises
        ------
        TypeError
            If the dimensions are given twice (``dim=`` with ``axis``).
        numpy.exceptions.AxisError
            If a dimension is out of range.

        Examples
        --------
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> x.mean(dim=1)
        tensor([1.5, 3.5], grad_fn=<div>)
        """
        kwargs = _numpy_kwargs("mean", args, kwargs, dim, keepdim, self.ndim)
        return super().mean(*args, **kwargs)  # type: ignore[misc]

    def prod(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, **kwargs: Any) -> Any:
        """The product over `dim` (PyTorch) or `axis` (NumPy); as `sum`.

        Examples
        --------
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> x.prod(dim=1)
        tensor([ 2., 12.], grad_fn=<prod>)
        """
        kwargs = _numpy_kwargs("prod", args, kwargs, dim, keepdim, self.ndim)
        return super().prod(*args, **kwargs)  # type: ignore[misc]

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        """``log(sum(exp(x)))`` over `dim`, without overflow (PyTorch's ``logsumexp``).

        Parameters
        ----------
        dim : int or tuple of ints
            The dimensions to reduce.
        keepdim : bool, optional
            Keep them with length 1.

        Returns
        -------
        Tensor
            Its derivative is the softmax of `self` over `dim`.

        Examples
        --------
        >>> x = cr.tensor([0.0, np.log(3.0)], requires_grad=True)
        >>> y = x.logsumexp(dim=0)
        >>> y.backward()
        >>> float(y), x.grad
        (1.3862943611198906, array([0.25, 0.75]))
        """
        axes = _dims(dim, self.ndim, "logsumexp")
        out: Tensor = NN.logsumexp(self, axes, bool(keepdim))
        return out

    def _extreme(self, which: str, args: tuple[Any, ...], kwargs: dict[str, Any], dim: Any,
                 keepdim: Any) -> Any:
        if dim is _UNSET:
            kwargs = _numpy_kwargs(which, args, kwargs, _UNSET, keepdim, self.ndim)
            return getattr(super(), which)(*args, **kwargs)
        if args or kwargs:
            raise TypeError(f"{which}(dim=...) takes only keepdim= besides dim, got "
                            f"{', '.join([repr(a) for a in args] + list(kwargs))}; for NumPy's "
                            f"{which} write axis= instead of dim=")
        if dim is None or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{which}(dim=...) takes one int dimension, got {dim!r}; for the "
                            f"{which}imum over several dimensions write {which}(axis=...)")
        keep = False if keepdim is _UNSET else bool(keepdim)
        nd = self.ndim
        d = _dim(dim, nd, which)
        values = getattr(super(), which)(axis=d if nd else None, keepdims=keep)
        v = np.asarray(self.value)
        if nd == 0:
            pos = np.zeros((), np.int64)
        else:
            arg = np.argmax if which == "max" else np.argmin
            pos = arg(v, axis=d, keepdims=keep).astype(np.int64, copy=False)
        return ValuesIndices(values, Tensor._wrap(pos, None))

    def max(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, **kwargs: Any) -> Any:
        """The maximum: PyTorch's ``max(dim=d)`` (values and indices) when `dim` is given by
        keyword, NumPy's ``max(axis)`` (values only) otherwise.

        Parameters
        ----------
        dim : int, optional
            PyTorch's keyword: return ``(values, indices)`` along this dimension.
        keepdim : bool, optional
            Keep the reduced dimension with length 1.
        *args, **kwargs
            NumPy's ``max(axis=None, out=None, keepdims=False, initial=..., where=True)``.
            A positional dimension, ``x.max(1)``, is NumPy's axis: values only.

        Returns
        -------
        Tensor or ValuesIndices
            Without `dim`: the maximum (over `axis`, or of all elements). With `dim`: the named
            pair ``(values, indices)``, the indices those of the first maximum as in PyTorch,
            without derivative. Where several elements tie for the maximum, the derivative is
            shared evenly among them (chainrule's convention for ``max``, also JAX's; PyTorch's
            ``max(dim=...)`` gives it all to the index it returns).

        Raises
        ------
        TypeError
            If `dim` is not one int, or is given with NumPy's arguments.
        numpy.exceptions.AxisError
            If `dim` is out of range.

        Examples
        --------
        >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
        >>> values, indices = x.max(dim=1)
        >>> values, indices
        (tensor([5., 4.], grad_fn=<max>), tensor([1, 0]))
        >>> x.max(0)           # NumPy's meaning: the values along axis 0
        tensor([4., 5.], grad_fn=<max>)
        >>> values.sum().backward()
        >>> x.grad
        array([[0., 1.],
               [1., 0.]])
        """
        return self._extreme("max", args, kwargs, dim, keepdim)

    def min(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, **kwargs: Any) -> Any:
        """The minimum: PyTorch's ``min(dim=d)`` (values and indices) when `dim` is given by
        keyword, NumPy's ``min(axis)`` (values only) otherwise; as `max`.

        Examples
        --------
        >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
        >>> x.min(dim=0, keepdim=True)
        ValuesIndices(values=tensor([[1., 2.]], grad_fn=<neg>), indices=tensor([[0, 1]]))
        """
        return self._extreme("min", args, kwargs, dim, keepdim)

    def argmax(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET,
               **kwargs: Any) -> Any:
        """The index of the maximum, over `dim` (PyTorch) or `axis` (NumPy); no derivative.

        Examples
        --------
        >>> cr.tensor([[1.0, 5.0], [4.0, 2.0]]).argmax(dim=1)
        tensor([1, 0])
        """
        if dim is not _UNSET and dim is not None:
            dim = _dim(dim, self.ndim, "argmax")
        kwargs = _numpy_kwargs("argmax", args, kwargs, _UNSET, keepdim, self.ndim)
        if dim is not _UNSET:
            kwargs["axis"] = dim
        return super().argmax(*args, **kwargs)  # type: ignore[misc]

    def argmin(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET,
               **kwargs: Any) -> Any:
        """The index of the minimum, over `dim` (PyTorch) or `axis` (NumPy); no derivative.

        Examples
        --------
        >>> cr.tensor([[1.0, 5.0], [4.0, 2.0]]).argmin(dim=1)
        tensor([0, 1])
        """
        if dim is not _UNSET and dim is not None:
            dim = _dim(dim, self.ndim, "argmin")
        kwargs = _numpy_kwargs("argmin", args, kwargs, _UNSET, keepdim, self.ndim)
        if dim is not _UNSET:
            kwargs["axis"] = dim
        return super().argmin(*args, **kwargs)  # type: ignore[misc]

    def _spread(self, which: str, args: tuple[Any, ...], kwargs: dict[str, Any], dim: Any,
                keepdim: Any, unbiased: Any, correction: Any) -> Any:
        if dim is _UNSET and unbiased is _UNSET:
            if correction is not _UNSET:
                kwargs["correction"] = correction
            kwargs = _numpy_kwargs(which, args, kwargs, _UNSET, keepdim, self.ndim)
            return getattr(super(), which)(*args, **kwargs)
        # PyTorch's spelling: PyTorch's default, the unbiased estimate (correction=1)
        if args or kwargs:
            raise TypeError(f"{which}() with PyTorch's dim=/unbiased= takes only keepdim= and "
                            f"correction= besides; for NumPy's {which} write axis= and ddof=")
        if unbiased is not _UNSET and correction is not _UNSET:
            raise TypeError(f"{which}(): give unbiased= or correction=, not both")
        ddof = (1 if unbiased is _UNSET or unbiased else 0) if correction is _UNSET \
            else correction
        axes = None if dim is _UNSET or dim is None else _dims(dim, self.ndim, which)
        keep = False if keepdim is _UNSET else bool(keepdim)
        return getattr(super(), which)(axis=axes, ddof=ddof, keepdims=keep)

    def var(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, unbiased: Any = _UNSET,
            correction: Any = _UNSET, **kwargs: Any) -> Any:
        """The variance. With PyTorch's keywords (`dim=` or `unbiased=`) it is PyTorch's
        ``var``, whose default is the unbiased estimate (divide by n - 1); otherwise NumPy's
        ``var(axis=None, ddof=0)``, which divides by n.

        Parameters
        ----------
        dim : int, tuple of ints or None, optional
            PyTorch's keyword: the dimensions to reduce (None: all).
        unbiased : bool, optional
            PyTorch's keyword: True (its default) divides by n - 1, False by n.
        correction : int, optional
            Subtracted from n (PyTorch's and NumPy 2's name for ddof).
        keepdim : bool, optional
            Keep the reduced dimensions with length 1.
        *args, **kwargs
            NumPy's ``var(axis=None, dtype=None, out=None, ddof=0, keepdims=False)``.

        Returns
        -------
        Tensor
            The derivative with respect to x_i is 2 (x_i - mean) / (n - correction).

        Examples
        --------
        >>> x = cr.tensor([1.0, 2.0, 6.0])
        >>> float(x.var(dim=0)), float(x.var())     # PyTorch's (n - 1), NumPy's (n)
        (7.0, 4.666666666666667)
        """
        return self._spread("var", args, kwargs, dim, keepdim, unbiased, correction)

    def std(self, *args: Any, dim: Any = _UNSET, keepdim: Any = _UNSET, unbiased: Any = _UNSET,
            correction: Any = _UNSET, **kwargs: Any) -> Any:
        """The standard deviation, the square root of `var` (same keywords: PyTorch's
        `dim=`/`unbiased=` select PyTorch's unbiased default, NumPy's divides by n).

        Examples
        --------
        >>> x = cr.tensor([1.0, 2.0, 6.0])
        >>> round(float(x.std(dim=0)) ** 2, 12), round(float(x.std()) ** 2, 12)
        (7.0, 4.666666666667)
        """
        return self._spread("std", args, kwargs, dim, keepdim, unbiased, correction)

    def cumsum(self, *args: Any, dim: Any = _UNSET, **kwargs: Any) -> Any:
        """The cumulative sum along `dim` (PyTorch) or `axis` (NumPy; None flattens first).

        Examples
        --------
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(dim=1)
        tensor([[1., 3.],
                [3., 7.]])
        """
        if dim is not _UNSET:
            if args or "axis" in kwargs:
                raise TypeError("cumsum(): give dim= or axis=, not both")
            kwargs["axis"] = _dim(dim, self.ndim, "cumsum")
        return super().cumsum(*args, **kwargs)  # type: ignore[misc]

    def cumprod(self, *args: Any, dim: Any = _UNSET, **kwargs: Any) -> Any:
        """The cumulative product along `dim` (PyTorch) or `axis` (NumPy).

        Examples
        --------
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).cumprod(dim=0)
        tensor([[1., 2.],
                [3., 8.]])
        """
        if dim is not _UNSET:
            if args or "axis" in kwargs:
                raise TypeError("cumprod(): give dim= or axis=, not both")
            kwargs["axis"] = _dim(dim, self.ndim, "cumprod")
        return super().cumprod(*args, **kwargs)  # type: ignore[misc]

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        """A vector or matrix norm (PyTorch's ``Tensor.norm``).

        Parameters
        ----------
        p : {'fro', 'nuc'}, int, float, inf or -inf, optional
            'fro' (the default) and 2: the square root of the sum of squared magnitudes over
            `dim`. A number p: ``sum(|x|**p) ** (1/p)`` over `dim`, the elements of all of them
            together; inf / -inf: the largest / smallest magnitude; 0: the count of nonzero
            elements. 'nuc': the nuclear norm (sum of singular values) of the matrices over the
            two dimensions `dim` (by default both dimensions of a 2-D tensor).
        dim : int, tuple of ints or None, optional
            The dimensions to reduce; None: all of them.
        keepdim : bool, optional
            Keep the reduced dimensions with length 1.

        Returns
        -------
        Tensor
            The derivative of the 2-norm is x / norm. At the zero vector the derivative of a
            p-norm with p > 1 is nan (sqrt'(0) is infinite), as with ``cnp.linalg.norm`` and
            JAX; PyTorch returns 0 there.

        Raises
        ------
        ValueError
            For 'nuc' without two dimensions, or an unknown `p`.

        Examples
        --------
        >>> x = cr.tensor([[3.0, 0.0], [0.0, 4.0]], requires_grad=True)
        >>> n = x.norm()
        >>> n.backward()
        >>> float(n), x.grad
        (5.0, array([[0.6, 0. ],
               [0. , 0.8]]))
        >>> x.norm(p=1, dim=1)
        tensor([3., 4.], grad_fn=<sum>)
        """
        nd = self.ndim
        if isinstance(p, str):
            if p == "nuc":
                axes = _dims(dim if dim is not None else (0, 1) if nd == 2 else None, nd,
                             "norm")
                if len(axes) != 2:
                    raise ValueError("norm(p='nuc') needs two dimensions: a 2-D tensor, or "
                                     "dim=(d0, d1)")
                out: Tensor = np.linalg.norm(self, "nuc", axes, keepdim)
                return out
            if p != "fro":
                raise ValueError(f"norm(): p must be 'fro', 'nuc' or a number, got {p!r}")
            p = 2  # the Frobenius norm is the 2-norm of the elements taken together
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.number)):
            raise ValueError(f"norm(): p must be 'fro', 'nuc' or a number, got {p!r}")
        axes = _dims(dim, nd, "norm")
        shape = self.shape
        rest = [i for i in range(nd) if i not in axes]
        x: Any = S.transpose(self, rest + list(axes)) if nd else self
        merged = math.prod(shape[i] for i in axes)
        x = S.reshape(x, tuple(shape[i] for i in rest) + (merged,))
        out = np.linalg.norm(x, p, -1)  # chainrule.numpy's, through NumPy's dispatch
        if keepdim:
            out = S.reshape(out, tuple(1 if i in axes else s for i, s in enumerate(shape)))
        return out

    # -- shapes -----------------------------------------------------------------------------
    def view(self, *shape: Any) -> Tensor:
        """The same elements in a new shape (PyTorch's ``view``; as `reshape`).

        Parameters
        ----------
        *shape : ints, or one tuple of ints
            One entry may be -1, inferred from the others.

        Returns
        -------
        Tensor
            A new tensor (not a view sharing memory: do not rely on writes to it, which
            happen only under ``cr.no_grad()``, reaching `self`).

        Raises
        ------
        ValueError
            If the shape holds a different number of elements.
        TypeError
            For PyTorch's ``view(dtype)``, which reinterprets bits: use ``astype``.

        Examples
        --------
        >>> x = cr.tensor(np.arange(6.0), requires_grad=True)
        >>> x.view(2, -1)
        tensor([[0., 1., 2.],
                [3., 4., 5.]], grad_fn=<reshape>)
        """
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            try:
                shape = tuple(shape[0])
            except TypeError:
                raise TypeError(f"view(): the shape must be ints, got {shape[0]!r}; to change "
                                f"the dtype write x.astype(dtype) (a conversion, not a view of "
                                f"the bits)") from None
        for s in shape:
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
                raise TypeError(f"view(): the shape must be ints, got {s!r}; to change the "
                                f"dtype write x.astype(dtype) (a conversion, not a view of the "
                                f"bits)")
        out: Tensor = S.reshape(self, tuple(int(s) for s in shape))
        return out

    def reshape(self, *shape: Any, order: str = "C") -> Tensor:
        """The same elements in a new shape (NumPy's and PyTorch's ``reshape``).

        Parameters
        ----------
        *shape : ints, or one tuple of ints
            One entry may be -1, inferred from the others.
        order : {'C'}, optional
            Only row-major order is supported.

        Raises
        ------
        ValueError
            If the shape holds a different number of elements, or for another `order`.

        Examples
        --------
        >>> cr.tensor(np.arange(4.0)).reshape((2, 2)).shape
        (2, 2)
        """
        if order != "C":
            raise ValueError(f"reshape(): only order='C' (row-major) is supported, got "
                             f"order={order!r}; transpose first for column-major order")
        return self.view(*shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a dimension of length 1 at position `dim` (PyTorch's ``unsqueeze``; NumPy's
        ``expand_dims``).

        Parameters
        ----------
        dim : int
            In ``[-self.dim() - 1, self.dim()]``; negative counts from the end of the result.

        Raises
        ------
        numpy.exceptions.AxisError
            If `dim` is out of range.

        Examples
        --------
        >>> x = cr.tensor([1.0, 2.0])
        >>> x.unsqueeze(0).shape, x.unsqueeze(-1).shape
        ((1, 2), (2, 1))
        """
        nd = self.ndim
        d = _dim(dim, nd, "unsqueeze", extra=1)
        shape = list(self.shape)
        shape.insert(d, 1)
        out: Tensor = S.reshape(self, tuple(shape))
        return out

    def squeeze(self, *args: Any, dim: Any = _UNSET, **kwargs: Any) -> Tensor:
        """Remove dimensions of length 1: PyTorch's ``squeeze(dim=...)``, which leaves a named
        dimension whose length is not 1 as it is, or NumPy's ``squeeze(axis)``, which raises for
        it.

        Parameters
        ----------
        dim : int or tuple of ints, optional
            PyTorch's keyword: the dimensions to remove where their length is 1.
        *args, **kwargs
            NumPy's ``squeeze(axis=None)``: no axis removes every dimension of length 1.

        Raises
        ------
        ValueError
            NumPy's meaning, for an axis whose length is not 1 (the message names PyTorch's
            spelling).
        numpy.exceptions.AxisError
            If a dimension is out of range.

        Examples
        --------
        >>> x = cr.tensor(np.zeros((1, 3, 1)))
        >>> x.squeeze().shape, x.squeeze(0).shape, x.squeeze(dim=1).shape
        ((3,), (3, 1), (1, 3, 1))
        """
        if dim is _UNSET:
            try:
                out: Tensor = super().squeeze(*args, **kwargs)  # type: ignore[misc]
            except ValueError as e:
                if "size not equal to one" not in str(e):
                    raise
                raise ValueError(f"{e}; NumPy's squeeze(axis) raises for it, PyTorch's "
                                 f"squeeze(dim=...) leaves it: write x.squeeze(dim=...)") from e
            return out
        if args or kwargs:
            raise TypeError("squeeze(): give dim= (PyTorch) or axis (NumPy), not both")
        shape = self.shape
        gone = set(range(len(shape))) if dim is None else set(_dims(dim, len(shape), "squeeze"))
        out = S.reshape(self, tuple(s for i, s in enumerate(shape) if not (i in gone and s == 1)))
        return out

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the dimensions (PyTorch's ``permute``; NumPy's ``transpose(axes)``).

        Parameters
        ----------
        *dims : ints, or one tuple of ints
            A permutation of the dimensions: result dimension i is dimension ``dims[i]``.

        Raises
        ------
        ValueError
            If `dims` is not a permutation of ``range(self.dim())``.

        Examples
        --------
        >>> x = cr.tensor(np.zeros((2, 3, 4)))
        >>> x.permute(2, 0, 1).shape
        (4, 2, 3)
        """
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        nd = self.ndim
        if len(dims) != nd:
            raise ValueError(f"permute(): {len(dims)} dimensions given for a tensor with {nd}; "
                             f"name each dimension once")
        order = [_dim(d, nd, "permute", scalar=False) for d in dims]
        if sorted(order) != list(range(nd)):
            raise ValueError(f"permute(): dims={tuple(dims)} is not a permutation of the "
                             f"{nd} dimensions; name each dimension once")
        out: Tensor = S.transpose(self, order)
        return out

    def transpose(self, *axes: Any, dim0: Any = None, dim1: Any = None) -> Tensor:
        """Swap two dimensions (PyTorch's ``transpose(dim0, dim1)``) or permute them all
        (NumPy's ``transpose(axes)``).

        Two int arguments, or `dim0=` and `dim1=`, are PyTorch's meaning: swap those two
        dimensions. (NumPy would read two ints as a full permutation, which can only be of a
        2-D array, where ``(1, 0)`` swaps, as here, and ``(0, 1)`` leaves it as it is: PyTorch's
        reading wins for the Tensor.) No argument reverses the dimensions, as ``.T``; one
        tuple, or three ints or more, is NumPy's permutation (as `permute`).

        Raises
        ------
        numpy.exceptions.AxisError
            If a dimension is out of range.
        ValueError
            If NumPy's axes are not a permutation.

        Examples
        --------
        >>> x = cr.tensor(np.zeros((2, 3, 4)))
        >>> x.transpose(0, 2).shape, x.transpose(dim0=1, dim1=2).shape, x.transpose().shape
        ((4, 3, 2), (2, 4, 3), (4, 3, 2))
        """
        nd = self.ndim
        out: Tensor
        if dim0 is not None or dim1 is not None:
            if axes or dim0 is None or dim1 is None:
                raise TypeError("transpose(): give both dim0= and dim1=, and nothing else")
            axes = (dim0, dim1)
        elif not (len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes)):
            if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
                axes = tuple(axes[0])
            if not axes:
                out = S.transpose(self)
                return out
            return self.permute(*axes)
        a = _dim(axes[0], nd, "transpose", scalar=False)
        b = _dim(axes[1], nd, "transpose", scalar=False)
        out = S.swapaxes(self, a, b)
        return out

    def t(self) -> Tensor:
        """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t()``); 0-D and 1-D
        tensors are returned as they are.

        Raises
        ------
        ValueError
            For a tensor of more than 2 dimensions: use ``transpose(dim0, dim1)`` or
            ``permute``.

        Examples
        --------
        >>> cr.tensor(np.zeros((2, 3))).t().shape
        (3, 2)
        """
        nd = self.ndim
        if nd > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dimensions, this one has "
                             f"{nd}; use transpose(dim0, dim1) or permute(...)")
        if nd < 2:
            return self
        out: Tensor = S.transpose(self)
        return out

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions `start_dim` to `end_dim` (both included) into one (PyTorch's
        ``flatten``; with no argument, NumPy's ``flatten()``: a 1-D tensor of all elements).

        Raises
        ------
        ValueError
            If `start_dim` comes after `end_dim`.
        numpy.exceptions.AxisError
            If a dimension is out of range.

        Examples
        --------
        >>> x = cr.tensor(np.zeros((2, 3, 4)))
        >>> x.flatten().shape, x.flatten(1).shape, x.flatten(0, 1).shape
        ((24,), (2, 12), (6, 4))
        """
        shape = self.shape
        nd = len(shape)
        s = _dim(start_dim, nd, "flatten")
        e = _dim(end_dim, nd, "flatten")
        if s > e:
            raise ValueError(f"flatten(): start_dim={start_dim} comes after end_dim={end_dim}")
        if nd == 0:
            new: tuple[int, ...] = (1,)
        else:
            new = shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:]
        out: Tensor = S.reshape(self, new)
        return out

    # -- linear algebra and activations -----------------------------------------------------
    def matmul(self, other: Any) -> Tensor:
        """The matrix product ``self @ other``, with NumPy's (and PyTorch's) broadcasting and
        1-D rules.

        Examples
        --------
        >>> A = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> A.matmul(np.array([1.0, 1.0])).sum().backward()
        >>> A.grad
        array([[1., 1.],
               [1., 1.]])
        """
        out: Tensor = self @ (np.asarray(other) if isinstance(other, (list, tuple)) else other)
        return out

    def mm(self, other: Any) -> Tensor:
        """The product of two matrices, both 2-D (PyTorch's ``mm``).

        Raises
        ------
        ValueError
            If either is not 2-D (use `matmul` for batches and vectors).

        Examples
        --------
        >>> A = cr.tensor([[1.0, 2.0]])
        >>> A.mm(np.array([[3.0], [4.0]]))
        tensor([[11.]])
        """
        other = np.asarray(other) if isinstance(other, (list, tuple)) else other
        shapes = (self.shape, shape_of(other))
        if len(shapes[0]) != 2 or len(shapes[1]) != 2:
            raise ValueError(f"mm(): both operands must be 2-D matrices, got shapes "
                             f"{shapes[0]} and {shapes[1]}; use matmul for other shapes")
        return self.matmul(other)

    def softmax(self, dim: int) -> Tensor:
        """``exp(x) / sum(exp(x))`` along `dim`, without overflow (PyTorch's ``softmax``).

        Parameters
        ----------
        dim : int
            The dimension along which the result sums to 1 (required, as PyTorch asks).

        Returns
        -------
        Tensor
            Its Jacobian along `dim` is ``diag(s) - s s^T`` for s the softmax.

        Examples
        --------
        >>> x = cr.tensor([0.0, np.log(3.0)], requires_grad=True)
        >>> x.softmax(dim=0)
        tensor([0.25, 0.75], grad_fn=<exp>)
        """
        d = _dim(dim, self.ndim, "softmax")
        out: Tensor = NN.softmax(self, d if self.ndim else None)
        return out

    def log_softmax(self, dim: int) -> Tensor:
        """``x - logsumexp(x)`` along `dim` (PyTorch's ``log_softmax``), the log of `softmax`
        without its rounding.

        Examples
        --------
        >>> x = cr.tensor([0.0, np.log(3.0)])
        >>> bool(np.allclose(x.log_softmax(dim=0).numpy(), np.log([0.25, 0.75])))
        True
        """
        d = _dim(dim, self.ndim, "log_softmax")
        out: Tensor = NN.log_softmax(self, d if self.ndim else None)
        return out


def _implicit_gradient(t: Tensor, where: str, argument: str) -> Any:
    """The gradient `backward()` takes when none is given: 1, for a one-element tensor only."""
    shape = shape_of(t.value)
    if math.prod(shape) != 1:
        raise RuntimeError(
            f"{where}: grad can be implicitly created only for scalar outputs, and this tensor "
            f"has shape {shape} ({math.prod(shape)} elements); reduce it to one element first "
            f"(y.sum().backward()), or pass {argument}= an array of shape {shape}, the weight "
            f"of each element")
    return np.ones(shape, np.asarray(t.value).dtype)


def _run_backward(outputs: Sequence[Tensor], cts: Sequence[Any], retain: bool, create: bool,
                  accumulate: bool, inputs: Sequence[Tensor] = ()) -> dict[Any, Any]:
    roots = []
    for o, c in zip(outputs, cts):
        if o.node is None:
            continue
        c = c.value if isinstance(c, Tensor) and not create else c
        if shape_of(c) != shape_of(o.value):
            raise ValueError(f"backward(): gradient of shape {shape_of(c)} given for a tensor of "
                             f"shape {shape_of(o.value)}; they must match")
        roots.append((o.node, o.idx, c))
    capture = {(t.node, t.idx) for t in inputs if t.node is not None}
    unwrap = None if create else _values
    ctx = contextlib.nullcontext() if create else no_grad()
    with ctx, checks.quiet():  # (no floating-point warnings from the rules, as every transform)
        got = backward(roots, retain=retain or create, capture=capture, unwrap=unwrap,
                       recompute=create)
    if accumulate:
        owned = iter(tree.owned_arrays([g for g in got.values()], list(cts)))
        got = {key: next(owned) for key in got}
        for (node, _), g in got.items():
            if isinstance(node, LeafNode) and node.owner is not None:
                leaf = node.owner()
                if leaf is None:
                    continue
                g = _as_grad(g, leaf, create)
                leaf.grad = g if leaf.grad is None else leaf.grad + g
    return got


def _as_grad(g: Any, leaf: Tensor, create: bool) -> Any:
    if isinstance(g, Tensor):
        return g if create else g.value
    g = np.asarray(g, dtype=np.asarray(leaf.value).dtype)
    if g.base is not None or not g.flags.writeable:
        g = g.copy()  # .grad is the tensor's own, writable array
    return Tensor._wrap(g, None) if create else g


def _values(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.value if isinstance(a, Tensor) else a for a in args)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf Tensor holding a copy of `data` (PyTorch's ``torch.tensor``).

    Parameters
    ----------
    data : array_like or Tensor
        Numbers, nested lists, a NumPy array or a Tensor (its values only: the new tensor is
        a leaf, cut from any graph). Python floats become float64.
    requires_grad : bool, optional
        Record the operations applied to it, so that `backward()` accumulates its gradient
        into its `.grad`. Default False.
    dtype : data-type, optional
        The NumPy dtype of the values.

    Returns
    -------
    Tensor

    Raises
    ------
    TypeError
        With ``requires_grad=True`` and integer or boolean data: pass ``dtype=float`` or
        floating-point data.

    Examples
    --------
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> x
    tensor([1., 2.], requires_grad=True)
    >>> cr.tensor([1, 2], dtype=float, requires_grad=True).dtype
    dtype('float64')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def gradients(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool = False,
              create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """The functional form of `backward()` (PyTorch's ``torch.autograd.grad``): the gradients
    of `outputs` with respect to `inputs`, returned rather than accumulated into ``.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
        What to differentiate (summed, each weighted by its `grad_outputs`).
    inputs : Tensor or sequence of Tensors
        Tensors that require grad: leaves or intermediate results.
    grad_outputs : array_like, Tensor or sequence of them, optional
        The weight of each element of each output. May be left out when every output has
        one element.
    retain_graph : bool, optional
        Keep the graph for another backward pass through it.
    create_graph : bool, optional
        Record the backward pass, so that the gradients returned are tensors that can be
        differentiated again.
    allow_unused : bool, optional
        Return None for an input that the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple
        One gradient per input, of its shape: NumPy arrays, or Tensors with `create_graph`.
        ``.grad`` attributes are left untouched.

    Raises
    ------
    RuntimeError
        If an input does not require grad; if an output has more than one element and
        `grad_outputs` is left out; if an input is unused and `allow_unused` is False.

    Examples
    --------
    >>> x = cr.tensor(0.5, requires_grad=True)
    >>> (dx,) = cr.gradients(x ** 3, x, create_graph=True)   # 3 x**2
    >>> (d2x,) = cr.gradients(dx, x)                          # 6 x
    >>> float(dx), float(d2x), x.grad is None
    (0.75, 3.0, True)
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        cts = [_implicit_gradient(o, "gradients()", "grad_outputs") for o in outs]
    else:
        cts = [grad_outputs] if not isinstance(grad_outputs, (list, tuple)) else list(grad_outputs)
    for t in ins:
        if t.node is None:
            raise RuntimeError("gradients(): one of the inputs does not require grad")
    got = _run_backward(outs, cts, retain_graph, create_graph, accumulate=False, inputs=ins)
    result = []
    for t in ins:
        g = got.get((t.node, t.idx))
        if g is None:
            if not allow_unused:
                raise RuntimeError("gradients(): one of the inputs was not used to compute the "
                                   "outputs; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(_as_grad(g, t, create_graph))
    return tuple(result)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Within this block, Tensor operations record nothing (PyTorch's ``torch.no_grad``).

    Use it for evaluation and for in-place parameter updates (``w -= lr * w.grad``), which
    are refused on a tensor that requires grad outside it. The functional transforms
    (`cr.grad`, ...) are not affected: they differentiate regardless.

    Returns
    -------
    contextlib.AbstractContextManager
        For a ``with`` statement; the previous mode is restored on leaving it, also on an
        exception.

    Examples
    --------
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    ...     w -= 0.5
    >>> y.requires_grad, w
    (False, tensor([0.5, 1.5], requires_grad=True))
    """
    prev = grad_mode.enabled
    grad_mode.enabled = False
    try:
        yield
    finally:
        grad_mode.enabled = prev


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Within this block, Tensor operations record again, even inside ``cr.no_grad()``
    (PyTorch's ``torch.enable_grad``).

    Returns
    -------
    contextlib.AbstractContextManager
        For a ``with`` statement; the previous mode is restored on leaving it.

    Examples
    --------
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> with cr.no_grad():
    ...     with cr.enable_grad():
    ...         y = x * x
    >>> y.requires_grad
    True
    """
    prev = grad_mode.enabled
    grad_mode.enabled = True
    try:
        yield
    finally:
        grad_mode.enabled = prev
