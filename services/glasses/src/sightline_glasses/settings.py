"""Settings of the glasses' edge node (environment, prefix SIGHTLINE_).

The leaf link options are passed through to the edge's nats-server as they
are; device credentials (issued when a device is provisioned) and TLS plug
in here without code changes.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1 << 20


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="ignore", frozen=True)

    # --- the leaf link to the hub ---
    # The hub's leafnode URL(s), comma-separated (nats-leaf://host:7422).
    leaf_url: str = ""
    # NATS credentials file (JWT + NKey seed) or a file holding an NKey user seed.
    leaf_credentials_file: str = ""
    leaf_nkey_seed_file: str = ""
    # TLS on the leaf link: the CA that signed the hub's certificate, and the
    # device's own certificate and key when the hub verifies clients.
    leaf_tls_ca_file: str = ""
    leaf_tls_cert_file: str = ""
    leaf_tls_key_file: str = ""
    # How fast a silently dead link (no TCP reset) is noticed: ping_interval x ping_max.
    leaf_ping_interval_s: int = Field(default=5, ge=1)
    leaf_ping_max: int = Field(default=2, ge=1)
    # Dial only leaf_url, never the addresses the hub advertises: those are
    # often cluster-internal, and the glasses' link is what they were given.
    leaf_only_configured_urls: bool = True

    # --- the edge store (glasses have little flash) ---
    edge_max_store_bytes: int = Field(default=2048 * MIB, gt=0)
    # fsync every write: a flat battery is a power loss, and the outbox must survive it.
    edge_sync_interval: str = "always"
    # Outbox of inputs and photo notices; full = new inputs are refused, queued ones are kept.
    uplink_max_bytes: int = Field(default=256 * MIB, gt=0)
    # Photos waiting to upload; full = a new photo is refused.
    photo_outbox_max_bytes: int = Field(default=1024 * MIB, gt=0)
    # The hub's sourcing consumer heartbeat: each idle pair of glasses costs
    # the hub one small message per heartbeat.
    uplink_heartbeat_s: float = Field(default=5.0, gt=0)

    # --- photos ---
    photo_max_bytes: int = Field(default=8 * MIB, gt=0)
    # Decoded size limit: a small PNG can claim a huge canvas (decompression bomb).
    photo_max_pixels: int = Field(default=40_000_000, gt=0)
    photo_chunk_bytes: int = Field(default=128 * 1024, ge=1024, le=1024 * 1024)
    # The hub's object store bucket (vision creates it with its retention).
    photo_bucket: str = "photos"

    # --- commands from the hub (glasses.<device>.down.command) ---
    # A DeviceCommand is a few hundred bytes; anything far bigger is refused unparsed.
    command_max_bytes: int = Field(default=64 * 1024, ge=256)
    # Event ids remembered so a repeated command is acted on once.
    command_memory: int = Field(default=1024, ge=1)
    # Older commands are refused as replays (they outlived the memory above).
    command_max_age_s: float = Field(default=300.0, gt=0)

    # --- the HUD status line ---
    status_poll_s: float = Field(default=0.5, gt=0)
    # A queue is shown only once it persisted this long while online, so
    # every command does not flash "1 queued"; offline is shown at once.
    status_queue_delay_s: float = Field(default=2.0, ge=0)
    # Boot: the leaf link gets this long to come up before "offline" is shown.
    status_boot_grace_s: float = Field(default=3.0, ge=0)

    def leaf_urls(self) -> list[str]:
        return [url.strip() for url in self.leaf_url.split(",") if url.strip()]
