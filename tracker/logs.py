"""Log lines: plain text for a person at a terminal, one JSON object per line for machines.

``TRACKER_LOG_FORMAT`` chooses (``auto``: text when stderr is a terminal, JSON
otherwise; ``text``; ``json``). A JSON line carries ``ts`` (UTC, ISO 8601), ``level``,
``logger``, ``message``, ``pid``, and the ids bound to the work being done where there
is one: ``request_id`` (an API request), ``click_id``, ``conversion_id``,
``delivery_id`` (a partner postback); ``exception`` holds a traceback. Ids are bound
with ``bind`` (a context variable: they follow the task that set them) or passed as
``extra={...}`` to one call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

import orjson

Format = Literal["auto", "text", "json"]
FIELDS = ("request_id", "click_id", "conversion_id", "delivery_id")

_NONE: Mapping[str, str] = MappingProxyType({})
_bound: ContextVar[Mapping[str, str]] = ContextVar("tracker_log_context", default=_NONE)


@contextlib.contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Attach ids to every line logged by this task (and tasks it starts) inside."""
    merged = {**_bound.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _bound.set(merged)
    try:
        yield
    finally:
        _bound.reset(token)


def bound() -> Mapping[str, str]:
    return _bound.get()


def _ids(record: logging.LogRecord) -> dict[str, str]:
    out = dict(_bound.get())
    for name in FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            out[name] = str(value)
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        line.update(_ids(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = _ids(record)
        if not ids:
            return text
        head, sep, tail = text.partition("\n")  # after the message, before a traceback
        return head + " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]" + sep + tail


def chosen(fmt: Format, stream: Any = None) -> Literal["text", "json"]:
    if fmt != "auto":
        return fmt
    stream = stream or sys.stderr
    try:
        return "text" if os.isatty(stream.fileno()) else "json"
    except (AttributeError, OSError, ValueError):
        return "json"


def configure(level: str, fmt: Format = "auto") -> None:
    """One handler on the root logger, writing to stderr in the chosen format; loggers of
    libraries (uvicorn's among them, when it is given no config of its own) go through it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen(fmt) == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def dict_config(fmt: Format) -> dict[str, Any]:
    """A ``logging.config`` dict sending a server's own loggers (granian's) through the
    same format to stderr."""
    formatter = JsonFormatter if chosen(fmt) == "json" else TextFormatter
    name = f"{formatter.__module__}.{formatter.__qualname__}"
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "tracker",
        "stream": "ext://sys.stderr",
    }
    own = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tracker": {"()": name}},
        "handlers": {"console": handler},
        "loggers": {"_granian": own, "granian.access": dict(own)},
    }
