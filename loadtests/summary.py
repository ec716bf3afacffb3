"""The last line of every benchmark: one JSON object with its figures and ratios, so
that runs can be compared by a script (``tail -n 1 run.log | jq``).

Besides the benchmark's own figures it carries ``benchmark`` (its module), ``at``
(UTC), the machine's load average at the start and at the end (the machine is shared:
figures move with it) and its CPU count.
"""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import UTC, datetime
from typing import Any


class Summary:
    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.load_start = os.getloadavg()

    def print(self, figures: dict[str, Any]) -> None:
        line = {
            "benchmark": self.benchmark,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "load_start": [round(x, 2) for x in self.load_start],
            "load_end": [round(x, 2) for x in os.getloadavg()],
            **{k: _clean(v) for k, v in figures.items()},
        }
        sys.stderr.flush()
        sys.stdout.flush()
        print(json.dumps(line), flush=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
