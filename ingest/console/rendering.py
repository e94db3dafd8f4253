"""The console's pages from Jinja2 templates (``templates/``), autoescaped (a value from a device, a payload or
a form can never become markup), in the viewer's language.

English is the templates' own language; every other language is a gettext catalog,
``locale/<language>/LC_MESSAGES/console.po``, read with Babel. The language is the account's choice, else the
first language of the browser's Accept-Language that the console speaks, else English.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from io import BytesIO
from typing import Any

import jinja2
from aiohttp import web
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "da": "Dansk"}  # each in its own words, for the language menu
_PACKAGE = "iot_suitcase.ingest.console"

Globals = Callable[[web.Request], Mapping[str, Any]]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of a language; English needs none."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    po = files(_PACKAGE).joinpath("locale", language, "LC_MESSAGES", "console.po").read_bytes()
    compiled = BytesIO()
    write_mo(compiled, read_po(BytesIO(po), locale=language))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def preferred_languages(accept_language: str) -> list[str]:
    """The languages of an Accept-Language header, most wanted first (``da-DK,da;q=0.9,en;q=0.8``)."""
    weighted = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.lower()))
    return [tag for _quality, _position, tag in sorted(weighted)]


def browser_language(request: web.Request) -> str:
    wanted = preferred_languages(request.headers.get("Accept-Language", ""))
    return negotiate_locale(wanted, list(LANGUAGES), sep="-") or DEFAULT_LANGUAGE


class Templates:
    def __init__(
        self,
        request_globals: Globals = lambda _request: {},
        language_of: Callable[[web.Request], str] = browser_language,
    ) -> None:
        self._environments = {language: self._environment(language) for language in LANGUAGES}
        self._request_globals = request_globals
        self._language_of = language_of

    @staticmethod
    def _environment(language: str) -> jinja2.Environment:
        environment = jinja2.Environment(
            loader=jinja2.PackageLoader(_PACKAGE, "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,  # a misspelt name fails the page and its test, not silently
            extensions=["jinja2.ext.i18n"],
        )
        environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
        environment.globals.update(language=language, languages=LANGUAGES)
        environment.filters["fromisoformat"] = datetime.fromisoformat
        environment.filters["from_timestamp"] = lambda at: datetime.fromtimestamp(at, UTC)
        return environment

    def environment(self, language: str) -> jinja2.Environment:
        return self._environments[language]

    def language(self, request: web.Request) -> str:
        language = self._language_of(request)
        return language if language in LANGUAGES else DEFAULT_LANGUAGE

    def render(self, request: web.Request, name: str, context: Mapping[str, Any]) -> str:
        environment = self._environments[self.language(request)]
        return environment.get_template(name).render({**self._request_globals(request), **context})

    def response(
        self, request: web.Request, name: str, context: Mapping[str, Any], *, status: int = 200
    ) -> web.Response:
        return web.Response(text=self.render(request, name, context), content_type="text/html", status=status)
