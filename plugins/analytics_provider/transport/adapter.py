"""The HTTP adapter of the hook's session: the request gate around each request, and connection
errors without the key in their text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import RequestException

from analytics_provider.transport.throttle import ConcurrencyGate


def redacting_adapter(redact: Callable[[str], str], gate: ConcurrencyGate, pool_maxsize: int = 50) -> HTTPAdapter:
    """A transport whose connection errors never carry the key: requests puts the full URL, with a
    query-string key, in their text, and dlt keeps that text in its trace. The exception type is
    kept, so the session still retries them. Each request waits for room in `gate`, and its answer
    moves the gate's limit (throttle.py)."""

    class RedactingAdapter(HTTPAdapter):
        def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
            gate.acquire()
            response = None
            try:
                response = self._send(request, *args, **kwargs)
                return response
            finally:
                gate.release(*((response.status_code, response.headers) if response is not None else (None, None)))

        def _send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
            try:
                return super().send(request, *args, **kwargs)
            except RequestException as exc:
                error = type(exc)(redact(str(exc)))
            raise error  # outside the except block: no __context__ holding the original text

    adapter = RedactingAdapter(pool_maxsize=pool_maxsize)
    adapter.gate = gate  # type: ignore[attr-defined]
    return adapter
