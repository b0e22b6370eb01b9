"""Deprecation visibility: an answer with ``Deprecation``/``Sunset`` headers (RFC 9745 / RFC 8594)
is logged at WARNING once per resource and run, naming the endpoint and the dates."""

from __future__ import annotations

import logging
import threading

from requests import Response

log = logging.getLogger(__name__)


class DeprecationNotices:
    """Remembers which endpoints were already reported in this run (thread-safe)."""

    def __init__(self, resource: str, endpoint: str) -> None:
        self.resource, self.endpoint = resource, endpoint
        self._lock = threading.Lock()
        self._seen = False

    def check(self, response: Response) -> None:
        deprecation = response.headers.get("Deprecation")
        sunset = response.headers.get("Sunset")
        if not deprecation and not sunset:
            return
        with self._lock:
            if self._seen:
                return
            self._seen = True
        log.warning(
            "Resource `%s`: the API marks GET %s as deprecated (Deprecation: %s; Sunset: %s): it may stop "
            "answering or change shape after the sunset date; see README, 'API versions'.",
            self.resource,
            self.endpoint,
            deprecation or "-",
            sunset or "-",
        )
