"""service/settings.py is the one list of settings: the docs table, compose and the tests follow it.

Each check fails when a setting is added, renamed or dropped in one place and not the others.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import shlex
from pathlib import Path

import pytest
import yaml

from service import settings_doc
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = set(settings_doc.setting_names())
# Environment variables tests and benchmarks may set that are not service settings.
OTHER_ENV = {
    "TMPDIR",
    "HOME",
    "TF_CPP_MIN_LOG_LEVEL",
    "PROMETHEUS_MULTIPROC_DIR",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "XDG_CACHE_HOME",
    "TF_CONFIG",
}
# The defaults compose's api service changes, and why: docs/configuration.md says the same.
API_OVERRIDES = {"TRUSTED_PROXIES": "1", "RATE_LIMIT_STORAGE": "redis://redis:6379/0"}
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}")
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+):-(?P<default>[^}]*)\}")


# Settings compose never passes: the container's own address, model path and conversion cache.
CONTAINER_OWN = {"HOST", "PORT", "MODEL_DIR", "RUNTIME_CACHE_DIR"}
DOCKERFILES = {"api": "Dockerfile", "api-gpu": "Dockerfile.gpu"}


def image_settings(dockerfile: str) -> set[str]:
    """Settings a Dockerfile sets with ENV (compose must not blank them)."""
    names: set[str] = set()
    text = (ROOT / dockerfile).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("ENV "):
            names |= {word.split("=", 1)[0] for word in shlex.split(line[4:]) if "=" in word}
    return names & SETTINGS


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml, parsed (YAML merge keys resolved)."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_configuration_page_is_generated_from_settings() -> None:
    """docs/configuration.md holds today's table, and every setting has a meaning."""
    assert settings_doc.problems(settings_doc.DOC.read_text()) == []


def test_the_table_has_one_row_per_setting_with_its_default() -> None:
    """Names and defaults in the rendered table are the dataclass's, nothing more or less."""
    rows = [line for line in settings_doc.render_table().splitlines()[2:]]
    names = [row.split("|")[1].strip(" `") for row in rows]
    assert names == settings_doc.setting_names()
    defaults = Settings()
    for row, field in zip(rows, dataclasses.fields(Settings), strict=True):
        shown = row.split("|")[2].strip()
        assert shown == settings_doc.show_default(getattr(defaults, field.name)), row


@pytest.mark.parametrize("service", ["api", "api-gpu"])
def test_compose_passes_every_setting_but_the_images_own(compose: dict, service: str) -> None:
    """All settings but the container's own and its image's, each `${NAME:-}` or its real default."""
    assert image_settings("Dockerfile") == CONTAINER_OWN, "the CPU image sets these; update CONTAINER_OWN"
    environment = compose["services"][service]["environment"]
    expected = SETTINGS - CONTAINER_OWN - image_settings(DOCKERFILES[service])
    assert set(environment) == expected, {
        "missing": sorted(expected - set(environment)),
        "not settings or set by the image": sorted(set(environment) - expected),
    }
    defaults = Settings()
    overrides = API_OVERRIDES if service == "api" else {}
    for name, value in environment.items():
        match = INTERPOLATION.fullmatch(str(value))
        assert match and match["name"] == name, f"{name}: {value!r} is not ${{{name}:-...}}"
        default = match["default"]
        if name in overrides:
            assert default == overrides[name], f"{name}: {default!r}"
        elif default:
            assert Settings.from_env({name: default}) == defaults, f"{name}: {default!r} is not the default"


def test_compose_defaults_are_valid_settings(compose: dict) -> None:
    """What api runs with when nothing is set passes the service's own validation."""
    environment = compose["services"]["api"]["environment"]
    values = {name: INTERPOLATION.fullmatch(value)["default"] for name, value in environment.items()}
    settings = Settings.from_env(values)
    assert (settings.trusted_proxies, settings.rate_limit_storage) == (1, "redis://redis:6379/0")


def test_configuration_page_names_what_compose_leaves_out() -> None:
    """The page's compose row lists the image's own settings and api's changed defaults."""
    row = next(
        line for line in settings_doc.DOC.read_text().splitlines() if line.startswith("| `docker compose`")
    )
    left_out = CONTAINER_OWN | image_settings("Dockerfile.gpu")
    for name in left_out:
        assert f"`{name}`" in row, name
    for name, value in API_OVERRIDES.items():
        assert f"`{name}={value}`" in row, name


def env_names_in(path: Path) -> set[str]:
    """Upper-case names a module passes as environment: keyword arguments, setenv, dicts of settings."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            names |= {kw.arg for kw in node.keywords if kw.arg and ENV_NAME.fullmatch(kw.arg)}
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"setenv", "delenv"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if keys & SETTINGS:  # an environment of the service: every upper-case key must mean something
                names |= {k for k in keys if ENV_NAME.fullmatch(k)}
    return names


def test_tests_and_benchmarks_set_only_real_settings() -> None:
    """A misspelt or removed setting in a test's environment would be silently ignored by the service."""
    unknown = {}
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            names = env_names_in(path) - SETTINGS - OTHER_ENV
            if names:
                unknown[str(path.relative_to(ROOT))] = sorted(names)
    assert unknown == {}, "not a service setting (add it to service/settings.py or OTHER_ENV here)"


def test_container_test_sets_only_real_settings() -> None:
    """`podman run -e NAME=...` in deploy/*.sh: a renamed setting would be dropped without a word."""
    unknown = {}
    for script in sorted((ROOT / "deploy").glob("*.sh")):
        names = set(re.findall(r"(?:^|\s)-e ([A-Z][A-Z0-9_]*)=", script.read_text())) - SETTINGS - OTHER_ENV
        if names:
            unknown[script.name] = sorted(names)
    assert unknown == {}
