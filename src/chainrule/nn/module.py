"""`Module`, the base of every layer, and `Sequential`.

What a module holds is found from its attributes, in the order they were first assigned:

- **parameters**: floating-point NumPy arrays and NumPy floating scalars (and, inside a
  transform, the traced values that stand for them); Python floats are hyper-parameters;
- **submodules**: attributes that are Modules, or lists or tuples of Modules;
- **buffers**: arrays registered with `register_buffer(name, array)` (BatchNorm's running
  statistics): saved by `state_dict()`, never trained;
- everything else (ints, floats, strings, tuples, integer arrays, random generators, the
  `training` flag) is a hyper-parameter. Attributes whose name starts with an underscore are
  private and never parameters.

Every Module class is a pytree node (registered when the class is defined): its leaves are the
parameters, depth first in assignment order (the order of `named_parameters()`); buffers and
hyper-parameters are static. `tree.unflatten` builds a new instance of the same class from a copy
of the instance's attributes with new leaves in place of the parameters (`__init__` is not
called), so `cr.grad(loss)(model, x, y)` returns a gradient of the model's own class and
`tree.map(lambda p, g: p - lr * g, model, grads)` a new, updated model. Copies made this way share
their buffer arrays with the original: a layer updates its buffers in place, so the update made
on the copy a transform runs is seen by the model it came from.

The static part compares equal when the hyper-parameters are equal and the buffers hold equal
values (arrays compare by value, other objects such as a random generator by identity), which is
what `cr.graph.jit` needs to key its compiled code: a graph that baked in BatchNorm's running
statistics is not reused once they change.
"""
from __future__ import annotations

import functools
import os
import weakref
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer

__all__ = ["Module", "Sequential", "functional_call"]


def _is_parameter_value(value: Any) -> bool:
    if isinstance(value, Tracer):
        return True
    return isinstance(value, (np.ndarray, np.floating, np.complexfloating)) \
        and value.dtype.kind in "fc"


def _is_module_list(value: Any) -> bool:
    return (type(value) in (list, tuple) and len(value) > 0
            and all(isinstance(m, Module) for m in value))


# ---------------------------------------------------------------------------------------------
# the pytree registration

_SIMPLE = (int, float, str, bool, type(None))


def _static_key(value: Any) -> Any:
    """A hashable stand-in for a hyper-parameter or buffer: arrays by value (their bytes),
    containers entry by entry, other unhashable objects by identity."""
    t = type(value)
    if t in _SIMPLE:
        return value
    if t is np.ndarray:
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if t is list or t is tuple:
        return (t.__name__, tuple(_static_key(v) for v in value))
    if t is dict:
        return ("dict", tuple((k, _static_key(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))  # (the object is kept alive by the state that holds it)
    return value


class _Static:
    """The static part of a flattened module: the names of its tree attributes, the rest of its
    attributes (to rebuild it), and a hashable key of the latter, made the first time it is
    compared or hashed and then kept (a compiled-code cache hashes its keys at once, so the
    key is a snapshot of the buffers' values at the call)."""

    __slots__ = ("names", "state", "_key", "_hash", "_owner")

    def __init__(self, names: tuple[str, ...], state: dict[str, Any], owner: Any = None) -> None:
        self.names = names
        self.state = state
        self._key: tuple[Any, ...] | None = None
        self._hash: int | None = None
        self._owner = owner  # (a weak reference to the module, until the key is made)

    @property
    def key(self) -> tuple[Any, ...]:
        if self._key is None:
            # (sorted: the order attributes were set in does not matter)
            self._key = tuple(sorted((k, _static_key(v)) for k, v in self.state.items()))
            ref, self._owner = self._owner, None
            owner = ref() if ref is not None else None
            if owner is not None and all(_immutable(v) for v in self.state.values()):
                # (kept for the module's next flattening: the key is what costs)
                if len(_LAST_STATIC) >= _LAST_MAX:
                    _LAST_STATIC.clear()
                _LAST_STATIC[id(owner)] = (ref, self)
        return self._key

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _Static) and self.names == other.names
                                 and self.key == other.key)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.names, self.key))
        return self._hash

    def __repr__(self) -> str:
        return f"<module fields {', '.join(self.names)}>"


