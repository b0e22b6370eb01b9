"""Provider metadata read by Airflow's providers manager (entry point `apache_airflow_provider`)."""

from __future__ import annotations

from typing import Any

CONN_TYPE = "analytics_api"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-analytics",
        "name": "Analytics API (CircleCI) with dlt",
        "description": "Incrementally loads the CircleCI v1.1/v2 REST API into a warehouse with dlt.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Analytics API",
                "external-doc-url": "https://circleci.com/docs/api/v2/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Analytics API",
                "python-modules": ["analytics_provider.hooks.analytics_api"],
            }
        ],
        "operators": [
            {
                "integration-name": "Analytics API",
                "python-modules": ["analytics_provider.operators.load", "analytics_provider.operators.usage_export"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Analytics API",
                "python-modules": ["analytics_provider.triggers.usage_export"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "analytics_provider.hooks.analytics_api.AnalyticsApiHook",
                "hook-name": "Analytics API",
                "connection-type": CONN_TYPE,
                "conn-fields": {
                    # not `auth_header`: Airflow masks extras named like a secret (`auth_header`,
                    # `api_key`, `token`...), and its form then shows and saves `***`
                    "key_name": {
                        "label": "API key name",
                        "description": "Header (or query parameter) that carries the key: `api_key` "
                        "for the seed configuration, `Circle-Token` for the real service.",
                        "schema": {"type": ["string", "null"], "default": "api_key"},
                    },
                    "auth_location": {
                        "label": "API key location",
                        "schema": {"type": ["string", "null"], "default": "header", "enum": ["header", "query"]},
                    },
                    "api_version": {
                        "label": "API version",
                        "description": "`auto`: API v3 where the resource has a v3 variant on CircleCI's "
                        "cloud (circleci.com), v2 elsewhere; `v2` for CircleCI Server, which has no v3.",
                        "schema": {"type": ["string", "null"], "default": "auto", "enum": ["auto", "v3", "v2"]},
                    },
                    "org_slugs": {
                        "label": "Organization slugs",
                        "description": "Comma-separated org slugs (`gh/acme,circleci/<uuid>`) to load; "
                        "empty loads every org the key collaborates with.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API key"},
                    "placeholders": {
                        "host": "https://circleci.com/api",
                        "password": "personal API token",
                    },
                },
            }
        ],
    }
