"""phq.conformance: the golden files, the reference adapter and the runner (README.md)."""

from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent
