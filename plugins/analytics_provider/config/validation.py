"""What every part of spec validation shares: the error context naming file and key, durations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from analytics_provider.exceptions import SpecError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class Ctx:
    """Carries the file name so every error names it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(self.source, path, message)

    def mapping(self, value: Any, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(path, f"unknown key(s) {ticks(unknown)}; allowed: {ticks(sorted(allowed))}")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(path, f"missing required key(s) {ticks(missing)}")
        return dict(value)

    def typed(self, value: Any, path: str, kind: type | tuple[type, ...], what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(path, f"expected {what}, got {value!r}")
        return value


def ticks(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def parse_duration(value: Any) -> timedelta:
    """`90s`, `30m`, `1h`, `7d` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"expected a duration of zero or more, got {value!r}")
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like `30m`, `1h` or `7d`, got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def durations(ctx: Ctx, raw: dict[str, Any], path: str, names: tuple[str, ...]) -> dict[str, timedelta]:
    """The duration keys present in `raw`, parsed; a bad one fails naming `<path>.<key>`."""
    durations = {}
    for key in names:
        if key in raw:
            try:
                durations[key] = parse_duration(raw[key])
            except ValueError as exc:
                raise ctx.fail(f"{path}.{key}", str(exc)) from None
    return durations
