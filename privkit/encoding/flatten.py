"""Flatten model updates into one float64 vector and restore them.

An *update* is what a client contributes to an aggregation round: a numpy array, a
torch tensor, a mapping of names to arrays or tensors (a torch ``state_dict`` or a
plain ``dict``), or a list / tuple of arrays or tensors.  :func:`flatten` turns it into
a 1-D, C-contiguous ``float64`` vector plus an :class:`UpdateSpec` that records
everything needed to rebuild it; :func:`unflatten` rebuilds it.

The conversion to float64 is exact for every accepted dtype (``bool``, all integer
types with ``|v| <= 2**53``, ``float16``, ``bfloat16``, ``float32``, ``float64``), so
``unflatten(*flatten(x))`` equals ``x`` exactly.

torch is optional.  It is never imported by this module at import time, nor by
:func:`flatten`: a tensor can only exist once torch has been imported, so an input is
recognised as a tensor by looking torch up in :data:`sys.modules`.  :func:`unflatten`
imports torch (through :func:`privkit._backends.require`) only when the spec says the
update held tensors.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt

from privkit._backends import require
from privkit.errors import DecodeError, ParameterError

__all__ = ["EntrySpec", "UpdateSpec", "flatten", "unflatten"]

Kind = Literal["ndarray", "tensor", "mapping", "sequence"]
Framework = Literal["numpy", "torch"]

#: Integers of larger magnitude are not all exactly representable in float64.
FLOAT64_EXACT_INT: Final = 2**53

#: Format version written by :meth:`UpdateSpec.to_dict`.
SPEC_VERSION: Final = 1

_KINDS: Final = ("ndarray", "tensor", "mapping", "sequence")
_CONTAINERS: Final[dict[str, tuple[str | None, ...]]] = {
    "ndarray": (None,),
    "tensor": (None,),
    "mapping": ("dict", "OrderedDict"),
    "sequence": ("list", "tuple"),
}

# numpy dtype names that flatten accepts (and unflatten restores)
_NUMPY_DTYPES: Final = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    }
)
# torch dtype names (``str(tensor.dtype)``) -> the numpy dtype their values pass through
_TORCH_DTYPES: Final[dict[str, str]] = {
    "torch.bool": "bool",
    "torch.int8": "int8",
    "torch.int16": "int16",
    "torch.int32": "int32",
    "torch.int64": "int64",
    "torch.uint8": "uint8",
    "torch.uint16": "uint16",
    "torch.uint32": "uint32",
    "torch.uint64": "uint64",
    "torch.float16": "float32",
    "torch.bfloat16": "float32",
    "torch.float32": "float32",
    "torch.float64": "float64",
}

_MAX_NDIM: Final = 64
_MAX_DEVICE_LEN: Final = 64
_SPEC_KEYS: Final = frozenset({"version", "kind", "container", "length", "entries"})
_ENTRY_KEYS: Final = frozenset({"name", "shape", "dtype", "framework", "device"})


@dataclass(frozen=True)
class EntrySpec:
    """How one array or tensor of an update is laid out in the flat vector.

    Attributes:
        name: the key in the mapping, or ``None`` for arrays, tensors and sequence items.
        shape: the shape, a tuple of non-negative ints (``()`` for a 0-d array).
        dtype: the numpy dtype name (``"float32"``, ``"int64"``, ``"bool"``, ...) for
            numpy entries, ``str(tensor.dtype)`` (``"torch.bfloat16"``, ...) for torch.
        framework: ``"numpy"`` or ``"torch"``.
        device: the torch device string (``"cpu"``, ``"cuda:0"``); ``None`` for numpy.

    Raises:
        ParameterError: on construction, if a field has the wrong type or value.
    """

    name: str | None
    shape: tuple[int, ...]
    dtype: str
    framework: Framework
    device: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None and not isinstance(self.name, str):
            raise ParameterError(f"entry name must be a str or None, got {type(self.name)!r}")
        if not isinstance(self.shape, tuple):
            raise ParameterError(f"entry shape must be a tuple, got {type(self.shape)!r}")
        if len(self.shape) > _MAX_NDIM:
            raise ParameterError(
                f"entry shape has {len(self.shape)} dimensions; at most {_MAX_NDIM} are allowed"
            )
        for dim in self.shape:
            if type(dim) is not int or dim < 0:
                raise ParameterError(f"entry shape must hold non-negative ints, got {self.shape!r}")
        if self.framework == "numpy":
            if self.dtype not in _NUMPY_DTYPES:
                raise ParameterError(
                    f"numpy entry dtype {self.dtype!r} is not supported; "
                    f"expected one of {sorted(_NUMPY_DTYPES)}"
                )
            if self.device is not None:
                raise ParameterError("a numpy entry has no device; device must be None")
        elif self.framework == "torch":
            if self.dtype not in _TORCH_DTYPES:
                raise ParameterError(
                    f"torch entry dtype {self.dtype!r} is not supported; "
                    f"expected one of {sorted(_TORCH_DTYPES)}"
                )
            if (
                not isinstance(self.device, str)
                or not 0 < len(self.device) <= _MAX_DEVICE_LEN
                or not self.device.isprintable()
            ):
                raise ParameterError(
                    "a torch entry needs its device as a non-empty printable str "
                    f"of at most {_MAX_DEVICE_LEN} characters, got {self.device!r}"
                )
        else:
            raise ParameterError(
                f"entry framework must be 'numpy' or 'torch', got {self.framework!r}"
            )

    @property
    def size(self) -> int:
        """The number of elements (the product of ``shape``; 1 for a 0-d entry)."""
        return math.prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a dict of str / int / list / None values."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "framework": self.framework,
            "device": self.device,
        }


@dataclass(frozen=True)
class UpdateSpec:
    """Everything :func:`unflatten` needs to rebuild an update from its flat vector.

    Entries are laid out in the vector one after the other, in ``entries`` order, each
    in C (row-major) order.

    Attributes:
        kind: ``"ndarray"`` (one numpy array), ``"tensor"`` (one torch tensor),
            ``"mapping"`` (names to arrays / tensors) or ``"sequence"`` (a list / tuple).
        entries: one :class:`EntrySpec` per array or tensor, in vector order.
        container: the container type to rebuild: ``"dict"`` or ``"OrderedDict"`` for a
            mapping, ``"list"`` or ``"tuple"`` for a sequence, ``None`` otherwise.
            Defaults to ``"dict"`` / ``"list"`` when left out for those kinds.

    Raises:
        ParameterError: on construction, if the fields are inconsistent (an ndarray spec
            with two entries, a mapping entry without a name, repeated names, ...).
    """

    kind: Kind
    entries: tuple[EntrySpec, ...]
    container: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ParameterError(f"spec kind must be one of {list(_KINDS)}, got {self.kind!r}")
        if not isinstance(self.entries, tuple) or not all(
            isinstance(e, EntrySpec) for e in self.entries
        ):
            raise ParameterError("spec entries must be a tuple of EntrySpec")
        if self.container is None and self.kind == "mapping":
            object.__setattr__(self, "container", "dict")
        elif self.container is None and self.kind == "sequence":
            object.__setattr__(self, "container", "list")
        allowed = _CONTAINERS[self.kind]
        if self.container not in allowed:
            raise ParameterError(
                f"container of a {self.kind} spec must be one of {list(allowed)}, "
                f"got {self.container!r}"
            )
        if self.kind in ("ndarray", "tensor"):
            want = "numpy" if self.kind == "ndarray" else "torch"
            if len(self.entries) != 1:
                raise ParameterError(
                    f"a {self.kind} spec has exactly one entry, got {len(self.entries)}"
                )
            if self.entries[0].framework != want or self.entries[0].name is not None:
                raise ParameterError(
                    f"the entry of a {self.kind} spec must be an unnamed {want} entry"
                )
        elif self.kind == "mapping":
            names = [e.name for e in self.entries]
            if any(n is None for n in names):
                raise ParameterError("every entry of a mapping spec needs a name")
            if len(set(names)) != len(names):
                raise ParameterError("entry names of a mapping spec must be unique")
        elif any(e.name is not None for e in self.entries):
            raise ParameterError("entries of a sequence spec have no names (name=None)")

    @property
    def length(self) -> int:
        """The total number of elements: the length of the flat vector."""
        return sum(e.size for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data (str / int / list / dict / None values only).

        The result can be carried in a ``privkit.wire`` body and read back with
        :meth:`from_dict`.

        Returns:
            ``{"version": 1, "kind": ..., "container": ..., "length": ...,
            "entries": [{"name", "shape", "dtype", "framework", "device"}, ...]}``.
        """
        return {
            "version": SPEC_VERSION,
            "kind": self.kind,
            "container": self.container,
            "length": self.length,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: object) -> UpdateSpec:
        """Rebuild a spec from :meth:`to_dict` output, validating everything it reads.

        Args:
            data: the dict, typically decoded from untrusted bytes.

        Returns:
            The spec.

        Raises:
            DecodeError: ``data`` is not a well-formed spec: wrong or missing keys, wrong
                types, unknown version / kind / dtype / framework, negative or non-int
                shapes, a ``length`` that is not the sum of the entry sizes, or
                inconsistent fields.
        """
        if not isinstance(data, Mapping):
            raise DecodeError(f"update spec must be a dict, got {type(data).__name__}")
        keys = set(data.keys())
        if keys != _SPEC_KEYS:
            raise DecodeError(
                f"update spec keys must be {sorted(_SPEC_KEYS)}, got {sorted(map(str, keys))}"
            )
        version = data["version"]
        if type(version) is not int or version != SPEC_VERSION:
            raise DecodeError(f"update spec version must be {SPEC_VERSION}, got {version!r}")
        kind = data["kind"]
        if not isinstance(kind, str) or kind not in _KINDS:
            raise DecodeError(f"update spec kind must be one of {list(_KINDS)}, got {kind!r}")
        container = data["container"]
        if container is not None and not isinstance(container, str):
            raise DecodeError(f"update spec container must be a str or None, got {container!r}")
        length = data["length"]
        if type(length) is not int or length < 0:
            raise DecodeError(f"update spec length must be a non-negative int, got {length!r}")
        raw_entries = data["entries"]
        if not isinstance(raw_entries, list):
            raise DecodeError(
                f"update spec entries must be a list, got {type(raw_entries).__name__}"
            )
        entries = tuple(_entry_from_dict(i, raw) for i, raw in enumerate(raw_entries))
        try:
            spec = cls(kind=cast(Kind, kind), entries=entries, container=container)
        except ParameterError as exc:
            raise DecodeError(f"inconsistent update spec: {exc}") from None
        if spec.container != container:
            raise DecodeError(
                f"update spec container must be given for a {kind} spec, got {container!r}"
            )
        if spec.length != length:
            raise DecodeError(
                f"update spec length {length} does not match its entries, "
                f"whose sizes add up to {spec.length}"
            )
        return spec


