"""The T.30 completion code table: numbered as libspandsp, every failure classified once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from faxcast.fax._spandsp import lib

from faxcast.domain.outcome import FailureClass
from faxcast.fax.result import CODE_CLASSES, T30Code, classify

_BUILD = Path(__file__).resolve().parents[2] / "src/faxcast/fax/_spandsp_build.py"


def _header_names() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("spandsp_build", _BUILD)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names: tuple[str, ...] = module.T30_ERR_NAMES
    return names


def test_codes_are_numbered_as_the_installed_libspandsp() -> None:
    names = _header_names()

    assert [code.name for code in T30Code] == list(names)
    for code in T30Code:
        assert getattr(lib, f"T30_ERR_{code.name}") == code.value


def test_every_failure_code_is_in_exactly_one_class() -> None:
    seen: list[T30Code] = [code for group in CODE_CLASSES for code in group.codes]

    assert sorted(seen) == sorted(code for code in T30Code if code is not T30Code.OK)
    assert classify(T30Code.OK) is None


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (T30Code.T0_EXPIRED, FailureClass.NO_FAX),
        (T30Code.CALLDROPPED, FailureClass.TRANSFER_FAILED),
        (T30Code.CANNOT_TRAIN, FailureClass.TRANSFER_FAILED),
        (T30Code.RX_INCAPABLE, FailureClass.PERMANENT),
        (T30Code.NOSIZESUPPORT, FailureClass.PERMANENT),
        (T30Code.BADTIFF, FailureClass.DOCUMENT),
    ],
)
def test_classes_of_typical_codes(code: T30Code, failure: FailureClass) -> None:
    group = classify(code)

    assert group is not None
    assert group.failure is failure
    assert group.reason


def test_only_transient_classes_are_retryable() -> None:
    retryable = {failure for failure in FailureClass if failure.retryable}

    assert retryable == {
        FailureClass.BUSY,
        FailureClass.NO_ANSWER,
        FailureClass.CONGESTION,
        FailureClass.NO_FAX,
        FailureClass.TRANSFER_FAILED,
    }
