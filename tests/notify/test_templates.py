"""Mail templates: every standard template renders in German and English; escaping; errors."""

from __future__ import annotations

import pytest

from activities.notify import TemplateError, render_mail

BASE = {
    "procedure_title": "Bebauungsplan Nord",
    "municipality_name": "Stadt Heidelberg",
    "procedure_url": "https://beteiligung.example.org/verfahren/bp-nord",
}


def test_invitation_german_and_english_differ() -> None:
    de = render_mail("invitation", "de", BASE)
    en = render_mail("invitation", "en", BASE)
    assert de.subject == "Einladung zur Beteiligung: Bebauungsplan Nord"
    assert en.subject == "Invitation to take part: Bebauungsplan Nord"
    assert BASE["procedure_url"] in de.text
    assert f'href="{BASE["procedure_url"]}"' in en.html


def test_missing_variable_names_template_and_variable() -> None:
    context = {k: v for k, v in BASE.items() if k != "municipality_name"}
    with pytest.raises(TemplateError, match=r"invitation\.de\.j2.*municipality_name"):
        render_mail("invitation", "de", context)
