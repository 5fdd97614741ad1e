"""Grafana dashboards as code: every panel query parses as PromQL (the
promql-parser package, a port of Prometheus' own parser), uses counters and
histograms the way PromQL means them, and names only metrics that a really
running service serves on /metrics: the overlay, vision and assistant services are
started in-process against a real nats-server and scraped, so the check follows the code as
metrics are added or renamed."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser as promql
import pytest
import pytest_asyncio
import yaml
from sightline_assistant.app import create_service as create_assistant
from sightline_assistant.settings import AssistantSettings
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime.processes import free_port
from sightline_vision.app import create_service as create_vision
from sightline_vision.settings import VisionSettings

from tests.deploy.helpers import ROOT

DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
# Grafana fills these in before Prometheus sees the query.
GRAFANA_RANGES = re.compile(r"\$__(rate_interval|interval|range)\b")
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']} [{target['refId']}]", target["expr"]))
    return found


def parse(expr: str) -> promql.Expr:
    return promql.parse(GRAFANA_RANGES.sub("5m", expr))


def selectors(expr: promql.Expr) -> list[tuple[str, list[str]]]:
    """(metric name, names of the enclosing function calls, innermost first)."""
    found: list[tuple[str, list[str]]] = []
    stack: list[Any] = []

    def pre(node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            assert node.name, f"selector without a metric name: {node}"
            found.append((node.name, [n.func.name for n in reversed(stack) if isinstance(n, promql.Call)]))
        stack.append(node)

    def post(_node: Any) -> None:
        stack.pop()

    promql.walk(expr, pre, post)
    return found


def test_there_are_dashboards_with_queries() -> None:
    assert DASHBOARDS, "no dashboards under deploy/grafana/dashboards"
    assert len(queries()) >= 10


@pytest.mark.parametrize(("where", "expr"), queries())
def test_queries_parse(where: str, expr: str) -> None:
    assert expr.count("(") == expr.count(")"), f"{where}: unbalanced parentheses"
    try:
        parse(expr)
    except ValueError as err:
        pytest.fail(f"{where}: not PromQL: {err}\n{expr}")


def test_parser_rejects_broken_queries() -> None:
    # Guards the test above.
    for broken in ("rate(x[5m]", "sum by (le (x)", "rate(x{a=}[5m])"):
        with pytest.raises(ValueError):  # noqa: PT011 - the parser's one error type
            parse(broken)


async def _scrape(service, port: int) -> str:
    """/metrics of a service started in-process, once it is ready."""
    task = asyncio.create_task(service.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            async with asyncio.timeout(60):
                while True:
                    assert not task.done(), "the service exited during start-up"
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text
    finally:
        service.stop()
        await asyncio.wait_for(task, 30)


# pytest_asyncio.fixture: works whether or not asyncio_mode=auto is configured.
@pytest_asyncio.fixture
async def served_metrics(nats_server, vision_engines, tmp_path) -> dict[str, str]:
    """Metric family -> type, from the # TYPE lines running services serve
    (overlay, vision with the session's models, and the assistant with its
    embedding model and an SQLite store).

    prometheus_client writes HELP/TYPE lines even for labelled metrics that
    have no series yet, so no event needs to flow for the names to show."""
    port = free_port()
    text = await _scrape(create_service(OverlaySettings(nats_url=nats_server.url, http_host="127.0.0.1", http_port=port)), port)
    port = free_port()
    vision = VisionSettings(
        nats_url=nats_server.url, http_host="127.0.0.1", http_port=port, library_db_url=f"sqlite+aiosqlite:///{tmp_path / 'photos.db'}"
    )
    text += await _scrape(create_vision(vision, engines=vision_engines), port)
    port = free_port()
    # The notification ingress stays off (port 0): its counters are the assistant's own, served on /metrics.
    assistant = AssistantSettings(
        nats_url=nats_server.url, http_host="127.0.0.1", http_port=port, assistant_db_url=f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    )
    text += await _scrape(create_assistant(assistant), port)
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert "sightline_service_ready" in families, text[:2000]
    assert "sightline_vision_photos_total" in families, text[-2000:]
    assert "sightline_assistant_finals_total" in families, text[-2000:]
    return families


def series_names(families: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Series name a query may use -> (family, type)."""
    names = {}
    for family, kind in families.items():
        base = f"{family}_total" if kind == "counter" and not family.endswith("_total") else family  # OpenMetrics drops _total
        for suffix in SUFFIXES.get(kind, ("",)):
            names[base + suffix] = (family, kind)
    return names