def _flatten_module(module: Module) -> tuple[list[Any], _Static]:
    d = module.__dict__
    names = d.get("_tree_names", ())
    state = {k: v for k, v in d.items() if k not in names}
    state["training"] = module.training  # (the class default until train()/eval() is called)
    # the last keyed flattening's static part again when nothing in it changed: the same
    # objects, all of immutable kinds (a buffer or a list is compared by value, so it is made
    # anew); its key and hash are then not computed again (cr.jit keys every call by them)
    last = _LAST_STATIC.get(id(module))
    if last is not None and last[0]() is module and last[1].names == names \
            and len(last[1].state) == len(state) and all(
                last[1].state.get(k, _MISSING) is v for k, v in state.items()):
        return [d[n] for n in names], last[1]
    # (kept for the next flattening once its key is made, as a compiled-code cache does: a
    # module flattened without a key, a gradient on its way to an optimiser, is not)
    return [d[n] for n in names], _Static(names, state, weakref.ref(module))


def _immutable(v: Any) -> bool:
    return type(v) in _SIMPLE or (type(v) is tuple and all(type(x) in _SIMPLE for x in v))


#: id(module) -> (a weak reference to it, its last static part), for static parts of immutable
#: values only (a stale entry keeps nothing large alive; the table is cleared when full)
_LAST_STATIC: dict[int, tuple[Any, _Static]] = {}
_LAST_MAX = 256
_MISSING = object()


def _unflatten_module(cls: type, static: _Static, children: Any) -> Module:
    obj = object.__new__(cls)
    d = obj.__dict__
    d.update(static.state)
    d.update(zip(static.names, children))
    return obj


def _register(cls: type) -> None:
    tree.register(cls, _flatten_module, functools.partial(_unflatten_module, cls))


# ---------------------------------------------------------------------------------------------

