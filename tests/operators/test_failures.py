"""What a failed dlt run becomes in the task log: the cause dlt wrapped, key-free, and whether
Airflow should retry it."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError
from analytics_provider.operators.failures import find_in_chain, translate_failure

KEY = "secret-key-0a1b2c3d"


def _redact(text: str) -> str:
    return text.replace(KEY, "***")


class PipelineStepFailed(Exception):
    """Stands in for dlt's wrapper: it keeps the cause as `.exception`, as dlt's does."""

    def __init__(self, message: str, exception: BaseException) -> None:
        super().__init__(message)
        self.exception = exception


class DataValidationError(Exception):
    table_name = "pipelines"
    column_name = "new_field"
    schema_entity = "columns"


def _wrapped(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("extraction failed") from inner
    except RuntimeError as middle:
        return PipelineStepFailed("step=extract failed", middle)


def test_a_refused_key_fails_without_retries() -> None:
    got = translate_failure(_wrapped(AnalyticsAuthError("HTTP 401: fix connection `x`", status=401)), "jobs", _redact)
    assert isinstance(got, AirflowFailException) and "fix connection `x`" in str(got)


def test_an_api_error_keeps_its_status_and_names_the_resource() -> None:
    got = translate_failure(_wrapped(AnalyticsApiError("HTTP 503 for GET /v2/x", status=503)), "jobs", _redact)
    assert type(got) is AnalyticsApiError and got.status == 503 and got.resource == "jobs"


def test_a_frozen_schema_names_table_and_column_and_is_not_retried() -> None:
    got = translate_failure(_wrapped(DataValidationError()), "pipelines", _redact)
    assert isinstance(got, AirflowFailException)
    assert "table `pipelines`, column `new_field`" in str(got) and "strict_schema" in str(got)


def test_anything_else_is_retried_with_the_root_message_and_no_key() -> None:
    got = translate_failure(_wrapped(ValueError(f"bad url https://x/?api_key={KEY}")), "context", _redact)
    assert type(got) is RuntimeError
    assert str(got).startswith("Resource `context` failed: PipelineStepFailed: bad url")
    assert KEY not in str(got) and "***" in str(got)


@pytest.mark.parametrize("wanted", [ValueError, "ValueError"])
def test_find_in_chain_by_type_or_name_and_survives_cycles(wanted: type | str) -> None:
    a, b = RuntimeError("a"), ValueError("b")
    a.__cause__, b.__context__ = b, a  # a cycle
    assert find_in_chain(a, wanted) is b
    assert find_in_chain(a, KeyError) is None