def problems_in(where: str, expr: str, names: dict[str, tuple[str, str]]) -> tuple[list[str], set[str]]:
    """What is wrong with one query, and which metric families it uses."""
    problems, used = [], set()
    for name, calls in selectors(parse(expr)):
        if name not in names:
            problems.append(f"{where}: {name} is not served by a running service")
            continue
        family, kind = names[name]
        used.add(family)
        if kind == "counter" and (not calls or calls[0] not in COUNTER_FUNCTIONS):
            problems.append(f"{where}: counter {name} must be wrapped in rate()/increase()")
        if kind == "gauge" and calls and calls[0] in COUNTER_FUNCTIONS:
            problems.append(f"{where}: rate() of gauge {name}")
        if kind == "histogram" and name.endswith(("_sum", "_count")) and (not calls or calls[0] not in COUNTER_FUNCTIONS):
            problems.append(f"{where}: {name} counts up; wrap it in rate()")
        if kind == "histogram" and name.endswith("_bucket") and (calls[:1] != ["rate"] or "histogram_quantile" not in calls):
            problems.append(f"{where}: {name} must be used as histogram_quantile(q, ... rate({name}[...]))")
    return problems, used


@pytest.mark.asyncio
async def test_every_query_names_served_metrics_used_correctly(served_metrics: dict[str, str]) -> None:
    names = series_names(served_metrics)
    problems: list[str] = []
    used: set[str] = set()
    for where, expr in queries():
        found, families = problems_in(where, expr, names)
        problems += found
        used |= families
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            for name in re.findall(r"label_values\((\w+)", variable.get("definition", "")):
                if name not in names:
                    problems.append(f"{path.name} variable {variable['name']}: {name} is not served")
    assert not problems, "\n".join(problems)
    # The overview must keep showing what operators look at first.
    required = {
        "sightline_events_handled_total",
        "sightline_events_rejected_total",
        "sightline_dead_letters_total",
        "sightline_event_handle_seconds",
        "sightline_service_ready",
        "sightline_overlay_display_updates_total",
        "sightline_vision_photos_total",
        "sightline_vision_analysis_seconds",
        "sightline_vision_treatments_total",
        "sightline_assistant_finals_total",
        "sightline_assistant_commands_total",
        "sightline_assistant_understanding_seconds",
        "sightline_assistant_reminders_total",
        "sightline_assistant_reminder_lateness_seconds",
        "sightline_assistant_notifications_total",
        "sightline_assistant_llm_answers_total",
        "sightline_assistant_meeting_notes_total",
        "sightline_assistant_transcript_lines_total",
    }
    assert required <= used, f"dashboard lost panels for {required - used}"


def test_checker_catches_misuse() -> None:
    # Guards the test above with made-up families.
    names = series_names({"c_total": "counter", "h": "histogram", "g": "gauge", "o": "counter"})
    assert set(names) == {"c_total", "h_bucket", "h_sum", "h_count", "g", "o_total"}
    good = ("sum(rate(c_total[5m]))", "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))", "max(g)", "rate(h_count[5m])")
    for expr in good:
        assert problems_in("t", expr, names)[0] == [], expr
    bad = (
        "sum(c_total)",
        "rate(g[5m])",
        "histogram_quantile(0.9, h_bucket)",
        "sum(rate(h_bucket[5m]))",
        "h",
        "missing_total",
        "sum(h_count)",
    )
    for expr in bad:
        assert problems_in("t", expr, names)[0], expr


def test_latency_panel_has_p50_p95_p99() -> None:
    quantiles = set()
    for _, expr in queries():
        node = parse(expr)
        if isinstance(node, promql.Call) and node.func.name == "histogram_quantile":
            quantiles.add(node.args[0].val)
    assert {0.5, 0.95, 0.99} <= quantiles


def test_panels_use_the_datasource_variable() -> None:
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels(dashboard):
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
                assert panel["targets"], f"{panel['title']} has no query"


def test_provisioning_points_at_the_dashboards() -> None:
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert [s["type"] for s in sources] == ["prometheus"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "sightline.yaml").read_text())["providers"]
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).is_absolute()
