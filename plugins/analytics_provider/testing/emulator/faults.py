"""Injected misbehaviour, deterministic under a fault seed.

A fault config is ``{"seed": int, "profile": "hostile" (optional), "rules": [rule, ...]}``;
``{}`` means no faults. A rule::

    {"kind": "status" | "rate_limit" | "child_404" | "truncate" | "repeat_token"
             | "drop_token" | "reset" | "slow",
     "probability": 0.05,     # chance per distinct request URL ...
     "times": 1,              # ... of failing its first `times` attempts (a burst), or
     "count": 3,              # instead: fail the first `count` matching requests
     "path": "^/v2/workflow", # optional regex searched in the request path
     "status": 503,           # status: a code or a list of codes (one picked per URL)
     "retry_after": 1,        # rate_limit: Retry-After seconds
     "delay_ms": 2000,        # slow: extra delay
     "when": "any" | "last",  # drop_token: any page, or only the last page
     "add": {"new_field": 1}, # drift: fields added to every record
     "retype": {"number": "str"}}  # drift: a field served with another type

A probabilistic decision hashes (seed, rule index, method + URL), so it does not depend on
the order in which concurrent clients arrive, and a URL fails at most on its first ``times``
attempts: a client that retries gets through.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("status", "rate_limit", "child_404", "truncate", "repeat_token", "drop_token", "reset", "slow", "drift")
#: Kinds that answer instead of the route handler.
SHORT_CIRCUIT = ("reset", "status", "rate_limit", "child_404")

HOSTILE_RULES: list[dict[str, Any]] = [
    {"kind": "rate_limit", "probability": 0.05, "retry_after": 1},
    {"kind": "status", "status": 503, "probability": 0.03},
    {"kind": "status", "status": 502, "probability": 0.01},
    {"kind": "status", "status": 500, "probability": 0.005},
    {"kind": "truncate", "probability": 0.01},
    {"kind": "reset", "probability": 0.005},
    {"kind": "slow", "probability": 0.02, "delay_ms": 300},
    {"kind": "drop_token", "probability": 0.2, "when": "last"},
]
PROFILES = {"none": [], "hostile": HOSTILE_RULES}


@dataclass(frozen=True)
class FaultRule:
    kind: str
    probability: float = 0.0
    times: int = 1
    count: int | None = None
    path: str | None = None
    status: int | tuple[int, ...] = 503
    retry_after: int = 1
    delay_ms: int = 2000
    when: str = "any"
    add: dict[str, Any] | None = None
    """drift: fields added to every record of the answer."""
    retype: dict[str, str] | None = None
    """drift: field -> `str`, `int`, `float` or `bool`: the field's value is served with that type."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind `{self.kind}`; known: {', '.join(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault `probability` must be within [0, 1], got {self.probability}")
        if self.retype and not set(self.retype.values()) <= {"str", "int", "float", "bool"}:
            raise ValueError(f"fault `retype` types must be str, int, float or bool, got {self.retype}")
        if self.when not in ("any", "last"):
            raise ValueError(f"fault `when` must be `any` or `last`, got `{self.when}`")
        if self.path is not None:
            re.compile(self.path)


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    profile: str | None = None
    rules: tuple[FaultRule, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "profile": self.profile, "rules": [asdict(r) for r in self.rules]}


def parse_faults(spec: str | dict[str, Any] | None, default_seed: int = 0) -> FaultConfig:
    """``None``/``"none"``/``{}`` -> no faults; ``"hostile"``; a JSON object; or a dict."""
    if spec is None or (isinstance(spec, str) and spec.strip() in ("", "none")):
        return FaultConfig(default_seed)
    if isinstance(spec, str):
        spec = spec.strip()
        spec = json.loads(spec) if spec.startswith("{") else {"profile": spec}
    if not isinstance(spec, dict):
        raise ValueError("a fault config must be a JSON object")
    unknown = set(spec) - {"seed", "profile", "rules"}
    if unknown:
        raise ValueError(f"unknown fault config keys: {', '.join(sorted(unknown))}")
    profile = spec.get("profile")
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown fault profile `{profile}`; known: {', '.join(PROFILES)}")
    rules = [*PROFILES.get(profile or "none", []), *spec.get("rules", [])]
    parsed = []
    for i, rule in enumerate(rules):
        try:
            rule = dict(rule)
            if isinstance(rule.get("status"), list):
                rule["status"] = tuple(rule["status"])
            parsed.append(FaultRule(**rule))
        except (TypeError, ValueError, re.error) as exc:
            raise ValueError(f"fault rules[{i}]: {exc}") from exc
    return FaultConfig(int(spec.get("seed", default_seed)), profile, tuple(parsed))


@dataclass(frozen=True)
class Fired:
    """A rule chosen for one request, with what it resolved to."""

    rule: FaultRule
    status: int = 0


class FaultInjector:
    """Decides, per request, which rules fire. Thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._patterns = [re.compile(r.path) if r.path else None for r in config.rules]
            self._attempts: Counter[str] = Counter()
            self._counted = [0] * len(config.rules)

    def plan(self, key: str, path: str, paginated: bool, child_list: bool, has_token: bool) -> list[Fired]:
        """Rules that fire for this request (``key`` = method + raw URL)."""
        config = self.config
        if not config.rules:
            return []
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] += 1
            fired: list[Fired] = []
            answered = False  # a short-circuit rule fired: only `slow` can still act
            for i, rule in enumerate(config.rules):
                if answered and rule.kind != "slow":
                    continue
                pattern = self._patterns[i]
                if pattern is not None and not pattern.search(path):
                    continue
                if rule.kind == "child_404" and not child_list:
                    continue
                if rule.kind in ("repeat_token", "drop_token") and not paginated:
                    continue
                if rule.kind == "repeat_token" and not has_token:
                    continue
                if rule.count is not None:
                    if self._counted[i] >= rule.count:
                        continue
                    self._counted[i] += 1
                elif attempt >= rule.times or _unit(config.seed, i, key) >= rule.probability:
                    continue
                fired.append(Fired(rule, _pick_status(rule, config.seed, i, key)))
                answered = answered or rule.kind in SHORT_CIRCUIT
                if rule.kind == "reset":
                    break
            return fired


def _unit(seed: int, index: int, key: str, salt: str = "") -> float:
    digest = hashlib.blake2b(f"{seed}|{index}|{salt}|{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _pick_status(rule: FaultRule, seed: int, index: int, key: str) -> int:
    if rule.kind == "rate_limit":
        return 429
    if rule.kind == "child_404":
        return 404
    if isinstance(rule.status, tuple):
        return rule.status[int(_unit(seed, index, key, "status") * len(rule.status))]
    return rule.status
