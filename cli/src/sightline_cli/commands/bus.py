"""`sightline bus`: each service's declared bus surface, and the docs page made from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sightline_runtime import auth
from sightline_runtime.surface import load_surface, load_surfaces
from sightline_runtime.surface_docs import render

from sightline_cli.console import fail, out
from sightline_cli.stack import SERVICES

app = typer.Typer(help="Show the services' bus surfaces (what each publishes, subscribes and may do).", no_args_is_help=True)


@app.command()
def table(
    write: Annotated[Path | None, typer.Option("--write", help="Write the page to this file (docs/bus.md) instead of printing it.")] = None,
) -> None:
    """The who-publishes-and-subscribes-what page, generated from every service's bus.py."""
    page = render(load_surfaces(SERVICES))
    if write is None:
        out.print(page, markup=False, highlight=False, soft_wrap=True)
        return
    write.write_text(page)
    out.print(f"wrote {write}", markup=False)


@app.command()
def show(service: Annotated[str, typer.Argument(help="A service name.")]) -> None:
    """One service's subscriptions, publications and derived permissions."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; choose from {', '.join(SERVICES)}", 2)
    surface = load_surface(service)
    subs = Table("handler", "subject", "how", title=f"{service} subscribes")
    for sub in surface.subscribes:
        consumer = sub.spec.consumer
        subs.add_row(
            f"{sub.name} → {sub.handler}", ", ".join(sub.permitted_subjects), f"durable {consumer.durable}" if consumer else "core"
        )
    for serve in surface.serves:
        subs.add_row(f"serve → {serve.handler}", serve.subject, "request/reply")
    pubs = Table("subject", "event", "stream", title=f"{service} publishes")
    for pub in surface.publishes:
        pubs.add_row(pub.subject, pub.event.DESCRIPTOR.full_name, pub.stream.name if pub.stream else "core")
    perms = auth.service_permissions(surface)
    grants = Table("publish", "subscribe", title=f"{service}'s NATS user")
    grants.add_row("\n".join(perms.pub_allow), "\n".join(perms.sub_allow))
    for part in (subs, pubs, grants):
        out.print(part)
