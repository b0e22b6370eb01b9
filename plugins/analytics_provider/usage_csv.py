"""Usage export CSV files -> typed rows: lower-case columns, numbers and timestamps parsed.

Columns the provider does not know are kept as text (the export grows columns over time); an
empty field is NULL.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

INTEGER = {"pipeline_number", "job_run_number", "parallelism", "job_run_seconds"}
DECIMAL_SUFFIX = "_credits"
TIMESTAMP_SUFFIX = "_at"
DATES = {"job_run_date", "organization_created_date", "project_created_date"}
PRIMARY_KEY = "job_id"
"""One row per job run: a re-run job has an id of its own, so merging on it neither loses nor doubles."""


def column_hints() -> dict[str, dict[str, Any]]:
    hints: dict[str, dict[str, Any]] = {name: {"data_type": "bigint"} for name in INTEGER}
    hints.update({name: {"data_type": "date"} for name in DATES})
    for name in ("pipeline_created_at", "job_run_started_at", "job_run_stopped_at", "last_build_finished_at"):
        hints[name] = {"data_type": "timestamp"}
    for name in ("compute", "dlc", "user", "storage", "network", "lease", "lease_overage", "ipranges", "total"):
        hints[f"{name}{DECIMAL_SUFFIX}"] = {"data_type": "double"}
    hints[PRIMARY_KEY] = {"data_type": "text", "nullable": False, "primary_key": True}
    return hints


def parse_file(data: bytes, where: str) -> Iterator[dict[str, Any]]:
    """The rows of one file (gzipped or already inflated)."""
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or PRIMARY_KEY not in {f.strip().lower() for f in reader.fieldnames}:
        raise ValueError(f"Usage export file {where}: no `{PRIMARY_KEY.upper()}` column in {reader.fieldnames}")
    for raw in reader:
        yield {key.strip().lower(): _value(key.strip().lower(), value) for key, value in raw.items() if key}


def _value(name: str, value: str | None) -> Any:
    if value is None or value == "":
        return None
    if name in INTEGER:
        return int(value)
    if name.endswith(DECIMAL_SUFFIX):
        return float(value)
    if name in DATES:
        return date.fromisoformat(value[:10])
    if name.endswith(TIMESTAMP_SUFFIX):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value
