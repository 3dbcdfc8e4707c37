"""Tests of privkit.encoding.flatten: update <-> flat float64 vector + UpdateSpec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from privkit.encoding import EntrySpec, UpdateSpec, flatten, unflatten
from privkit.errors import BackendUnavailableError, DecodeError, ParameterError

REPO_ROOT = Path(__file__).resolve().parents[1]

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOAT_DTYPES = ["float16", "float32", "float64"]
ALL_DTYPES = ["bool", *INT_DTYPES, *FLOAT_DTYPES]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


def _elements(dtype: np.dtype[Any]) -> st.SearchStrategy[Any] | None:
    """Values of ``dtype``; 64-bit integers limited to the float64-exact range."""
    if dtype == np.int64:
        return st.integers(-(2**53), 2**53)
    if dtype == np.uint64:
        return st.integers(0, 2**53)
    return None  # hypothesis' default for the dtype (floats include NaN, inf, -0.0)


@st.composite
def numpy_arrays(draw: st.DrawFn, dtypes: list[str] = ALL_DTYPES) -> np.ndarray[Any, Any]:
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    return draw(hnp.arrays(dtype, SHAPES, elements=_elements(dtype)))


def assert_same_array(got: object, want: np.ndarray[Any, Any]) -> None:
    """Exact equality: type, dtype, shape, values (NaN == NaN), sign of zeros."""
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want, strict=True)
    if want.dtype.kind == "f":
        assert np.array_equal(np.signbit(got), np.signbit(want))


def assert_vector(vector: object, spec: UpdateSpec) -> None:
    assert isinstance(vector, np.ndarray)
    assert vector.dtype == np.float64
    assert vector.ndim == 1
    assert vector.flags.c_contiguous
    assert vector.size == spec.length


# ------------------------------------------------------------------ numpy round trips


@given(numpy_arrays())
def test_ndarray_round_trip(array: np.ndarray[Any, Any]) -> None:
    vector, spec = flatten(array)
    assert_vector(vector, spec)
    assert spec.kind == "ndarray"
    assert spec.container is None
    assert spec.entries == (
        EntrySpec(name=None, shape=array.shape, dtype=array.dtype.name, framework="numpy"),
    )
    np.testing.assert_array_equal(vector, array.astype(np.float64).ravel())
    assert_same_array(unflatten(vector, spec), array)


@given(numpy_arrays())
def test_non_contiguous_arrays_flatten_in_c_order(array: np.ndarray[Any, Any]) -> None:
    view = array.T[..., ::-1] if array.ndim else array
    vector, spec = flatten(view)
    np.testing.assert_array_equal(vector, view.astype(np.float64).ravel(order="C"))
    assert_same_array(unflatten(vector, spec), view.copy(order="C"))


@given(
    st.dictionaries(st.text(max_size=8), numpy_arrays(), max_size=5),
    st.booleans(),
)
def test_mapping_round_trip(mapping: dict[str, np.ndarray[Any, Any]], ordered: bool) -> None:
    update: dict[str, np.ndarray[Any, Any]] = OrderedDict(mapping) if ordered else mapping
    vector, spec = flatten(update)
    assert_vector(vector, spec)
    assert spec.kind == "mapping"
    assert spec.container == ("OrderedDict" if ordered else "dict")
    assert [e.name for e in spec.entries] == list(update)
    expected = [a.astype(np.float64).ravel() for a in update.values()]
    np.testing.assert_array_equal(vector, np.concatenate([np.zeros(0), *expected]))
    restored = unflatten(vector, spec)
    assert type(restored) is (OrderedDict if ordered else dict)
    assert list(restored) == list(update)
    for key, array in update.items():
        assert_same_array(restored[key], array)


@given(st.lists(numpy_arrays(), max_size=5), st.booleans())
def test_sequence_round_trip(arrays: list[np.ndarray[Any, Any]], as_tuple: bool) -> None:
    update: list[Any] | tuple[Any, ...] = tuple(arrays) if as_tuple else arrays
    vector, spec = flatten(update)
    assert_vector(vector, spec)
    assert spec.kind == "sequence"
    assert spec.container == ("tuple" if as_tuple else "list")
    restored = unflatten(vector, spec)
    assert type(restored) is type(update)
    assert len(restored) == len(update)
    for got, want in zip(restored, update, strict=True):
        assert_same_array(got, want)


@pytest.mark.parametrize("update", [{}, OrderedDict(), [], ()])
def test_empty_containers(update: Any) -> None:
    vector, spec = flatten(update)
    assert vector.shape == (0,)
    assert vector.dtype == np.float64
    assert spec.length == 0
    restored = unflatten(vector, spec)
    assert type(restored) is type(update)
    assert len(restored) == 0


def test_zero_d_and_zero_size_entries() -> None:
    update = {"scalar": np.array(2.5), "empty": np.zeros((3, 0)), "one": np.ones(1, np.int8)}
    vector, spec = flatten(update)
    assert [e.size for e in spec.entries] == [1, 0, 1]
    assert spec.length == 2
    np.testing.assert_array_equal(vector, [2.5, 1.0])
    restored = unflatten(vector, spec)
    assert restored["scalar"].shape == ()
    assert restored["empty"].shape == (3, 0)
    assert_same_array(restored["one"], update["one"])


def test_flatten_copies_and_unflatten_returns_new_arrays() -> None:
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    vector, spec = flatten(array)
    vector[0] = 99.0
    assert array[0, 0] == 0.0
    restored = unflatten(vector, spec)
    restored[0, 0] = -1.0
    assert vector[0] == 99.0


def test_non_native_byte_order_is_read_correctly() -> None:
    array = np.array([1.5, -2.25, 3.0], dtype=">f8")
    vector, spec = flatten(array)
    np.testing.assert_array_equal(vector, [1.5, -2.25, 3.0])
    assert spec.entries[0].dtype == "float64"


# ------------------------------------------------------------------------ rejections


@pytest.mark.parametrize("value", [2**53, -(2**53)], ids=["max", "min"])
def test_int64_at_the_float64_exact_limit_is_accepted(value: int) -> None:
    vector, spec = flatten(np.array([value], dtype=np.int64))
    assert int(vector[0]) == value
    assert int(unflatten(vector, spec)[0]) == value


@pytest.mark.parametrize(
    "array",
    [
        np.array([2**53 + 1], dtype=np.int64),
        np.array([0, -(2**53) - 1], dtype=np.int64),
        np.array([2**64 - 1], dtype=np.uint64),
        np.array([np.iinfo(np.int64).min], dtype=np.int64),
    ],
    ids=["int64-above", "int64-below", "uint64-max", "int64-min"],
)
def test_integers_beyond_2_53_are_rejected(array: np.ndarray[Any, Any]) -> None:
    with pytest.raises(ParameterError, match="2\\*\\*53"):
        flatten(array)
    with pytest.raises(ParameterError, match="2\\*\\*53"):
        flatten({"w": np.zeros(2), "big": array})


@pytest.mark.parametrize(
    "array",
    [
        np.array([1 + 2j]),
        np.array([1.0], dtype=object),
        np.array(["a"]),
        np.array([b"a"]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype=np.longdouble),
        np.zeros(2, dtype=[("a", "f8")]),
    ],
    ids=["complex", "object", "str", "bytes", "datetime", "timedelta", "longdouble", "struct"],
)
def test_unsupported_dtypes_are_rejected(array: np.ndarray[Any, Any]) -> None:
    if array.dtype == np.float64:  # platforms whose longdouble is float64
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(ParameterError, match="dtype"):
        flatten(array)
    with pytest.raises(ParameterError):
        flatten([np.zeros(1), array])


@pytest.mark.parametrize(
    "update",
    [
        1.5,
        3,
        "abc",
        None,
        b"x",
        [1.0, 2.0],
        {"a": 1.0},
        {"a": [1.0]},
        {"a": {"b": np.zeros(1)}},
        (np.zeros(1), np.float64(1.0)),
        np.float32(2.0),
        {1: np.zeros(1)},
        {("a",): np.zeros(1)},
    ],
)
def test_unsupported_update_types_are_rejected(update: object) -> None:
    with pytest.raises(ParameterError):
        flatten(update)


def test_non_finite_values_are_allowed() -> None:
    array = np.array([np.nan, np.inf, -np.inf, -0.0], dtype=np.float32)
    vector, spec = flatten(array)
    assert np.isnan(vector[0])
    assert vector[1] == np.inf
    assert vector[2] == -np.inf
    assert_same_array(unflatten(vector, spec), array)


# ------------------------------------------------------------------------- unflatten


@pytest.mark.parametrize("size", [0, 5, 7, 100])
def test_unflatten_rejects_wrong_sizes(size: int) -> None:
    _, spec = flatten({"a": np.zeros((2, 3)), "b": np.zeros(0)})
    with pytest.raises(ParameterError, match=f"6 elements.*{size} elements"):
        unflatten(np.zeros(size), spec)


@pytest.mark.parametrize("vector", [np.zeros((2, 3)), np.zeros((6, 1)), np.float64(1.0)])
def test_unflatten_rejects_non_1d_vectors(vector: Any) -> None:
    _, spec = flatten(np.zeros(6) if np.ndim(vector) else np.zeros(1))
    with pytest.raises(ParameterError, match="1-D"):
        unflatten(vector, spec)


def test_unflatten_rejects_non_real_vectors_and_bad_specs() -> None:
    _, spec = flatten(np.zeros(2))
    with pytest.raises(ParameterError, match="real"):
        unflatten(np.zeros(2, dtype=complex), spec)
    with pytest.raises(ParameterError, match="UpdateSpec"):
        unflatten(np.zeros(2), spec.to_dict())  # type: ignore[arg-type]


def _spec(dtype: str, n: int) -> UpdateSpec:
    return UpdateSpec(
        kind="ndarray", entries=(EntrySpec(name=None, shape=(n,), dtype=dtype, framework="numpy"),)
    )


def test_unflatten_rounds_and_clips_integers() -> None:
    values = np.array([1.5, 2.5, -1.6, 0.4999, 300.0, -300.0, np.inf, -np.inf])
    got = unflatten(values, _spec("int8", values.size))
    assert got.dtype == np.int8
    assert got.tolist() == [2, 2, -2, 0, 127, -128, 127, -128]
    got = unflatten(values, _spec("uint8", values.size))
    assert got.tolist() == [2, 2, 0, 0, 255, 0, 255, 0]


def test_unflatten_clips_64_bit_integers_without_overflow() -> None:
    values = np.array([1e30, -1e30, 2.0**63, -(2.0**63)])
    got = unflatten(values, _spec("int64", 4))
    # 2**63 - 1 is not a float64; the largest float64 below 2**63 is 2**63 - 1024
    assert got.tolist() == [2**63 - 1024, -(2**63), 2**63 - 1024, -(2**63)]
    got = unflatten(values, _spec("uint64", 4))
    assert got.tolist() == [2**64 - 2048, 0, 2**63, 0]


def test_unflatten_bool_is_nonzero_and_floats_round_to_nearest() -> None:
    got = unflatten(np.array([0.0, -0.0, 0.5, -2.0]), _spec("bool", 4))
    assert got.dtype == np.bool_
    assert got.tolist() == [False, False, True, True]
    got = unflatten(np.array([0.1, 1e300]), _spec("float32", 2))
    assert got.dtype == np.float32
    assert got[0] == np.float32(0.1)
    assert got[1] == np.inf


def test_unflatten_rejects_nan_for_integer_entries() -> None:
    with pytest.raises(ParameterError, match="NaN"):
        unflatten(np.array([1.0, np.nan]), _spec("int32", 2))


def test_unflatten_accepts_array_likes_and_other_real_dtypes() -> None:
    spec = _spec("float64", 3)
    np.testing.assert_array_equal(unflatten([1, 2, 3], spec), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(unflatten(np.arange(3, dtype=np.int32), spec), [0.0, 1.0, 2.0])


# ---------------------------------------------------------------------- UpdateSpec


def _only_plain_data(value: object) -> bool:
    if value is None or isinstance(value, str) or type(value) is int:
        return True
    if isinstance(value, list):
        return all(_only_plain_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain_data(v) for k, v in value.items())
    return False


@given(st.dictionaries(st.text(max_size=8), numpy_arrays(), max_size=5), st.booleans())
def test_spec_dict_round_trip(mapping: dict[str, np.ndarray[Any, Any]], as_list: bool) -> None:
    update: Any = list(mapping.values()) if as_list else OrderedDict(mapping)
    _, spec = flatten(update)
    data = spec.to_dict()
    assert _only_plain_data(data)
    assert data["length"] == spec.length
    assert UpdateSpec.from_dict(data) == spec
    assert UpdateSpec.from_dict(json.loads(json.dumps(data))) == spec


def test_spec_length_counts_elements() -> None:
    _, spec = flatten([np.zeros((2, 3)), np.array(1.0), np.zeros((4, 0, 2))])
    assert [e.size for e in spec.entries] == [6, 1, 0]
    assert spec.length == 7


def _valid() -> dict[str, Any]:
    return {
        "version": 1,
        "kind": "mapping",
        "container": "dict",
        "length": 7,
        "entries": [
            {
                "name": "w",
                "shape": [2, 3],
                "dtype": "float32",
                "framework": "numpy",
                "device": None,
            },
            {
                "name": "b",
                "shape": [],
                "dtype": "torch.bfloat16",
                "framework": "torch",
                "device": "cpu",
            },
        ],
    }


def _set(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = _valid()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _drop(path: tuple[Any, ...]) -> dict[str, Any]:
    data = _valid()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


HOSTILE_SPECS = {
    "not-a-dict": [("kind", "mapping")],
    "string": "mapping",
    "missing-key": _drop(("length",)),
    "extra-key": _set(("extra",), 1),
    "version-2": _set(("version",), 2),
    "version-str": _set(("version",), "1"),
    "version-bool": _set(("version",), True),
    "kind-unknown": _set(("kind",), "matrix"),
    "kind-int": _set(("kind",), 3),
    "container-wrong": _set(("container",), "list"),
    "container-int": _set(("container",), 1),
    "length-negative": _set(("length",), -7),
    "length-mismatch": _set(("length",), 8),
    "length-short": _set(("length",), 6),
    "length-float": _set(("length",), 7.0),
    "length-bool": _set(("length",), True),
    "entries-dict": _set(("entries",), {"w": 1}),
    "entries-none": _set(("entries",), None),
    "entry-not-dict": _set(("entries", 0), ["w", [2, 3]]),
    "entry-missing": _drop(("entries", 0, "dtype")),
    "entry-extra": _set(("entries", 0, "extra"), 0),
    "shape-negative": _set(("entries", 0, "shape"), [-2, -3]),
    "shape-float": _set(("entries", 0, "shape"), [2.0, 3]),
    "shape-bool": _set(("entries", 0, "shape"), [True, 6]),
    "shape-str": _set(("entries", 0, "shape"), "23"),
    "shape-nested": _set(("entries", 0, "shape"), [[2], 3]),
    "shape-huge-ndim": _set(("entries", 0, "shape"), [1] * 65),
    "dtype-unknown": _set(("entries", 0, "dtype"), "complex128"),
    "dtype-object": _set(("entries", 0, "dtype"), "object"),
    "dtype-int": _set(("entries", 0, "dtype"), 4),
    "dtype-torch-on-numpy": _set(("entries", 0, "dtype"), "torch.float32"),
    "dtype-numpy-on-torch": _set(("entries", 1, "dtype"), "float32"),
    "framework-unknown": _set(("entries", 0, "framework"), "jax"),
    "framework-none": _set(("entries", 0, "framework"), None),
    "numpy-with-device": _set(("entries", 0, "device"), "cpu"),
    "torch-without-device": _set(("entries", 1, "device"), None),
    "torch-device-empty": _set(("entries", 1, "device"), ""),
    "torch-device-int": _set(("entries", 1, "device"), 0),
    "torch-device-long": _set(("entries", 1, "device"), "x" * 1000),
    "name-int": _set(("entries", 0, "name"), 1),
    "name-missing-in-mapping": _set(("entries", 0, "name"), None),
    "name-duplicate": _set(("entries", 1, "name"), "w"),
    "sequence-with-names": _set(("kind",), "sequence") | {"container": "list"},
    "ndarray-two-entries": _set(("kind",), "ndarray") | {"container": None},
}


@pytest.mark.parametrize("data", HOSTILE_SPECS.values(), ids=HOSTILE_SPECS.keys())
def test_from_dict_rejects_hostile_input(data: Any) -> None:
    with pytest.raises(DecodeError):
        UpdateSpec.from_dict(data)


def test_from_dict_accepts_the_valid_baseline() -> None:
    spec = UpdateSpec.from_dict(_valid())
    assert spec.length == 7
    assert spec.entries[1].framework == "torch"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_from_dict_never_raises_anything_but_decode_error(data: Any) -> None:
    try:
        spec = UpdateSpec.from_dict(data)
    except DecodeError:
        return
    assert isinstance(spec, UpdateSpec)


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec dict with one value (anywhere in it) replaced by random JSON."""
    data = _valid()
    paths: list[tuple[Any, ...]] = [(k,) for k in data]
    for i, entry in enumerate(data["entries"]):
        paths += [("entries", i, k) for k in entry]
        paths += [("entries", i, "shape", j) for j in range(len(entry["shape"]))]
    path = draw(st.sampled_from(paths))
    return _set(path, draw(JSON))


