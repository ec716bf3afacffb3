"""Dashboards and alerts that match what the tracker exports.

- The alert rules pass promtool (Debian's `prometheus` package: `apt-get install
  prometheus`; .ci/run installs it) and its unit tests (deploy/prometheus/alerts_test.yml:
  when each alert fires and when it does not); prometheus.yml passes `promtool check
  config`.
- Every metric the Grafana dashboard and the rules name is exported by a running
  tracker: `tracker serve --workers 2` and `tracker ingest --workers 2` (multiprocess
  mode, where only metrics with samples are exported) after one of each kind of event
  (click, API call, refused and accepted postback, status change, partner postback).
- docker-compose.yml brings Prometheus and Grafana with those files, and the image
  holds every package. Docker itself does not run here: the file's structure is checked.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import yaml

from tests.conftest import create_world
from tests.ingest.procs import worker_env
from tests.receiver import receiver
from tests.redirect.helpers import CHROME
from tests.servers import cli_env, free_port
from tracker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "tracker.json"
# Series Prometheus makes itself, not the tracker.
SYNTHETIC = {"up"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers left once strings, label
    matchers, ranges and grouping lists are removed, that are neither keywords nor
    functions/aggregations (followed by a parenthesis)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)", e):
        rest = e[m.end() :].lstrip()
        if rest.startswith("(") or m.group(1).lower() in _KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def test_metric_names_reads_promql_as_meant() -> None:
    assert metric_names(
        'sum by (le, route) (rate(tracker_api_request_seconds_bucket{route!="x"}[5m]))'
    ) == {"tracker_api_request_seconds_bucket"}
    assert metric_names("time() - max(a_b) > 120 and on (x) up{job=~\"t.*\"} == 0") == {
        "a_b", "up"}  # fmt: skip
    assert metric_names("sum(rate(x_total{a='b'}[1m])) / sum(rate(y[10m])) > 0.2") == {
        "x_total", "y"}  # fmt: skip
    assert metric_names("absent(tracker_z)") == {"tracker_z"}


def _rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def _dashboard_exprs() -> list[str]:
    doc = orjson.loads(DASHBOARD.read_bytes())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def _promtool() -> str:
    tool = shutil.which("promtool")
    assert tool, "promtool is needed: apt-get install prometheus (.ci/run does it)"
    return tool


def test_alert_rules_and_prometheus_config_pass_promtool(tmp_path: Path) -> None:
    tool = _promtool()
    for args in (["check", "rules", str(RULES)],
                 ["test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")]):  # fmt: skip
        r = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    # The config names the rules where the compose file mounts them; check a copy that
    # names the file in the repository instead.
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "/etc/prometheus/alerts.yml" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/alerts.yml", str(RULES))
    )
    r = subprocess.run([tool, "check", "config", str(tmp_path / "prometheus.yml")],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_rules_cover_what_an_operator_is_paged_for() -> None:
    alerts = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"]
              for r in g["rules"]}  # fmt: skip
    wanted = {
        "TrackerClicksSpooled": "tracker_clicks_spooled_total",
        "TrackerStreamLagHigh": "tracker_stream_lag_seconds",
        "TrackerDeadLetterGrowing": "tracker_dead_letter_length",
        "TrackerIngestStalled": "tracker_ingest_last_progress_seconds",
        "TrackerPartnerPostbacksFailing": "tracker_postback_attempts_total",
        "TrackerPostgresUnreachable": "tracker_dependency_up",
        "TrackerRedisUnreachable": "tracker_dependency_up",
    }
    for name, metric in wanted.items():
        assert metric in metric_names(alerts[name]["expr"]), name
        assert alerts[name]["labels"]["severity"] in ("warning", "critical")
        assert alerts[name]["annotations"]["summary"]


def test_the_dashboard_is_grafana_json_with_a_panel_per_topic() -> None:
    doc = orjson.loads(DASHBOARD.read_bytes())
    assert (
        doc["uid"]
        and doc["schemaVersion"] >= 36
        and doc["templating"]["list"][0]["type"] == "datasource"
    )
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in doc["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
    used = set().union(*(metric_names(e) for e in _dashboard_exprs()))
    for topic in ("tracker_redirects_total", "tracker_redirect_seconds_bucket",
                  "tracker_spool_bytes", "tracker_stream_lag_seconds", "tracker_rows_ingested_total",
                  "tracker_dead_letter_length", "tracker_conversions_total",
                  "tracker_postback_attempts_total", "tracker_api_request_seconds_bucket"):  # fmt: skip
        assert topic in used, topic


def _exported(text: str) -> set[str]:
    return {line.split("{", 1)[0].split(" ", 1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}  # fmt: skip


async def _until(what: str, check: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_every_metric_the_dashboard_and_rules_name_is_exported_by_a_running_tracker(
    settings: Settings, pool: asyncpg.Pool, admin_key: str
) -> None:
    port, metrics_port = free_port(), free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)],
        env=cli_env(settings, TRACKER_POSTBACK_ALLOW_LOOPBACK="true"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ingest = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "ingest", "--workers", "2",
         "--metrics-port", str(metrics_port)],
        env=worker_env(settings, TRACKER_POSTBACK_ALLOW_LOOPBACK="true"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with (
            receiver() as rx,
            httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10
            ) as api,
        ):

            async def up() -> bool:
                try:
                    return (await api.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _until("tracker serve", up)
            world = await create_world(api)
            adv, aff = world["advertiser"], world["affiliate"]["id"]
            r = await api.post("/api/v1/partner-postbacks", json={
                "affiliate_id": aff, "url_template": f"http://127.0.0.1:{rx.port}/pb?c={{click_id}}"})  # fmt: skip
            assert r.status_code == 201, r.text
            click = await api.get(f"/c/{world['link']['code']}", headers={"User-Agent": CHROME})
            cid = re.search(r"cid=([0-9a-f-]{36})", click.headers["location"]).group(1)  # type: ignore[union-attr]

            async def stored() -> bool:
                return bool(
                    await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff)
                )

            await _until("the click in Postgres", stored)
            refused = await api.get("/postback", params={"advertiser_id": adv["id"], "token": "wrong",
                                                         "click_id": cid, "txn_id": "o-1"})  # fmt: skip
            assert refused.status_code in (401, 403)
            ok = await api.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                                    "click_id": cid, "txn_id": "o-1", "amount": "10"})  # fmt: skip
            assert ok.status_code == 202, ok.text
            conv = ok.json()["conversion_id"]

            async def converted() -> bool:
                return bool(await pool.fetchval(
                    "SELECT count(*) FROM conversions WHERE conversion_id = $1", conv))  # fmt: skip

            await _until("the conversion in Postgres", converted)
            s = await api.post(f"/api/v1/conversions/{conv}/status", json={"status": "reversed"})
            assert s.status_code == 200, s.text

            async def delivered() -> bool:
                return len(rx.requests) >= 1

            await _until("the partner postback", delivered)
            await asyncio.sleep(2.5)  # loop metrics published, a sweep and a probe done
            names = _exported((await api.get("/metrics")).text)
            async with httpx.AsyncClient(timeout=10) as http:
                names |= _exported(
                    (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                )
    finally:
        for proc in (serve, ingest):
            proc.terminate()
        codes = [serve.wait(60), ingest.wait(60)]
    assert codes == [0, 0]
    wanted = set().union(*(metric_names(e) for e in _rule_exprs() + _dashboard_exprs()))
    missing = sorted(wanted - names - SYNTHETIC)
    assert not missing, f"named by the dashboard or the rules, not exported: {missing}"


def test_docker_compose_brings_prometheus_and_grafana_with_these_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "serve", "ingest", "prometheus", "grafana"} <= set(
        services
    )
    mounts: dict[str, str] = {}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, target, *_ = volume.split(":")
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
                mounts[target] = source
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == "./deploy/prometheus/alerts.yml"
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "tracker.yml").read_text())
    dash_dir = provider["providers"][0]["options"]["path"]
    assert mounts[dash_dir] == "./deploy/grafana/dashboards"
    # Prometheus scrapes the ports the services listen on.
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {j["job_name"]: j["dns_sd_configs"][0] for j in config["scrape_configs"]}
    serve_cmd, ingest_cmd = services["serve"]["command"], services["ingest"]["command"]
    assert targets["tracker-serve"]["names"] == ["serve"]
    assert str(targets["tracker-serve"]["port"]) == serve_cmd[serve_cmd.index("--port") + 1]
    assert targets["tracker-ingest"]["names"] == ["ingest"]
    assert (
        str(targets["tracker-ingest"]["port"]) == ingest_cmd[ingest_cmd.index("--metrics-port") + 1]
    )
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    # Monitoring answers on the machine only; the image carries every package it installs.
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["wheel"]["packages"]  # fmt: skip
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
