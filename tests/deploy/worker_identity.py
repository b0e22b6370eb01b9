"""`[core] hostname_callable` for the Celery test: two workers on one machine, told apart by name.

Airflow records `get_hostname()` of the process that runs a task as the task instance's `hostname`;
both workers of tests/deploy/test_celery.py run here, so each gets its own name through the environment.
"""

from __future__ import annotations

import os
import socket

HOSTNAME_ENV = "DEPLOY_TEST_WORKER_HOSTNAME"


def hostname() -> str:
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()
