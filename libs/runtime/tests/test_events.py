import time

from sightline.v1.display_pb2 import DisplayUpdate
from sightline_runtime.events import HEADER_MSG_ID, HEADER_TYPE, HybridClock, event_headers, new_meta


def test_hybrid_clock_is_strictly_increasing_per_key():
    clock = HybridClock()
    values = [clock.next("k") for _ in range(10_000)]
    assert values == sorted(set(values))


def test_hybrid_clock_continues_above_a_previous_process():
    before = HybridClock()
    last = max(before.next("k") for _ in range(1000))
    # A restarted producer starts with an empty clock. It continues above the old
    # values as long as the restart took longer than the old clock ran ahead of
    # wall-clock time (one microsecond per event at most) - 5 ms here, seconds in life.
    time.sleep(0.005)
    assert HybridClock().next("k") > last


def test_headers_carry_the_event_id_for_dedup_and_the_type():
    event = DisplayUpdate(meta=new_meta("dev-1", "overlay"))
    headers = event_headers(event)
    assert headers[HEADER_MSG_ID] == event.meta.event_id
    assert headers[HEADER_TYPE] == "sightline.v1.DisplayUpdate"
