"""The package surface: lazy subpackages, errors, optional backends, ABI check."""

from __future__ import annotations

import subprocess
import sys

import pytest

import privkit
from privkit import errors
from privkit._backends import optional_import, require


def test_subpackages_load_lazily_on_attribute_access() -> None:
    for name in (
        "aggregation",
        "encoding",
        "prg",
        "testing",
        "wire",
        "errors",
        "identity",
        "secagg",
        "sharing",
        "dp",
        "zk",
        "integrations",
        "ledger",
    ):
        assert getattr(privkit, name).__name__ == f"privkit.{name}"
        assert name in dir(privkit)
    with pytest.raises(AttributeError):
        _ = privkit.no_such_thing  # type: ignore[attr-defined]


def test_import_privkit_does_not_import_optional_backends() -> None:
    code = (
        "import sys, privkit, privkit.prg, privkit.wire, privkit.encoding, privkit.aggregation, "
        "privkit.dp; "
        "heavy = {'torch', 'opacus', 'tenseal', 'flwr', 'hypothesis', 'matplotlib'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_privkit_error_is_never_raised_bare() -> None:
    with pytest.raises(TypeError, match="abstract"):
        raise errors.PrivkitError("nope")


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ParameterError, ValueError),
        (errors.DecodeError, ValueError),
        (errors.VerificationError, ValueError),
        (errors.ProtocolError, RuntimeError),
        (errors.PrivacyBudgetExceededError, RuntimeError),
        (errors.BackendUnavailableError, ImportError),
        (errors.NativeError, RuntimeError),
    ],
)
def test_each_error_is_also_the_fitting_builtin(cls: type[Exception], builtin: type) -> None:
    assert issubclass(cls, errors.PrivkitError)
    assert issubclass(cls, builtin)
    assert cls.__name__ in errors.__all__
    with pytest.raises(builtin):
        raise cls("what was wrong and what would be right")


def test_protocol_and_decode_errors_name_the_client() -> None:
    assert errors.ProtocolError("x", client_id=7).client_id == 7
    assert errors.DecodeError("x", client_id="a").client_id == "a"
    assert errors.DecodeError("x").client_id is None


def test_missing_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tenseal", None)  # makes `import tenseal` fail
    with pytest.raises(errors.BackendUnavailableError, match=r"pip install 'privkit\[he\]'"):
        require("tenseal", feature="CKKS aggregation")
    assert optional_import("tenseal") is None
    assert optional_import("no_such_module_privkit") is None


def test_stale_extension_is_refused_with_rebuild_instructions() -> None:
    # Simulate a stale build: the compiled ABI differs from what the Python code expects.
    code = (
        "import privkit._native._pk_native as m\n"
        "class Lib:\n"
        "    def __getattr__(self, n): return getattr(m.lib, n)\n"
        "    def pk_abi_version(self): return 999\n"
        "m.lib = Lib()\n"
        "import sys\n"
        "del sys.modules['privkit._native']\n"
        "try:\n"
        "    import privkit._native\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ImportError: privkit's C extension is stale" in out.stdout
    assert "pip install -e ." in out.stdout
