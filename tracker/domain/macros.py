"""Landing URL templates: ``{name}`` macros filled with percent-encoded values.

A template is compiled once (when a link is cached) into literal parts and
macro names, so filling it per click is a join. Every value goes through
``quote(safe="")``: CR, LF, NUL, ``/``, ``?``, ``#``, ``&``, ``@`` and
non-ASCII never reach the ``Location`` header raw, and a value can never
change the URL's scheme, host or path. Unknown macros are left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

_MACRO = re.compile(r"\{([a-z][a-z0-9_]*(?::[A-Za-z0-9_.-]+)?)\}")

KNOWN = frozenset(
    {"click_id", "aff_id", "offer_id", "link_code", "source", "country", "device", "timestamp"}
    | {f"sub{i}" for i in range(1, 11)}
)


# Values made only of unreserved characters need no encoding (the common case);
# the redirect's link plans test values with it too.
PLAIN = re.compile(r"[A-Za-z0-9._~-]*")


def encode(value: str) -> str:
    """Percent-encode a value for any part of a URL: only unreserved characters stay."""
    return value if PLAIN.fullmatch(value) else quote(value, safe="", errors="replace")


class Values(Protocol):
    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[str, ...]  # literal, macro, literal, macro, ..., literal
    names: tuple[str, ...]
    _pairs: tuple[tuple[str, str], ...] = field(default=(), init=False, repr=False, compare=False)

    def fill(self, values: Values) -> str:
        """The URL with each macro replaced by its encoded value ('' when unknown or empty).

        ``values`` is any object with ``get(name)``: a dict, or a lazy lookup
        that computes only the macros this template uses.
        """
        out = [self.parts[0]]
        append, plain = out.append, PLAIN.fullmatch
        for name, literal in self._pairs:
            v = values.get(name)
            if v:
                append(v if plain(v) else quote(v, safe="", errors="replace"))
            append(literal)
        return "".join(out)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(macro name, literal text after it), in order."""
        return self._pairs

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pairs", tuple(zip(self.names, self.parts[1:], strict=True)))

    def bind(self, values: dict[str, str]) -> Template:
        """The template with the given macros filled in once (the per-link constants)
        and unknown macros dropped; the others stay macros."""
        parts = [self.parts[0]]
        names: list[str] = []
        for i, name in enumerate(self.names):
            if name in values or (name not in KNOWN and not name.startswith("p:")):
                v = values.get(name)
                parts[-1] += (encode(v) if v else "") + self.parts[i + 1]
            else:
                names.append(name)
                parts.append(self.parts[i + 1])
        return Template(tuple(parts), tuple(names))


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