class Module:
    """Base class of layers and models.

    Define `__init__` (assign parameters, submodules and hyper-parameters as attributes) and
    `forward(self, ...)`; calling the module calls `forward`. See the module docstring for how
    attributes are classified. Every subclass is a pytree whose leaves are its parameters, so
    `cr.grad(loss)(model, ...)` returns gradients shaped as a model of the same class.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> class Affine(cr.nn.Module):
    ...     def __init__(self, n):
    ...         self.scale = np.ones(n)
    ...         self.shift = np.zeros(n)
    ...     def forward(self, x):
    ...         return x * self.scale + self.shift
    >>> m = Affine(2)
    >>> print([name for name, _ in m.named_parameters()], m.num_parameters())
    ['scale', 'shift'] 4
    >>> g = cr.grad(lambda m: cnp.sum(m(np.array([1.0, 2.0]))))(m)
    >>> print(g.scale, g.shift)
    [1. 2.] [1. 1.]
    """

    training: bool = True
    _tree_names: tuple[str, ...] = ()  # parameters and submodules, in assignment order
    _buffer_names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    # -- attributes ------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        names = self._tree_names
        if name in self._buffer_names or name.startswith("_"):
            pass
        elif _is_parameter_value(value) or isinstance(value, Module) or _is_module_list(value):
            if name not in names:
                d["_tree_names"] = names + (name,)
        elif name in names:  # (a parameter set to None, say: now a hyper-parameter)
            d["_tree_names"] = tuple(n for n in names if n != name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in self._tree_names:
            d["_tree_names"] = tuple(n for n in self._tree_names if n != name)
        if name in self._buffer_names:
            d["_buffer_names"] = tuple(n for n in self._buffer_names if n != name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """Keep `value` as a buffer: state saved and loaded with the parameters but not trained.

        Such as running statistics. It is copied.

        Parameters
        ----------
        name : str
            The attribute name.
        value : array_like or None
            The array.

        Returns
        -------
        None
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: name must be a non-empty string without '.', "
                             f"got {name!r}")
        if name in self._tree_names:
            raise ValueError(f"register_buffer: {name!r} is already a parameter or submodule of "
                             f"{type(self).__name__}; pick another name")
        if value is not None:
            if isinstance(value, Tracer):
                raise TypeError(f"register_buffer({name!r}, ...): a buffer holds concrete "
                                f"values, not a traced one; buffers are not differentiated")
            value = np.array(value, copy=True)
        d = self.__dict__
        if name not in self._buffer_names:
            d["_buffer_names"] = self._buffer_names + (name,)
        d[name] = value

    # -- calling ---------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module (override it); `module(...)` calls it.

        Parameters
        ----------
        *args : Any
            The inputs.
        **kwargs : Any
            Keyword inputs.

        Returns
        -------
        Any
            The output.
        """
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined: a subclass of "
                                  f"cr.nn.Module defines forward(self, ...) to say what calling "
                                  f"it computes")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- walking the tree ------------------------------------------------------------------------
    def _entries(self, prefix: str) -> Iterator[tuple[str, Any]]:
        """(dotted name, value) of each tree attribute, submodule lists spread out."""
        d = self.__dict__
        for name in self._tree_names:
            value = d[name]
            if type(value) in (list, tuple):
                for i, m in enumerate(value):
                    yield f"{prefix}{name}.{i}", m
            else:
                yield prefix + name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """`(dotted name, array)` for every parameter.

        Depth first in assignment order (the order of the pytree's leaves): `"0.weight"`,
        `"0.bias"`, `"2.weight"`, ...

        Parameters
        ----------
        prefix : str, optional
            Prepended (with a dot) to every name.

        Returns
        -------
        Iterator of tuple
            The pairs.
        """
        for name, value in self._entries(prefix):
            if isinstance(value, Module):
                yield from value.named_parameters(name + ".")
            else:
                yield name, value

    def parameters(self) -> list[Any]:
        """The parameters, in the order of `named_parameters()`."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """`(dotted name, array)` for every buffer that is not None.

        Parameters
        ----------
        prefix : str, optional
            Prepended (with a dot) to every name.

        Returns
        -------
        Iterator of tuple
            The pairs.
        """
        for name, module in self.named_modules(prefix.rstrip(".")):
            for b in module._buffer_names:
                value = module.__dict__.get(b)
                if value is not None:
                    yield (f"{name}.{b}" if name else b), value

    def buffers(self) -> list[Any]:
        return [b for _, b in self.named_buffers()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """`(dotted name, module)` for this module and every submodule, depth first.

        Parameters
        ----------
        prefix : str, optional
            The name of this module ("" by default).

        Returns
        -------
        Iterator of tuple
            The pairs.
        """
        yield prefix, self
        for name, value in self._entries(f"{prefix}." if prefix else ""):
            if isinstance(value, Module):
                yield from value.named_modules(name)

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def children(self) -> list[Module]:
        """The direct submodules."""
        return [v for _, v in self._entries("") if isinstance(v, Module)]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold."""
        return int(sum(int(np.prod(np.shape(p))) for p in self.parameters()))

    # -- modes -----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every submodule.

        (Dropout drops, BatchNorm uses batch statistics.)

        Parameters
        ----------
        mode : bool, optional
            True for training, False for evaluation.

        Returns
        -------
        Module
            self.
        """
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode (the same as `train(False)`); returns self."""
        return self.train(False)

    # -- state -----------------------------------------------------------------------------------
    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Module, str, Any, str]]:
        """(dotted name, owning module, attribute, value, "parameter" | "buffer") for every
        entry of the state: each module's parameters and submodules in assignment order, then
        its buffers."""
        d = self.__dict__
        for name in self._tree_names:
            value = d[name]
            if isinstance(value, Module):
                yield from value._state_entries(f"{prefix}{name}.")
            elif type(value) in (list, tuple):
                for i, m in enumerate(value):
                    yield from m._state_entries(f"{prefix}{name}.{i}.")
            else:
                yield prefix + name, self, name, value, "parameter"
        for name in self._buffer_names:
            if d.get(name) is not None:
                yield prefix + name, self, name, d[name], "buffer"

    def state_dict(self) -> dict[str, np.ndarray]:
        """`{dotted name: array}` of the parameters and buffers (copies)."""
        out = {}
        for name, _, _, value, kind in self._state_entries():
            if isinstance(value, Tracer):
                raise TypeError(f"state_dict: {kind} {name!r} is a traced value (this module "
                                f"is being differentiated); call state_dict() outside the "
                                f"transform")
            out[name] = np.array(value, copy=True)
        return out

    def load_state_dict(self, state: Any, strict: bool = True) -> Module:
        """Copy the arrays of `state` into this module's parameters and buffers.

        `state` is a mapping of dotted names to arrays, as `state_dict()` makes; the arrays are
        cast to the parameters' dtypes. Every entry is checked before any is copied: a missing
        entry raises `KeyError`, an array of the wrong shape `ValueError`.

        Parameters
        ----------
        state : Mapping
            Dotted name to array.
        strict : bool, optional
            Refuse entries of `state` the module does not have (False ignores them).

        Returns
        -------
        Module
            self.

        Raises
        ------
        KeyError
            For a missing or (with `strict`) unexpected entry.
        ValueError
            For an array of the wrong shape.
        TypeError
            If `state` is not a mapping, or an entry is not numeric.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"load_state_dict: state must be a mapping of names to arrays (as "
                            f"state_dict() returns), got {type(state).__name__}")
        entries = list(self._state_entries())
        missing = [(n, v, k) for n, _, _, v, k in entries if n not in state]
        if missing:
            listed = "; ".join(f"{k} {n!r} of shape {np.shape(v)}" for n, v, k in missing)
            raise KeyError(f"load_state_dict: no entry for {listed} in the state being loaded "
                           f"into {type(self).__name__} (it has {_names(state.keys())})")
        new: list[tuple[Module, str, Any, np.ndarray, str]] = []
        for name, owner, attr, value, kind in entries:
            got = np.asarray(state[name])
            if got.dtype.kind not in "biufc":
                raise TypeError(f"load_state_dict: the entry for {kind} {name!r} has dtype "
                                f"{got.dtype}; it must be numeric")
            if got.shape != np.shape(value):
                raise ValueError(f"load_state_dict: {kind} {name!r} has shape {np.shape(value)} "
                                 f"in the model but shape {got.shape} in the state being "
                                 f"loaded; build the model with the sizes it was saved with")
            new.append((owner, attr, value, got, kind))
        if strict:
            known = {e[0] for e in entries}
            extra = [k for k in state.keys() if k not in known]
            if extra:
                raise KeyError(f"load_state_dict: {type(self).__name__} has no parameter or "
                               f"buffer named {_names(extra)}; pass strict=False to ignore "
                               f"entries the model does not have")
        for owner, attr, value, got, kind in new:
            dtype = np.result_type(value)
            if kind == "buffer" and isinstance(value, np.ndarray) and value.flags.writeable:
                # in place: copies of the module made by transforms share this array
                np.copyto(value, got.astype(dtype, copy=False))
            else:
                owner.__dict__[attr] = np.array(got, dtype=dtype, copy=True)
        return self

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write `state_dict()` to a `.npz` file (`np.savez`; the suffix is added when missing).

        Parameters
        ----------
        path : str or path-like
            The file.

        Returns
        -------
        str
            The path written.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        np.savez(path, **self.state_dict())
        return path

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load a `.npz` file written by `save` with `load_state_dict`.

        The archive is read member by member through `zipfile`, never unpickled, and each
        member's `.npy` header is checked against the model's entry of that name before any of
        its data is read.

        Parameters
        ----------
        path : str or path-like
            The file.
        strict : bool, optional
            As in `load_state_dict`.

        Returns
        -------
        Module
            self.
        """
        entries = {name: (value, kind) for name, _, _, value, kind in self._state_entries()}
        state = _read_npz(os.fspath(path), entries, strict, type(self).__name__)
        return self.load_state_dict(state, strict=strict)

    # -- printing --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The hyper-parameters shown inside the parentheses of the repr (override it)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        d = self.__dict__
        for name in self._tree_names:
            value = d[name]
            if isinstance(value, Module):
                lines.append(f"({name}): {repr(value)}")
            elif type(value) in (list, tuple):
                opening, closing = ("[", "]") if type(value) is list else ("(", ")")
                inner = [f"  ({i}): {_indent(repr(m))}" for i, m in enumerate(value)]
                lines.append("\n".join([f"({name}): {opening}", *inner, closing]))
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n" + "\n".join("  " + _indent(b) for b in body) + "\n)"


