"""Format 1.2's compact sparse encoding against 1.0's plain one on the CLINC150 models
(spec/format-v1.2.md §7): file and index sizes, and that the answers are bit for bit equal.

    .venv/bin/python bench/bench_compact.py [--data ../shared/data/clinc150/data_full.json]

Fits the report's svc-l2 and svc-l1 pipelines (examples/clinc150/report.py's recipes: word
1-2-gram TF-IDF + LinearSVC), writes each as linear8 (column scales, the default) and the L2
one as linear4, with sparse="plain" and sparse="compact", and records per model the file
bytes, the bytes of the sparse index parts (ROW_INDEX + COLUMNS, or ROW_BASES + ROW_DELTAS +
COLUMN_LOW + COLUMN_HIGH), the compact parameters chosen, and whether the decision values of
the test texts are identical (binary64 bits). Sizes, not times: the result does not depend on
the machine. Writes bench/results/compact.json (flat keys). About a minute (the fits).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INDEX_PARTS = ("ROW_INDEX", "COLUMNS", "ROW_BASES", "ROW_DELTAS", "COLUMN_LOW", "COLUMN_HIGH")


def main(argv=None) -> int:
    import phq
    import phq.nlu
    import phq.writer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data" / "clinc150" / "data_full.json")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "compact.json")
    a = ap.parse_args(argv)
    data = json.loads(a.data.read_text(encoding="utf-8"))
    Xtr, ytr = (list(x) for x in zip(*data["train"]))
    Xte = [t for t, _ in data["test"]]
    word = lambda: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)  # noqa: E731
    l2 = make_pipeline(word(), LinearSVC(C=1.0, random_state=0)).fit(Xtr, ytr)
    l1 = make_pipeline(word(), LinearSVC(C=1.0, penalty="l1", dual=False, max_iter=2000, random_state=0)).fit(Xtr, ytr)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pipe, quant in (("svc_l2_linear8", l2, "linear8"), ("svc_l2_linear4", l2, "linear4"), ("svc_l1_linear8", l1, "linear8")):
            decisions = {}
            for enc in ("plain", "compact"):
                path = Path(tmp) / f"{name}_{enc}.phq"
                size = phq.writer.from_sklearn(pipe, path, quant=quant, scale="column", fingerprint_bits=16, sparse=enc).bytes
                with phq.open(path) as m:
                    t = m.tables["features"]
                    index = sum(s.size for s in t.sections if s.name in INDEX_PARTS)
                    out[f"{name}_{enc}_file_bytes"] = size
                    out[f"{name}_{enc}_index_bytes"] = index
                    out[f"{name}_{enc}_index_bytes_per_key"] = round(index / t.num_keys, 3)
                    out[f"{name}_keys"], out[f"{name}_values_per_key"] = t.num_keys, round(t.nnz / t.num_keys, 3)
                    if enc == "compact":
                        d = t.descriptor
                        out[f"{name}_compact_rows_per_base"] = 1 << (d.reserved1 & 0xFF)
                        out[f"{name}_compact_delta_width"] = d.reserved0
                        out[f"{name}_compact_column_low_bits"] = d.reserved1 >> 8
                clf = phq.nlu.load(path)
                decisions[enc] = np.asarray(clf.decision_function(Xte), np.float64)
            out[f"{name}_file_change_pct"] = round(100 * (out[f"{name}_compact_file_bytes"] / out[f"{name}_plain_file_bytes"] - 1), 2)
            out[f"{name}_same_decisions"] = bool((decisions["plain"].view(np.uint64) == decisions["compact"].view(np.uint64)).all())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    for k, v in sorted(out.items()):
        print(f"{k:45} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
