"""CLINC150 compression-vs-accuracy report: scikit-learn models shipped as phq files.

    make clinc150                       # = pip install '.[report]' + this script
    .venv/bin/python examples/clinc150/report.py [--quick] [--data PATH] [--out DIR]

Trains realistic intent classifiers on CLINC150 (150 intents; train 15,000 utterances,
test 4,500 in-scope utterances; out-of-scope utterances are not used), converts each with
phq.writer.from_sklearn under several options, scores the test set with phq.nlu (no
scikit-learn on that path), and compares with what users would otherwise ship:
  - joblib.dump of the fitted pipeline (the usual baseline), and its gzip;
  - float32 weights + the vocabulary as text (what a hand-rolled exporter writes);
  - safetensors with float16 weights + the vocabulary as JSON in its header;
  - the hashing trick (HashingVectorizer, same n-grams and classifier, 8-bit weights) at
    equal bytes: accuracy vs size, next to phq's curve over L1 strength.
Writes results/report.json, results/report.md and results/accuracy_vs_bytes.png, and puts
the headline table into README.md between the `<!-- clinc150-report -->` markers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
MARK = "<!-- clinc150-report -->"

# (name, options) of each conversion; the first linear8 one is the headline (phq's defaults)
VARIANTS = [
    ("linear8 column fp16", dict(quant="linear8", scale="column", fingerprint_bits=16)),
    ("f32 fp16", dict(quant="f32", fingerprint_bits=16)),
    ("f16 fp16", dict(quant="f16", fingerprint_bits=16)),
    ("linear8 table fp16", dict(quant="linear8", scale="table", fingerprint_bits=16)),
    ("linear8 row-block fp16", dict(quant="linear8", scale="row-block", block_rows=256, fingerprint_bits=16)),
    ("linear8 column fp8", dict(quant="linear8", scale="column", fingerprint_bits=8)),
    ("linear8 column fp32", dict(quant="linear8", scale="column", fingerprint_bits=32)),
    ("linear8 column fp0", dict(quant="linear8", scale="column", fingerprint_bits=0)),
    # format 1.1 (spec/format-v1.1.md): 4-bit linear and codebook (k-means levels) schemes
    ("linear4 column fp16", dict(quant="linear4", scale="column", fingerprint_bits=16)),
    ("linear4 table fp16", dict(quant="linear4", scale="table", fingerprint_bits=16)),
    ("codebook4 column fp16", dict(quant="codebook4", scale="column", fingerprint_bits=16)),
    ("codebook4 table fp16", dict(quant="codebook4", scale="table", fingerprint_bits=16)),
    ("codebook8 column fp16", dict(quant="codebook8", scale="column", fingerprint_bits=16)),
]
FOUR_BIT = ("linear4 column fp16", "linear4 table fp16", "codebook4 column fp16", "codebook4 table fp16")
HEADLINE = VARIANTS[0][0]


def models(quick: bool):
    """The fitted-model recipes: (name, description, factory)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    def word():
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)

    out = [
        ("svc-l2", "word 1-2-gram tf-idf + LinearSVC (L2, C=1)", lambda: make_pipeline(word(), LinearSVC(C=1.0, random_state=0))),
        (
            "svc-l1",
            "word 1-2-gram tf-idf + LinearSVC (L1, C=1)",
            lambda: make_pipeline(word(), LinearSVC(C=1.0, penalty="l1", dual=False, max_iter=2000, random_state=0)),
        ),
    ]
    if not quick:
        out.append(
            (
                "lr-word+char",
                "word 1-2-gram + char_wb 2-4-gram tf-idf + LogisticRegression (C=20)",
                lambda: make_pipeline(
                    FeatureUnion([("word", word()), ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2))]),
                    LogisticRegression(C=20.0, max_iter=300),
                ),
            )
        )
    return out


def load(path: Path, quick: bool, split: str = "test"):
    """(train texts, train labels, texts, labels) of `split` ("test" or "val")."""
    data = json.loads(path.read_text(encoding="utf-8"))
    train, test = data["train"], data[split]
    if quick:  # 30 intents: a minute instead of several
        keep = sorted({lab for _, lab in train})[:30]
        train = [p for p in train if p[1] in keep]
        test = [p for p in test if p[1] in keep]
    Xtr, ytr = (list(x) for x in zip(*train))
    Xte, yte = (list(x) for x in zip(*test))
    return Xtr, np.array(ytr), Xte, np.array(yte)


