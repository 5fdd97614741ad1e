"""PocketSphinx with the en-us acoustic model, language model and dictionary
bundled in the `pocketsphinx` package: light and fully classical, but far
less accurate than Moonshine (see docs/asr.md for measured figures).

Its Cython decoder holds the GIL while it decodes, so the runner gives it a
worker process of its own rather than a thread.
"""

from __future__ import annotations

import numpy as np

from sightline_asr.engines import SAMPLE_RATE_HZ, EngineError, Hypothesis


class PocketsphinxEngine:
    name = "pocketsphinx-en-us"
    language = "en"
    releases_gil = False

    def __init__(self) -> None:
        self.loaded = False

    def load(self) -> None:
        try:
            from pocketsphinx import Decoder  # noqa: PLC0415 - only this engine needs it
        except ImportError as err:
            raise EngineError("the pocketsphinx package is not installed (pip install pocketsphinx)") from err
        # The second (flat) pass and the lattice best path add ~40% time for a
        # small gain; the live captions prefer the latency.
        self.decoder = Decoder(samprate=SAMPLE_RATE_HZ, loglevel="ERROR", fwdflat=False, bestpath=False)
        self.transcribe(np.zeros(SAMPLE_RATE_HZ // 2, dtype=np.int16))
        self.loaded = True

    def transcribe(self, audio: np.ndarray, hint: Hypothesis | None = None) -> Hypothesis:
        self.decoder.start_utt()
        self.decoder.process_raw(np.ascontiguousarray(audio, dtype="<i2").tobytes(), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        # No confidence: without the lattice pass the posterior is not computed.
        return Hypothesis(text=hyp.hypstr.strip() if hyp is not None else "")
