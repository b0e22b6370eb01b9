"""v1.1 `projects` in both shapes (before and after 7 Dec 2026 drops `branches`) loads equal to the
emulator's truth by value, and a v1.1 answer carrying `Sunset` is logged once at WARNING."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import EMULATOR_NOW, _start_emulator

pytestmark = pytest.mark.integration
NAMING = NamingConvention()


@pytest.fixture(
    params=[
        {},
        {"v11_branches": True},  # the shape before 7 Dec 2026, JSON timestamps and keys as sent
        {"v11_sunset": True},
    ],
    ids=["shallow", "with-branches", "sunset"],
)
def emulator(request: pytest.FixtureRequest) -> Iterator[Any]:
    emu = _start_emulator(**request.param)
    try:
        yield emu
    finally:
        emu.stop()


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The served object as dlt lays it out: nested dicts as `a__b` columns, `branches` as JSON."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = prefix + NAMING.normalize_identifier(key)
        if isinstance(value, dict) and name != "branches":
            out.update(_flatten(value, name + "__"))
        else:
            out[name] = value
    return out


def _loaded(path: Path) -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute("SELECT * FROM analytics.projects")
        names = [d[0] for d in cur.description]
        return {r["vcs_url"]: r for r in (dict(zip(names, row, strict=True)) for row in cur.fetchall())}


def test_projects_match_the_truth_in_either_shape(
    emulator: Any, api_connection: str, duckdb_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="analytics_provider.dlt_source.deprecation")
    run_chain(["projects"], task_context(EMULATOR_NOW - timedelta(days=1), EMULATOR_NOW))

    truth = {r["vcs_url"]: _flatten(r) for r in emulator.truth("projects")}
    loaded = _loaded(duckdb_path)
    assert set(loaded) == set(truth)
    with_branches = emulator.config.v11_branches
    assert all(("branches" in t) == with_branches for t in truth.values())
    for url, served in truth.items():
        row = loaded[url]
        for column, value in served.items():
            got = row.get(column)
            if column == "branches":
                got = json.loads(got) if isinstance(got, str) else got
            assert got == value, (url, column)
        # the column users had stays, empty once the API stops sending it
        assert "branches" in row
        if not with_branches:
            assert row["branches"] is None

    warnings = [r for r in caplog.records if "deprecated" in r.getMessage()]
    if emulator.config.v11_sunset:
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert warnings[0].levelno == logging.WARNING
        assert "/v1.1/projects" in warnings[0].getMessage()
        assert "Mon, 07 Dec 2026" in warnings[0].getMessage()
    else:
        assert not warnings


@pytest.mark.parametrize("emulator", [{"v11_branches": True}], indirect=True, ids=["with-branches"])
def test_the_old_branches_json_lands_as_sent_on_postgres(
    emulator: Any, api_connection: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from tests.reliability.helpers import make_destination

    destination = make_destination("postgres", request, tmp_path)
    run_chain(["projects"], task_context(), **destination.kwargs)
    loaded = dict(destination.query("SELECT vcs_url, branches FROM analytics.projects"))
    truth = {r["vcs_url"]: r["branches"] for r in emulator.truth("projects")}
    assert {url: json.loads(v) if isinstance(v, str) else v for url, v in loaded.items()} == truth
