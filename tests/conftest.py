import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # murmur3_ref and helpers
SPEC = ROOT / "spec" / "format-v1.0.md"
