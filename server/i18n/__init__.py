"""The pages' message catalogue: one JSON file per page area and locale, zh-CN first.

Files are ``server/i18n/catalog/<domain>.<locale>.json``, each a flat object of message
keys to text; every key of a domain starts with ``<domain>.`` so that each page area
(``common``, ``queue``, ``case``, ``stats``, ``map``, and other helpers' ``cameras`` or
``review_labels``) owns its own files. Text may name ``{placeholders}``, filled by
:meth:`Catalog.text` here and by ``t()`` in ``server/static/js/i18n.js``.

A key missing in the requested locale falls back to English, then to the key itself
(a test holds every key used by a template or script to both locales).

Example:
    >>> catalog = load_catalog()  # doctest: +SKIP
    >>> catalog.text("zh-CN", "common.nav.queue")  # doctest: +SKIP
    '队列'
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

LOCALES: Final[tuple[str, ...]] = ("zh-CN", "en")
"""The locales the pages speak; the first is the default."""
DEFAULT_LOCALE: Final[str] = LOCALES[0]
FALLBACK_LOCALE: Final[str] = "en"
LOCALE_COOKIE: Final[str] = "civicwatch_locale"
CATALOG_DIR: Final[Path] = Path(str(files("server.i18n").joinpath("catalog")))
_FILE_NAME = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*)\.(?P<locale>[A-Za-z-]+)\.json$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class CatalogError(ValueError):
    """A catalogue file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Catalog:
    """Every locale's messages, key to text.

    Attributes:
        messages: locale -> key -> text.
        version: A digest of every file, for the JSON's ETag.
    """

    messages: Mapping[str, Mapping[str, str]]
    version: str

    def text(self, locale: str, key: str, **values: object) -> str:
        """The message in ``locale`` (else English, else the key) with ``values`` filled in."""
        found = self.messages.get(locale, {}).get(key)
        if found is None:
            found = self.messages.get(FALLBACK_LOCALE, {}).get(key, key)
        if not values:
            return found
        return _PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), found
        )

    def for_locale(self, locale: str) -> dict[str, str]:
        """The full table for ``locale``: English under it for keys it lacks."""
        merged = dict(self.messages.get(FALLBACK_LOCALE, {}))
        merged.update(self.messages.get(locale, {}))
        return merged

    def keys(self, locale: str) -> frozenset[str]:
        return frozenset(self.messages.get(locale, {}))


def _read(path: Path, domain: str) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: must be an object of message keys to text")
    out: dict[str, str] = {}
    for key, value in data.items():
        if not key.startswith(f"{domain}."):
            raise CatalogError(f"{path}: key {key!r} must start with {domain + '.'!r}")
        if not isinstance(value, str) or not value:
            raise CatalogError(f"{path}: {key!r} must be a non-empty string")
        out[key] = value
    return out


def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    """Read every ``<domain>.<locale>.json`` under ``directory``.

    Raises:
        CatalogError: A file that is not JSON, a key outside its domain, a locale not in
            :data:`LOCALES`, or a key that two files define.
    """
    messages: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.json")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise CatalogError(f"{path}: name must be <domain>.<locale>.json")
        locale = match["locale"]
        if locale not in messages:
            raise CatalogError(f"{path}: locale {locale!r} is not one of {', '.join(LOCALES)}")
        table = _read(path, match["domain"])
        clash = set(table) & set(messages[locale])
        if clash:
            raise CatalogError(f"{path}: keys defined twice: {', '.join(sorted(clash))}")
        messages[locale].update(table)
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    logger.debug("message catalogue: %s", {k: len(v) for k, v in messages.items()})
    return Catalog(messages=messages, version=digest.hexdigest()[:16])


def pick_locale(cookie: str | None) -> str:
    """The page locale: the switch's cookie, else the default (zh-CN), whatever the browser."""
    return cookie if cookie in LOCALES else DEFAULT_LOCALE
