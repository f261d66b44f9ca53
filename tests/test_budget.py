"""Size-budgeted conversion (phq.writer.budget, from_sklearn(max_bytes=...)) on a small
synthetic intent model: budget respected, deterministic, too-small budgets refused with the
smallest size reached, the unpruned point equal to the plain conversion, bounded builds.
The CLINC150 figures come from `make clinc150` (examples/clinc150/budget_mode.py), not CI."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

import phq.nlu  # noqa: E402
import phq.writer  # noqa: E402
from phq.errors import UsageError  # noqa: E402
from phq.writer import budget as B  # noqa: E402

# a narrowed plan keeps each search to a few dozen builds of a tiny model
FAMILIES = (("linear4", "column", 8, 8, "kept"), ("linear8", "column", 16, 16, "kept"), ("linear8", "column", 16, 16, "all"))
KEEP = (1.0, 0.5)


def corpus(seed: int, n: int):
    rng = np.random.default_rng(seed)
    topics = {
        "music": "play song artist album track radio listen beatles queen jazz",
        "weather": "weather rain sunny forecast cold hot snow wind umbrella today",
        "alarm": "alarm wake set morning timer minutes remind clock seven tomorrow",
        "food": "order pizza restaurant dinner book table menu sushi lunch hungry",
        "travel": "flight hotel ticket airport trip travel booking paris train bus",
    }
    noise = "the a to me please can you i want would like my for at in on what is".split()
    texts, labels = [], []
    for i in range(n):
        label = list(topics)[i % len(topics)]
        words = list(rng.choice(topics[label].split(), size=2)) + list(rng.choice(noise, size=3))
        other = topics[list(topics)[(i + int(rng.integers(1, 5))) % len(topics)]].split()
        words += list(rng.choice(other, size=int(rng.integers(0, 3))))  # confusion: accuracy below 100%
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def model():
    X, y = corpus(0, 300)
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=1.0, random_state=0)).fit(X, y)
    Xv, yv = corpus(1, 150)
    return pipe, Xv, yv


def test_budget_respected_and_the_best_fitting_build_chosen(model, tmp_path):
    pipe, Xv, yv = model
    plain = phq.writer.from_sklearn(pipe, tmp_path / "plain.phq").bytes
    budget = plain // 3
    path = tmp_path / "b.phq"
    r = phq.writer.from_sklearn(pipe, path, max_bytes=budget, texts=Xv, labels=yv)
    assert isinstance(r, B.BudgetResult) and int(r) == r.bytes == path.stat().st_size <= budget
    # every build is in the frontier, with its measured size; the chosen one is the most accurate fitting build
    fits = [p for p in r.frontier if p.bytes <= budget]
    assert fits and len({p.settings for p in r.frontier}) == len(r.frontier) == r.builds - 1
    assert r.val_accuracy == max(p.val_accuracy for p in fits)
    assert r.settings in {p.settings for p in fits if p.val_accuracy == r.val_accuracy}
    assert any(p.bytes > budget for p in r.frontier)  # it did try larger files
    # the file answers as measured
    with phq.nlu.load(path) as clf:
        pred = clf.predict(Xv)
    assert (pred == yv).mean() == r.val_accuracy
    assert (pred == pipe.predict(Xv)).mean() == r.val_agreement
    # bounded: at most families x keep_weights x (1 + bisection) builds, plus the final write
    assert r.builds <= len(B.FAMILIES) * len(B.KEEP_WEIGHTS) * (1 + math.ceil(math.log2(len(B.TERM_LADDER) + 1))) + 1
    table = r.table()
    assert r.settings.label() in table and "**yes**" in table
    assert r.as_dict()["settings"]["quant"] == r.settings.quant
    pytest.importorskip("matplotlib")
    r.plot(tmp_path / "frontier.png")
    assert (tmp_path / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_deterministic_file_settings_and_frontier(model, tmp_path):
    pipe, Xv, yv = model
    budget = phq.writer.from_sklearn(pipe, tmp_path / "plain.phq").bytes // 2
    runs = []
    for i in range(2):
        r = B.from_sklearn_budget(pipe, tmp_path / f"{i}.phq", budget, Xv, yv, families=FAMILIES, keep_weights=KEEP)
        runs.append((r, (tmp_path / f"{i}.phq").read_bytes()))
    (a, da), (b, db) = runs
    assert da == db and a.settings == b.settings
    assert [(p.settings, p.bytes, p.val_accuracy) for p in a.frontier] == [(p.settings, p.bytes, p.val_accuracy) for p in b.frontier]


def test_too_small_budget_names_the_smallest_size_reached(model, tmp_path):
    pipe, Xv, yv = model
    with B.BudgetSearch(pipe, Xv, yv, families=FAMILIES, keep_weights=KEEP) as search:
        with pytest.raises(UsageError, match="smallest the search built is") as e:
            search.best(500)
        smallest = min(p.bytes for p in search.cache.values())
    assert f"{smallest:,} bytes" in str(e.value) and smallest > 500
    assert not (tmp_path / "x.phq").exists()
    with pytest.raises(UsageError, match="no file of this model fits in 500 bytes"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", max_bytes=500, texts=Xv, labels=yv)
    assert not (tmp_path / "x.phq").exists()


def test_unpruned_point_is_the_plain_conversion(model, tmp_path):
    """Keeping every term and weight with the default encoding builds the very file
    from_sklearn writes without a budget (same tables, options and bytes)."""
    pipe, Xv, yv = model
    phq.writer.from_sklearn(pipe, tmp_path / "plain.phq")
    with B.BudgetSearch(pipe, Xv, yv) as search:
        search.write(B.Settings("linear8", "column", 16, 16, "all", 1.0, 1.0), tmp_path / "s.phq")
        p = search.measure(B.Settings("linear8", "column", 16, 16, "all", 1.0, 1.0))
    assert (tmp_path / "s.phq").read_bytes() == (tmp_path / "plain.phq").read_bytes()
    assert p.val_agreement >= 0.99


def test_pruning_drops_terms_from_both_tables(model, tmp_path):
    pipe, Xv, yv = model
    with B.BudgetSearch(pipe, Xv, yv) as search:
        n = len(search.keys)
        t = search.tables(B.Settings("linear8", "column", 16, 16, "kept", 0.25, 1.0))
        assert len(t["features"].keys) == len(t["norm:text"].keys) == search.kept_terms(0.25) == round(n / 4)
        mass = np.abs(search.W).sum(axis=1)
        kept = set(t["features"].keys)
        assert min(mass[i] for i, k in enumerate(search.keys) if k in kept) >= max(mass[i] for i, k in enumerate(search.keys) if k not in kept)
        t_all = search.tables(B.Settings("linear8", "column", 16, 16, "all", 0.25, 1.0))
        assert len(t_all["norm:text"].keys) == n
        half = search.tables(B.Settings("linear8", "column", 16, 16, "kept", 1.0, 0.5))["features"].rows
        before, after = (search.W != 0).sum(axis=0), (half != 0).sum(axis=0)
        assert (after >= np.ceil(before / 2)).all() and (after < before).any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_bytes=10_000), "needs texts="),
        (dict(max_bytes=10_000, texts=["a"], labels=["x", "y"]), "labels= has 2 entries for 1 texts"),
        (dict(max_bytes=10_000, texts=["a"], quant="linear4"), "chosen by the search"),
        (dict(max_bytes=0, texts=["a"]), "positive integer"),
        (dict(max_bytes=10_000, texts=["a"], min_agreement=0.9), "min_agreement does not apply with max_bytes"),
    ],
)
def test_usage_errors(model, tmp_path, kwargs, message):
    pipe, _, _ = model
    with pytest.raises(UsageError, match=message):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", **kwargs)


def test_without_labels_agreement_chooses(model, tmp_path):
    pipe, Xv, _ = model
    r = B.from_sklearn_budget(pipe, tmp_path / "a.phq", phq.writer.from_sklearn(pipe, tmp_path / "p.phq").bytes // 2, Xv,
                              families=FAMILIES[:1], keep_weights=(1.0,))
    assert r.val_accuracy is None and r.val_agreement == max(p.val_agreement for p in r.frontier if p.bytes <= r.max_bytes)


def test_report_budget_keys_choose_on_validation():
    """examples/clinc150/budget_mode.py: the flat keys come from the validation choice, and
    best_float_test_acc is the best float model of the whole report."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "clinc150" / "budget_mode.py"
    spec = importlib.util.spec_from_file_location("clinc150_budget_mode", path)
    bm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bm)
    chosen = {k: {"model": "m", "settings": "s", "bytes": n - 1, "val_accuracy": 0.9, "test_accuracy": 0.8} for k, n in bm.BUDGETS}
    ftz = [{"dim": 10, "cutoff": 1000, "retrain": True, "qnorm": True, "dsub": 2, "bytes": 50_000, "val_accuracy": 0.7, "test_accuracy": 0.75},
           {"dim": 10, "cutoff": 5000, "retrain": True, "qnorm": True, "dsub": 2, "bytes": 90_000, "val_accuracy": 0.6, "test_accuracy": 0.95}]
    report = {
        "models": [{"sklearn_accuracy": 0.91}],
        "budget": {"val": 10, "test": 10, "chosen": chosen,
                   "models": {"m": {"test_float_accuracy": 0.93, "val_float_accuracy": 0.9, "builds": 1, "search_seconds": 1.0,
                                    "budgets": {k: chosen[k] for k, _ in bm.BUDGETS}, "frontier": []}}},
        "fasttext": {"float": [{"dim": 10, "bytes": 1, "val_accuracy": 0.8, "test_accuracy": 0.85}], "ftz": ftz,
                     "chosen": {k: ftz[0] for k, _ in bm.BUDGETS}},
    }
    flat = bm.flat_keys(report)
    assert flat["best_float_test_acc"] == 0.93 and flat["ftz_best_float_test_acc"] == 0.85
    assert flat["budget_100k_test_acc"] == 0.8 and flat["ftz_budget_100k_test_acc"] == 0.75  # not the 0.95 of the val loser
    md = "\n".join(bm.markdown(report))
    assert "| ≤ 100,000 B | m: s | 99,999 | 90.00% | **80.00%** |" in md and "| +5.00 |" in md  # vs the .ftz chosen on val