_register(Module)


def _read_npz(path: str, entries: dict[str, tuple[Any, str]], strict: bool,
              owner: str) -> dict[str, np.ndarray]:
    """The arrays of the `.npz` archive at `path` that `entries` (name -> (model value, kind))
    names, each checked by its header first (see Module.load)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"load: {path} is not a .npz archive (Module.save writes one)") from None
    with archive:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy") or info.is_dir():
                raise ValueError(f"load: {path} holds {info.filename!r}, which is not an array "
                                 f"(.npy); Module.save writes arrays only")
            key = info.filename[:-len(".npy")]
            if key in members:
                raise ValueError(f"load: {path} holds the entry {key!r} twice")
            members[key] = info
        missing = [(n, v, k) for n, (v, k) in entries.items() if n not in members]
        if missing:
            listed = "; ".join(f"{k} {n!r} of shape {np.shape(v)}" for n, v, k in missing)
            raise KeyError(f"load: no entry for {listed} in {path}, loading into {owner} (the "
                           f"file has {_names(members)})")
        extra = [k for k in members if k not in entries]
        if strict and extra:
            raise KeyError(f"load: {owner} has no parameter or buffer named {_names(extra)} (in "
                           f"{path}); pass strict=False to ignore entries the model does not "
                           f"have")
        state = {}
        for name, (value, kind) in entries.items():  # (entries the model lacks are never read)
            state[name] = _read_member(archive, members[name], path, name, value, kind)
        return state


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, name: str,
                 value: Any, kind: str) -> np.ndarray:
    """One `.npy` member, its header checked against the model's `value` before its data is
    read (so a member never decompresses beyond the size the model expects)."""
    from numpy.lib import format as npy

    want_shape, want_dtype = tuple(np.shape(value)), np.result_type(value)
    where = f"load: {kind} {name!r} (in {path})"
    try:
        with archive.open(info) as fp:
            try:
                version = npy.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = npy.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, fortran, dtype = npy.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"format version {version} (Module.save writes 1.0 or "
                                     f"2.0)")
            except (zipfile.BadZipFile, zlib.error, EOFError):
                raise  # (the archive itself, reported below)
            except Exception as exc:  # (numpy's header parser raises ValueError, SyntaxError
                # or tokenize.TokenError, depending on how the text is malformed)
                raise ValueError(f"{where}: not a .npy array header: {exc}") from None
            if dtype.hasobject or dtype.kind not in "biufc" or dtype.subdtype is not None:
                raise TypeError(f"{where} has dtype {dtype} in the file; it must be numeric "
                                f"(the model's is {want_dtype})")
            if tuple(shape) != want_shape:
                raise ValueError(f"load: {kind} {name!r} has shape {want_shape} in the "
                                 f"model but shape {tuple(shape)} in {path}; build the model "
                                 f"with the sizes it was saved with")
            if not np.can_cast(dtype, want_dtype, "same_kind"):
                raise TypeError(f"{where} has dtype {want_dtype} in the model but {dtype} in "
                                f"the file, which does not cast to it")
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            stored = info.file_size - fp.tell()
            if stored != nbytes:
                raise ValueError(f"{where}: the header says {dtype}{list(shape)}, "
                                 f"{nbytes} bytes, but the member holds {stored} bytes; the "
                                 f"file is damaged or was not written by Module.save")
            data = fp.read(nbytes)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # (a CRC, a compressed stream)
        raise ValueError(f"{where}: the archive is damaged: {exc}") from None
    except (RuntimeError, NotImplementedError) as exc:  # (encrypted, or an unknown compression)
        raise ValueError(f"{where}: the member cannot be read: {exc}; Module.save writes plain "
                         f"archives") from None
    if len(data) != nbytes:
        raise ValueError(f"{where}: the data ends after {len(data)} of {nbytes} bytes")
    flat = np.frombuffer(data, dtype=dtype)
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _indent(text: str, n: int = 2) -> str:
    return text.replace("\n", "\n" + " " * n)


def _names(names: Any) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "") if names \
        else "no entries"


def functional_call(module: Module, params: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `module` with some or all of its parameters replaced by `params`.

    `params` is a mapping of dotted names (as `named_parameters()` gives) to arrays; `module` is
    not changed. It makes a model a function of a plain dict of parameters, which every transform
    and every method differentiates: `cr.grad(lambda p: loss(functional_call(model, p, x), y),
    method=...)(dict(model.named_parameters()))` returns a dict of gradients.

    Parameters
    ----------
    module : Module
        The model.
    params : Mapping
        Dotted parameter name to its replacement.
    *args : Any
        The model's inputs.
    **kwargs : Any
        Its keyword inputs.

    Returns
    -------
    Any
        The model's output with those parameters.

    Raises
    ------
    TypeError
        If `module` is not a Module or `params` not a mapping.
    KeyError
        If `params` names a parameter the module does not have.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> lin = cr.nn.Linear(2, 1, seed=0)
    >>> params = {"weight": np.ones((2, 1)), "bias": np.zeros(1)}
    >>> print(cr.nn.functional_call(lin, params, np.ones((1, 2))))
    [[2.]]
    >>> g = cr.grad(lambda p: cnp.sum(cr.nn.functional_call(lin, p, np.ones((1, 2)))))(params)
    >>> print(g["weight"].ravel(), g["bias"])
    [1. 1.] [1.]
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be a cr.nn.Module, got "
                        f"{type(module).__name__}")
    if not hasattr(params, "keys"):
        raise TypeError(f"functional_call: params must be a mapping of parameter names to "
                        f"arrays, got {type(params).__name__}")
    leaves, structure = tree.flatten(module)
    names = [n for n, _ in module.named_parameters()]
    unknown = [k for k in params.keys() if k not in set(names)]
    if unknown:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter named "
                       f"{_names(unknown)}; its parameters are {_names(names)}")
    new = [params[n] if n in params else old for n, old in zip(names, leaves)]
    return tree.unflatten(structure, new)(*args, **kwargs)


class Sequential(Module):
    """Modules applied one after the other: `Sequential(Linear(64, 32), ReLU(), Linear(32, 10))`.

    Indexable (`model[0]`, `model[-1]`, a slice gives a new Sequential), iterable, and its
    parameters are named by position: `"0.weight"`.

    Parameters
    ----------
    *modules : Module
        The modules, in order.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> model = cr.nn.Sequential(cr.nn.Linear(3, 2, seed=0), cr.nn.ReLU())
    >>> print(model)
    Sequential(
      (0): Linear(in_features=3, out_features=2, bias=True)
      (1): ReLU()
    )
    >>> print(model(np.ones((4, 3))).shape, [name for name, _ in model.named_parameters()])
    (4, 2) ['0.weight', '0.bias']
    """

    def __init__(self, *modules: Module) -> None:
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a "
                                f"cr.nn.Module; wrap a function in a Module subclass")
            setattr(self, str(i), m)

    def _layers(self) -> list[Module]:
        d = self.__dict__
        return [d[n] for n in self._tree_names if isinstance(d[n], Module)]

    def forward(self, x: Any) -> Any:
        for layer in self._layers():
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: got a {type(module).__name__}, not a "
                            f"cr.nn.Module")
        setattr(self, str(len(self._layers())), module)
        return self

    def __len__(self) -> int:
        return len(self._layers())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers())

    def __getitem__(self, index: int | slice) -> Any:
        layers = self._layers()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        if not isinstance(index, (int, np.integer)) or not -len(layers) <= index < len(layers):
            raise IndexError(f"Sequential index {index!r} out of range for {len(layers)} "
                             f"module(s)")
        return layers[index]
