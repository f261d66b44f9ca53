"""Seeds for the NLU fuzzer (make -C creader fuzz-nlu): each seed is a 4-byte little-endian model
length, a model of gen_nlu_testdata.py, and a text.

    python nlu_fuzz_seeds.py TESTDATA_DIR SEED_DIR
"""
import struct
import sys
from pathlib import Path

TEXTS = [b"play the beatles", "ΟΔΟΣ İstanbul ﬁne café ½ 한글".encode(), b"ab\xffcd \xed\xa0\x80 \xf0\x9f\x98",
         b"", b"  \t\x00\xef\xbb\xbf x"]
SKIP = {"big.phq"}


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    models = sorted(p for p in src.glob("*.phq") if p.name not in SKIP and p.stat().st_size < 60000)
    # calibrated models (spec v2 §2.4): the conformance suite's valid ones and a few invalid ones
    suite = Path(__file__).resolve().parents[2] / "conformance" / "nlu"
    models += sorted(p for p in suite.glob("[yn]_calibrat*.phq") if p.stat().st_size < 60000)
    for p in models:
        data = p.read_bytes()
        for i, t in enumerate(TEXTS if not p.name.startswith("err_") else TEXTS[:1]):
            (dst / f"{p.stem}-{i}").write_bytes(struct.pack("<I", len(data)) + data + t)


if __name__ == "__main__":
    main()
