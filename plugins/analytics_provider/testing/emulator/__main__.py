"""``python -m analytics_provider.testing.emulator``: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .config import EmulatorConfig
from .faults import parse_faults
from .model import fmt_ms
from .server import Emulator


def parse_args(argv: list[str] | None = None) -> EmulatorConfig:
    ap = argparse.ArgumentParser(
        prog="python -m analytics_provider.testing.emulator",
        description="Emulate CircleCI's v1.1/v2 REST API over HTTP.",
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--now", default=None, help="ISO-8601 UTC; default: now, floored to the minute")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies pipelines per day (1 = ~40)")
    ap.add_argument("--api-key", default="demo-key")
    ap.add_argument("--auth-header", default="api_key")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--rate-limit", type=float, default=0.0, help="requests/second, 0 = off")
    ap.add_argument("--faults", default="none", help="none | hostile | a JSON fault config")
    ap.add_argument("--v11-branches", action="store_true", help="v1.1 projects with `branches` (pre 2026-12-07)")
    ap.add_argument("--v11-sunset", action="store_true", help="v1.1 answers carry Deprecation/Sunset headers")
    ap.add_argument("--server", action="store_true", help="act as CircleCI Server: no API v3 (/v3/... is 404)")
    ns = ap.parse_args(argv)
    try:
        parse_faults(ns.faults)
    except ValueError as exc:
        ap.error(f"--faults: {exc}")
    return EmulatorConfig(
        host=ns.host,
        port=ns.port,
        seed=ns.seed,
        days=ns.days,
        now=ns.now,
        scale=ns.scale,
        api_key=ns.api_key,
        auth_header=ns.auth_header,
        latency_ms=ns.latency_ms,
        rate_limit=ns.rate_limit,
        faults=ns.faults,
        v11_branches=ns.v11_branches,
        v11_sunset=ns.v11_sunset,
        server=ns.server,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    emulator = Emulator(config).start()
    state = emulator.state
    print(  # noqa: T201 - the CLI reports its URL on stdout (spawn_emulator reads it)
        f"CircleCI emulator listening on {emulator.base_url} "
        f"(seed={state.seed}, days={state.days}, scale={state.scale}, now={fmt_ms(state.now_ms)})",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
