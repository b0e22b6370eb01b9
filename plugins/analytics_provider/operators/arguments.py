"""How a task reads its templated arguments, and hides the API key from its log."""

from __future__ import annotations

from analytics_provider.hooks.analytics_api import ApiSettings


def truthy(value: bool | str | None) -> bool:
    """A templated flag: `True`, or `"1"`/`"true"`/`"yes"`/`"on"` as a rendered template gives it."""
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def slugs(value: str | list[str] | None) -> tuple[str, ...]:
    """Org slugs from a comma-separated string (a rendered template) or a list; blanks dropped."""
    items = value.split(",") if isinstance(value, str) else value or []
    return tuple(s.strip() for s in items if s and s.strip())


def mask_key(settings: ApiSettings) -> None:
    """Register the key with Airflow's secrets masker, so no log line of the task shows it."""
    if not settings.api_key:
        return
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(settings.api_key)
    except ImportError:  # pragma: no cover - older task SDKs
        pass
