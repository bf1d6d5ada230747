"""Template rendering shared by every HTML page: language, links, helpers, error pages.

The Jinja environment is strict (an undefined variable is an error, so a typo fails the page
tests instead of rendering blank) and autoescapes everything. Language: `?lang=` wins, then
Accept-Language, then the site default; links carry `lang` only when the visitor chose it
explicitly, so a shared link still follows the reader's browser language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from worker.web import catalogue, i18n, params
from worker.web.models import Localized, Participation
from worker.web.settings import WebSettings

__all__ = ["Page", "environment", "error_page", "page_for"]

STATIC_CSS = "/static/site.css"


def environment() -> jinja2.Environment:
    """The template environment (packaged templates, strict, autoescaped)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("worker.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


class Page:
    """One request's rendering context: its language and how it builds links."""

    def __init__(self, request: Request, lang: str, explicit: bool) -> None:
        self.request = request
        self.lang = lang
        self.explicit = explicit
        self.t = i18n.Translator(lang)

    @property
    def settings(self) -> WebSettings:
        settings: WebSettings = self.request.app.state.settings
        return settings

    def link(self, path: str, **query: Any) -> str:
        """A site path with `query` (None/"" dropped) and `lang` if it was chosen."""
        items = {k: v for k, v in query.items() if v not in (None, "")}
        if self.explicit:
            items["lang"] = self.lang
        return path + ("?" + urlencode(items) if items else "")

    def with_query(self, **changes: Any) -> str:
        """The current URL with some query parameters changed (pagination)."""
        current = dict(self.request.query_params)
        current.update({k: str(v) for k, v in changes.items()})
        kept = {k: v for k, v in current.items() if v != ""}
        return self.request.url.path + ("?" + urlencode(kept) if kept else "")

    def switch_url(self) -> str:
        other = "en" if self.lang == "de" else "de"
        return self.with_query(lang=other)

    def label(self, kind: str, value: str | None) -> str:
        return i18n.label(kind, value, self.lang)

    def take_part_types(self, part: Participation) -> list[str]:
        types = [self.label("statement", s) for s in part.statement_types]
        for flag, key in (
            (part.votes, "take_part_votes"),
            (part.registrations, "take_part_registrations"),
            (part.signatures, "take_part_signatures"),
            (part.proposals, "take_part_proposals"),
        ):
            if flag:
                types.append(self.t(key))
        return types

    def context(self, section: str, **values: Any) -> dict[str, Any]:
        from worker.web.exports import licence_of  # the footer names the open-data licence

        lang = self.lang
        kinds = catalogue.kinds()
        return {
            "request": self.request,
            "lang": lang,
            "other_lang": "en" if lang == "de" else "de",
            "explicit_lang": self.explicit,
            "section": section,
            "settings": self.settings,
            "licence": licence_of(self.request),
            "static_url": STATIC_CSS,
            "switch_url": self.switch_url(),
            "t": self.t,
            "link": self.link,
            "label": self.label,
            "fmt_date": lambda value: i18n.format_date(value, lang),
            "fmt_datetime": lambda value: i18n.format_datetime(value, lang),
            "page_url": lambda number: self.with_query(page=number),
            "take_part_types": self.take_part_types,
            "channel_labels": lambda cs: ", ".join(self.label("channel", c) for c in cs),
            "kind_titles": {kind: _kind_title(kind, ids, lang) for kind, ids in kinds.items()},
            **values,
        }

    def render(
        self, template: str, section: str, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        env: jinja2.Environment = self.request.app.state.templates
        body = env.get_template(template).render(self.context(section, **values))
        return HTMLResponse(
            body,
            status_code=status_code,
            headers={"Content-Language": self.lang, "Vary": "Accept-Language"},
        )


def _kind_title(kind: str, definition_ids: tuple[str, ...], lang: str) -> str:
    """A kind's name for the filter: the definition's title if the kind has one definition."""
    titles: set[str] = set()
    for definition_id in definition_ids:
        defn = catalogue.definition(definition_id)
        if defn is not None:
            titles.add(Localized(defn.title.de, defn.title.en).get(lang))
    if len(titles) == 1:
        return titles.pop()
    return kind.replace("_", " ").capitalize()


def page_for(request: Request) -> Page:
    """The rendering context of `request`; BadParameterError for a bad `lang`."""
    settings: WebSettings = request.app.state.settings
    chosen = params.language(request.query_params)
    lang = i18n.negotiate(chosen, request.headers.get("accept-language"), settings.default_language)
    return Page(request, lang, explicit=chosen is not None)


def lenient_page_for(request: Request) -> Page:
    """Like `page_for`, but a bad `lang` falls back to the default (for error pages)."""
    try:
        return page_for(request)
    except params.BadParameterError:
        settings: WebSettings = request.app.state.settings
        return Page(request, settings.default_language, explicit=False)


def error_page(
    request: Request,
    status: int,
    message: str | None = None,
    *,
    bad: params.BadParameterError | None = None,
) -> HTMLResponse:
    """The HTML error page for 400, 404 and 500, in the visitor's language."""
    page = lenient_page_for(request)
    title_key = {400: "error_400_title", 404: "error_404_title"}.get(status, "error_500_title")
    if bad is not None:
        message = page.t("bad_parameter", name=bad.name, detail=str(bad))
    if message is None:
        message = page.t("unknown_page") if status == 404 else page.t("error_500_text")
    extra: Mapping[str, Any] = {
        "parameter": bad.name if bad else None,
        "expected": bad.expected if bad else None,
    }
    return page.render(
        "error.html.j2",
        section="error",
        status_code=status,
        title=page.t(title_key),
        status=status,
        message=message,
        **extra,
    )
