from tests.edge.fixtures import edge_factory, hub, hub_nc, provision, view, vision  # noqa: F401
