"""What an AudioFrame must be for this service to take it. A frame that
breaks a rule is refused through the guard (EventRejected): counted, reported
as an ErrorEvent and dead-lettered without its audio."""

from __future__ import annotations

import numpy as np
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline.v1.errors_pb2 import ErrorCode
from sightline_runtime.codec import EventRejected

MAX_STREAM_ID = 128


def frame_samples(frame: AudioFrame, *, sample_rate_hz: int, max_frame_ms: int) -> np.ndarray:
    """The frame's samples as int16, or EventRejected saying what is wrong."""
    ids = {"event_id": frame.meta.event_id, "device_id": frame.meta.device_id}
    if not frame.stream_id or len(frame.stream_id) > MAX_STREAM_ID or not frame.stream_id.isprintable():
        raise EventRejected(ErrorCode.ERROR_CODE_INVALID, f"stream_id must be a printable id of 1-{MAX_STREAM_ID} characters", **ids)
    if frame.encoding != AudioEncoding.AUDIO_ENCODING_PCM_S16LE:
        name = AudioEncoding.Name(frame.encoding) if frame.encoding in AudioEncoding.values() else str(frame.encoding)
        raise EventRejected(
            ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"encoding {name} is not accepted: send AUDIO_ENCODING_PCM_S16LE", **ids
        )
    if frame.sample_rate_hz != sample_rate_hz:
        raise EventRejected(
            ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA,
            f"sample rate {frame.sample_rate_hz} Hz is not accepted: send {sample_rate_hz} Hz",
            **ids,
        )
    if frame.channels != 1:
        raise EventRejected(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"{frame.channels} channels are not accepted: send mono", **ids)
    if len(frame.data) % 2:
        raise EventRejected(ErrorCode.ERROR_CODE_INVALID, f"{len(frame.data)} bytes is not a whole number of 16-bit samples", **ids)
    max_bytes = sample_rate_hz * max_frame_ms // 1000 * 2
    if len(frame.data) > max_bytes:
        raise EventRejected(
            ErrorCode.ERROR_CODE_OVERSIZED, f"frame of {len(frame.data) // 2} samples is longer than {max_frame_ms} ms", **ids
        )
    if not frame.data and not frame.end_of_stream:
        raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "frame has no audio and is not the end of the stream", **ids)
    return np.frombuffer(frame.data, dtype="<i2")
