"""The ``tracker`` command: parses flags and hands over to the runtime."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from service import processes
from tracker import logs
from tracker.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracker", description="Click and conversion tracker")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "start everything on one machine (embedded servers unless TRACKER_*_URL are set)"),
        ("serve", "serve the redirect and the API (no ingest worker)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("--host", default=None)
        s.add_argument("--port", type=int, default=None)
        s.add_argument("--workers", type=int, default=None,
                       help="processes on the one port (default TRACKER_WORKERS, 1)")  # fmt: skip
    ing = sub.add_parser("ingest", help="run the ingest worker")
    ing.add_argument("--burst", action="store_true", help="drain the streams, then exit")
    ing.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
    ing.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    ing.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 1 unless a worker made progress within TRACKER_INGEST_HEALTH_TTL_S",
    )
    ing.add_argument("--consumer", default=None, help="with --check: only this worker")
    ing.add_argument("--workers", type=int, default=None,
                     help="worker processes in the group (default TRACKER_WORKERS, 1)")  # fmt: skip
    sub.add_parser("migrate", help="apply database migrations")
    demo = sub.add_parser("demo", help="create demo data through the running service's API")
    demo.add_argument("--base-url", default=None, help="default: http://127.0.0.1:8000")
    demo.add_argument("--api-key", default=None, help="admin key; default: create one")
    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    kc = ksub.add_parser("create", help="create a key and print it once")
    kc.add_argument("--role", choices=["admin", "advertiser", "affiliate"], required=True)
    kc.add_argument("--scopes", default="read,write")
    kc.add_argument("--advertiser-id", type=int, default=None)
    kc.add_argument("--affiliate-id", type=int, default=None)
    kc.add_argument("--label", default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"tracker: bad configuration:\n{exc}", file=sys.stderr)
        return 2
    if getattr(args, "host", None):
        settings.host = args.host
    if getattr(args, "port", None):
        settings.port = args.port
    if getattr(args, "workers", None) is not None:
        if not 1 <= args.workers <= 64:
            print("tracker: --workers must be between 1 and 64", file=sys.stderr)
            return 2
        settings.workers = args.workers
    logs.configure(settings.log_level, settings.log_format)
    several = settings.workers if args.command in ("up", "serve", "ingest") else 1
    # Before anything imports prometheus_client, here or in a worker process.
    with processes.shared_metrics(0 if getattr(args, "check", False) else several):
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from service import commands

    match args.command:
        case "up":
            return commands.up(settings)
        case "serve":
            return commands.serve(settings)
        case "ingest":
            return commands.ingest(
                settings,
                burst=args.burst,
                metrics_port=args.metrics_port,
                metrics_host=args.metrics_host,
                check=args.check,
                consumer=args.consumer,
            )
        case "migrate":
            return commands.migrate(settings)
        case "demo":
            return asyncio.run(commands.demo(settings, args.base_url, args.api_key))
        case "keys":
            return commands.keys_create(
                settings, args.role, tuple(s for s in args.scopes.split(",") if s),
                args.advertiser_id, args.affiliate_id, args.label,
            )  # fmt: skip
    return 2


if __name__ == "__main__":
    sys.exit(main())
