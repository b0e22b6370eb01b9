"""The v1.1 API: ``/v1.1/me`` and ``/v1.1/projects``, in JSON or (by default) EDN.

Both carry maps with data as keys (``projects`` keyed by VCS URL, ``branches`` keyed by
branch name), the trap that makes naive normalisers explode into one column per key.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from .generator import World, make_uuid
from .model import HOUR_MS, MINUTE_MS, Project, fmt_ms

if TYPE_CHECKING:
    from .routes import Response
    from .state import EmulatorState


def v11_me(world: World) -> dict[str, Any]:
    user = world.me
    rng = random.Random(f"v11-me:{user.id}")
    projects = [p for org in world.orgs for p in org.projects]
    return {
        "analytics_id": make_uuid(rng),
        "login": user.login,
        "name": user.name,
        "avatar_url": user.avatar_url,
        "created_at": fmt_ms(world.now_ms - rng.randint(400, 2000) * 24 * HOUR_MS),
        "admin": False,
        "dev_admin": False,
        "selected_email": f"{user.login}@example.com",
        "all_emails": [f"{user.login}@example.com", f"{user.login}@users.noreply.github.com"],
        "basic_email_prefs": "smart",
        "sign_in_provider": "github",
        "github_id": rng.randint(100_000, 99_999_999),
        "containers": 1,
        "parallelism": 1,
        "plan": None,
        "days_left_in_trial": -1,
        "in_beta_program": False,
        "enrolled_betas": [],
        "num_projects_followed": len(projects),
        "organization_prefs": {org.name: {"email": f"{user.login}@example.com"} for org in world.orgs},
        "projects": {v11_url(p): {"on_dashboard": True, "emails": "default"} for p in projects},
        "identities": {
            "github": {
                "login": user.login,
                "name": user.name,
                "avatar_url": user.avatar_url,
                "domain": "github.com",
                "type": "github",
                "authorized?": True,
            }
        },
    }


#: From this day v1.1 `projects` has no `branches` (CircleCI changelog); brownouts ran before it.
BRANCHES_SUNSET = "Mon, 07 Dec 2026 00:00:00 GMT"


def v11_projects(world: World, branches: bool = False) -> list[dict[str, Any]]:
    """The followed projects; ``branches`` keeps the shape served before 7 Dec 2026."""
    return [_v11_project(world, p, branches) for org in world.orgs for p in org.projects]


def with_sunset(state: EmulatorState, response: Response) -> Response:
    """Adds the ``Deprecation``/``Sunset`` headers (RFC 9745 / 8594) when the knob asks for them."""
    if state.v11_sunset:
        response.headers.update({"Deprecation": "@1764547200", "Sunset": BRANCHES_SUNSET})
    return response


def v11_url(p: Project) -> str:
    return "https:" + p.vcs_url if p.vcs_url.startswith("//") else p.vcs_url


def _v11_project(world: World, p: Project, branches: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "vcs_url": v11_url(p),
        "username": p.org.name,
        "reponame": p.name,
        "vcs_type": p.org.vcs_type,
        "default_branch": p.default_branch,
        "following": True,
        "oss": False,
        "has_usable_key": True,
        "language": None,
        "aws": {"keypair": None},
        "feature_flags": {"builds-service": True, "oss": False, "set-github-status": True},
    }
    if branches:
        row["branches"] = {b: _branch(world, p, b) for b in p.branches}
    return row


def _branch(world: World, p: Project, branch: str) -> dict[str, Any]:
    rng = random.Random(f"v11-branch:{p.id}:{branch}")
    t = world.now_ms - rng.randint(1, 72) * HOUR_MS
    builds = []
    for _ in range(rng.randint(1, 3)):
        outcome = "failed" if rng.random() < 0.15 else "success"
        pushed = t - rng.randint(1, 30) * MINUTE_MS
        builds.append(
            {
                "outcome": outcome,
                "status": outcome,
                "build_num": rng.randint(1, 5000),
                "vcs_revision": f"{rng.getrandbits(160):040x}",
                "pushed_at": fmt_ms(pushed),
                "is_workflow_job": True,
                "is_2_0_job": True,
                "added_at": fmt_ms(pushed + rng.randint(1, 20) * 1000),
            }
        )
        t -= rng.randint(1, 48) * HOUR_MS
    wf_name = next(iter(p.workflows))
    return {
        "pusher_logins": sorted({m.login for m in rng.sample(p.org.members, 2)}),
        "running_builds": [],
        "recent_builds": builds,
        "last_success": next((b for b in builds if b["outcome"] == "success"), None),
        "is_using_workflows": True,
        "latest_workflows": {
            wf_name: {"status": builds[0]["status"], "created_at": builds[0]["added_at"], "id": make_uuid(rng)}
        },
    }


def to_edn(value: Any) -> str:
    """Enough EDN (Clojure data) to look like the real v1.1 default answer."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = " ".join(f"{_edn_key(k)} {to_edn(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(to_edn(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as EDN")


def _edn_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_?!" for c in key) and not key[0].isdigit():
        return ":" + key
    return json.dumps(key, ensure_ascii=False)
