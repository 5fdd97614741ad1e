"""Loading and checking a demo script (script.yaml is the one `sightline up --demo` plays)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sightline_glasses.demo.steps import COMMON_FIELDS, STEPS, ScriptError, seconds

DEFAULT_SCRIPT = Path(__file__).with_name("script.yaml")
TOP_FIELDS = frozenset({"name", "loop", "default_wait_s", "loop_pause_s", "steps"})


@dataclass(frozen=True)
class Step:
    index: int
    kind: str
    spec: dict[str, Any]
    wait_s: float
    note: str

    def __str__(self) -> str:
        return f"step {self.index + 1} ({self.kind}{': ' + self.note if self.note else ''})"


@dataclass(frozen=True)
class DemoScript:
    name: str
    steps: tuple[Step, ...]
    loop: bool
    loop_pause_s: float
    # Relative media paths in steps resolve against the script's folder.
    base_dir: Path


def parse_script(data: Any, base_dir: Path) -> DemoScript:
    if not isinstance(data, dict):
        raise ScriptError("a demo script is a mapping with a `steps` list")
    unknown = set(data) - TOP_FIELDS
    if unknown:
        raise ScriptError(f"unknown top-level field(s) {sorted(unknown)}; known: {sorted(TOP_FIELDS)}")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScriptError("`steps` must be a non-empty list")
    default_wait = seconds(data.get("default_wait_s", 3), "default_wait_s")
    steps = []
    for index, raw in enumerate(raw_steps):
        try:
            steps.append(_parse_step(index, raw, default_wait, base_dir))
        except ScriptError as exc:
            raise ScriptError(f"step {index + 1}: {exc}") from None
    return DemoScript(
        name=str(data.get("name", "demo")),
        steps=tuple(steps),
        loop=bool(data.get("loop", False)),
        loop_pause_s=seconds(data.get("loop_pause_s", 0), "loop_pause_s"),
        base_dir=base_dir,
    )


def _parse_step(index: int, raw: Any, default_wait: float, base_dir: Path) -> Step:
    if not isinstance(raw, dict) or "do" not in raw:
        raise ScriptError("each step is a mapping with `do: <kind>`")
    kind = raw["do"]
    if kind not in STEPS:
        raise ScriptError(f"unknown kind {kind!r}; known: {sorted(STEPS)}")
    spec = STEPS[kind]
    missing = spec.required - set(raw)
    if missing:
        raise ScriptError(f"{kind} needs {sorted(missing)}")
    unknown = set(raw) - spec.required - spec.optional - COMMON_FIELDS
    if unknown:
        raise ScriptError(f"{kind} does not take {sorted(unknown)}")
    if spec.check is not None:
        spec.check(raw, base_dir)
    wait_s = seconds(raw.get("wait_s", default_wait), "wait_s")
    return Step(index=index, kind=kind, spec=dict(raw), wait_s=wait_s, note=str(raw.get("note", "")))


def load_script(path: Path = DEFAULT_SCRIPT) -> DemoScript:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_script(data, path.parent)
    except ScriptError as exc:
        raise ScriptError(f"{path}: {exc}") from None
