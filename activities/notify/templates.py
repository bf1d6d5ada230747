"""Mail templates: Jinja2 files shipped as package data of `definitions`, German and English.

Layout
------
A template lives at ``definitions/templates/<template_id>.<lang>.j2`` (``lang`` is ``de``, the
default, or ``en``). It usually extends the language's layout ``_layout.<lang>.j2`` and fills
three blocks::

    {% extends "_layout.de.j2" %}
    {% block subject %}Einladung: {{ procedure_title }}{% endblock %}
    {% block text_body %}Guten Tag, ...{% endblock %}
    {% block html_body %}<p>Guten Tag, ...</p>{% endblock %}

The layout decides which part is rendered from the variable ``part`` ("subject", "text" or
"html"); the renderer renders each template three times. A template that does not extend the
layout must do the same (``{% if part == "subject" %}...``).

Escaping: the HTML part is rendered by an environment with autoescape on, so user-provided
text (a statement's title, a commitment's aim) can never inject markup; subject and text are
rendered without escaping. Undefined variables are errors (StrictUndefined): a missing
variable raises `TemplateError` naming the template and the variable. Optional variables are
tested with ``{% if x is defined %}``.

Every template gets ``lang`` and the filters ``date`` (a `date`, `datetime` or ISO string,
formatted for the language: "4. Mai 2027" / "4 May 2027"), ``datetime`` (an aware datetime
shown in Berlin time: "20. Januar 2027, 15:05 Uhr") and ``localize`` (picks the language from a
``{"de": ..., "en": ...}`` text such as a phase title) and ``url`` (for ``href``: refuses
anything but http(s), so a `javascript:` link in a parameter cannot reach a mail).

Context
-------
The procedure engine sends a small context (procedure_title, phase_id, phase_title, round,
period_start, period_end, ...); the templates treat everything else as optional. Context
values that are None count as undefined. Outbox delivery adds the public facts of the
procedure the mail is about (`procedure_facts`: procedure_id, procedure_title,
procedure_kind, definition_id; no personal data), under the engine's values, and the header
`X-Civicflow-Procedure`. Deployment facts come from `TemplateSettings`
(``CIVICFLOW_NOTIFY_*``): ``municipality_name`` (fallback "Ihre Gemeinde" / "Your
municipality") and ``procedure_url``, built from ``procedure_url_template`` and the context's
``procedure_id``, else the ``portal_url``; a value in the context always wins.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import jinja2
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.notify.errors import TemplateError
from activities.notify.filters import DEFAULT_LANGUAGE, FILTERS

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "PROCEDURE_HEADER",
    "STANDARD_TEMPLATES",
    "Language",
    "MailRenderer",
    "RenderedMail",
    "TemplateSettings",
    "procedure_facts",
    "render_mail",
    "template_filename",
    "templates_root",
]

Language = Literal["de", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("de", "en")

STANDARD_TEMPLATES: Final[tuple[str, ...]] = (
    "invitation",
    "announcement",
    "reminder",
    "statement_receipt",
    "decision_published",
    "commitment_due",
    "commitment_overdue",
)

_TEMPLATE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PARTS: Final = ("subject", "text", "html")

_FALLBACK_SENDER: Final[dict[str, str]] = {"de": "Ihre Gemeinde", "en": "Your municipality"}


class TemplateSettings(BaseSettings):
    """Deployment facts every mail mentions, from `CIVICFLOW_NOTIFY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CIVICFLOW_NOTIFY_", extra="forbid", frozen=True)

    municipality_name: str | None = Field(default=None, description="sender shown in mails")
    portal_url: str | None = Field(default=None, description="the participation portal")
    procedure_url_template: str | None = Field(
        default=None, description="link to one procedure, e.g. https://portal/v/{procedure_id}"
    )

    @field_validator("procedure_url_template")
    @classmethod
    def _placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{procedure_id}" not in value:
            msg = "procedure_url_template: expected a URL containing {procedure_id}"
            raise ValueError(msg)
        return value

    def defaults(self, lang: str, context: Mapping[str, Any]) -> dict[str, Any]:
        """Values the context did not bring: sender name and procedure link."""
        values: dict[str, Any] = {
            "municipality_name": self.municipality_name or _FALLBACK_SENDER.get(lang, "")
        }
        procedure_id = context.get("procedure_id")
        if self.procedure_url_template and procedure_id:
            values["procedure_url"] = self.procedure_url_template.replace(
                "{procedure_id}", quote(str(procedure_id), safe="")
            )
        elif self.portal_url:
            values["procedure_url"] = self.portal_url
        return values


class RenderedMail(BaseModel):
    """The three parts of a rendered mail; `subject` is one line.

    `lang` is the language actually rendered: German when the template has no file in the
    requested language (a definition only has to ship `<id>.de.j2`). Use it for the
    `Content-Language` of the mail.
    """

    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str
    lang: Language = DEFAULT_LANGUAGE


def templates_root() -> Traversable:
    """The shipped templates folder, found through importlib.resources (works when installed)."""
    return importlib.resources.files("definitions") / "templates"


def template_filename(template_id: str, lang: str) -> str:
    """``<template_id>.<lang>.j2``, after checking both parts (no path tricks)."""
    if not _TEMPLATE_ID.match(template_id):
        msg = (
            f"template_id: expected lower-case letters, digits and underscores "
            f"starting with a letter, got {template_id!r}"
        )
        raise TemplateError(msg)
    if lang not in LANGUAGES:
        msg = f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}"
        raise TemplateError(msg)
    return f"{template_id}.{lang}.j2"


class _TraversableLoader(jinja2.BaseLoader):
    """Loads templates from a Traversable (importlib.resources) or a plain directory."""

    def __init__(self, root: Traversable | Path) -> None:
        self._root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if "/" in template or "\\" in template or template.startswith("."):
            raise jinja2.TemplateNotFound(template)
        node = self._root / template
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        source = node.read_text(encoding="utf-8")
        # Shipped templates do not change while a worker runs; no reload check needed.
        return source, str(node), lambda: True


def _environment(loader: jinja2.BaseLoader, *, autoescape: bool) -> jinja2.Environment:
    # Autoescape is on for the HTML environment; the other renders plain text and subjects,
    # where HTML entities would corrupt the text.
    env = jinja2.Environment(
        loader=loader,
        autoescape=autoescape,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


class MailRenderer:
    """Renders mail templates from one templates folder (the shipped one by default)."""

    def __init__(
        self, root: Traversable | Path | None = None, *, settings: TemplateSettings | None = None
    ) -> None:
        self._settings = settings if settings is not None else TemplateSettings()
        loader = _TraversableLoader(root if root is not None else templates_root())
        self._plain = _environment(loader, autoescape=False)
        self._html = _environment(loader, autoescape=True)

    def exists(self, template_id: str, lang: str = DEFAULT_LANGUAGE) -> bool:
        """Whether the template file is there (no rendering)."""
        name = template_filename(template_id, lang)
        try:
            self._plain.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(self, template_id: str, lang: str, context: Mapping[str, Any]) -> RenderedMail:
        """Render subject, text and HTML; `TemplateError` names template and problem.

        Falls back to German when the template has no file in `lang`.
        """
        name = template_filename(template_id, lang)
        if lang != DEFAULT_LANGUAGE and not self.exists(template_id, lang):
            lang = DEFAULT_LANGUAGE
            name = template_filename(template_id, lang)
        if "part" in context or "lang" in context:
            msg = f"{name}: context must not set the reserved variables 'part' or 'lang'"
            raise TemplateError(msg)
        given = {key: value for key, value in context.items() if value is not None}
        values = {**self._settings.defaults(lang, given), **given, "lang": lang}
        parts: dict[str, str] = {}
        for part in _PARTS:
            env = self._html if part == "html" else self._plain
            try:
                template = env.get_template(name)
                parts[part] = template.render({**values, "part": part})
            except jinja2.TemplateNotFound as err:
                msg = f"{name}: template not found (missing: {err.name})"
                raise TemplateError(msg) from err
            except jinja2.UndefinedError as err:
                msg = f"{name}: {part} part: {err.message} (pass it in the context)"
                raise TemplateError(msg) from err
            except jinja2.TemplateSyntaxError as err:
                msg = f"{err.filename or name}:{err.lineno}: template syntax error: {err.message}"
                raise TemplateError(msg) from err
            except TemplateError as err:
                msg = f"{name}: {part} part: {err}"
                raise TemplateError(msg) from err
        subject = " ".join(parts["subject"].split())
        if not subject:
            msg = f"{name}: the subject block rendered empty"
            raise TemplateError(msg)
        return RenderedMail(
            subject=subject,
            text=parts["text"].strip() + "\n",
            html=parts["html"].strip() + "\n",
            lang="en" if lang == "en" else "de",
        )


PROCEDURE_HEADER: Final = "X-Civicflow-Procedure"
"""Mail header carrying the procedure id (the workflow id; public, like the link)."""


def procedure_facts(
    procedure_id: str,
    *,
    title: str | None = None,
    kind: str | None = None,
    definition_id: str | None = None,
) -> dict[str, str]:
    """The public facts of a procedure every mail may use; unknown ones are left out.

    `procedure_id` also makes `TemplateSettings.procedure_url_template` produce the link to
    this very procedure. Nothing here is personal data: the recipient's own name is the only
    personal value a mail context ever holds.
    """
    facts = {
        "procedure_id": procedure_id,
        "procedure_title": title,
        "procedure_kind": kind,
        "definition_id": definition_id,
    }
    return {key: value for key, value in facts.items() if value is not None}


_default_renderer: MailRenderer | None = None


def render_mail(template_id: str, lang: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render a shipped template (see the module docstring for the format)."""
    # One lazily built renderer per process: templates are immutable package data.
    global _default_renderer
    if _default_renderer is None:
        _default_renderer = MailRenderer()
    return _default_renderer.render(template_id, lang, context)
