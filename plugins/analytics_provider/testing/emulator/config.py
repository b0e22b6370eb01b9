"""The emulator's knobs, shared by the CLI, the in-process server and the subprocess helper."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .model import MINUTE_MS, fmt_ms, parse_time


@dataclass
class EmulatorConfig:
    """Everything that shapes one emulator.

    :param host: interface to bind.
    :param port: TCP port; 0 picks a free one.
    :param seed: seed of the generated data (same seed, now, days, scale -> same data).
    :param days: history length before ``now``.
    :param now: the emulator's initial "now" (ISO-8601 string or datetime); ``None`` means the
        current UTC time floored to the minute.
    :param scale: multiplies pipelines per day (1.0 is about 40 a day over both orgs).
    :param api_key: the only accepted API key.
    :param auth_header: header (and query parameter) name that carries the key; ``Circle-Token``
        and ``circle-token`` are always accepted too.
    :param latency_ms: added to every API request.
    :param rate_limit: requests per second allowed (token bucket); 0 switches it off.
    :param faults: ``"none"``, ``"hostile"``, a JSON string or a dict (see :mod:`.faults`).
    :param v11_branches: serve v1.1 ``projects`` with ``branches``, as before 7 Dec 2026 (the
        default is the shape from that day on, as ``?shallow=true`` previews it).
    :param v11_sunset: v1.1 answers carry ``Deprecation``/``Sunset`` headers.
    :param server: act as CircleCI Server, which serves no API v3 (``/v3/...`` answers 404).
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 42
    days: int = 30
    now: str | datetime | None = None
    scale: float = 1.0
    api_key: str = "demo-key"
    auth_header: str = "api_key"
    latency_ms: float = 0.0
    rate_limit: float = 0.0
    faults: str | dict[str, Any] | None = None
    v11_branches: bool = False
    v11_sunset: bool = False
    server: bool = False

    def now_ms(self) -> int:
        if self.now is None:
            ms = int(datetime.now(timezone.utc).timestamp() * 1000)
            return ms - ms % MINUTE_MS
        return parse_time(self.now)

    def cli_args(self) -> list[str]:
        """The command-line flags that reproduce this config (``now`` resolved)."""
        faults = self.faults
        if isinstance(faults, dict):
            faults = json.dumps(faults)
        args = [
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--seed",
            str(self.seed),
            "--days",
            str(self.days),
            "--now",
            fmt_ms(self.now_ms()),
            "--scale",
            repr(self.scale),
            "--api-key",
            self.api_key,
            "--auth-header",
            self.auth_header,
            "--latency-ms",
            repr(self.latency_ms),
            "--rate-limit",
            repr(self.rate_limit),
        ]
        if faults:
            args += ["--faults", faults]
        args += ["--v11-branches"] if self.v11_branches else []
        args += ["--v11-sunset"] if self.v11_sunset else []
        args += ["--server"] if self.server else []
        return args
