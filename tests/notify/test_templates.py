"""Mail templates: every standard template renders in German and English; escaping; errors."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from activities.notify import (
    LANGUAGES,
    STANDARD_TEMPLATES,
    MailRenderer,
    TemplateError,
    preview,
    render_mail,
    template_filename,
)
from tests.notify.samples import BASE, PROCEDURE_URL, SAMPLES

# Words that only the German or only the English version contains, per template.
GERMAN_MARK = "Diese Nachricht wurde automatisch versandt"
ENGLISH_MARK = "This message was sent automatically"


@pytest.mark.parametrize("template_id", STANDARD_TEMPLATES)
def test_every_standard_template_ships_in_both_languages(template_id: str) -> None:
    root = importlib.resources.files("definitions") / "templates"
    for lang in LANGUAGES:
        # The definitions validator checks exactly this path for "template not found".
        assert (root / f"{template_id}.{lang}.j2").is_file()


def test_every_shipped_template_exists_in_every_language() -> None:
    root = importlib.resources.files("definitions") / "templates"
    names = {node.name for node in root.iterdir() if node.name.endswith(".j2")}
    ids = {name.split(".")[0] for name in names if not name.startswith("_")}
    assert ids >= set(STANDARD_TEMPLATES)
    for template_id in ids | {"_layout"}:
        for lang in LANGUAGES:
            assert f"{template_id}.{lang}.j2" in names, f"{template_id} lacks {lang}"


@pytest.mark.parametrize("template_id", STANDARD_TEMPLATES)
def test_standard_template_renders_german_and_english(template_id: str) -> None:
    de = render_mail(template_id, "de", SAMPLES[template_id])
    en = render_mail(template_id, "en", SAMPLES[template_id])
    assert de.subject != en.subject
    assert "\n" not in de.subject
    assert GERMAN_MARK in de.text
    assert GERMAN_MARK in de.html
    assert ENGLISH_MARK in en.text
    assert ENGLISH_MARK not in de.text
    assert '<html lang="de">' in de.html
    assert '<html lang="en">' in en.html
    for mail in (de, en):
        assert PROCEDURE_URL in mail.text
        assert f'href="{PROCEDURE_URL}"' in mail.html
        assert "{{" not in mail.text
        assert "{%" not in mail.html


def test_dates_are_written_out_per_language() -> None:
    de = render_mail("reminder", "de", SAMPLES["reminder"])
    en = render_mail("reminder", "en", SAMPLES["reminder"])
    assert "12. Februar 2027" in de.text
    assert "12 February 2027" in en.text
    assert de.subject == "Erinnerung: noch 3 Tage – Bebauungsplan Nord"
    one_day = render_mail("reminder", "de", {**SAMPLES["reminder"], "days_left": 1})
    assert "in 1 Tag." in one_day.text


def test_times_are_shown_in_berlin_time() -> None:
    receipt = render_mail("statement_receipt", "de", SAMPLES["statement_receipt"])
    # 14:05 UTC in January is 15:05 CET.
    assert "20. Januar 2027, 15:05 Uhr" in receipt.text


def test_user_text_is_escaped_in_html_but_kept_in_text() -> None:
    hostile = '<script>alert("x")</script> & <b>fett</b>'
    context = {**SAMPLES["statement_receipt"], "statement_title": hostile}
    mail = render_mail("statement_receipt", "de", context)
    assert "<script>" not in mail.html
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;fett&lt;/b&gt;" in mail.html
    )
    assert hostile in mail.text  # plain text is not HTML: no entities there


def test_escaping_covers_the_subject_in_the_html_title() -> None:
    mail = render_mail("invitation", "en", {**BASE, "procedure_title": "A <b>& B"})
    assert mail.subject == "Invitation to take part: A <b>& B"
    assert "<title>Invitation to take part: A &lt;b&gt;&amp; B</title>" in mail.html


def test_late_statement_and_repeated_round_are_announced() -> None:
    late = render_mail("statement_receipt", "de", {**SAMPLES["statement_receipt"], "late": True})
    assert "nach Ablauf der Frist" in late.text
    announcement = render_mail("announcement", "de", SAMPLES["announcement"])
    assert "2. Durchgang" in announcement.subject
    assert "unberücksichtigt bleiben" in announcement.text
    first = {**SAMPLES["announcement"], "round": 1, "late_statement_warning": False}
    plain = render_mail("announcement", "de", first)
    assert "Durchgang" not in plain.subject
    assert "unberücksichtigt" not in plain.text


def test_missing_variable_names_template_and_variable() -> None:
    context = {k: v for k, v in SAMPLES["statement_receipt"].items() if k != "receipt_digest"}
    with pytest.raises(
        TemplateError, match=r"statement_receipt\.en\.j2: text part: 'receipt_digest'"
    ):
        render_mail("statement_receipt", "en", context)


def test_missing_procedure_title_is_named() -> None:
    with pytest.raises(TemplateError, match=r"invitation\.de\.j2: subject part: 'procedure_title'"):
        render_mail("invitation", "de", {"procedure_url": PROCEDURE_URL})


def test_unknown_template_and_language_are_clear_errors() -> None:
    with pytest.raises(TemplateError, match=r"no_such\.de\.j2: template not found"):
        render_mail("no_such", "de", BASE)
    with pytest.raises(TemplateError, match=r"lang: expected one of de, en, got 'fr'"):
        render_mail("invitation", "fr", BASE)
    with pytest.raises(TemplateError, match="template_id: expected lower-case"):
        template_filename("../etc/passwd", "de")


def test_bad_date_value_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match=r"reminder\.de\.j2.*expected an ISO 8601 date"):
        render_mail("reminder", "de", {**SAMPLES["reminder"], "deadline": "next friday"})


def test_reserved_context_names_are_refused() -> None:
    with pytest.raises(TemplateError, match="reserved variables"):
        render_mail("invitation", "de", {**BASE, "lang": "en"})


def test_renderer_reads_another_folder_and_reports_syntax_errors(tmp_path: Path) -> None:
    (tmp_path / "custom.de.j2").write_text(
        '{% if part == "subject" %}Hallo {{ name }}'
        '{% elif part == "text" %}Text {{ name }}{% else %}<p>{{ name }}</p>{% endif %}',
        encoding="utf-8",
    )
    (tmp_path / "broken.de.j2").write_text("{% if part %}", encoding="utf-8")
    renderer = MailRenderer(tmp_path)
    mail = renderer.render("custom", "de", {"name": "<Welt>"})
    assert (mail.subject, mail.text, mail.html) == (
        "Hallo <Welt>",
        "Text <Welt>\n",
        "<p>&lt;Welt&gt;</p>\n",
    )
    assert renderer.exists("custom")
    assert not renderer.exists("custom", "en")
    with pytest.raises(TemplateError, match=r"broken\.de\.j2:1: template syntax error"):
        renderer.render("broken", "de", {})


def test_empty_subject_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blank.de.j2").write_text("{% if part == 'text' %}x{% endif %}", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"blank\.de\.j2: the subject block rendered empty"):
        MailRenderer(tmp_path).render("blank", "de", {})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_preview_renders_every_standard_template(lang: str) -> None:
    for template_id in STANDARD_TEMPLATES:
        assert preview(template_id, lang).subject
    with pytest.raises(KeyError, match="no example context for 'nothing'"):
        preview("nothing", lang)


def test_missing_language_falls_back_to_german(tmp_path: Path) -> None:
    (tmp_path / "only_german.de.j2").write_text(
        '{% if part == "subject" %}Nur Deutsch'
        '{% elif part == "text" %}Text{% else %}<p>Text</p>{% endif %}',
        encoding="utf-8",
    )
    mail = MailRenderer(tmp_path).render("only_german", "en", {})
    assert (mail.subject, mail.lang) == ("Nur Deutsch", "de")
    assert render_mail("invitation", "en", BASE).lang == "en"


def test_links_must_be_web_links() -> None:
    context = {**SAMPLES["invitation"], "registration_url": "javascript:alert(1)"}
    with pytest.raises(TemplateError, match=r"html part: expected an http\(s\) URL in a link"):
        render_mail("invitation", "de", context)
