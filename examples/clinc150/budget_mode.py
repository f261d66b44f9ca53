"""CLINC150 report, budget mode: the most accurate file within 100 KB / 300 KB / 1 MB.

phq: base models trained on train, each searched by phq.writer.budget (pruning, scheme,
scale, fingerprint widths) on the **validation** split; for each budget the model and
settings with the best validation accuracy are chosen, then scored once on test.
fastText: supervised models trained on train (dims 10, 25, 50; epoch 25, lr 0.5, word
bigrams, as bench/bench_nlu.py), quantized to .ftz under 7 settings each (cutoff, retrain,
qnorm, dsub); the best .ftz within each budget on validation is
scored on test. Budgets are decimal: 100 KB = 100,000 bytes, 1 MB = 1,000,000 bytes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUDGETS = (("100k", 100_000), ("300k", 300_000), ("1m", 1_000_000))
MARK = "<!-- budget-table -->"  # README.md's budget table sits between two of these


def base_models():
    """Extra base models of budget mode (the report's svc-l2 is reused; lr-word+char is left out
    of the search for time: its float accuracy is below svc-word+char's, and its search would
    double the report's run time)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    def word(min_df=1):
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)

    return [
        ("svc-l2-min_df2", "word 1-2-gram tf-idf (min_df=2) + LinearSVC (C=1)",
         lambda: make_pipeline(word(2), LinearSVC(C=1.0, random_state=0))),
        ("svc-word+char", "word 1-2-gram + char_wb 2-4-gram (min_df=2) tf-idf + LinearSVC (C=1)",
         lambda: make_pipeline(
             FeatureUnion([("word", word()), ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2))]),
             LinearSVC(C=1.0, random_state=0))),
    ]


def phq_budget(fitted: dict, Xva, yva, Xte, yte, tmp: Path, log=print) -> dict:
    """fitted: name -> (description, fitted pipeline). Returns the budget section of the report."""
    import phq.nlu
    from phq.errors import UsageError
    from phq.writer.budget import BudgetSearch

    out = {"models": {}, "chosen": {}, "val": len(Xva), "test": len(Xte)}
    for name, (desc, pipe) in fitted.items():
        t = time.perf_counter()
        entry = {"description": desc, "val_float_accuracy": float((pipe.predict(Xva) == yva).mean()),
                 "test_float_accuracy": float((pipe.predict(Xte) == yte).mean()), "budgets": {}}
        with BudgetSearch(pipe, Xva, yva) as search:
            for key, n in BUDGETS:
                try:
                    p = search.best(n)
                except UsageError as e:
                    entry["budgets"][key] = {"error": str(e)}
                    continue
                path = tmp / f"budget-{name}-{key}.phq"
                size = search.write(p.settings, path)
                with phq.nlu.load(path) as clf:
                    test_acc = float((clf.predict(Xte) == yte).mean())
                entry["budgets"][key] = {"settings": p.settings.label(), "bytes": size, "terms": p.terms,
                                         "val_accuracy": p.val_accuracy, "val_agreement": p.val_agreement,
                                         "test_accuracy": test_acc, **{f"setting_{k}": v for k, v in vars(p.settings).items()}}
            entry["frontier"] = [search.cache[s].as_dict() for s in search.order]
            entry["builds"] = len(search.order)
        entry["search_seconds"] = time.perf_counter() - t
        log(f"budget {name}: {entry['builds']} builds in {entry['search_seconds']:.0f}s; "
            + ", ".join(f"{k}: {v.get('bytes', '-')} B val {v.get('val_accuracy', 0):.4f} test {v.get('test_accuracy', 0):.4f}"
                        for k, v in entry["budgets"].items()))
        out["models"][name] = entry
    for key, n in BUDGETS:
        cands = [(m, e["budgets"][key]) for m, e in out["models"].items() if "bytes" in e["budgets"][key]]
        if cands:  # validation accuracy, then bytes, then the model order: test never decides
            m, b = min(cands, key=lambda mb: (-mb[1]["val_accuracy"], mb[1]["bytes"]))
            out["chosen"][key] = {"model": m, **b}
    return out


