"""The counted-click rule: which click classes count as a click, a unique and a paid one.

One rule for every reader and writer (issue 23): the redirect's click caps, the
worker's unique judge and rollups, the reports' SQL and the traffic report all
take it from here, in Python or as the SQL fragment next to it.

- a **click** (gross): every class but ``head`` (a HEAD asks for headers, nobody
  clicked); blocked clicks are clicks, stored with the rule that blocked them;
- a **paid** click: ``human`` only. Only a paid click takes the visitor's unique
  slot, counts toward a click cap and earns CPC money; bots, previews, prefetches
  and blocked clicks never do;
- a non-human click: gross less paid (bot, preview, prefetch, blocked), which is
  how the reports count ``bot_clicks`` (the class set is closed, migration 0040).
"""

from __future__ import annotations

from schemas.events import ClickClass

CLICK_CLASSES: frozenset[ClickClass] = frozenset({"human", "bot", "preview", "prefetch", "blocked"})
PAID_CLASSES: frozenset[ClickClass] = frozenset({"human"})


def is_click(cls: str) -> bool:
    return cls != "head"


def is_paid(cls: str) -> bool:
    """Takes a unique slot, counts toward a click cap, earns CPC."""
    return cls == "human"


def click_sql(column: str = "click_class") -> str:
    """SQL: the row counts as a click (gross)."""
    return f"{column} <> 'head'"


def paid_sql(column: str = "click_class") -> str:
    """SQL: the row is a paid click (human)."""
    return f"{column} = 'human'"
