"""One-shot measurement of issue 16's converters on the FULL CLINC150 data (150 intents,
15,000 training utterances, 4,500 test): for every new estimator and column step of
tests/test_sklearn_estimators.py (same settings) and for from_vw (--oaa 150), the largest
f32 decision error against the source model and the agreement of the default linear8 file
with the source model's predictions, with accuracies and file sizes.

    .venv/bin/python bench/bench_converters.py [--data ../shared/data/clinc150/data_full.json]
                                               [--out bench/results/converters_clinc150.json] [--only NAME ...]

Writes flat keys `<model>_f32_max_err`, `<model>_l8_agreement`, `<model>_src_acc`,
`<model>_l8_acc`, `<model>_l8_bytes`, `<model>_f32_vw_mismatch_texts` (VW only: texts holding
a token phq does not know but VW scores, an unseen token hashed into a trained VW slot; the
f32 error is measured on the other texts).
Not run by the tests (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "clinc150" / "data_full.json"))
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "converters_clinc150.json"))
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    import phq.nlu
    import phq.writer
    from test_sklearn_estimators import MODELS, decision

    data = json.loads(Path(args.data).read_text())
    Xtr, ytr = [x for x, _ in data["train"]], [y for _, y in data["train"]]
    Xte, yte = [x for x, _ in data["test"]], np.array([y for _, y in data["test"]])
    out: dict = {"data": "clinc150 full: 15000 train, 4500 test, 150 intents"}
    tmp = Path(tempfile.mkdtemp(prefix="phq-conv-"))
    names = args.only or sorted(MODELS) + ["VW-oaa"]
    for name in names:
        key = name.replace("-", "_").replace("+", "_").lower()
        if name == "VW-oaa":
            r = _vw(data, tmp)
        else:
            pipe = MODELS[name]().fit(Xtr, ytr)
            theirs = decision(pipe, Xte)
            phq.writer.from_sklearn(pipe, tmp / "f32.phq", quant="f32")
            size = phq.writer.from_sklearn(pipe, tmp / "l8.phq").bytes
            pred = pipe.predict(Xte)
            with phq.nlu.load(tmp / "f32.phq") as m:
                err = float(np.max(np.abs(m.decision_function(Xte) - theirs)))
            with phq.nlu.load(tmp / "l8.phq") as m:
                p8 = m.predict(Xte)
            r = {"f32_max_err": err, "l8_agreement": float((p8 == pred).mean()), "src_acc": float((pred == yte).mean()),
                 "l8_acc": float((p8 == yte).mean()), "l8_bytes": int(size)}
        for k, v in r.items():
            out[f"{key}_{k}"] = v
        print(name, json.dumps(r), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.only and Path(args.out).exists():  # a partial run updates the keys it measured
        out = {**json.loads(Path(args.out).read_text()), **out}
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


def _vw(data, tmp: Path) -> dict:
    from vowpalwabbit import pyvw

    import phq.nlu
    import phq.writer

    def clean(t):
        return t.replace(":", " ").replace("|", " ")

    intents = sorted({y for _, y in data["train"]})
    index = {y: i + 1 for i, y in enumerate(intents)}
    train = [(clean(x), index[y]) for x, y in data["train"]]
    test = [clean(x) for x, _ in data["test"]]
    yte = np.array([y for _, y in data["test"]])
    inv, model = tmp / "vw.inv", tmp / "vw.model"
    vw = pyvw.Workspace(f"--oaa {len(intents)} --loss_function logistic -b 24 --quiet --invert_hash {inv} -f {model}")
    rng = np.random.default_rng(0)
    for _ in range(5):
        for i in rng.permutation(len(train)):
            x, y = train[i]
            vw.learn(f"{y} |w {x}")
    vw.finish()
    vw = pyvw.Workspace(f"-i {model} --quiet --scores")
    raw = np.array([vw.predict(f"|w {t}") for t in test], np.float64)
    vw.finish()
    vw = pyvw.Workspace(f"-i {model} --quiet")
    labels = np.array(intents)[np.array([vw.predict(f"|w {t}") for t in test]) - 1]
    texts = [x for x, _ in train]
    phq.writer.from_vw(inv, tmp / "vw32.phq", workspace=vw, texts=texts, classes=intents, quant="f32")
    size = phq.writer.from_vw(inv, tmp / "vw8.phq", workspace=vw, texts=texts, classes=intents)
    # texts with a token phq does not know but VW scores (an unseen token hashed into a trained slot)
    with phq.open(tmp / "vw32.phq") as f:
        known = f.tables["features"]
        ns, wpp, mask = vw.hash_space("w"), 256, (1 << 24) - 1  # wpp: next power of two >= 150

        def vw_only(tok):
            if known.get(tok) is not None:
                return False
            base = int(vw.hash_feature(tok, ns)) * wpp
            return any(vw.get_weight((base + c) & mask) != 0.0 for c in range(len(intents)))

        collided = np.array([any(vw_only(t) for t in set(x.split())) for x in test])
    vw.finish()
    with phq.nlu.load(tmp / "vw32.phq") as m:
        d = m.decision_function(test)
    with phq.nlu.load(tmp / "vw8.phq") as m:
        p8 = m.predict(test)
    return {"f32_max_err": float(np.max(np.abs(d - raw)[~collided])), "f32_vw_mismatch_texts": int(collided.sum()),
            "l8_agreement": float((p8 == labels).mean()), "src_acc": float((labels == yte).mean()),
            "l8_acc": float((p8 == yte).mean()), "l8_bytes": int(size)}


if __name__ == "__main__":
    sys.exit(main())
