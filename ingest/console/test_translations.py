"""The console in Danish: every text of every template has its translation in the catalog, with the same
placeholders, and the language follows the account's choice, else the browser."""

from __future__ import annotations

import re
from importlib.resources import files
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from iot_suitcase.devices.credentials.issuing import PASTE_WHERE
from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.devices.opendata.model import Scope
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.ingest.console.fleet import STATES, TROUBLES
from iot_suitcase.ingest.console.rendering import LANGUAGES, Templates, preferred_languages, translations
from iot_suitcase.ingest.operations.web import PROBLEMS
from iot_suitcase.ingest.sources.brokerlog import WHAT_TO_DO as BROKER_WHAT_TO_DO
from iot_suitcase.ingest.sources.refusals import WHAT_TO_DO as HTTP_WHAT_TO_DO

CONSOLE = Path(str(files("iot_suitcase.ingest.console")))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def template_texts() -> set[str]:
    found = {role.value for role in Role} | set(STATES) | set(TROUBLES)  # shown through _(role.value), _(state)
    found |= {scope.value for scope in Scope} | {"sum", "mean"}  # open data: _(choice.scope.value), _(treatment)
    # the service's own texts, which the console shows through _(...)
    found |= set(PROBLEMS.values()) | set(HTTP_WHAT_TO_DO.values()) | set(BROKER_WHAT_TO_DO.values())
    found |= set(PASTE_WHERE.values())
    for template in (CONSOLE / "templates").glob("*.html"):
        for _line, message, _comments, _context in extract_from_file(
            "jinja2.ext:babel_extract", str(template), options={"extensions": "jinja2.ext.i18n"}
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_text_of_every_template_is_translated_with_its_placeholders(language: str) -> None:
    po = CONSOLE / "locale" / language / "LC_MESSAGES" / "console.po"
    catalog = read_po(BytesIO(po.read_bytes()), locale=language)
    translated = {str(message.id): str(message.string or "") for message in catalog if message.id}
    texts = template_texts()
    assert len(texts) > 15
    missing = sorted(text for text in texts if not translated.get(text))
    assert not missing, f"not translated into {language}: {missing}"
    unused = sorted(set(translated) - texts)
    assert not unused, f"in the catalog but in no template: {unused}"
    for text in texts:
        assert PLACEHOLDER.findall(translated[text]) == PLACEHOLDER.findall(text), text
    assert not [m.id for m in catalog if m.fuzzy and m.id], "no fuzzy entry"
    assert translations(language).gettext("Log out") == translated["Log out"], "the service reads the catalog"


def test_accept_language_is_read_by_quality_then_order() -> None:
    assert preferred_languages("da-DK,da;q=0.9,en-US;q=0.8,en;q=0.7") == ["da-dk", "da", "en-us", "en"]
    assert preferred_languages("en;q=0.5, da") == ["da", "en"]
    assert preferred_languages("*;q=0.1, sv;q=0, fr;q=x") == []
    assert preferred_languages("") == []


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_reject_code_is_explained_in_every_language(language: str) -> None:
    explain = Templates().environment(language).get_template("reject_help.html").module.explain  # type: ignore[attr-defined]
    missing = [code.value for code in RejectCode if not str(explain(code.value)).strip()]
    assert not missing, f"no explanation in {language}: {missing}"
