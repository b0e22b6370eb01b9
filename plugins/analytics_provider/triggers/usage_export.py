"""A trigger that polls one usage export job until it is done, in the triggerer (no worker slot).

It holds only ids and a deadline (epoch seconds, fixed when the operator deferred): a trigger
re-created after a triggerer restart polls the same job and keeps the same deadline. Its events
carry the job's state, never a download URL (the operator reads fresh URLs when it resumes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

FINAL = ("completed", "failed")


class UsageExportTrigger(BaseTrigger):
    """:param conn_id: the analytics API connection. :param org_id: the org. :param job_id: the export
    job. :param deadline: epoch seconds after which the trigger gives up. :param poll_interval: seconds.
    :param carry: the operator's progress (JSON, no secrets), echoed in every event: `airflow dags test`
    resumes a task with the event only, not with the kwargs given to `defer`."""

    def __init__(
        self,
        conn_id: str,
        org_id: str,
        job_id: str,
        deadline: float,
        poll_interval: float = 60.0,
        carry: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id, self.org_id, self.job_id = conn_id, org_id, job_id
        self.deadline, self.poll_interval = float(deadline), float(poll_interval)
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "org_id": self.org_id,
                "job_id": self.job_id,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "carry": self.carry,
            },
        )

    def _poll(self) -> dict[str, Any]:
        from analytics_provider.hooks.analytics_api import AnalyticsApiHook
        from analytics_provider.hooks.usage_export import UsageExportClient

        return UsageExportClient(AnalyticsApiHook(self.conn_id)).status(self.org_id, self.job_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from analytics_provider.exceptions import AnalyticsApiError

        event = {"org_id": self.org_id, "job_id": self.job_id, "carry": self.carry}
        polls = 0
        while True:
            try:
                status = await sync_to_async(self._poll)()
            except AnalyticsApiError as exc:  # key-free by construction
                yield TriggerEvent({**event, "status": "error", "message": str(exc)})
                return
            except OSError as exc:  # requests' errors after the session's retries: named by type only
                message = f"Usage export `{self.job_id}`: cannot read its status: {type(exc).__name__}"
                yield TriggerEvent({**event, "status": "error", "message": message})
                return
            polls += 1
            state = status.get("state")
            self.log.info("Usage export %s of org %s: %s (poll %d)", self.job_id, self.org_id, state, polls)
            if state in FINAL:
                reason = status.get("error_reason")
                yield TriggerEvent({**event, "status": state, "error_reason": reason, "polls": polls})
                return
            left = self.deadline - time.time()
            if left <= 0:
                yield TriggerEvent({**event, "status": "timeout", "polls": polls})
                return
            await asyncio.sleep(min(self.poll_interval, left))