def baselines(pipe, tmp: Path) -> dict:
    """Bytes of the ways users ship this model without phq."""
    import joblib

    path = tmp / "model.joblib"
    joblib.dump(pipe, path)
    raw = path.read_bytes()
    steps = pipe.steps
    featurizer, clf = steps[0][1], steps[-1][1]
    vecs = [t for _, t in featurizer.transformer_list] if hasattr(featurizer, "transformer_list") else [featurizer]
    vocab_text = "\n".join(t for v in vecs for t in sorted(v.vocabulary_, key=v.vocabulary_.get)).encode("utf-8")
    idf_count = sum(len(v.idf_) for v in vecs if getattr(v, "use_idf", False))
    coef = np.asarray(clf.coef_, dtype=np.float32)
    f32_bytes = coef.nbytes + 4 * idf_count + 4 * coef.shape[0] + len(vocab_text)
    out = {"joblib": len(raw), "joblib_gzip": len(gzip.compress(raw, 6, mtime=0)), "f32_vocab": f32_bytes}
    try:
        from safetensors.numpy import save

        tensors = {"coef": coef.astype(np.float16), "intercept": np.asarray(clf.intercept_, np.float16)}
        for i, v in enumerate(vecs):
            if getattr(v, "use_idf", False):
                tensors[f"idf{i}"] = np.asarray(v.idf_, np.float16)
        vocab_json = json.dumps([sorted(v.vocabulary_, key=v.vocabulary_.get) for v in vecs], ensure_ascii=False)
        out["safetensors_f16_vocab"] = len(save(tensors, metadata={"vocabulary": vocab_json}))
    except ImportError:
        out["safetensors_f16_vocab"] = None
    return out


def table_bytes(path: Path) -> dict:
    """Where the bytes of a phq file go (score table / norm tables / the rest)."""
    import phq

    with phq.open(path) as m:
        sizes = {name: sum(s.size for s in t.sections) for name, t in m.tables.items()}
        keys = {name: len(t) for name, t in m.tables.items()}
    return {"tables": sizes, "keys": keys}


def evaluate(pipe, Xte, yte, path: Path) -> dict:
    import phq.nlu

    with phq.nlu.load(path) as clf:
        t = time.perf_counter()
        ours = clf.predict(Xte)
        t_phq = time.perf_counter() - t
    t = time.perf_counter()
    theirs = pipe.predict(Xte)
    t_sk = time.perf_counter() - t
    return {
        "bytes": path.stat().st_size,
        "accuracy": float((ours == yte).mean()),
        "agreement": float((ours == theirs).mean()),
        "predict_seconds": t_phq,
        "sklearn_predict_seconds": t_sk,
    }


def hashing_curve(Xtr, ytr, Xte, yte, bits_list) -> list[dict]:
    """The hashing trick with the svc-l2 recipe and 8-bit column-scaled weights."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from phq import layout as L
    from phq.writer import quant as Q

    out = []
    for bits in bits_list:
        pipe = make_pipeline(
            HashingVectorizer(n_features=1 << bits, ngram_range=(1, 2), alternate_sign=False, norm=None),
            TfidfTransformer(sublinear_tf=True),
            LinearSVC(C=1.0, random_state=0),
        ).fit(Xtr, ytr)
        clf = pipe.steps[-1][1]
        W = np.asarray(clf.coef_, np.float32).T  # (buckets, classes)
        q = Q.quantize(W, L.QUANT_LINEAR8, L.SCALE_COLUMN, 1)
        deq = (q.codes.astype(np.float32) - q.scales["zero_point"].astype(np.float32)) * q.scales["scale"]
        X = make_pipeline(pipe.steps[0][1], pipe.steps[1][1]).transform(Xte)
        scores = X @ deq.astype(np.float64) + clf.intercept_
        pred = clf.classes_[scores.argmax(axis=1)]
        # what it ships: one byte per weight + a scale record per class + float32 intercepts
        # + one byte per bucket's idf (charged as if 8-bit: generous to the peer)
        size = W.size + 8 * W.shape[1] + 4 * W.shape[1] + (1 << bits)
        out.append({"bits": bits, "bytes": int(size), "accuracy": float((pred == yte).mean()), "sklearn_f64_accuracy": float((pipe.predict(Xte) == yte).mean())})
    return out


def phq_curve(Xtr, ytr, Xte, yte, sizes, tmp: Path) -> list[dict]:
    """phq's size knobs on the svc recipe: vocabulary size (max_features: a smaller
    vocabulary shrinks the score table and the norm table) x L1/L2, at 8-bit with 8- and
    16-bit fingerprints. The hashing trick has no vocabulary to prune; its knob is 2^b."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    import phq.writer

    out = []
    for penalty in ("l1", "l2"):
        for mf in sizes:
            clf = LinearSVC(C=1.0, penalty=penalty, dual=penalty == "l2", max_iter=2000, random_state=0)
            pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=mf), clf).fit(Xtr, ytr)
            sk_acc = float((pipe.predict(Xte) == yte).mean())
            for fp in (8, 16):
                path = tmp / f"curve_{penalty}_{mf}_{fp}.phq"
                phq.writer.from_sklearn(pipe, path, fingerprint_bits=fp)
                r = evaluate(pipe, Xte, yte, path)
                out.append(
                    {
                        "penalty": penalty,
                        "max_features": mf,
                        "vocabulary": len(pipe.steps[0][1].vocabulary_),
                        "fingerprint_bits": fp,
                        "bytes": r["bytes"],
                        "accuracy": r["accuracy"],
                        "agreement": r["agreement"],
                        "sklearn_accuracy": sk_acc,
                    }
                )
    return out


