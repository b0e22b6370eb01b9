"""Turn whatever a dlt run raised into the error a data engineer should read in the task log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError


def translate_failure(exc: BaseException, resource: str, redact: Callable[[str], str]) -> BaseException:
    """dlt wraps the cause (PipelineStepFailed -> ResourceExtractionError -> ...); surface it.

    A refused key or a frozen schema fails without Airflow retries (`AirflowFailException`):
    retrying cannot fix them. Anything else keeps Airflow's retries, with a key-free message."""
    contract = find_in_chain(exc, "DataValidationError")
    if contract is not None:
        return AirflowFailException(
            f"Resource `{resource}`: strict schema rejected the data: table "
            f"`{getattr(contract, 'table_name', '?')}`, column `{getattr(contract, 'column_name', '?')}` "
            f"({getattr(contract, 'schema_entity', '?')} are frozen). Evolve the table on purpose (run "
            "without strict_schema once) or fix the source."
        )
    api_error = find_in_chain(exc, AnalyticsApiError)
    if isinstance(api_error, AnalyticsAuthError):
        return AirflowFailException(str(api_error))
    if api_error is not None:
        return AnalyticsApiError(str(api_error), status=api_error.status, resource=resource)
    return RuntimeError(redact(f"Resource `{resource}` failed: {type(exc).__name__}: {_root_message(exc)}"))


def find_in_chain(exc: BaseException, wanted: type | str) -> Any:
    """The first exception of type (or class name) `wanted` among `exc` and its causes."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(wanted, str) and type(current).__name__ == wanted:
            return current
        if isinstance(wanted, type) and isinstance(current, wanted):
            return current
        stack.extend([current.__cause__, current.__context__, getattr(current, "exception", None)])
    return None


def _root_message(exc: BaseException) -> str:
    current: BaseException = exc
    while True:
        nxt = getattr(current, "exception", None) or current.__cause__
        if not isinstance(nxt, BaseException) or nxt is current:
            return str(current)[:500]
        current = nxt
