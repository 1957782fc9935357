"""mypy --strict reads the lazily loaded public API exactly: api.py passes, a typo fails."""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def mypy(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch):
    """``mypy --strict`` on files, from the checkout, with one cache for this module."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    monkeypatch_module.chdir(ROOT)  # secure_run is found as the checkout's package

    def check(*files: Path) -> tuple[str, int]:
        # Imported modules are analysed but their own errors are `make lint`'s to report.
        args = ["--strict", "--follow-imports=silent", "--cache-dir", str(cache)]
        stdout, stderr, status = mypy_api.run([*args, *map(str, files)])
        return stdout + stderr, status

    return check


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_public_api_types_exactly(mypy) -> None:
    """api.py, whose assert_type calls pin every public name's type, passes mypy --strict."""
    report, status = mypy(HERE / "api.py")
    assert status == 0, report


def test_a_misspelt_public_name_is_a_type_error(mypy, tmp_path: Path) -> None:
    """``sr.buildr`` is reported by mypy: the lazy ``__getattr__`` does not hide a typo."""
    snippet = tmp_path / "typo.py"
    snippet.write_text('import secure_run as sr\n\nsr.buildr("busybox")\n', encoding="utf-8")
    report, status = mypy(snippet)
    assert status == 1, report
    assert 'typo.py:3: error: Module has no attribute "buildr"' in report