def pareto(points: list[dict]) -> list[dict]:
    """Points no other point beats on both bytes and accuracy, by bytes."""
    best, out = -1.0, []
    for r in sorted(points, key=lambda r: (r["bytes"], -r["accuracy"])):
        if r["accuracy"] > best:
            out.append(r)
            best = r["accuracy"]
    return out


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    h = report["hashing_trick"]
    ax.plot([r["bytes"] for r in h], [100 * r["accuracy"] for r in h], "s--", color="tab:gray", label="hashing trick, 8-bit weights (2^b buckets)")
    pts = report["phq_curve"]
    ax.plot([r["bytes"] for r in pts], [100 * r["accuracy"] for r in pts], ".", color="tab:blue", alpha=0.5, label="phq linear8 (svc L1/L2 x vocabulary size x fingerprints 8/16)")
    front = pareto(pts)
    ax.plot([r["bytes"] for r in front], [100 * r["accuracy"] for r in front], "o-", color="tab:blue", label="phq: best accuracy per size")
    for m in report["models"]:
        head = m["variants"][HEADLINE]
        ax.plot(head["bytes"], 100 * head["accuracy"], "*", markersize=12, label=f"phq {m['name']} ({HEADLINE})")
        ax.plot(m["baselines"]["joblib"], 100 * m["sklearn_accuracy"], "x", markersize=9, label=f"joblib {m['name']}")
    ax.set_xscale("log")
    ax.set_xlabel("model file bytes (log scale)")
    ax.set_ylabel("CLINC150 test accuracy (%)")
    ax.set_title("CLINC150: accuracy vs bytes")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def kib(n) -> str:
    return "—" if n is None else f"{n / 1024:,.0f} KiB" if n < 10 * 1024 * 1024 else f"{n / 1048576:,.1f} MiB"


