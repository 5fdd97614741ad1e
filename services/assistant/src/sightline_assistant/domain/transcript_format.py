"""Markdown, JSON and SubRip renderings of a transcript, never cut.

One copy, in the runtime (sightline_runtime.transcript_format), because the
CLI renders what GetTranscript returns and never imports a service."""

from __future__ import annotations

from sightline_runtime.transcript_format import FORMATS, PlainLine, as_json, from_proto, markdown, render, srt, zone_named

__all__ = ["FORMATS", "PlainLine", "as_json", "from_proto", "markdown", "render", "srt", "zone_named"]
