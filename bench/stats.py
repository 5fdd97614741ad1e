"""Percentiles and the report helpers every benchmark shares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples_ms, dtype=float)
    return {
        "n": int(values.size),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
        "max": float(values.max()),
    }


def table(rows: dict[str, dict[str, float]], unit: str = "ms") -> str:
    lines = [f"| path | n | p50 ({unit}) | p95 ({unit}) | p99 ({unit}) | max ({unit}) |", "| --- | --- | --- | --- | --- | --- |"]
    for name, s in rows.items():
        lines.append(f"| {name} | {s['n']} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} | {s['max']:.2f} |")
    return "\n".join(lines)


def latency_plot(samples: dict[str, Sequence[float]], path: Path, title: str, unit: str = "ms") -> None:
    import matplotlib  # noqa: PLC0415 - only benchmarks need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in samples.items():
        ordered = np.sort(np.asarray(values, dtype=float))
        ax.plot(ordered, np.linspace(0, 100, ordered.size), label=name)
    ax.set_xscale("log")
    ax.set_xlabel(f"latency ({unit}, log scale)")
    ax.set_ylabel("percentile")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
