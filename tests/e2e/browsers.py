"""Real browsers for the tests, with third-party cookies blocked (issue 18).

Chromium: Debian's ``chromium`` driven by Playwright's Python package (its own driver, no
browser download) with a fresh user-data-dir whose preferences block third-party cookies.
Firefox: Debian's ``firefox-esr`` over WebDriver BiDi, the protocol Firefox itself serves
(``--remote-debugging-port``), through a minimal client here: Playwright's BiDi Firefox
needs commands ESR 153 lacks (``emulation.setMediaFeaturesOverride``), and geckodriver is
not packaged by Debian. Both answer the same three calls: ``goto``, ``js``, ``cookies``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # *.localhost is loopback (RFC 6761): the shop, its tracking subdomain, other sites.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]  # fmt: skip
# Block third-party cookies, as Chrome users who choose it, Safari and Firefox's strict
# mode do (cookie_controls_mode 1 is "block third-party cookies").
CHROMIUM_PREFS = {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}
FIREFOX_PREFS = {
    "network.cookie.cookieBehavior": 1,  # block all third-party cookies
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
    "devtools.jsonview.enabled": False,  # JSON answers as text, as Chromium shows them
}
ENGINES = ("chromium", "firefox")


class Browser(Protocol):
    name: str

    async def goto(self, url: str) -> None: ...

    async def js(self, expression: str) -> Any:
        """Evaluate in the page, await a promise, return the value as JSON data."""

    async def cookies(self) -> list[dict[str, Any]]:
        """Every cookie: name, value, domain, path, expires (unix s or None), same_site."""


def installed(engine: str) -> bool:
    return shutil.which(CHROMIUM if engine == "chromium" else FIREFOX) is not None


@contextlib.asynccontextmanager
async def launch(engine: str, profile: Path) -> AsyncIterator[Browser]:
    profile.mkdir(parents=True, exist_ok=True)
    if engine == "chromium":
        async with _chromium(profile) as b:
            yield b
    else:
        async with _firefox(profile) as f:
            yield f


def _wrap(expression: str) -> str:
    return f"(async () => JSON.stringify(await ({expression})))()"


class _Chromium:
    name = "chromium"

    def __init__(self, context: Any, page: Any) -> None:
        self.context, self.page = context, page

    async def goto(self, url: str) -> None:
        await self.page.goto(url, wait_until="load")

    async def js(self, expression: str) -> Any:
        text = await self.page.evaluate(_wrap(expression))
        return json.loads(text) if text is not None else None

    async def cookies(self) -> list[dict[str, Any]]:
        return [{"name": c["name"], "value": c["value"], "domain": c["domain"].lstrip("."),
                 "path": c["path"], "expires": c["expires"] if c["expires"] > 0 else None,
                 "same_site": c["sameSite"].lower()} for c in await self.context.cookies()]  # fmt: skip


@contextlib.asynccontextmanager
async def _chromium(profile: Path) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    (profile / "Default").mkdir(exist_ok=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(CHROMIUM_PREFS))
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            yield _Chromium(context, page)
        finally:
            await context.close()


class _Firefox:
    name = "firefox"

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.context = ""

    async def cmd(self, method: str, **params: Any) -> Any:
        n = next(self.ids)
        await self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:  # no events are subscribed: every message answers a command
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if msg.get("id") == n:
                if msg.get("type") == "error":
                    raise RuntimeError(f"{method}: {msg.get('error')}: {msg.get('message')}")
                return msg["result"]

    async def goto(self, url: str) -> None:
        await self.cmd("browsingContext.navigate", context=self.context, url=url, wait="complete")

    async def js(self, expression: str) -> Any:
        r = await self.cmd("script.evaluate", expression=_wrap(expression), awaitPromise=True,
                           target={"context": self.context})  # fmt: skip
        if r["type"] == "exception":
            raise RuntimeError(r["exceptionDetails"].get("text"))
        value = r["result"]
        return json.loads(value["value"]) if value["type"] == "string" else None

    async def cookies(self) -> list[dict[str, Any]]:
        found = (await self.cmd("storage.getCookies"))["cookies"]
        return [{"name": c["name"], "value": c["value"]["value"], "domain": c["domain"].lstrip("."),
                 "path": c["path"], "expires": c.get("expiry"), "same_site": c["sameSite"]}
                for c in found]  # fmt: skip


@contextlib.asynccontextmanager
async def _firefox(profile: Path) -> AsyncIterator[Browser]:
    import websockets

    (profile / "user.js").write_text("".join(
        f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items()))  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        FIREFOX, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", str(profile),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        url = None
        async with asyncio.timeout(60):
            while url is None:
                line = (await proc.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("firefox exited before it served WebDriver BiDi")
                m = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
                url = m.group(1) if m else None

        async def _drain() -> None:  # keep reading, or a full pipe stalls the browser
            assert proc.stderr is not None
            while await proc.stderr.readline():
                pass

        drain = asyncio.create_task(_drain())
        async with websockets.connect(f"{url}/session", max_size=None) as ws:
            f = _Firefox(ws)
            await f.cmd("session.new", capabilities={})
            f.context = (await f.cmd("browsingContext.getTree"))["contexts"][0]["context"]
            try:
                yield f
            finally:
                with contextlib.suppress(Exception):
                    await f.cmd("browser.close")
    finally:
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if drain is not None:
            drain.cancel()
