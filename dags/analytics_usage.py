"""Airflow DAG `analytics_usage`: credit usage through the API's usage export job (deferrable)."""

from analytics_provider.usage_dag import build_usage_dag

analytics_usage = build_usage_dag()