def _entry_from_dict(index: int, raw: object) -> EntrySpec:
    if not isinstance(raw, Mapping):
        raise DecodeError(f"update spec entry {index} must be a dict, got {type(raw).__name__}")
    keys = set(raw.keys())
    if keys != _ENTRY_KEYS:
        raise DecodeError(
            f"update spec entry {index} keys must be {sorted(_ENTRY_KEYS)}, "
            f"got {sorted(map(str, keys))}"
        )
    shape = raw["shape"]
    if not isinstance(shape, list):
        raise DecodeError(f"update spec entry {index}: shape must be a list, got {shape!r}")
    for field in ("dtype", "framework"):
        if not isinstance(raw[field], str):
            raise DecodeError(f"update spec entry {index}: {field} must be a str")
    try:
        return EntrySpec(
            name=raw["name"],
            shape=tuple(shape),
            dtype=raw["dtype"],
            framework=raw["framework"],
            device=raw["device"],
        )
    except ParameterError as exc:
        raise DecodeError(f"update spec entry {index}: {exc}") from None


# ---------------------------------------------------------------------------- flatten


def _torch_module() -> Any:
    """The torch module if it has been imported, else ``None`` (never imports torch)."""
    return sys.modules.get("torch")


def _is_tensor(obj: object) -> bool:
    torch = _torch_module()
    return torch is not None and isinstance(obj, torch.Tensor)


