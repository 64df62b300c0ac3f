"""A CPU stand-in for a GPU array library's array, as strict as CuPy about mixing (issue 17).

CuPy refuses what a library written for NumPy tends to do by accident: it will not turn itself into
a NumPy array (`__array__` raises), its functions and ufuncs reject NumPy arrays among their
operands ("Unsupported type <class 'numpy.ndarray'>"), its ufuncs have no `reduce` or
`accumulate` methods (`add.at` it has, from CuPy 12.1 on), and its reductions return 0-d arrays,
never scalars. `DeviceArray` behaves the same way on the CPU, so that the tests prove on every
machine that nothing in chainrule leaks a NumPy constant, a NumPy zero or a ufunc method into
another library's computation. (It is not CuPy: the same tests run on CuPy where CUDA is.)

NumPy scalars (`np.float64(2.0)`) and Python numbers mix freely, as they do with CuPy. Indexing
accepts NumPy integer arrays, as CuPy's does.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_UFUNC_NAMES = frozenset(n for n in dir(np) if isinstance(getattr(np, n), np.ufunc))


class MixingError(TypeError):
    """What CuPy raises when a NumPy array meets one of its own."""


def _unwrap(x: Any, where: str) -> Any:
    if isinstance(x, DeviceArray):
        return x._data
    if isinstance(x, np.ndarray):
        raise MixingError(f"Unsupported type {type(x)} in {where}: a NumPy array mixed into a "
                          f"DeviceArray computation")
    if isinstance(x, (list, tuple)):
        if where in _UFUNC_NAMES:  # (a ufunc's operand: CuPy refuses lists too)
            raise MixingError(f"Unsupported type {type(x)} in {where}")
        return type(x)(_unwrap(v, where) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, where) for k, v in x.items()}
    return x


def _known(x: Any) -> bool:
    """Not another library's array (a tracer): those get NotImplemented, to go first."""
    return isinstance(x, (DeviceArray, np.ndarray, np.generic, int, float, complex, bool)) or \
        not hasattr(x, "__array_ufunc__")


def _wrap(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return DeviceArray(x)
    if isinstance(x, np.generic):
        return DeviceArray(np.asarray(x))  # (reductions give 0-d arrays, as CuPy's do)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class DeviceArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array that lives "on the device": see the module docstring."""

    __slots__ = ("_data",)

    def __init__(self, data: Any) -> None:
        self._data = np.asarray(data)

    # -- what CuPy refuses ----------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise MixingError("Implicit conversion to a NumPy array is not allowed. "
                          "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "at" and ufunc is np.add:  # (CuPy >= 12.1 has add.at, a scatter-add)
            a, idx, b = inputs
            np.add.at(_unwrap(a, "add.at"), _index(idx), _unwrap(b, "add.at"))
            return None
        if method != "__call__":
            raise MixingError(f"DeviceArray does not implement ufunc method {ufunc.__name__}."
                              f"{method}")
        if not all(_known(x) for x in inputs + tuple(kwargs.get("out", ()))):
            return NotImplemented  # (NEP 13: another library's array, e.g. a tracer, goes first)
        args = tuple(_unwrap(x, ufunc.__name__) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"], ufunc.__name__)
        return _wrap(ufunc(*args, **kwargs))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (DeviceArray, np.ndarray)) for t in types):
            return NotImplemented
        where = getattr(func, "__name__", str(func))
        if func in (np.asarray, np.array, np.asanyarray):  # (NEP 35's like=: a host-to-device copy)
            return DeviceArray(func(*args, **kwargs))
        return _wrap(func(*_unwrap(args, where), **_unwrap(kwargs, where)))

    # -- the array protocol users touch ---------------------------------------------------
    def get(self) -> np.ndarray:
        """A NumPy copy (CuPy's device-to-host transfer)."""
        return self._data.copy()

    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    T = property(lambda self: DeviceArray(self._data.T))
    real = property(lambda self: DeviceArray(self._data.real))
    imag = property(lambda self: DeviceArray(self._data.imag))

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Any:
        return (_wrap(v) for v in self._data)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._data[_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[_index(key)] = _unwrap(value, "__setitem__")

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __index__(self) -> int:
        return self._data.__index__()

    def __complex__(self) -> complex:
        return complex(self._data)

    def __repr__(self) -> str:
        return f"DeviceArray({self._data!r})"

    def __getattr__(self, name: str) -> Any:
        # Array methods (astype, reshape, sum, ...) run on the data with the same strictness.
        attr = getattr(self._data, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args: Any, **kwargs: Any) -> Any:
            return _wrap(attr(*_unwrap(args, name), **_unwrap(kwargs, name)))
        return method

    def __deepcopy__(self, memo: Any) -> DeviceArray:
        return DeviceArray(self._data.copy())


def _index(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, DeviceArray):
        return key._data
    return key  # (NumPy integer and boolean arrays index a CuPy array too)


def to_device(x: Any) -> Any:
    """A floating NumPy array as a DeviceArray; anything else as it is."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return DeviceArray(x)
    return x


def to_host(x: Any) -> Any:
    return x.get() if isinstance(x, DeviceArray) else x
