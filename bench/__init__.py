"""Benchmarks. `python -m bench [name ...]` runs them and writes bench/results/.

Each module bench/<name>.py exposes `run(report_dir: Path) -> dict` and writes
its own <name>.md and plots; the runner adds a summary. Benchmarks measure on
real servers and real models; they are not tests and assert nothing.
"""