def fasttext_budget(Xtr, ytr, Xva, yva, Xte, yte, tmp: Path, quick: bool, log=print) -> dict | None:
    """fastText .ftz frontier: train on train, choose on val, score on test."""
    try:
        import fasttext
    except ImportError:
        log("fastText not installed (pip install fasttext-numpy2): no .ftz frontier")
        return None
    train = tmp / "ft-train.txt"
    train.write_text("".join(f"__label__{y} {' '.join(x.split())}\n" for x, y in zip(Xtr, ytr)), encoding="utf-8")

    def accuracy(m, X, y):
        labels = m.predict([" ".join(x.split()) for x in X])[0]
        return float((np.array([lab[0][len("__label__"):] for lab in labels]) == y).mean())

    common = dict(epoch=25, lr=0.5, wordNgrams=2, minCount=1, thread=1, verbose=0, seed=0)
    dims = (10,) if quick else (10, 25, 50)
    # (cutoff, retrain, qnorm, dsub): no cutoff 0 (product quantization of all 2M buckets:
    # slow, and its files are megabytes at these dims)
    quants = [(1000, True, True, 2), (5000, True, True, 2), (20000, True, True, 2), (50000, True, True, 2),
              (5000, False, True, 2), (20000, True, False, 2), (20000, True, True, 4)]
    if quick:
        quants = quants[:2]
    points, floats = [], []
    t = time.perf_counter()
    for dim in dims:
        model = fasttext.train_supervised(str(train), dim=dim, **common)
        binary = tmp / f"ft-{dim}.bin"
        model.save_model(str(binary))
        floats.append({"dim": dim, "bytes": os.path.getsize(binary), "val_accuracy": accuracy(model, Xva, yva),
                       "test_accuracy": accuracy(model, Xte, yte)})
        for cutoff, retrain, qnorm, dsub in quants:
            m = fasttext.load_model(str(binary))
            m.quantize(input=str(train), cutoff=cutoff, retrain=retrain, qnorm=qnorm, dsub=dsub, epoch=25, lr=0.5, thread=1, verbose=0)
            ftz = tmp / "ft.ftz"
            m.save_model(str(ftz))
            points.append({"dim": dim, "cutoff": cutoff, "retrain": retrain, "qnorm": qnorm, "dsub": dsub,
                           "bytes": os.path.getsize(ftz), "val_accuracy": accuracy(m, Xva, yva), "test_accuracy": accuracy(m, Xte, yte)})
    out = {"float": floats, "ftz": points, "chosen": {}, "seconds": time.perf_counter() - t,
           "settings": {**common, "dims": list(dims)}}
    for key, n in BUDGETS:
        fit = [p for p in points if p["bytes"] <= n]
        if fit:  # validation accuracy, then bytes; test accuracy was measured for every point but never chooses
            out["chosen"][key] = min(fit, key=lambda p: (-p["val_accuracy"], p["bytes"]))
    log(f"fastText: {len(points)} .ftz in {out['seconds']:.0f}s; " + ", ".join(
        f"{k}: {v['bytes']} B val {v['val_accuracy']:.4f} test {v['test_accuracy']:.4f}" for k, v in out["chosen"].items()))
    return out


def flat_keys(report: dict) -> dict:
    """The issue's flat keys: budget_<b>_test_acc, best_float_test_acc and the ftz_ ones."""
    b, ft = report.get("budget"), report.get("fasttext")
    out: dict = {}
    if b:
        floats = [m["sklearn_accuracy"] for m in report["models"]] + [e["test_float_accuracy"] for e in b["models"].values()]
        out["best_float_test_acc"] = max(floats)
        for key, _ in BUDGETS:
            c = b["chosen"].get(key)
            out[f"budget_{key}_test_acc"] = c["test_accuracy"] if c else None
            out[f"budget_{key}_bytes"] = c["bytes"] if c else None
            out[f"budget_{key}_val_acc"] = c["val_accuracy"] if c else None
    if ft:
        out["ftz_best_float_test_acc"] = max(p["test_accuracy"] for p in ft["float"])
        for key, _ in BUDGETS:
            c = ft["chosen"].get(key)
            out[f"ftz_budget_{key}_test_acc"] = c["test_accuracy"] if c else None
            out[f"ftz_budget_{key}_bytes"] = c["bytes"] if c else None
            out[f"ftz_budget_{key}_val_acc"] = c["val_accuracy"] if c else None
    return out