def _describe(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _check_int_range(arr: npt.NDArray[Any], where: str) -> None:
    """Raise if an integer array holds a value that float64 cannot represent exactly."""
    if arr.dtype.itemsize < 8 or arr.size == 0:
        return  # every 8-, 16- and 32-bit integer is exact in float64
    lo, hi = int(arr.min()), int(arr.max())
    if lo < -FLOAT64_EXACT_INT or hi > FLOAT64_EXACT_INT:
        bad = hi if hi > FLOAT64_EXACT_INT else lo
        raise ParameterError(
            f"{where}: integer value {bad} has magnitude above 2**53 and cannot be "
            "represented exactly in the float64 vector; scale it down or use a float dtype"
        )


def _numpy_entry(arr: npt.NDArray[Any], name: str | None, where: str) -> EntrySpec:
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype.itemsize > 8:
        raise ParameterError(
            f"{where}: dtype {arr.dtype.name} cannot be converted exactly to float64; "
            "convert it to float64 first"
        )
    if kind not in "biuf" or arr.dtype.name not in _NUMPY_DTYPES:
        raise ParameterError(
            f"{where}: dtype {arr.dtype.name!r} is not supported; an update holds real "
            f"numbers or booleans ({', '.join(sorted(_NUMPY_DTYPES))})"
        )
    if kind in "iu":
        _check_int_range(arr, where)
    return EntrySpec(name=name, shape=tuple(arr.shape), dtype=arr.dtype.name, framework="numpy")


def _tensor_values(tensor: Any, name: str | None, where: str) -> tuple[Any, EntrySpec]:
    """Return (a numpy array with the tensor's exact values, its entry spec)."""
    torch = _torch_module()
    dtype = str(tensor.dtype)
    if dtype not in _TORCH_DTYPES:
        raise ParameterError(
            f"{where}: torch dtype {dtype} is not supported; an update holds real numbers "
            f"or booleans ({', '.join(sorted(_TORCH_DTYPES))})"
        )
    if tensor.layout != torch.strided:
        raise ParameterError(
            f"{where}: tensor layout {tensor.layout} is not supported; "
            "pass a dense tensor (tensor.to_dense())"
        )
    device = str(tensor.device)
    if tensor.device.type == "meta":
        raise ParameterError(f"{where}: a tensor on the meta device holds no values")
    values = tensor.detach().cpu()
    if dtype in ("torch.float16", "torch.bfloat16"):
        values = values.to(torch.float32)
    arr = values.numpy()
    if arr.dtype.kind in "iu":
        _check_int_range(arr, where)
    entry = EntrySpec(
        name=name,
        shape=tuple(int(d) for d in tensor.shape),
        dtype=dtype,
        framework="torch",
        device=device,
    )
    return arr, entry


def _leaf(obj: object, name: str | None, where: str) -> tuple[npt.NDArray[Any], EntrySpec]:
    if isinstance(obj, np.ndarray):
        return obj, _numpy_entry(obj, name, where)
    if _is_tensor(obj):
        return _tensor_values(obj, name, where)
    raise ParameterError(
        f"{where}: expected a numpy.ndarray or torch.Tensor, got {_describe(obj)}; "
        "convert it with numpy.asarray(...)"
    )


def flatten(update: object) -> tuple[npt.NDArray[np.float64], UpdateSpec]:
    """Turn an update into a flat float64 vector and the spec to rebuild it.

    Args:
        update: a ``numpy.ndarray`` of any shape with a real numeric or bool dtype; a
            ``torch.Tensor`` (any device; ``requires_grad`` is fine, values are
            detached and copied to the CPU); a ``Mapping[str, ndarray | Tensor]`` such
            as a torch ``state_dict`` or a plain dict; or a list / tuple of arrays /
            tensors.  Non-finite values are allowed here.

    Returns:
        ``(vector, spec)``: ``vector`` is a new 1-D, C-contiguous ``float64`` array
        holding every entry in order (mapping order / list order, each entry in C
        order), converted exactly; ``spec`` is the :class:`UpdateSpec` for
        :func:`unflatten`.

    Raises:
        ParameterError: an unsupported type or dtype (complex, object, string,
            ``longdouble``, float8, sparse or meta tensors), a non-str mapping key, or
            an integer entry with ``|v| > 2**53`` (not exactly representable in float64).
    """
    leaves: list[tuple[npt.NDArray[Any], EntrySpec]]
    container: str | None = None
    if isinstance(update, np.ndarray):
        kind: Kind = "ndarray"
        leaves = [_leaf(update, None, "update")]
    elif _is_tensor(update):
        kind = "tensor"
        leaves = [_leaf(update, None, "update")]
    elif isinstance(update, Mapping):
        kind = "mapping"
        container = "OrderedDict" if isinstance(update, OrderedDict) else "dict"
        leaves = []
        for key, value in update.items():
            if not isinstance(key, str):
                raise ParameterError(f"mapping keys of an update must be str, got {_describe(key)}")
            leaves.append(_leaf(value, key, f"update[{key!r}]"))
    elif isinstance(update, list | tuple):
        kind = "sequence"
        container = "tuple" if isinstance(update, tuple) else "list"
        leaves = [_leaf(v, None, f"update[{i}]") for i, v in enumerate(update)]
    else:
        raise ParameterError(
            f"cannot flatten {_describe(update)}: expected a numpy.ndarray, a torch.Tensor, "
            "a mapping of str to arrays / tensors (e.g. a state_dict), or a list / tuple "
            "of arrays / tensors"
        )
    spec = UpdateSpec(kind=kind, entries=tuple(e for _, e in leaves), container=container)
    vector = np.empty(spec.length, dtype=np.float64)
    offset = 0
    for arr, entry in leaves:
        n = entry.size
        vector[offset : offset + n] = np.asarray(arr).reshape(-1)
        offset += n
    return vector, spec


# -------------------------------------------------------------------------- unflatten


def _restore_numpy(segment: npt.NDArray[np.float64], dtype_name: str) -> npt.NDArray[Any]:
    """Cast float64 values to ``dtype_name`` (a new array, never a view of ``segment``)."""
    dtype = np.dtype(dtype_name)
    if dtype.kind == "b":
        return np.not_equal(segment, 0)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # overflow to +-inf is the right float answer
            return segment.astype(dtype, copy=True)
    # integers: round to nearest (half to even), clip to the dtype range, cast
    if np.isnan(segment).any():
        raise ParameterError(f"cannot restore NaN into an entry of integer dtype {dtype_name}")
    info = np.iinfo(dtype)
    lo = float(info.min)  # 0 or -2**k: exact
    hi = float(info.max)
    if int(hi) > int(info.max):  # 2**63 - 1 and 2**64 - 1 round up in float64
        hi = float(np.nextafter(hi, -np.inf))
    return np.clip(np.rint(segment), lo, hi).astype(dtype)


def _restore_tensor(
    segment: npt.NDArray[np.float64], entry: EntrySpec, torch: Any, device: object
) -> Any:
    if entry.dtype in ("torch.float16", "torch.bfloat16", "torch.float32", "torch.float64"):
        values = torch.from_numpy(np.array(segment, dtype=np.float64, copy=True))
        values = values.to(getattr(torch, entry.dtype.removeprefix("torch.")))
    else:
        values = torch.from_numpy(_restore_numpy(segment, _TORCH_DTYPES[entry.dtype]))
    values = values.reshape(entry.shape)
    target = entry.device if device is None else device
    try:
        return values.to(target)
    except (RuntimeError, AssertionError, ValueError, TypeError) as exc:
        raise ParameterError(
            f"cannot place the restored tensor on device {target!r} ({exc}); "
            "pass device='cpu' (or another available device) to unflatten"
        ) from None


def unflatten(vector: npt.ArrayLike, spec: UpdateSpec, *, device: object = None) -> Any:
    """Rebuild an update from its flat vector and spec (the inverse of :func:`flatten`).

    Args:
        vector: a 1-D array-like of real numbers with exactly ``spec.length`` elements
            (typically float64, e.g. an aggregate).
        spec: the :class:`UpdateSpec` returned by :func:`flatten` (or
            :meth:`UpdateSpec.from_dict`).
        device: for torch entries, the device to put them on (a str or
            ``torch.device``) instead of the recorded one.  Ignored for numpy entries.

    Returns:
        An object of the recorded kind: a numpy array, a torch tensor, a ``dict`` /
        ``OrderedDict`` of names to arrays / tensors, or a list / tuple.  Each entry has
        its recorded shape and dtype and is a new array (not a view of ``vector``).
        Float dtypes are rounded to nearest; integer dtypes are rounded to nearest
        (half to even), clipped to the dtype range and cast; bool entries are
        ``value != 0``.

    Raises:
        ParameterError: ``vector`` is not 1-D, its size is not ``spec.length``, it is
            not real-valued, an integer entry would receive NaN, or a tensor cannot be
            placed on the requested device.
        BackendUnavailableError: the spec holds torch entries and torch is not installed.
    """
    if not isinstance(spec, UpdateSpec):
        raise ParameterError(f"spec must be an UpdateSpec, got {_describe(spec)}")
    arr = np.asarray(vector)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"vector must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size != spec.length:
        raise ParameterError(
            f"vector must be 1-D with {spec.length} elements (the spec's length), "
            f"got shape {arr.shape} with {arr.size} elements"
        )
    flat = arr.astype(np.float64, copy=False)
    torch: Any = None
    if any(e.framework == "torch" for e in spec.entries):
        torch = require("torch", feature="restoring torch tensors with unflatten")
    restored: list[Any] = []
    offset = 0
    for entry in spec.entries:
        n = entry.size
        segment = flat[offset : offset + n]
        offset += n
        if entry.framework == "torch":
            restored.append(_restore_tensor(segment, entry, torch, device))
        else:
            restored.append(_restore_numpy(segment, entry.dtype).reshape(entry.shape))
    if spec.kind in ("ndarray", "tensor"):
        return restored[0]
    if spec.kind == "sequence":
        return tuple(restored) if spec.container == "tuple" else restored
    pairs = [(e.name, value) for e, value in zip(spec.entries, restored, strict=True)]
    return OrderedDict(pairs) if spec.container == "OrderedDict" else dict(pairs)
