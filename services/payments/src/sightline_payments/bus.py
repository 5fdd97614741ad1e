"""The payments service's bus surface. Its handlers arrive with the issue
that builds payments; today it owns its stream and what lands there."""

from __future__ import annotations

from sightline.v1.payments_pb2 import PaymentIntent, PaymentResult
from sightline_runtime import subjects
from sightline_runtime.streams import DAY, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish

SERVICE = "payments"

PAYMENTS = StreamSpec(
    name="PAYMENTS",
    subjects=(subjects.domain_all("payments", "intent"), subjects.domain_all("payments", "result")),
    description="Payment intents and their outcomes",
    max_age_s=90 * DAY,
)

SURFACE = BusSurface(
    service=SERVICE,
    description="payment intents, confirmed on the wearer's own device, and their outcomes",
    publishes=(
        Publish(subjects.domain_all("payments", "intent"), PaymentIntent, PAYMENTS, description="a payment awaiting confirmation"),
        Publish(subjects.domain_all("payments", "result"), PaymentResult, PAYMENTS, description="a payment's outcome"),
    ),
    streams=(OwnedStream(PAYMENTS),),
)
