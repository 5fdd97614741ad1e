from tests.edge.fixtures import edge_factory, hub, hub_nc, provision, run_service, view, vision  # noqa: F401
