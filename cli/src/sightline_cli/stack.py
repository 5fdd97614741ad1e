"""The running local stack, as written to <state dir>/stack.json by `sightline up`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_STATE_DIR = Path(os.environ.get("SIGHTLINE_STATE_DIR", ".sightline"))
STACK_FILE = "stack.json"

# Every service `sightline up` runs, in start order; the module is sightline_<name>.
SERVICES: tuple[str, ...] = ("overlay", "asr", "translation", "vision", "assistant", "commerce", "payments")


class StackNotRunning(RuntimeError):
    pass


@dataclass
class ServiceEntry:
    pid: int
    http_url: str
    metrics_url: str
    health_url: str
    log_file: str
    state: str = "starting"
    restarts: int = 0


@dataclass
class StackInfo:
    nats_url: str
    nats_monitor_url: str
    state_dir: str
    supervisor_pid: int
    started_at: str
    services: dict[str, ServiceEntry] = field(default_factory=dict)
    # Where the glasses' edge nodes connect (nats-leaf://); empty in an older stack.json.
    leafnode_url: str = ""
    # The admin user's credentials (the hub refuses anonymous connections) and
    # the CA the leafnode TLS certificate is signed by.
    admin_credentials: str = ""
    tls_ca_file: str = ""
    # The assistant's notification ingress (`sightline notify`): its HTTP base
    # URL, its gRPC target (host:port) and the file (0600) holding the local
    # API key, which may reach every device; empty without the assistant.
    notify_url: str = ""
    notify_grpc_target: str = ""
    notify_key_file: str = ""

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STACK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)  # atomic: readers never see half a file
        return path

    @classmethod
    def read(cls, state_dir: Path = DEFAULT_STATE_DIR) -> StackInfo:
        path = state_dir / STACK_FILE
        if not path.exists():
            raise StackNotRunning(f"no {path}: start the stack with `sightline up` or pass --server")
        data = json.loads(path.read_text())
        services = {name: ServiceEntry(**entry) for name, entry in data.pop("services", {}).items()}
        info = cls(**data, services=services)
        if not _alive(info.supervisor_pid):
            raise StackNotRunning(f"{path} is stale (supervisor pid {info.supervisor_pid} is gone): run `sightline up` again")
        return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
