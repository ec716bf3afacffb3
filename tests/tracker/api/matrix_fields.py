"""The role x field matrix as a test, generated from the OpenAPI document (issue 17).

For every operation of ``/openapi.json`` the 2xx response schema is followed field by
field; each schema must be in the table of tracker/domain/visibility.py (docs/visibility.md)
with every one of its fields, and every answer the tenant matrix received (every route,
every role's key) is checked against it: a field the key may not see is null or absent, a
reduced one is a code, a key of the decision record the key may not see is absent, and an
admin-only or partner-only resource never reaches another role. Exports are checked
column by column.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.tracker.api.matrix_world import Who
from tracker.domain import visibility as table

CODES = {
    "reason_code": table.TRACKER_REASONS,
    "actor_kind": {"postback", "pixel", "browser", "api", "tracker"},
}
EXPORTS = {"GET /api/v1/exports/clicks": "ClickExport",
           "GET /api/v1/exports/conversions": "ConversionExport"}  # fmt: skip


@dataclass
class Report:
    fields_checked: int = 0
    answers: int = 0
    leaks: list[str] = field(default_factory=list)
    undeclared: set[str] = field(default_factory=set)  # schema fields not in the table
    seen: set[tuple[str, str]] = field(default_factory=set)  # (operation, audience) with a 2xx


def _container(name: str) -> bool:
    return name.startswith("Page_") or name.endswith("Page")


class Checker:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.report = Report()
        self.created = False

    def _schema(self, ref: str) -> tuple[str, dict[str, Any]]:
        name = ref.rsplit("/", 1)[1]
        return name, self.doc["components"]["schemas"][name]

    def operations(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(``METHOD /path``, schema of its JSON 2xx answer or None) of every operation."""
        for path, ops in self.doc["paths"].items():
            for method, op in ops.items():
                schema = None
                for status, resp in op.get("responses", {}).items():
                    if status.startswith("2"):
                        schema = resp.get("content", {}).get("application/json", {}).get("schema")
                        break
                yield f"{method.upper()} {path}", schema

    def declared(self, schema: dict[str, Any], trail: str = "") -> None:
        """Every schema and field reachable from a response is in the table."""
        for name, body in self._reachable(schema, set()):
            if name in table.FIELDS:
                for prop in body.get("properties", {}):
                    if prop not in table.FIELDS[name]:
                        self.report.undeclared.add(f"{name}.{prop}")
            elif not _container(name):
                self.report.undeclared.add(name)

    def _reachable(self, schema: Any, done: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref:
                name, body = self._schema(ref)
                if name not in done:
                    done.add(name)
                    yield name, body
                    yield from self._reachable(body, done)
                return
            for value in schema.values():
                yield from self._reachable(value, done)
        elif isinstance(schema, list):
            for value in schema:
                yield from self._reachable(value, done)

    def answer(self, who: Who, key: str, schema: dict[str, Any] | None, r: httpx.Response) -> None:
        self.report.answers += 1
        self.report.seen.add((key, who.audience))
        self.created = r.status_code == 201  # a secret marked "once" may be in this answer
        where = f"{who.name} {key}"
        if key in EXPORTS:
            self._export(who, EXPORTS[key], r, where)
        elif schema is not None and r.content:
            self._value(who, schema, r.json(), where)

    def _leak(self, text: str) -> None:
        self.report.leaks.append(text)

    def _value(self, who: Who, schema: dict[str, Any], value: Any, where: str) -> None:
        if value is None:
            return
        if "$ref" in schema:
            name, body = self._schema(schema["$ref"])
            if name in table.ADMIN_RESOURCES and who.audience not in table.ADMINS:
                self._leak(f"{where}: {name} is for admins only")
            if name in table.PARTNER_RESOURCES and who.role == "advertiser":
                self._leak(f"{where}: {name} is not for advertisers")
            if name in table.ADVERTISER_RESOURCES and who.role == "affiliate":
                self._leak(f"{where}: {name} is not for partners")
            if name in table.FIELDS:
                self._object(who, name, body, value, where)
            else:
                self._value(who, body, value, where)
            return
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            if branch.get("type") != "null":
                self._value(who, branch, value, where)
        if isinstance(value, list) and "items" in schema:
            for item in value:
                self._value(who, schema["items"], item, where)
        elif isinstance(value, dict) and "properties" in schema:
            for prop, sub in schema["properties"].items():
                self._value(who, sub, value.get(prop), f"{where} .{prop}")

    def _object(self, who: Who, name: str, body: dict[str, Any], value: Any,
                where: str) -> None:  # fmt: skip
        assert isinstance(value, dict), (where, value)
        aud = who.audience
        for prop, shown in value.items():
            self.report.fields_checked += 1
            r = table.rule(name, prop)
            at = f"{where} {name}.{prop}"
            if prop not in body.get("properties", {}):
                self._leak(f"{at}: a field the OpenAPI document does not declare")
            elif aud in r.full and r.once:
                if shown is not None and not self.created:
                    self._leak(f"{at}: shown only in the answer that creates it")
            elif aud in r.full:
                if prop == "decision":
                    self._decision(who, shown, at, "", "")
                else:
                    self._value(who, body["properties"][prop], shown, at)
            elif aud in r.reduced:
                if shown is not None and shown not in CODES[r.form]:
                    self._leak(f"{at} = {shown!r}: {aud} sees only a {r.form}")
            elif shown not in (None, [], {}):
                self._leak(f"{at} = {str(shown)[:60]!r}: hidden from {aud}")

    def _decision(self, who: Who, record: Any, where: str, prefix: str, parent: str) -> None:
        rules = table.FIELDS["Decision"]
        for key, value in record.items():
            self.report.fields_checked += 1
            path = f"{prefix}{key}"
            name = path if path in rules or not parent else parent
            r = table.rule("Decision", name)
            if who.audience in r.reduced:
                if value is not None and value not in CODES[r.form]:
                    self._leak(f"{where}.{path} = {value!r}: a code only")
            elif who.audience not in r.full:
                self._leak(f"{where}.{path}: hidden from {who.audience}")
            elif isinstance(value, dict):
                self._decision(who, value, where, f"{path}.", name)

    def _export(self, who: Who, resource: str, r: httpx.Response, where: str) -> None:
        ctype = r.headers["content-type"]
        if ctype.startswith("text/csv"):
            rows = list(csv.reader(io.StringIO(r.text)))
            header, lines = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
        else:
            lines = [json.loads(line) for line in r.text.splitlines() if line]
            header = list(lines[0]) if lines else []
        for column in header:
            self.report.fields_checked += 1
            if not table.sees(resource, column, who.audience):
                self._leak(f"{where}: column {column} hidden from {who.audience}")
        rule = {c: table.rule(resource, c) for c in header}
        for line in lines:
            for column, value in line.items():
                if who.audience in rule[column].reduced and value not in ("", None):
                    if value not in CODES[rule[column].form]:
                        self._leak(f"{where}: {column} = {value!r}, a code only")
