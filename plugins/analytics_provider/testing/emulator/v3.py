"""API v3 (CircleCI's current API; not on CircleCI Server): the projects of an organization.

The conventions this follows (CircleCI's "API V3 conventions" page, `/api/v3` on circleci.com):
- `Authorization: Bearer <token>` only; a token in a query parameter is rejected;
- one resource is `{"id", "attributes", "references"}`, a reference an `id` with, sometimes, a
  nested `attributes` object of denormalised fields;
- a collection is `{"data": [...], "page": {"next", "prev"}}`, the cursors opaque values sent back
  as `page[cursor]`; `page[limit]` has bounds per operation and out of range is a 400, not a clamp;
- most lists need a scope filter (`filter[org_id]`); answers carry standard rate-limit headers
  (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`), not the `X-` ones.

The attribute set of a project is this emulator's reading of those conventions (the operation's
own schema is in `schemas/api-v3-served.json`, written here, see NOTICE.md): the fields v1.1
`projects` had that v3 keeps, under `attributes`, and the organization as a reference.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .generator import make_uuid
from .legacy import v11_url
from .model import Project
from .pagination import PageTokenError, page_after

if TYPE_CHECKING:
    from .generator import World
    from .routes import Api, Request, Response

PREFIX = "/v3/"
LIMITS = {"projects": (1, 100, 20)}
"""Operation -> (least, most, default) `page[limit]`."""


def is_v3(path: str) -> bool:
    return path.startswith(PREFIX)


def problem(status: int, kind: str, detail: str, parameter: str | None = None) -> Response:
    """A v3 error object: a type, an id to quote to support, a detail and where the fault is."""
    from .routes import Response

    err: dict[str, Any] = {"type": kind, "id": make_uuid(random.Random(f"{kind}:{detail}")), "detail": detail}
    if parameter:
        err["source"] = {"parameter": parameter}
    return Response(status, {"errors": [err]})


def refuse_query_token(req: Request, names: tuple[str, ...]) -> Response | None:
    """v3 takes the key from `Authorization: Bearer` only: a key anywhere else is a 401."""
    auth = req.headers.get("Authorization") or ""
    if not auth.lower().startswith("bearer "):
        sent = next((n for n in names if req.arg(n) or req.headers.get(n)), None)
        where = f" (`{sent}` is not read by API v3)" if sent else ""
        return problem(401, "unauthenticated", f"Send the token as `Authorization: Bearer <token>`{where}.")
    return None


def standard_limit_headers(headers: dict[str, str]) -> dict[str, str]:
    """v3 sends the standard names only."""
    return {k: v for k, v in headers.items() if not k.startswith("X-RateLimit-")}


def project(p: Project) -> dict[str, Any]:
    org = p.org
    return {
        "id": p.id,
        "attributes": {
            "name": p.name,
            "slug": p.slug,
            "vcs_url": v11_url(p),
            "vcs_type": org.vcs_type,
            "default_branch": p.default_branch,
        },
        "references": {"organization": {"id": org.id, "attributes": {"name": org.name, "slug": org.slug}}},
    }


def projects_of(world: World) -> list[dict[str, Any]]:
    """Every project of every org, as v3 serves them (the truth of `projects` in v3 mode)."""
    return [project(p) for org in world.orgs for p in org.projects]


def list_projects(api: Api, req: Request) -> Response:
    from .routes import Response

    org_id = req.arg("filter[org_id]")
    if not org_id:
        return problem(
            400, "invalid_parameter", "This operation needs the scope filter `filter[org_id]`.", "filter[org_id]"
        )
    least, most, default = LIMITS["projects"]
    raw = req.arg("page[limit]")
    try:
        limit = default if raw is None else int(raw)
    except ValueError:
        limit = -1
    if not least <= limit <= most:
        return problem(
            400, "invalid_parameter", f"`page[limit]` must be {least} to {most}, got `{raw}`.", "page[limit]"
        )
    org = next((o for o in api.state.world.orgs if o.id == org_id), None)
    projects = sorted(org.projects, key=lambda p: p.id) if org else []
    scope = f"v3-projects:{org_id}"
    token = req.arg("page[cursor]")
    try:
        cursor = api.tokens.decode(scope, token) if token else None
        page, next_key = page_after(projects, lambda p: p.id, cursor, size=limit)
    except PageTokenError:
        return problem(400, "invalid_parameter", "`page[cursor]` is not a cursor of this list.", "page[cursor]")
    next_cursor = None if next_key is None else api.tokens.encode(scope, next_key)
    prev_cursor = None
    if cursor is not None:  # the page before this one starts `limit` items earlier (or at the top)
        start = [p.id for p in projects].index(cursor) + 1
        before = start - limit
        prev_cursor = api.tokens.encode(scope, projects[before - 1].id if before > 0 else None)
    return Response(200, {"data": [project(p) for p in page], "page": {"next": next_cursor, "prev": prev_cursor}})
