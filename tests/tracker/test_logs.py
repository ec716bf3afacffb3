"""Log lines: JSON objects with the ids of the work at hand, text on a terminal, and
the API's request id bound to what a request logs."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tracker import logs
from tracker.api.observe import Observe


def _capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.logs.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_level_logger_message_and_the_bound_ids() -> None:
    logger, out = _capture(logs.JsonFormatter())
    with logs.bind(request_id="r-1", conversion_id="c-9"):
        logger.warning("postback %s refused", "x\ny")  # a newline stays inside the string
        with logs.bind(click_id="k-2"):
            logger.info("inner")
    logger.info("outside", extra={"delivery_id": "d-3"})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # one line each, the traceback inside its JSON
    first, inner, outside, failed = (orjson.loads(line) for line in lines)
    assert first["level"] == "warning" and first["message"] == "postback x\ny refused"
    assert first["logger"].startswith("test.logs.") and first["pid"] == os.getpid()
    assert first["ts"].endswith("+00:00") and "T" in first["ts"]
    assert (first["request_id"], first["conversion_id"]) == ("r-1", "c-9")
    assert "click_id" not in first and inner["click_id"] == "k-2"
    assert "request_id" not in outside and outside["delivery_id"] == "d-3"
    assert "ValueError: boom" in failed["exception"]


def test_text_lines_show_the_ids_after_the_message() -> None:
    logger, out = _capture(logs.TextFormatter())
    with logs.bind(request_id="r-7"):
        logger.warning("slow")
    assert out.getvalue().rstrip().endswith("WARNING " + logger.name + ": slow [request_id=r-7]")


def test_auto_is_text_on_a_terminal_and_json_otherwise() -> None:
    primary, secondary = os.openpty()
    try:
        with os.fdopen(os.dup(secondary), "w") as tty:
            assert logs.chosen("auto", tty) == "text"
    finally:
        os.close(primary)
        os.close(secondary)
    read, write = os.pipe()
    try:
        with os.fdopen(os.dup(write), "w") as pipe:
            assert logs.chosen("auto", pipe) == "json"
    finally:
        os.close(read)
        os.close(write)
    assert logs.chosen("text", io.StringIO()) == "text"


def test_the_setting_chooses_the_format_in_a_fresh_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    code = ("import logging; from tracker import logs; from tracker.settings import Settings;"
            "s = Settings(); logs.configure(s.log_level, s.log_format);"
            "logging.getLogger('tracker').warning('hello')")  # fmt: skip
    for fmt in ("json", "text"):
        r = subprocess.run([sys.executable, "-c", code], env={**env, "TRACKER_LOG_FORMAT": fmt},
                           capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        line = r.stderr.strip().splitlines()[-1]
        if fmt == "json":
            assert orjson.loads(line)["message"] == "hello"
        else:
            assert line.endswith("WARNING tracker: hello")


async def test_an_api_request_gets_an_id_bound_to_its_log_lines() -> None:
    logger, out = _capture(logs.JsonFormatter())

    async def handler(request: Request) -> PlainTextResponse:
        logger.warning("inside the request")
        return PlainTextResponse("ok")

    app = Observe(Starlette(routes=[Route("/thing/{n}", handler)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        given = await http.get("/thing/1", headers={"X-Request-ID": "caller-chosen.1"})
        made = await http.get("/thing/2")
        bad = await http.get("/thing/3", headers={"X-Request-ID": "no spaces\tallowed"})
    assert given.headers["x-request-id"] == "caller-chosen.1"
    assert len(made.headers["x-request-id"]) == 32
    assert bad.headers["x-request-id"] != "no spaces\tallowed"
    ids = [orjson.loads(line)["request_id"] for line in out.getvalue().splitlines()]
    assert ids == [r.headers["x-request-id"] for r in (given, made, bad)]
