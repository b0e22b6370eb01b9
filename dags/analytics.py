"""Airflow DAGs for the analytics API, generated from the provider's resource spec.

Settings come from ANALYTICS_* environment variables (see the README); the spec decides which
DAGs, tasks and schedules exist, so adding a resource there needs no change here.
"""

from analytics_provider.dag_factory import build_dags

globals().update(build_dags())
