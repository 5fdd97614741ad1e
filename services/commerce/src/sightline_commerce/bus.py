"""The commerce service's bus surface. Its handlers arrive with the issue
that builds commerce; today it owns its stream and what lands there."""

from __future__ import annotations

from sightline.v1.commerce_pb2 import Offer, OrderUpdated
from sightline_runtime import subjects
from sightline_runtime.streams import DAY, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish

SERVICE = "commerce"

COMMERCE = StreamSpec(
    name="COMMERCE",
    subjects=(subjects.domain_all("commerce", "offer"), subjects.domain_all("commerce", "order")),
    description="Offers and order state changes",
    max_age_s=30 * DAY,
)

SURFACE = BusSurface(
    service=SERVICE,
    description="offers for what the wearer looks at, and orders",
    publishes=(
        Publish(subjects.domain_all("commerce", "offer"), Offer, COMMERCE, description="an offer card for a product"),
        Publish(subjects.domain_all("commerce", "order"), OrderUpdated, COMMERCE, description="an order's state changed"),
    ),
    streams=(OwnedStream(COMMERCE),),
)
