"""The emulator's usage export job over real HTTP: lifecycle, schemas, files, limits and faults."""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator, FormatChecker

from analytics_provider.testing.emulator import Emulator

from .conftest import KEY, make_emulator
from .openapi import _convert, document

WINDOW = {"start": "2026-11-18T00:00:00Z", "end": "2026-11-20T00:00:00Z"}
HEADERS = {"api_key": KEY}


def schema_of(path: str, method: str, status: str) -> Draft7Validator:
    doc = document()
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return Draft7Validator(_convert(schema, doc, True), format_checker=FormatChecker(["uuid"]))


CREATED = schema_of("/organizations/{org_id}/usage_export_job", "post", "201")
STATUS = schema_of("/organizations/{org_id}/usage_export_job/{usage_export_job_id}", "get", "200")


@pytest.fixture
def usage_emu() -> Iterator[Emulator]:
    emu = make_emulator()
    emu.app.api.usage.configure({"delay_s": 0.3})
    yield emu
    emu.stop()


def post(emu: Emulator, org_id: str, body: Any) -> requests.Response:
    return requests.post(f"{emu.base_url}/v2/organizations/{org_id}/usage_export_job", json=body, headers=HEADERS)


def status(emu: Emulator, org_id: str, job_id: str) -> dict[str, Any]:
    response = requests.get(f"{emu.base_url}/v2/organizations/{org_id}/usage_export_job/{job_id}", headers=HEADERS)
    assert response.status_code == 200, response.text
    STATUS.validate(response.json())
    return response.json()


def wait_done(emu: Emulator, org_id: str, job_id: str) -> dict[str, Any]:
    for _ in range(100):
        body = status(emu, org_id, job_id)
        if body["state"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the export never finished")


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))))


def test_export_completes_and_its_files_hold_the_truth(usage_emu: Emulator) -> None:
    org = usage_emu.state.world.orgs[0]
    created = post(usage_emu, org.id, WINDOW)
    assert created.status_code == 201, created.text
    CREATED.validate(created.json())
    job_id = created.json()["usage_export_job_id"]
    assert status(usage_emu, org.id, job_id)["state"] == "processing"
    done = wait_done(usage_emu, org.id, job_id)
    assert done["state"] == "completed" and len(done["download_urls"]) == 2
    rows = []
    for url in done["download_urls"]:
        file = requests.get(url)  # pre-signed: no key
        assert file.status_code == 200 and file.headers["Content-Type"] == "application/gzip"
        rows += read_csv(file.content)
    expected = requests.get(
        f"{usage_emu.base_url}/_emulator/usage_export/truth", params={"org_id": org.id, **WINDOW}
    ).json()["rows"]
    assert expected, "the window holds job runs"
    as_text = [{k.upper(): "" if v is None else str(v) for k, v in row.items()} for row in expected]
    assert sorted(rows, key=lambda r: r["JOB_ID"]) == sorted(as_text, key=lambda r: r["JOB_ID"])
    jobs = {(j.id) for j in usage_emu.state.jobs_by_number.values()}
    assert {r["JOB_ID"] for r in rows} <= jobs, "the same job ids as the jobs the API serves"
    assert all(int(r["TOTAL_CREDITS"]) >= int(r["COMPUTE_CREDITS"]) > 0 for r in rows)


def test_download_refuses_the_api_key_and_expired_urls(usage_emu: Emulator) -> None:
    org = usage_emu.state.world.orgs[0]
    usage_emu.app.api.usage.configure({"expire_next": 1})
    job_id = post(usage_emu, org.id, WINDOW).json()["usage_export_job_id"]
    first = wait_done(usage_emu, org.id, job_id)
    for urls in (first["download_urls"], status(usage_emu, org.id, job_id)["download_urls"]):
        expired = requests.get(urls[0])
        assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = status(usage_emu, org.id, job_id)["download_urls"][0]
    assert requests.get(fresh).status_code == 200, "the next status read signs fresh URLs"
    assert requests.get(fresh, headers=HEADERS).status_code == 400, "a pre-signed URL takes no other credential"
    assert requests.get(fresh.replace("Signature=", "Signature=0")).status_code == 403


def test_failed_export(usage_emu: Emulator) -> None:
    org = usage_emu.state.world.orgs[0]
    usage_emu.app.api.usage.configure({"fail_next": 1})
    job_id = post(usage_emu, org.id, WINDOW).json()["usage_export_job_id"]
    done = wait_done(usage_emu, org.id, job_id)
    assert done["state"] == "failed" and done["error_reason"] and done["download_urls"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"start": "2026-10-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "no more than 31 days after start"),
        ({"start": "2025-11-01T00:00:00Z", "end": "2025-11-02T00:00:00Z"}, "no more than one year ago"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "must not be before start"),
        ({"start": "2026-11-01T00:00:00Z"}, "Unexpected request body"),
        ({**WINDOW, "window": "x"}, "Unexpected request body"),
    ],
)
def test_window_limits(usage_emu: Emulator, body: dict[str, Any], message: str) -> None:
    response = post(usage_emu, usage_emu.state.world.orgs[0].id, body)
    assert response.status_code == 400 and message in response.json()["message"]


def test_concurrent_and_hourly_limits(usage_emu: Emulator) -> None:
    org = usage_emu.state.world.orgs[0]
    usage_emu.app.api.usage.configure({"delay_s": 60, "max_active": 1, "post_per_hour": 2})
    assert post(usage_emu, org.id, WINDOW).status_code == 201
    busy = post(usage_emu, org.id, WINDOW)
    assert busy.status_code == 429 and "in progress" in busy.json()["message"] and busy.headers["Retry-After"]
    usage_emu.app.api.usage.configure({"max_active": 5})
    assert post(usage_emu, org.id, WINDOW).status_code == 201
    hourly = post(usage_emu, org.id, WINDOW)
    assert hourly.status_code == 429 and int(hourly.headers["Retry-After"]) > 3000


def test_unknown_org_and_job(usage_emu: Emulator) -> None:
    assert post(usage_emu, "00000000-0000-0000-0000-000000000000", WINDOW).status_code == 404
    org = usage_emu.state.world.orgs[0]
    url = f"{usage_emu.base_url}/v2/organizations/{org.id}/usage_export_job/00000000-0000-0000-0000-000000000000"
    assert requests.get(url, headers=HEADERS).status_code == 404
