"""Fixed vocabularies the generator draws from: names, workflow shapes, commit messages."""

from __future__ import annotations

from .model import JobTemplate

J = JobTemplate

#: Workflow name -> its jobs in run order (deps are indices of earlier jobs). 2-8 jobs each.
WORKFLOWS: dict[str, list[JobTemplate]] = {
    "build-and-test": [
        J("lint", "build", (), 15, 90, resource_class="small"),
        J("unit-tests", "build", (), 60, 600, parallelism=4),
        J("integration-tests", "build", (1,), 120, 900, resource_class="large"),
        J("build-image", "build", (0, 1), 60, 300, executor_type="machine"),
    ],
    "deploy": [
        J("build", "build", (), 60, 400),
        J("hold-for-approval", "approval", (0,), 0, 0),
        J("deploy-staging", "build", (1,), 30, 240, contexts=("aws-staging",)),
        J("smoke-tests", "build", (2,), 20, 180, resource_class="small"),
        J("deploy-production", "build", (3,), 30, 300, contexts=("aws-prod",)),
    ],
    "full-ci": [
        J("checkout-code", "build", (), 5, 40, resource_class="small"),
        J("lint", "build", (0,), 15, 90, resource_class="small"),
        J("unit-tests-py", "build", (0,), 60, 500, parallelism=2),
        J("unit-tests-js", "build", (0,), 60, 400),
        J("integration-tests", "build", (2, 3), 120, 900, resource_class="large"),
        J("build-image", "build", (1, 4), 60, 300, executor_type="machine"),
        J("security-scan", "build", (5,), 30, 200, contexts=("org-global",)),
        J("publish-image", "build", (6,), 20, 120, contexts=("docker-hub",)),
    ],
    "nightly": [
        J("e2e-tests", "build", (), 300, 900, resource_class="xlarge", parallelism=3),
        J("report", "build", (0,), 5, 60, resource_class="small", contexts=("slack-notify",)),
    ],
    "release": [
        J("build", "build", (), 60, 400),
        J("test", "build", (0,), 60, 600),
        J("hold-release", "approval", (1,), 0, 0),
        J("publish", "build", (2,), 20, 200, contexts=("npm-publish",)),
        J("notify", "build", (3,), 5, 30, resource_class="small", contexts=("slack-notify",)),
        J("hold-announce", "approval", (3,), 0, 0),
        J("announce", "build", (5,), 5, 30, resource_class="small"),
    ],
    "docs": [
        J("build-docs", "build", (), 30, 240),
        J("publish-docs", "build", (0,), 10, 90),
    ],
}

CIRCLECI_ORG_NAMES = ["Northwind Platform", "Initech Cloud", "Globex Engineering"]
GITHUB_ORG_NAMES = ["acme-labs", "umbrella-dev", "hooli-oss"]
CIRCLECI_PROJECTS = ["payments", "ledger", "mobile-app", "data-pipeline", "auth-service"]
GITHUB_PROJECTS = ["api", "web", "infra", "docs", "cli"]
CONTEXT_NAMES = ["org-global", "aws-prod", "aws-staging", "docker-hub", "slack-notify", "npm-publish"]
FEATURE_BRANCHES = [
    "develop",
    "feature/login-flow",
    "fix/flaky-tests",
    "release/2026.11",
    "renovate/all-minor-patch",
    "feature/search-v2",
]
#: Distinct names that a naive identifier normaliser maps to one identifier.
UNICODE_BRANCHES = ["feature/ünïcode-λ", "feature/ünïcode-μ"]

LOGINS = [
    ("ada-lovelace", "Ada Lovelace"),
    ("grace-hopper", "Grace Hopper"),
    ("alan-turing", "Alan Turing"),
    ("edsger-d", "Edsger Dijkstra"),
    ("barbara-liskov", "Barbara Liskov"),
    ("ken-t", "Ken Thompson"),
    ("margaret-h", "Margaret Hamilton"),
    ("linus-t", "Linus Torvalds"),
    ("renovate-bot", "Renovate Bot"),
]

SUBJECTS = [
    "Fix flaky integration test",
    "Bump dependencies",
    "Add retry to upload step",
    "Refactor config loader",
    "Speed up unit tests",
    "Update README",
    "Handle empty pages in client",
    "Release 2026.11",
    "Merge pull request #{n} from feature/search-v2",
    "Révise la traduction française",
]
BODIES = ["", "", "Co-authored-by: Grace Hopper <grace@example.com>", "Closes #{n}.\n\nSee the design note."]

PIPELINE_ERRORS = [
    ("config", "Config does not conform to schema: {:workflows {:build-and-test missing-required}}"),
    ("config-fetch", "Unable to fetch config: repository unavailable"),
    ("permission", "Pipeline triggered by a user without access to the context"),
]