@given(mutated_specs())
def test_from_dict_mutations_are_valid_or_decode_error(data: dict[str, Any]) -> None:
    try:
        spec = UpdateSpec.from_dict(data)
    except DecodeError:
        return
    assert spec.to_dict() == data


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "matrix", "entries": ()}, "kind"),
        ({"kind": "ndarray", "entries": ()}, "exactly one"),
        ({"kind": "mapping", "entries": [1]}, "tuple of EntrySpec"),
        ({"kind": "sequence", "entries": (), "container": "dict"}, "container"),
        (
            {
                "kind": "tensor",
                "entries": (EntrySpec(name=None, shape=(1,), dtype="float32", framework="numpy"),),
            },
            "torch",
        ),
    ],
)
def test_update_spec_validates_on_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        UpdateSpec(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": None, "shape": [2], "dtype": "float32", "framework": "numpy"},
        {"name": None, "shape": (-1,), "dtype": "float32", "framework": "numpy"},
        {"name": None, "shape": (2,), "dtype": "complex64", "framework": "numpy"},
        {"name": None, "shape": (2,), "dtype": "torch.float32", "framework": "torch"},
        {"name": 3, "shape": (2,), "dtype": "float32", "framework": "numpy"},
        {"name": None, "shape": (2,), "dtype": "float32", "framework": "jax"},
    ],
)
def test_entry_spec_validates_on_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParameterError):
        EntrySpec(**kwargs)


