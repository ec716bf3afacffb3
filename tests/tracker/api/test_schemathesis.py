"""schemathesis against /openapi.json of the served app, with an admin and a partner key.

Every phase (examples, coverage, fuzzing, stateful) and every check. The size fits
CI (SCHEMATHESIS_MAX_EXAMPLES, default 3 per operation); the larger run is in the README.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import asyncpg
import httpx

from tracker.store.keys import create_key

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3")
MAX_TIME = os.environ.get("SCHEMATHESIS_MAX_TIME", "60")


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is a test dependency"
    return found


async def _run(url: str, token: str, tmp: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        _st(), "--config-file", str(CONFIG), "run", f"{url}/openapi.json",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", MAX_EXAMPLES, "--max-time", MAX_TIME, "--workers", "1",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "20261122"), "--no-shrink",
        "--request-timeout", "20", "--suppress-health-check", "all",
        "-H", f"Authorization: Bearer {token}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), int(MAX_TIME) + 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_schemathesis_admin_and_partner_keys(
    service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    aff = (await api.post("/api/v1/affiliates", json={"name": "fuzzed partner"})).json()
    admin = await create_key(pool, "admin", rate_limit_per_min=1_000_000, label="schemathesis")
    partner = await create_key(pool, "affiliate", affiliate_id=aff["id"],
                               rate_limit_per_min=1_000_000, label="schemathesis")  # fmt: skip
    try:
        for name, key in (("admin", admin), ("partner", partner)):
            await _check(name, key.token, service, tmp_path)
    finally:  # the tracking domains it registered would put later tests' links on them
        await pool.execute("DELETE FROM tracking_domains")


async def _check(name: str, token: str, service: str, tmp_path: Path) -> None:
    code, out = await _run(service, token, tmp_path)
    (tmp_path / f"{name}.log").write_text(out)
    if log := os.environ.get("SCHEMATHESIS_LOG"):
        Path(f"{log}.{name}").write_text(out)
    assert code == 0, f"schemathesis with the {name} key failed:\n{out[-20000:]}"
