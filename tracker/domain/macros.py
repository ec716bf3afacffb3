"""Landing URL templates: ``{name}`` macros filled with percent-encoded values.

A template is compiled once (when a link is cached) into literal parts and
macro names, so filling it per click is a join. Every value goes through
``quote(safe="")``: CR, LF, NUL, ``/``, ``?``, ``#``, ``&``, ``@`` and
non-ASCII never reach the ``Location`` header raw, and a value can never
change the URL's scheme, host or path. Unknown macros are left empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

_MACRO = re.compile(r"\{([a-z][a-z0-9_]*(?::[A-Za-z0-9_.-]+)?)\}")

KNOWN = frozenset(
    {"click_id", "aff_id", "offer_id", "link_code", "source", "country", "device", "timestamp"}
    | {f"sub{i}" for i in range(1, 11)}
)


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[str, ...]  # literal, macro, literal, macro, ..., literal
    names: tuple[str, ...]

    def fill(self, values: Mapping[str, str | None]) -> str:
        parts = self.parts
        out = [parts[0]]
        for i, name in enumerate(self.names):
            v = values.get(name)
            if v:
                # errors="replace": a lone surrogate cannot be UTF-8; it must not crash a redirect
                out.append(quote(v, safe="", errors="replace"))
            out.append(parts[i + 1])
        return "".join(out)


# Characters a URL may carry as they are; anything else in the literal text of
# a template (spaces, controls, non-ASCII) is percent-encoded once, at compile time.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def compile_template(template: str) -> Template:
    parts: list[str] = []
    names: list[str] = []
    pos = 0
    for m in _MACRO.finditer(template):
        parts.append(quote(template[pos : m.start()], safe=_URL_SAFE))
        names.append(m.group(1))
        pos = m.end()
    parts.append(quote(template[pos:], safe=_URL_SAFE))
    return Template(tuple(parts), tuple(names))
