"""The message catalogue: files, fallbacks, the JSON for the scripts, and that every key a
template or script uses exists in both locales."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts.events import EvidenceKind, ViolationType
from server.api.routes.pages import ADMIN_NAV, NAV
from server.i18n import LOCALES, CatalogError, load_catalog, pick_locale
from server.lifecycle.tables import TransitionAction
from server.tables import CaseStatus, ReviewVerdict, UserRole
from server.webhooks.tables import DeliveryStatus

SERVER = Path(__file__).resolve().parents[3] / "server"
DOMAINS = ("common", "queue", "case", "stats", "map", "webhooks")
"""The page areas whose catalogue files this project area keeps."""
_TEMPLATE_KEY = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[A-Za-z0-9_.-]+)['"]""")


def domains() -> tuple[str, ...]:
    """Page areas: this area's, any with catalogue files, any a template names."""
    found = set(DOMAINS)
    found |= {path.name.split(".")[0] for path in (SERVER / "i18n" / "catalog").glob("*.json")}
    for path in (SERVER / "templates").rglob("*.html"):
        found |= {key.split(".")[0] for key in _TEMPLATE_KEY.findall(path.read_text())}
    return tuple(sorted(found))


def _script_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    names = "|".join(domains())
    key = re.compile(r"""["'`]((?:""" + names + r""")\.[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)*)["'`]""")
    prefix = re.compile(
        r"""label\(\s*["'`]((?:""" + names + r""")\.[a-z_.]+)["'`]\s*,"""
        r"""|`((?:""" + names + r""")\.[a-z_.]+)\.\$\{"""
    )
    return key, prefix


def _prefixes(pattern: re.Pattern[str], text: str) -> set[str]:
    """Key prefixes a script completes at run time: label("x.y", v) and t(`x.y.${v}`)."""
    return {a or b for a, b in pattern.findall(text)}


def used_keys() -> set[str]:
    """Keys named literally in a template (t('...')) or a script (any quoted key)."""
    keys: set[str] = set()
    for path in (SERVER / "templates").rglob("*.html"):
        keys |= {k for k in _TEMPLATE_KEY.findall(path.read_text()) if not k.endswith(".")}
    script_key, script_prefix = _script_patterns()
    for path in (SERVER / "static").rglob("*.js"):
        text = path.read_text()
        keys |= set(script_key.findall(text)) - _prefixes(script_prefix, text)
    keys |= {key for _, key, _ in NAV + ADMIN_NAV}
    return keys


def families() -> set[str]:
    """Keys built from a value at run time (label("common.status", status) and the like)."""
    out = {f"common.status.{s.value}" for s in CaseStatus}
    out |= {f"common.violation.{v.value}" for v in ViolationType}
    out |= {f"common.role.{r.value}" for r in UserRole}
    out |= {f"common.chain.{c}" for c in ("verified", "pending", "flagged", "unchained")}
    out |= {f"common.kind.{k.value}" for k in EvidenceKind}
    out |= {f"case.action.{a.value}" for a in TransitionAction}
    out |= {f"case.action.{v.value}" for v in ReviewVerdict}
    out |= {f"queue.verdict.{v.value}" for v in ReviewVerdict}
    out |= {f"case.channel.{c}" for c in ("sms", "phone", "paper", "in_person")}
    out |= {f"common.locale.{code}" for code in LOCALES}
    out |= {f"webhooks.status.{s.value}" for s in DeliveryStatus}
    case_js = (SERVER / "static" / "js" / "case.js").read_text()
    out |= {f"case.do.{a}" for a in re.findall(r'\badd\("([a-z_]+)", "', case_js)}
    return out


def test_every_used_key_is_in_both_locales() -> None:
    catalog = load_catalog()
    wanted = used_keys() | families()
    assert len(wanted) > 120  # the scan finds the keys at all
    for locale in LOCALES:
        missing = sorted(k for k in wanted if k not in catalog.keys(locale))
        assert missing == [], f"{locale} lacks {missing}"


def test_both_locales_have_the_same_keys_and_placeholders() -> None:
    catalog = load_catalog()
    zh, en = catalog.messages["zh-CN"], catalog.messages["en"]
    assert set(zh) == set(en)
    for key in zh:
        names = re.compile(r"\{([a-z_]+)\}")
        assert set(names.findall(zh[key])) == set(names.findall(en[key])), key


def test_the_prefix_scan_finds_the_dynamic_families() -> None:
    text = (SERVER / "static" / "js" / "case.js").read_text()
    prefixes = _prefixes(_script_patterns()[1], text)
    assert {"common.violation", "common.status", "case.action"} <= prefixes
    known = {k.rsplit(".", 1)[0] for k in families()}
    assert prefixes <= known | {"case.do", "case.colour", "case.load_state"}, prefixes - known


def test_text_fills_placeholders_and_falls_back() -> None:
    catalog = load_catalog()
    assert catalog.text("zh-CN", "queue.total", n=3) == "共 3 件"
    assert catalog.text("en", "queue.total", n=3) == "3 cases"
    assert catalog.text("zh-CN", "no.such.key") == "no.such.key"
    assert catalog.text("fr", "common.nav.map") == "Map"  # unknown locale: English
    assert (
        pick_locale("en") == "en" and pick_locale("de") == "zh-CN" and pick_locale(None) == "zh-CN"
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("x.zh-CN.json", "[1]", "must be an object"),
        ("x.zh-CN.json", "{", "not readable JSON"),
        ("x.zh-CN.json", '{"y.a": "b"}', "must start with 'x.'"),
        ("x.zh-CN.json", '{"x.a": ""}', "non-empty string"),
        ("x.fr.json", '{"x.a": "b"}', "locale 'fr'"),
        ("X.en.json", '{"x.a": "b"}', "<domain>.<locale>.json"),
    ],
)
def test_malformed_files_are_refused_with_their_name(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(problem)) as caught:
        load_catalog(tmp_path)
    assert name in str(caught.value)


def test_a_domain_from_another_area_adds_its_own_file(tmp_path: Path) -> None:
    for locale in LOCALES:
        (tmp_path / f"cameras.{locale}.json").write_text(
            json.dumps({"cameras.title": f"cams {locale}"}), encoding="utf-8"
        )
    catalog = load_catalog(tmp_path)
    assert catalog.text("en", "cameras.title") == "cams en"


def test_the_catalogue_json_is_served_cached_and_the_switch_sets_a_cookie(
    client: TestClient,
) -> None:
    zh = client.get("/i18n/zh-CN.json")
    assert zh.status_code == 200 and zh.json()["common.nav.queue"] == "队列"
    assert "max-age" in zh.headers["cache-control"]
    again = client.get("/i18n/zh-CN.json", headers={"If-None-Match": zh.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/i18n/fr.json").status_code == 404
    assert "队列" in client.get("/").text  # Chinese by default
    switch = client.get("/locale/en?next=/stats", follow_redirects=False)
    assert switch.status_code == 303 and switch.headers["location"] == "/stats"
    page = client.get("/stats")
    assert 'lang="en"' in page.text and "Statistics" in page.text and "/i18n/en.json" in page.text
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil"):
        reply = client.get("/locale/zh-CN", params={"next": evil}, follow_redirects=False)
        assert reply.headers["location"] == "/"
    assert "队列" in client.get("/").text
