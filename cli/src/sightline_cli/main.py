"""`sightline`: run the local stack, simulate a pair of glasses, manage devices, prepare the cluster's NATS auth."""

from __future__ import annotations

import typer

from sightline_cli.commands import bus, calendar, certs, devices, glasses, glossary, k8s, notify, photos, stack, transcript

app = typer.Typer(help="Sightline — the open backend for AI glasses.", no_args_is_help=True, add_completion=False)
app.command()(stack.up)
app.command()(stack.status)
app.command()(glasses.glasses)
app.command()(notify.notify)
app.command()(transcript.transcript)
app.add_typer(calendar.app, name="calendar")
app.add_typer(devices.app, name="devices")
app.add_typer(glossary.app, name="glossary")
app.add_typer(photos.app, name="photos")
app.add_typer(certs.app, name="certs")
app.add_typer(k8s.app, name="k8s")
app.add_typer(bus.app, name="bus")
