"""Memory of a long `sightline up --demo`: does anything grow without bound?

Starts the local stack with its demo exactly as a user would
(`python -m sightline_cli up --demo`, in a fresh state dir; the launcher picks
free ports), waits for the demo's HUD page, then samples the resident set
size (VmRSS from /proc) of the `sightline up` process - it runs the
supervisor and the demo glasses (GlassesAgent, HUD server, demo director) -
and of every process of the stack under it (nats-server, each service)
every --interval seconds for --duration seconds. Then it stops the stack
(SIGINT, as Ctrl-C) and rewrites the report from every run recorded so far.

Each run is kept as results/demo_memory_<label>.json; the report
(results/demo_memory.md, + demo_memory.png) puts the runs side by side:
start, peak and end RSS and the slope (least squares, MB/h) of the demo
process, the slope also after a 5-minute warm-up (start-up allocation is
not a leak).

    python -m bench.demo_memory --label before --tree /tmp/before   # an older checkout, same venv
    python -m bench.demo_memory --label after                       # this checkout

--tree points PYTHONPATH at another checkout's sources so the same venv runs
that code (the venv's editable installs name this checkout's paths).

Not part of `python -m bench` (no run(): 30 minutes is not a quick figure).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parent
SOURCE_DIRS = (
    "cli/src",
    "libs/contracts/src",
    "libs/runtime/src",
    *(f"services/{s}/src" for s in ("asr", "commerce", "glasses", "overlay", "payments", "translation", "vision")),
)
WARMUP_S = 300.0
DEMO = "sightline up --demo"


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return 0  # a zombie has no VmRSS line


def process_tree() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            # the command name may hold spaces and parentheses: ppid is the 2nd field after the last ')'
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def subtree(root: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    args = [a.decode(errors="replace") for a in argv if a]
    if "-m" in args and args.index("-m") + 1 < len(args):
        return args[args.index("-m") + 1].removeprefix("sightline_")
    return Path(args[0]).name if args else "?"


def sample(root: int, started: float) -> dict[str, object]:
    """RSS of the demo process alone, and of each process it started with
    that process's own children (translation's apertium pipeline counts as
    translation)."""
    children = process_tree()
    procs = {DEMO: rss_kb(root) or 0}
    for child in children.get(root, []):
        kb = sum(rss_kb(pid) or 0 for pid in subtree(child, children))
        name = process_name(child)
        procs[name] = procs.get(name, 0) + kb
    return {"t_s": round(time.monotonic() - started, 1), "rss_kb": procs}


def display_queue(hud: str) -> dict[str, int] | None:
    """The demo agent's display queue as its HUD page reports it (None: this code does not report it)."""
    try:
        with urllib.request.urlopen(hud + "state", timeout=5) as response:
            return json.loads(response.read()).get("display_queue")
    except (OSError, ValueError):
        return None


def wait_for_demo(log: Path, process: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{DEMO} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("demo HUD: "):
                return line.split()[2]
        time.sleep(1)
    raise RuntimeError(f"the demo HUD did not appear in {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def measure(label: str, duration_s: float, interval_s: float, tree: Path) -> dict[str, object]:
    env = os.environ.copy()
    if tree.resolve() != REPO:
        env["PYTHONPATH"] = os.pathsep.join(str(tree / d) for d in SOURCE_DIRS)
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], check=False, capture_output=True, text=True
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="demo-memory-") as tmp:
        state, log = Path(tmp) / "state", Path(tmp) / "up.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "sightline_cli", "up", "--demo", "--state-dir", str(state)],
                cwd=tree,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        samples: list[dict[str, object]] = []
        try:
            hud = wait_for_demo(log, process, 180)
            print(f"[{label}] demo playing at {hud}; sampling every {interval_s:.0f}s for {duration_s:.0f}s", flush=True)
            started = time.monotonic()
            while True:
                samples.append(sample(process.pid, started) | {"display_queue": display_queue(hud)})
                if process.poll() is not None:
                    raise RuntimeError(f"{DEMO} exited during the run:\n{log.read_text()[-3000:]}")
                last = samples[-1]
                print(f"[{label}] t={last['t_s']:.0f}s demo RSS {last['rss_kb'][DEMO] / 1024:.1f} MB", flush=True)
                if time.monotonic() - started >= duration_s:
                    break
                time.sleep(max(0.0, interval_s - (time.monotonic() - started) % interval_s))
            tail = log.read_text(errors="replace")
            demo_failures = sum("demo " in line and (" failed: " in line or "stopped" in line) for line in tail.splitlines())
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {
        "label": label,
        "commit": commit + ("+dirty" if dirty else ""),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other work), Python {platform.python_version()}",
        "duration_s": duration_s,
        "interval_s": interval_s,
        "demo_step_failures_logged": demo_failures,
        "samples": samples,
    }


