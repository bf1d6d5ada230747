"""docs/errors.md lists exactly the codes of `workflows.errors.Code`."""

from __future__ import annotations

import re

from tests.interfaces.docs import ROOT
from workflows.errors import Code, rejection


def test_every_code_is_documented_once() -> None:
    text = (ROOT / "docs" / "errors.md").read_text("utf-8")
    rows = re.findall(r"^\| `([A-Z_]+)` \|", text, re.M)
    assert sorted(rows) == sorted(c.value for c in Code)
    assert len(rows) == len(set(rows))
    assert "docs/errors.md" in (ROOT / "README.md").read_text("utf-8")


def test_a_rejection_is_a_typed_non_retryable_application_error() -> None:
    err = rejection(Code.STATEMENT_TOO_LARGE, "text: 201 characters, at most 200 allowed")
    assert err.type == "STATEMENT_TOO_LARGE"
    assert err.non_retryable
    assert err.message == "STATEMENT_TOO_LARGE: text: 201 characters, at most 200 allowed"
