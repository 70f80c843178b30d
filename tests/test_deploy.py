"""compose.yaml and .env.example held to the code: commands that exist, variables that are settings."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from bots.cli import parser

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
# Read by compose itself (images other than LLMOS's, ports, the Prometheus key), never by LLMOS.
COMPOSE_ONLY = {
    "POSTGRES_PASSWORD",
    "HF_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
    "GRAFANA_PORT",
    "PROMETHEUS_ADMIN_KEY",
    "LLMOS_WEB_PORT",
}
COMPOSE_ONLY_PREFIXES = ("VLLM_",)


def settings_names() -> set[str]:
    """Every environment variable some LLMOS settings class reads (each `settings` module's BaseSettings)."""
    for package in ("bots", "engine", "workers", "db"):
        for module in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
            if module.name.rsplit(".", 1)[-1] == "settings":
                importlib.import_module(module.name)
    names: set[str] = set()
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith(("bots.", "engine.", "workers.", "db.")):
            continue
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            names.add(str(field.alias or f"{prefix}{name}").upper())
    return names


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def compose_variables() -> set[str]:
    text = COMPOSE.read_text(encoding="utf-8")
    found = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    for service in compose()["services"].values():
        if service.get("image", "").startswith("llmos"):
            found.update(service.get("environment", {}))
    return found


def example_variables() -> set[str]:
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), flags=re.M))


def compose_only(name: str) -> bool:
    return name in COMPOSE_ONLY or name.startswith(COMPOSE_ONLY_PREFIXES)


def test_every_llmos_service_runs_a_command_llmos_has() -> None:
    commands = {
        name: s["command"] for name, s in compose()["services"].items() if s.get("image", "").startswith("llmos")
    }
    assert {"migrate", "web", "worker", "slack-socket", "discord", "engine-cpu"} <= set(commands)
    for name, command in commands.items():
        assert command[0] == "llmos", name
        try:
            parser().parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"service {name}: `{' '.join(command)}` is not an llmos command")


def test_every_variable_in_compose_and_the_example_is_a_setting() -> None:
    known = settings_names()
    strangers = {v for v in compose_variables() | example_variables() if v not in known and not compose_only(v)}
    assert not strangers, f"not read by any setting: {sorted(strangers)}"
    unused = {v for v in example_variables() if compose_only(v) and v not in compose_variables()}
    assert not unused, f"compose-only variables compose does not use: {sorted(unused)}"


def test_every_setting_is_in_the_example() -> None:
    missing = settings_names() - example_variables()
    assert not missing, f".env.example lacks: {sorted(missing)}"


def test_the_settings_are_found() -> None:
    """The checks above must be able to fail: the discovery finds the settings classes, not none."""
    assert "DATABASE_URL" in settings_names() and "SCHED_ENGINE_SLOTS" in settings_names()
    assert "DATABSE_URL" not in settings_names()


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and no docker compose CLI (Debian: apt-get install docker-compose)")
        pytest.skip("no docker compose CLI installed")
    # compose reads .env beside the file: run on a copy whose .env is the example plus the required secret.
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8") + "\nPOSTGRES_PASSWORD=pw\n")
    profiles = ["--profile", "cpu", "--profile", "gpu", "--profile", "slack", "--profile", "discord"]
    done = subprocess.run(
        [*cli, "-f", "compose.yaml", *profiles, "--profile", "monitoring", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
