"""Structural accessibility checks of a rendered page (WCAG 2.1 AA by construction).

Not a replacement for axe-core in a browser (tests/browser/ runs that); these run on every
page of every page test, fast and without a browser: language, one h1, landmarks, skip link,
labelled controls, table captions and header scopes, machine-readable dates, unique ids.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from lxml import html as lxml_html  # type: ignore[import-untyped]

HtmlElement = Any  # lxml ships no type information

__all__ = ["check_page", "text_of"]


def text_of(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def check_page(body: str, lang: str) -> HtmlElement:
    """Parse `body`, assert the structural rules, return the document for further checks."""
    doc = lxml_html.document_fromstring(body)
    assert doc.get("lang") == lang, f"<html lang> is {doc.get('lang')!r}, expected {lang!r}"
    assert len(doc.xpath("//h1")) == 1, "expected exactly one h1"
    titles = doc.xpath("//title")
    assert len(titles) == 1, "expected one <title>"
    assert text_of(titles[0]), "empty <title>"
    for landmark in ("header", "nav", "main", "footer"):
        assert doc.xpath(f"//{landmark}"), f"no <{landmark}> landmark"
    assert len(doc.xpath("//main")) == 1, "expected exactly one <main>"
    assert doc.xpath("//nav[@aria-label]"), "navigation without aria-label"
    first_link = doc.xpath("//body//a")[0]
    assert first_link.get("href") == "#main", "the first link must skip to the content"
    assert doc.xpath("//main[@id='main']"), "skip link target #main missing"
    ids = doc.xpath("//@id")
    assert len(ids) == len(set(ids)), (
        f"duplicate ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    )
    for control in doc.xpath("//input[not(@type='hidden')] | //select | //textarea"):
        control_id = control.get("id")
        assert control_id, f"form control {control.get('name')!r} has no id"
        labels = doc.xpath(f"//label[@for='{control_id}']")
        assert labels, f"form control #{control_id} has no label"
        assert text_of(labels[0]), f"form control #{control_id} has an empty label"
    for table in doc.xpath("//table"):
        assert table.xpath("./caption"), f"table #{table.get('id')} has no caption"
        for th in table.xpath("./thead//th"):
            assert th.get("scope") == "col", f"table #{table.get('id')}: header without scope"
        for th in table.xpath("./tbody//th"):
            assert th.get("scope") == "row", f"table #{table.get('id')}: row header without scope"
    for time in doc.xpath("//time"):
        value = time.get("datetime")
        assert value, "a <time> without datetime"
        if "T" in value:
            datetime.fromisoformat(value)
        else:
            date.fromisoformat(value)
    for link in doc.xpath("//a"):
        assert text_of(link) or link.get("aria-label"), f"link {link.get('href')} has no text"
    return doc