def test_specs_are_frozen_and_hashable() -> None:
    _, spec = flatten({"a": np.zeros(2)})
    assert hash(spec) == hash(UpdateSpec.from_dict(spec.to_dict()))
    with pytest.raises(AttributeError):
        spec.kind = "sequence"  # type: ignore[misc]


# ------------------------------------------------------------ torch optional / absent


def test_importing_encoding_does_not_import_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "import privkit.encoding as e\n"
        "v, s = e.flatten({'a': np.ones(3)})\n"
        "e.unflatten(v, s)\n"
        "e.FixedPoint().encode(v)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_without_torch_numpy_works_and_tensor_specs_need_the_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    vector, spec = flatten({"a": np.arange(3.0)})
    assert_same_array(unflatten(vector, spec)["a"], np.arange(3.0))
    torch_spec = UpdateSpec.from_dict(_valid())
    with pytest.raises(BackendUnavailableError, match="torch"):
        unflatten(np.zeros(7), torch_spec)


# ------------------------------------------------------------------------------ torch


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


TORCH_DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
]


def _as_numpy(tensor: Any, torch: Any) -> np.ndarray[Any, Any]:
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.to(torch.float32)
    return np.asarray(tensor.detach().cpu().numpy())


def assert_same_tensor(got: Any, want: Any, torch: Any) -> None:
    assert isinstance(got, torch.Tensor)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.device == want.device
    assert not got.requires_grad
    np.testing.assert_array_equal(_as_numpy(got, torch), _as_numpy(want, torch), strict=True)


