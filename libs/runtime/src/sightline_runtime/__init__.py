"""Shared runtime of the Sightline services: small modules, each with one job.

settings   environment configuration (pydantic-settings mixins)
subjects   subject names and the device token inside them
streams    the one registry of JetStream streams, consumers and buckets
events     event ids, metadata, hybrid-time sequence numbers, headers
codec      size-limited protobuf decoding
metrics    Prometheus metrics every service exports
telemetry  OpenTelemetry tracing and header propagation
logs       JSON logs with trace ids and secret redaction
devices    the device registry (JetStream KV)
consumer   guarded event handlers: validation, metrics, dead letters
publisher  publishing events with ids and trace context
http       /healthz, /readyz and /metrics
service    wires one service together and runs it until SIGTERM
natsserver runs a real nats-server (CLI stack and test fixtures)
"""
