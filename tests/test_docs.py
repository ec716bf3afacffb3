"""The ADR index (docs/adr/README.md) tells the truth about every decision record.

Each ADR states its status on its third line (``Date: … · Status: <status>[ · …]``).
The index lists every ADR once, in number order, with its title and that status, so
a reader never meets a "proposed" record for something the code has done for weeks,
nor a superseded one without the record that replaced it.

Rewrite the index after adding or changing an ADR: ``python tests/test_docs.py``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ADR_DIR = Path(__file__).resolve().parents[1] / "docs" / "adr"
INDEX = ADR_DIR / "README.md"
STATUS_WORDS = ("accepted", "proposed", "superseded", "deprecated")
_NAME = re.compile(r"^(\d{4})-[a-z0-9-]+\.md$")
_TITLE = re.compile(r"^# (\d{4}) — (.+)$")
_STATUS = re.compile(r"Status: ([^·]+)")
_SUPERSEDED_BY = re.compile(r"superseded by (\d{4})")

HEADER = """# Architecture decision records

One file per decision: its context, the decision and what follows from it. The
status is the record's own (its third line); this index is checked against the files
by `tests/test_docs.py` (run `python tests/test_docs.py` to rewrite it).

| ADR | Decision | Status |
| --- | --- | --- |
"""


@dataclass(frozen=True)
class Adr:
    number: str
    file: str
    title: str
    status: str


def read_adrs() -> list[Adr]:
    adrs = []
    for path in sorted(ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md")):
        name = _NAME.match(path.name)
        assert name, f"{path.name}: ADR files are named NNNN-words-with-dashes.md"
        lines = path.read_text(encoding="utf-8").splitlines()
        title = _TITLE.match(lines[0])
        assert title and title.group(1) == name.group(1), (
            f"{path.name}: the first line is '# {name.group(1)} — <title>'"
        )
        status = _STATUS.search(lines[2]) if len(lines) > 2 else None
        assert status, f"{path.name}: the third line states 'Status: …'"
        adrs.append(Adr(name.group(1), path.name, title.group(2), status.group(1).strip()))
    return adrs


def render_index(adrs: list[Adr]) -> str:
    rows = [f"| [{a.number}]({a.file}) | {a.title} | {a.status} |" for a in adrs]
    return HEADER + "\n".join(rows) + "\n"


def test_every_status_is_a_known_word() -> None:
    for adr in read_adrs():
        assert adr.status.split()[0] in STATUS_WORDS, (adr.file, adr.status)


def test_a_superseded_record_names_one_that_exists_and_says_so() -> None:
    adrs = {a.number: a for a in read_adrs()}
    for adr in adrs.values():
        if not adr.status.startswith("superseded"):
            assert "superseded by" not in adr.status, adr.file
            continue
        by = _SUPERSEDED_BY.search(adr.status)
        assert by, f"{adr.file}: 'superseded by NNNN'"
        assert by.group(1) in adrs, f"{adr.file}: {by.group(1)} does not exist"
        successor = (ADR_DIR / adrs[by.group(1)].file).read_text(encoding="utf-8")
        assert adr.number in successor, (
            f"{adrs[by.group(1)].file} does not mention the {adr.number} it supersedes"
        )


def test_the_index_lists_every_record_with_its_status() -> None:
    expected = render_index(read_adrs())
    actual = INDEX.read_text(encoding="utf-8") if INDEX.exists() else ""
    assert actual == expected, "docs/adr/README.md is stale: run python tests/test_docs.py"


if __name__ == "__main__":
    INDEX.write_text(render_index(read_adrs()), encoding="utf-8")
    sys.stdout.write(f"wrote {INDEX}\n")