@st.composite
def tensors(draw: st.DrawFn, torch: Any) -> Any:
    name = draw(st.sampled_from(TORCH_DTYPES))
    dtype = getattr(torch, name)
    if name in ("float16", "bfloat16"):
        base = draw(hnp.arrays(np.float32, SHAPES, elements=st.floats(width=32)))
        return torch.from_numpy(base).to(dtype)
    np_dtype = np.dtype(name)
    return torch.from_numpy(draw(hnp.arrays(np_dtype, SHAPES, elements=_elements(np_dtype))))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_tensor_round_trip(torch: Any, data: st.DataObject) -> None:
    tensor = data.draw(tensors(torch))
    vector, spec = flatten(tensor)
    assert_vector(vector, spec)
    assert spec.kind == "tensor"
    (entry,) = spec.entries
    assert entry.dtype == str(tensor.dtype)
    assert entry.framework == "torch"
    assert entry.device == "cpu"
    assert entry.shape == tuple(tensor.shape)
    np.testing.assert_array_equal(vector, _as_numpy(tensor, torch).astype(np.float64).ravel())
    assert_same_tensor(unflatten(vector, spec), tensor, torch)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "float64"])
def test_state_dict_round_trip(torch: Any, dtype: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Flatten(), torch.nn.Linear(3, 2)
    ).to(getattr(torch, dtype))
    state = model.state_dict()
    vector, spec = flatten(state)
    assert_vector(vector, spec)
    assert spec.container == "OrderedDict"
    assert [e.name for e in spec.entries] == list(state)
    assert spec.length == sum(t.numel() for t in state.values())
    restored = unflatten(vector, spec)
    assert type(restored) is OrderedDict
    assert list(restored) == list(state)
    for key, tensor in state.items():
        assert_same_tensor(restored[key], tensor, torch)
    model.load_state_dict(restored)  # and the model takes it back