def slope_mb_per_h(t_s: np.ndarray, mb: np.ndarray) -> float:
    if t_s.size < 2 or np.ptp(t_s) == 0:
        return float("nan")
    return float(np.polyfit(t_s / 3600.0, mb, 1)[0])


def series(run: dict[str, object], name: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(s["t_s"], s["rss_kb"].get(name)) for s in run["samples"]]
    rows = [(t, kb) for t, kb in rows if kb is not None]
    return np.array([t for t, _ in rows], dtype=float), np.array([kb for _, kb in rows], dtype=float) / 1024


def summary(run: dict[str, object], name: str) -> dict[str, float]:
    t, mb = series(run, name)
    warm = t >= WARMUP_S
    return {
        "start": float(mb[0]),
        "peak": float(mb.max()),
        "end": float(mb[-1]),
        "slope": slope_mb_per_h(t, mb),
        "slope_warm": slope_mb_per_h(t[warm], mb[warm]),
    }


def report(runs: list[dict[str, object]]) -> str:
    lines = [
        "# Memory of a long `sightline up --demo`",
        "",
        "`python -m bench.demo_memory` starts the local stack with its looping demo as a user would, then samples",
        "the resident set size (VmRSS) of the `sightline up` process - supervisor and demo glasses (GlassesAgent, HUD",
        "server, director) in one process - and of each process of the stack every 30 s. Slope: least-squares fit",
        f"over the run, and over the run after a {WARMUP_S / 60:.0f}-minute warm-up. The machine has 2 cores shared with other",
        "engineers' work during these runs, so the services' figures carry that noise.",
        "",
        f"## The demo process ({DEMO})",
        "",
        "| run | commit | duration | start (MB) | peak (MB) | end (MB) | slope (MB/h) | slope after warm-up (MB/h) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        s = summary(run, DEMO)
        lines.append(
            f"| {run['label']} | {run['commit']} | {run['duration_s'] / 60:.0f} min | {s['start']:.1f} | {s['peak']:.1f} | {s['end']:.1f} "
            f"| {s['slope']:+.2f} | {s['slope_warm']:+.2f} |"
        )
    queues = [(run, run["samples"][-1].get("display_queue")) for run in runs]
    if any(queue for _, queue in queues):
        lines += ["", "The demo agent's display queue at the end of each run (read from its HUD page's /state; older code has none):", ""]
        lines += ["| run | pending | dropped (superseded, nobody read them) |", "| --- | --- | --- |"]
        for run, queue in queues:
            cells = f"{queue['pending']} | {queue['dropped']}" if queue else "not reported | not reported"
            lines.append(f"| {run['label']} | {cells} |")
        for run, queue in queues:
            if queue:
                accepted = queue["pending"] + queue["dropped"]
                lines += [
                    "",
                    f"In the {run['label']} run the demo glasses accepted {accepted} display updates"
                    f" in {run['duration_s'] / 60:.0f} minutes"
                    f" ({accepted / run['duration_s'] * 3600:.0f}/h) and held at most {queue['pending']}; code with an unbounded queue"
                    " (nothing reads it in the demo) holds every one of them for as long as the demo runs.",
                ]
    lines += ["", "## Every process of the stack, with its own children (end RSS in MB, slope after warm-up in MB/h)", ""]
    names = sorted({n for run in runs for n in run["samples"][-1]["rss_kb"]} - {DEMO})
    lines += ["| process | " + " | ".join(run["label"] for run in runs) + " |", "| --- |" + " --- |" * len(runs)]
    for name in names:
        cells = []
        for run in runs:
            if name in run["samples"][-1]["rss_kb"]:
                s = summary(run, name)
                cells.append(f"{s['end']:.1f} ({s['slope_warm']:+.2f}/h)")
            else:
                cells.append("-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Runs: " + "; ".join(f"{r['label']} at {r['when']} on {r['machine']}" for r in runs), ""]
    lines += ["![RSS over time](demo_memory.png)", ""]
    return "\n".join(lines)


def plot(runs: list[dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib  # noqa: PLC0415 - only the report needs it
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        t, mb = series(run, DEMO)
        ax.plot(t / 60, mb, marker=".", label=f"{run['label']} ({run['commit']})")
    ax.set_xlabel("minutes into the demo")
    ax.set_ylabel("RSS of `sightline up --demo` (MB)")
    ax.set_title("Demo process memory over a long demo")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: Path) -> Path:
    order = {"before": 0, "after": 1}
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("demo_memory_*.json"))]
    runs.sort(key=lambda r: (order.get(r["label"], 2), r["when"]))
    plot(runs, results / "demo_memory.png")
    path = results / "demo_memory.md"
    path.write_text(report(runs))
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="the run's name in the report (before / after)")
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds to sample (default 1800)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout whose code runs (default: this one)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the recorded runs")
    args = parser.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run = measure(args.label, args.duration, args.interval, args.tree.resolve())
        (args.results / f"demo_memory_{args.label}.json").write_text(json.dumps(run, indent=1))
    print(f"wrote {write_report(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