def markdown(report: dict) -> tuple[str, str]:
    """(headline table for the README, full report)."""
    rows = [
        "| model | scikit-learn acc. | phq 8-bit acc. | agreement | phq file | joblib | smaller than joblib | with `scale=\"table\"` | vs f32+vocab | vs safetensors f16+vocab | vs joblib.gz |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in report["models"]:
        h, b, t = m["variants"][HEADLINE], m["baselines"], m["variants"]["linear8 table fp16"]
        st = f"{b['safetensors_f16_vocab'] / h['bytes']:.1f}× smaller" if b["safetensors_f16_vocab"] else "—"
        rows.append(
            f"| {m['name']} | {100 * m['sklearn_accuracy']:.2f}% | {100 * h['accuracy']:.2f}% | {100 * h['agreement']:.2f}% | "
            f"{kib(h['bytes'])} | {kib(b['joblib'])} | **{100 * (1 - h['bytes'] / b['joblib']):.2f}%** | "
            f"{100 * (1 - t['bytes'] / b['joblib']):.2f}% ({100 * t['agreement']:.2f}% agree) | "
            f"{b['f32_vocab'] / h['bytes']:.1f}× smaller | {st} | {b['joblib_gzip'] / h['bytes']:.1f}× smaller |"
        )
    head = "\n".join(rows)
    lines = [
        "# CLINC150: phq vs what users ship",
        "",
        f"Generated by `make clinc150` on {report['machine']['python']} / scikit-learn {report['machine']['sklearn']}; "
        f"train {report['data']['train']} utterances, test {report['data']['test']} in-scope utterances, "
        f"{report['data']['classes']} intents. phq 8-bit = `{HEADLINE}` (phq's defaults).",
        "",
        head,
        "",
        "## Every conversion",
        "",
        "| model | variant | bytes | accuracy | agreement with scikit-learn | Δ accuracy (pt) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in report["models"]:
        for name, v in m["variants"].items():
            lines.append(
                f"| {m['name']} | {name} | {v['bytes']:,} | {100 * v['accuracy']:.2f}% | {100 * v['agreement']:.2f}% | "
                f"{100 * (v['accuracy'] - m['sklearn_accuracy']):+.2f} |"
            )
    lines += [
        "",
        "## 4-bit schemes (format 1.1) against 8-bit",
        "",
        "Goal (issue 6): a 4-bit scheme within 0.3 pt of scikit-learn's accuracy and at least 30 % smaller than 8-bit.",
        "",
        "| model | scheme | bytes | smaller than 8-bit | accuracy | Δ vs scikit-learn (pt) | agreement | meets the goal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in report["models"]:
        eight = m["variants"][HEADLINE]
        for name in FOUR_BIT:
            v = m["variants"][name]
            smaller = 1 - v["bytes"] / eight["bytes"]
            delta = 100 * (v["accuracy"] - m["sklearn_accuracy"])
            lines.append(
                f"| {m['name']} | {name} | {v['bytes']:,} | {100 * smaller:.1f}% | {100 * v['accuracy']:.2f}% | {delta:+.2f} | "
                f"{100 * v['agreement']:.2f}% | {'yes' if smaller >= 0.30 and delta >= -0.3 else 'no'} |"
            )
    lines += ["", "## Where the bytes go (headline variant)", "", "| model | table | keys | bytes |", "| --- | --- | --- | --- |"]
    for m in report["models"]:
        parts = m["layout"]
        for t, size in parts["tables"].items():
            lines.append(f"| {m['name']} | {t} | {parts['keys'][t]:,} | {size:,} |")
    lines += [
        "",
        "## Accuracy at equal bytes: phq vs the hashing trick",
        "",
        "phq's size knobs are the vocabulary size (`max_features`) and L1 vs L2; the hashing trick's",
        "is the number of buckets 2^b. Same n-grams, tf-idf and LinearSVC; both ship 8-bit weights",
        "(the hashing trick is charged one byte per weight and one per bucket idf).",
        "",
        "| hashing trick b | bytes | accuracy |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {r['bits']} | {r['bytes']:,} | {100 * r['accuracy']:.2f}% |" for r in report["hashing_trick"]]
    lines += ["", "| phq penalty | max_features | vocabulary | fingerprint bits | bytes | accuracy | agreement | on the frontier |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    front = {id(r) for r in pareto(report["phq_curve"])}
    lines += [
        f"| {r['penalty']} | {r['max_features'] or 'all'} | {r['vocabulary']:,} | {r['fingerprint_bits']} | {r['bytes']:,} | "
        f"{100 * r['accuracy']:.2f}% | {100 * r['agreement']:.2f}% | {'yes' if id(r) in front else ''} |"
        for r in report["phq_curve"]
    ]
    lines += ["", "![accuracy vs bytes](accuracy_vs_bytes.png)", ""]
    eq = report["equal_bytes"]
    wins = sum(r["phq_accuracy"] > r["hashing_accuracy"] for r in eq)
    lines += [
        "## Equal-bytes comparison",
        "",
        f"Each point of phq's frontier against the hashing-trick curve interpolated (in log bytes) at the same size: "
        f"phq is more accurate at **{wins} of {len(eq)}** points.",
        "",
        "| phq bytes | phq accuracy | hashing trick at equal bytes | difference |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['phq_bytes']:,} | {100 * r['phq_accuracy']:.2f}% | {100 * r['hashing_accuracy']:.2f}% | {100 * (r['phq_accuracy'] - r['hashing_accuracy']):+.2f} pt |"
        for r in eq
    ]
    return head, "\n".join(lines) + "\n"


def equal_bytes(report: dict) -> list[dict]:
    """Each phq point against the hashing-trick curve interpolated (in log bytes) at its size."""
    h = sorted(report["hashing_trick"], key=lambda r: r["bytes"])
    xs = np.log([r["bytes"] for r in h])
    ys = [r["accuracy"] for r in h]
    out = []
    for r in pareto(report["phq_curve"]):
        x = np.log(r["bytes"])
        if xs[0] <= x <= xs[-1]:
            out.append({"phq_bytes": r["bytes"], "phq_accuracy": r["accuracy"], "hashing_accuracy": float(np.interp(x, xs, ys))})
    return out


def update_readme(readme: Path, table: str, command: str, mark: str = MARK) -> None:
    text = readme.read_text(encoding="utf-8")
    if text.count(mark) != 2:
        raise SystemExit(f"{readme}: expected two {mark} markers")
    before, _, rest = text.partition(mark)
    _, _, after = rest.partition(mark)
    body = f"\n{table}\n\nReproduce: `{command}` (full report: [examples/clinc150/results/report.md](examples/clinc150/results/report.md)).\n"
    readme.write_text(before + mark + body + mark + after, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"CLINC150 data_full.json (default {DEFAULT_DATA})")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="output folder (default examples/clinc150/results)")
    ap.add_argument("--quick", action="store_true", help="30 intents, two models, short curves (a smoke run; never touches README)")
    ap.add_argument("--no-readme", action="store_true", help="do not update README.md")
    ap.add_argument("--budget", action=argparse.BooleanOptionalAction, default=None,
                    help="budget mode (best file within 100 KB / 300 KB / 1 MB, phq and fastText .ftz; "
                    "budget_mode.py); default: on, off with --quick")
    a = ap.parse_args(argv)
    if not a.data.exists():
        print(f"CLINC150 not found at {a.data} (pass --data)", file=sys.stderr)
        return 2
    import sklearn
    from sklearn.exceptions import ConvergenceWarning

    import phq.writer

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    Xtr, ytr, Xte, yte = load(a.data, a.quick)
    a.out.mkdir(parents=True, exist_ok=True)
    report = {
        "data": {"train": len(Xtr), "test": len(Xte), "classes": int(len(set(ytr))), "quick": a.quick},
        "machine": {"python": platform.python_version(), "sklearn": sklearn.__version__, "numpy": np.__version__},
        "headline_variant": HEADLINE,
        "models": [],
    }
    fitted = {}  # name -> (description, pipeline): budget mode reuses them
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name, desc, make in models(a.quick):
            t = time.perf_counter()
            pipe = make().fit(Xtr, ytr)
            fit_s = time.perf_counter() - t
            entry = {
                "name": name,
                "description": desc,
                "fit_seconds": fit_s,
                "sklearn_accuracy": float((pipe.predict(Xte) == yte).mean()),
                "baselines": baselines(pipe, tmp),
                "variants": {},
            }
            for vname, opts in VARIANTS:
                path = tmp / f"{name}-{vname.replace(' ', '_')}.phq"
                phq.writer.from_sklearn(pipe, path, **opts)
                entry["variants"][vname] = evaluate(pipe, Xte, yte, path)
                if vname == HEADLINE:
                    entry["layout"] = table_bytes(path)
            print(f"{name}: fit {fit_s:.1f}s, sklearn {entry['sklearn_accuracy']:.4f}, " + ", ".join(
                f"{v}: {r['bytes']:,} B {r['accuracy']:.4f}/{r['agreement']:.4f}" for v, r in entry["variants"].items()
            ), file=sys.stderr)
            report["models"].append(entry)
            if name == "svc-l2":
                fitted[name] = (desc, pipe)
        bits = [8, 10, 12, 14] if a.quick else [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        sizes = [500, 2000, None] if a.quick else [250, 500, 1000, 2000, 4000, 8000, 16000, None]
        report["hashing_trick"] = hashing_curve(Xtr, ytr, Xte, yte, bits)
        report["phq_curve"] = phq_curve(Xtr, ytr, Xte, yte, sizes, tmp)
    report["equal_bytes"] = equal_bytes(report)
    sys.path.insert(0, str(HERE))
    import budget_mode

    if a.budget if a.budget is not None else not a.quick:
        t = time.perf_counter()
        budget_mode.run(report, fitted, a.data, a.quick, load, a.out)
        report["budget_seconds"] = time.perf_counter() - t
    head, full = markdown(report)
    full += "\n".join(budget_mode.markdown(report))
    (a.out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (a.out / "report.md").write_text(full, encoding="utf-8")
    plot(report, a.out / "accuracy_vs_bytes.png")
    print(full)
    if not a.quick and not a.no_readme:
        update_readme(ROOT / "README.md", head, "make clinc150")
        if report.get("budget"):
            update_readme(ROOT / "README.md", budget_mode.readme_table(report), "make clinc150", budget_mode.MARK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