def test_requires_grad_parameters_and_sequences(torch: Any) -> None:
    model = torch.nn.Linear(4, 3)
    params = list(model.parameters())
    assert all(p.requires_grad for p in params)
    vector, spec = flatten(params)
    assert spec.kind == "sequence"
    restored = unflatten(vector, spec)
    for got, want in zip(restored, params, strict=True):
        assert_same_tensor(got, want.detach(), torch)


def test_mixed_numpy_and_torch_mapping(torch: Any) -> None:
    update = {"t": torch.arange(6, dtype=torch.int32).reshape(2, 3), "a": np.full(2, 0.5)}
    vector, spec = flatten(update)
    np.testing.assert_array_equal(vector, [0, 1, 2, 3, 4, 5, 0.5, 0.5])
    restored = unflatten(vector, spec)
    assert_same_tensor(restored["t"], update["t"], torch)
    assert_same_array(restored["a"], update["a"])


def test_non_contiguous_tensor_flattens_in_c_order(torch: Any) -> None:
    tensor = torch.arange(12.0).reshape(3, 4).T
    vector, spec = flatten(tensor)
    np.testing.assert_array_equal(vector, tensor.contiguous().view(-1).numpy())
    assert_same_tensor(unflatten(vector, spec), tensor, torch)


def test_unflatten_device_override(torch: Any) -> None:
    vector, spec = flatten({"w": torch.ones(2, 2)})
    restored = unflatten(vector, spec, device="meta")
    assert restored["w"].device.type == "meta"
    restored = unflatten(vector, spec, device=torch.device("cpu"))
    assert restored["w"].device.type == "cpu"


def test_unflatten_to_an_unavailable_device_is_a_parameter_error(torch: Any) -> None:
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    data = _set(("entries", 1, "device"), "cuda:0")
    spec = UpdateSpec.from_dict(data)
    with pytest.raises(ParameterError, match="device='cpu'"):
        unflatten(np.zeros(7), spec)
    restored = unflatten(np.zeros(7), spec, device="cpu")
    assert restored["b"].device.type == "cpu"
    assert restored["b"].dtype == torch.bfloat16


def test_unsupported_tensors_are_rejected(torch: Any) -> None:
    bad = [
        torch.zeros(2, dtype=torch.complex64),
        torch.zeros(2, device="meta"),
        torch.zeros(2).to_sparse(),
        torch.tensor([2**53 + 1], dtype=torch.int64),
    ]
    if hasattr(torch, "float8_e4m3fn"):
        bad.append(torch.zeros(2).to(torch.float8_e4m3fn))
    for tensor in bad:
        with pytest.raises(ParameterError):
            flatten(tensor)
        with pytest.raises(ParameterError):
            flatten({"x": tensor})
