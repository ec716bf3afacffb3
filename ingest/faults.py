"""Test-only fault injection, read from one explicit environment variable.

``TRACKER_INGEST_FAULT=exit_after_commit`` makes the worker process die with
``os._exit(86)`` right after its first click batch is committed and before
the XACK (``exit_after_commit:N``: after the Nth). The crash tests use it to
prove that the replayed batch changes nothing. Unset, it costs one branch.
"""

from __future__ import annotations

import logging
import os

ENV = "TRACKER_INGEST_FAULT"
EXIT_CODE = 86

log = logging.getLogger("tracker.ingest")


class Faults:
    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get(ENV, "") if spec is None else spec
        self._exit_after: int | None = None
        if spec.startswith("exit_after_commit"):
            _, _, n = spec.partition(":")
            self._exit_after = int(n or 1)
            log.warning("fault injection armed: %s", spec)
        self._commits = 0

    def after_commit(self) -> None:
        if self._exit_after is None:
            return
        self._commits += 1
        if self._commits >= self._exit_after:
            os._exit(EXIT_CODE)