def markdown(report: dict) -> list[str]:
    b, ft = report.get("budget"), report.get("fasttext")
    if not b:
        return []
    flat = flat_keys(report)
    lines = [
        "## Budget mode: the most accurate file within a size (settings chosen on validation)",
        "",
        "`phq.writer.from_sklearn(model, path, max_bytes=N, texts=X_val, labels=y_val)` searches pruning (vocabulary",
        "terms by weight mass, small weights), scheme, scale and fingerprint widths (`phq.writer.budget`); each base",
        f"model below is trained on train and searched on the {b['val']:,} validation utterances; per budget the model and",
        "settings with the best validation accuracy are chosen and scored once on test. fastText: `.ftz` files",
        "(`quantize` with cutoff, retrain, qnorm, dsub over a few dims), chosen the same way. Budgets are decimal",
        "(100 KB = 100,000 bytes).",
        "",
        "| budget | phq: model, settings | phq bytes | phq val | **phq test** | fastText .ftz: settings | .ftz bytes | .ftz val | **.ftz test** | phq − .ftz (pt) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, n in BUDGETS:
        c = b["chosen"].get(key)
        f = (ft or {}).get("chosen", {}).get(key)
        phq_cells = (f"{c['model']}: {c['settings']} | {c['bytes']:,} | {100 * c['val_accuracy']:.2f}% | **{100 * c['test_accuracy']:.2f}%**"
                     if c else "nothing fits | — | — | —")
        ft_cells = (f"dim {f['dim']}, cutoff {f['cutoff']}, retrain {f['retrain']}, qnorm {f['qnorm']}, dsub {f['dsub']} | "
                    f"{f['bytes']:,} | {100 * f['val_accuracy']:.2f}% | **{100 * f['test_accuracy']:.2f}%**" if f else "nothing fits | — | — | —")
        diff = f"{100 * (c['test_accuracy'] - f['test_accuracy']):+.2f}" if c and f else "—"
        lines.append(f"| ≤ {n:,} B | {phq_cells} | {ft_cells} | {diff} |")
    lines += ["", f"Best float model of this report on test: {100 * flat['best_float_test_acc']:.2f}%"
              + (f"; best float fastText (.bin): {100 * flat['ftz_best_float_test_acc']:.2f}%." if ft else "."), ""]
    lines += ["| base model | float val | float test | builds | search time | " + " | ".join(f"≤ {n:,} B: bytes, val, test" for _, n in BUDGETS) + " |",
              "| --- | ---: | ---: | ---: | ---: | " + " | ".join("---" for _ in BUDGETS) + " |"]
    for name, e in b["models"].items():
        cells = []
        for key, _ in BUDGETS:
            v = e["budgets"][key]
            cells.append(f"{v['bytes']:,}, {100 * v['val_accuracy']:.2f}%, {100 * v['test_accuracy']:.2f}%" if "bytes" in v else "nothing fits")
        lines.append(f"| {name} | {100 * e['val_float_accuracy']:.2f}% | {100 * e['test_float_accuracy']:.2f}% | {e['builds']} | "
                     f"{e['search_seconds']:.0f} s | " + " | ".join(cells) + " |")
    lines += ["", "![budget frontier](budget_frontier.png)", ""]
    if ft:
        lines += ["fastText .ftz points (validation accuracy chooses; test shown for every point):", "",
                  "| dim | cutoff | retrain | qnorm | dsub | bytes | val | test |", "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p['dim']} | {p['cutoff']} | {p['retrain']} | {p['qnorm']} | {p['dsub']} | {p['bytes']:,} | "
                  f"{100 * p['val_accuracy']:.2f}% | {100 * p['test_accuracy']:.2f}% |" for p in sorted(ft["ftz"], key=lambda p: p["bytes"])]
        lines += ["", "| fastText float (.bin) dim | bytes | val | test |", "| ---: | ---: | ---: | ---: |"]
        lines += [f"| {p['dim']} | {p['bytes']:,} | {100 * p['val_accuracy']:.2f}% | {100 * p['test_accuracy']:.2f}% |" for p in ft["float"]]
        lines.append("")
    return lines


def readme_table(report: dict) -> str:
    """The README's budget table: the summary table of markdown() and its footnote."""
    lines = markdown(report)
    start = next(i for i, line in enumerate(lines) if line.startswith("| budget |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    flat = flat_keys(report)
    return "\n".join(lines[start:end]) + (
        f"\n\nCLINC150 ({report['budget']['val']:,} validation utterances choose, {report['budget']['test']:,} test utterances score); "
        f"best float model of the report: {100 * flat['best_float_test_acc']:.2f}% on test. Budgets are decimal (100 KB = 100,000 bytes).")


def plot(report: dict, path: Path) -> None:
    b, ft = report.get("budget"), report.get("fasttext")
    if not b:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phq.writer.budget import Point, Settings, pareto

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for name, e in b["models"].items():
        pts = [Point(Settings(**{k: p[k] for k in Settings.__dataclass_fields__}), p["bytes"], p["terms"], p["val_accuracy"], p["val_agreement"])
               for p in e["frontier"]]
        front = pareto(pts)
        ax.plot([p.bytes for p in front], [100 * p.val_accuracy for p in front], "o-", markersize=3, label=f"phq {name} (val, Pareto)")
    if ft:
        front = sorted(ft["ftz"], key=lambda p: p["bytes"])
        best, xs, ys = -1, [], []
        for p in front:
            if p["val_accuracy"] > best:
                best = p["val_accuracy"]
                xs.append(p["bytes"])
                ys.append(100 * p["val_accuracy"])
        ax.plot(xs, ys, "s--", color="tab:gray", label="fastText .ftz (val, Pareto)")
    for key, n in BUDGETS:
        ax.axvline(n, color="k", lw=0.6, ls=":")
        c = b["chosen"].get(key)
        if c:
            ax.plot(c["bytes"], 100 * c["test_accuracy"], "*", color="tab:red", markersize=12, label="phq chosen (test)" if key == "100k" else None)
        f = (ft or {}).get("chosen", {}).get(key)
        if f:
            ax.plot(f["bytes"], 100 * f["test_accuracy"], "X", color="k", markersize=9, label=".ftz chosen (test)" if key == "100k" else None)
    ax.set_xscale("log")
    ax.set_ylim(80, 95)
    ax.set_xlabel("file bytes (log scale); dotted: 100 KB, 300 KB, 1 MB budgets")
    ax.set_ylabel("CLINC150 accuracy (%)")
    ax.set_title("CLINC150 budget mode: phq vs fastText .ftz")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def run(report: dict, fitted: dict, data_path: Path, quick: bool, load, out: Path) -> None:
    """Fills report["budget"], report["fasttext"] and the flat keys; writes the plot."""
    Xtr, ytr, Xva, yva = load(data_path, quick, "val")
    _, _, Xte, yte = load(data_path, quick, "test")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    for name, desc, make in base_models():
        t = time.perf_counter()
        fitted[name] = (desc, make().fit(Xtr, ytr))
        log(f"budget base model {name}: fit {time.perf_counter() - t:.0f}s")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        report["budget"] = phq_budget(fitted, Xva, yva, Xte, yte, tmp, log)
        report["fasttext"] = fasttext_budget(Xtr, ytr, Xva, yva, Xte, yte, tmp, quick, log)
    report.update(flat_keys(report))
    plot(report, out / "budget_frontier.png")
