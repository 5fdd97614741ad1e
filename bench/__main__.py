"""Run the benchmarks: `python -m bench` (all) or `python -m bench bus_overhead ...`."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
console = Console()


def discover() -> list[str]:
    names = []
    for path in sorted(HERE.glob("*.py")):
        if path.stem.startswith("_") or path.stem == "stats":
            continue
        if "def run(" in path.read_text():
            names.append(path.stem)
    return names


def main(argv: list[str]) -> int:
    available = discover()
    chosen = argv or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        console.print(f"[red]unknown benchmark(s): {', '.join(unknown)}[/red]; available: {', '.join(available)}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    summary: dict[str, object] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    with Progress(console=console) as progress:
        task = progress.add_task("benchmarks", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"running {name}")
            module = importlib.import_module(f"bench.{name}")
            summary[name] = module.run(RESULTS)
            progress.advance(task)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    console.print(f"reports written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
