"""Size-budgeted conversion: the most accurate NLU file within N bytes (issue 16 item 4).

    result = phq.writer.from_sklearn(pipe, "intent.phq", max_bytes=100_000, texts=X_val, labels=y_val)
    result.settings, result.bytes, result.val_accuracy      # what was chosen and written
    print(result.table())                                   # the explored frontier
    result.plot("frontier.png")                             # optional (matplotlib)

The search changes the model as well as its encoding, so the file no longer equals the
scikit-learn model: its fidelity is measured on the validation texts (accuracy, and agreement
with the model's own predictions), not required. The converter's self-checks (the decision
function is linear; the stored featurization settings reproduce the model's featurization)
run on the whole model before any pruning, as for every conversion. What it searches:

  pruning     keep_terms: the fraction of vocabulary terms kept, ranked by weight mass
              (the L1 norm of the term's row of the score table, coef x idf x union
              weight; ties by key order); a dropped term leaves the score table and, with
              norm="kept", its featurizer's norm table too (the file is then the model of a
              smaller vocabulary: its norms run over the kept terms only), with norm="all"
              the norm table keeps the whole vocabulary (norms exact; more bytes).
              keep_weights: the fraction of each class column's non-zero weights kept
              (the largest |w|; the others become 0.0 and leave the sparse rows).
  encoding    quant, scale and the fingerprint widths of the score table and the norm tables
              (FAMILIES below).

The search (deterministic; sizes are those of files actually built, never estimated):
for each family (encoding, norm scope) and each keep_weights of KEEP_WEIGHTS, a bisection
over the ladder TERM_LADDER (keep_terms = 2^(-i/3), i = 0..24) finds the most terms whose
file fits in max_bytes, assuming size falls as terms are dropped (a probe that does not fit
is never chosen, so a non-monotone step can cost accuracy but never the budget). Every build
is scored on the validation texts and kept in the frontier. The chosen file is, among the
builds of this budget's bisections that fit, the one with the highest validation accuracy
(labels given) or agreement (no labels), then the fewest bytes, then the earliest probed
(so best(n) does not depend on which other budgets were searched before). Cost: at most
len(FAMILIES) x len(KEEP_WEIGHTS) x (1 + ceil(log2(len(TERM_LADDER)))) builds = 11 x 3 x 6
= 198, plus one to write the chosen file; builds are cached, so several budgets over one
BudgetSearch share them (BudgetSearch.best(n) for each).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from phq.errors import UsageError

from .build import Table

# (quant, scale, score fingerprint bits, norm fingerprint bits, norm scope): cheap to costly
FAMILIES = (
    ("linear4", "column", 8, 8, "kept"),
    ("linear4", "column", 8, 0, "kept"),
    ("linear4", "table", 8, 8, "kept"),
    ("linear4", "row-block", 8, 8, "kept"),
    ("codebook4", "column", 8, 8, "kept"),
    ("linear4", "column", 16, 8, "kept"),
    ("linear8", "column", 8, 8, "kept"),
    ("linear8", "table", 8, 8, "kept"),
    ("linear8", "column", 16, 16, "kept"),
    ("linear8", "column", 16, 16, "all"),
    ("f16", "column", 16, 16, "all"),
)
KEEP_WEIGHTS = (1.0, 0.5, 0.25)
TERM_LADDER = tuple(2.0 ** (-i / 3) for i in range(25))


@dataclass(frozen=True)
class Settings:
    """One point of the search: what from_sklearn(max_bytes=...) chose or tried."""

    quant: str
    scale: str
    fingerprint_bits: int
    norm_fingerprint_bits: int
    norm: str  # "kept": norm tables hold the kept terms; "all": the whole vocabulary
    keep_terms: float
    keep_weights: float

    def label(self) -> str:
        scale = "" if self.quant == "f16" else f" {self.scale}"
        return (
            f"{self.quant}{scale} fp{self.fingerprint_bits}/norm fp{self.norm_fingerprint_bits} norm={self.norm} "
            f"terms {100 * self.keep_terms:.3g}% weights {100 * self.keep_weights:.3g}%"
        )


@dataclass
class Point:
    settings: Settings
    bytes: int
    terms: int  # vocabulary terms kept
    val_accuracy: float | None  # None without labels
    val_agreement: float  # with the scikit-learn model's predictions

    def as_dict(self) -> dict:
        return {**asdict(self.settings), "bytes": self.bytes, "terms": self.terms,
                "val_accuracy": self.val_accuracy, "val_agreement": self.val_agreement}


@dataclass
class BudgetResult:
    """What from_sklearn(max_bytes=N, ...) wrote: the chosen point and everything explored."""

    path: str
    max_bytes: int
    bytes: int
    settings: Settings
    val_accuracy: float | None
    val_agreement: float
    frontier: list[Point] = field(default_factory=list)  # every build, in search order
    builds: int = 0

    def __int__(self) -> int:  # from_sklearn returns the file size otherwise
        return self.bytes

    def pareto(self) -> list[Point]:
        return pareto(self.frontier)

    def as_dict(self) -> dict:
        return {"path": self.path, "max_bytes": self.max_bytes, "bytes": self.bytes, "settings": asdict(self.settings),
                "val_accuracy": self.val_accuracy, "val_agreement": self.val_agreement, "builds": self.builds,
                "frontier": [p.as_dict() for p in self.frontier]}

    def to_dict(self) -> dict:
        """Flat JSON-able figures (as ConversionReport.to_dict; the frontier is in as_dict)."""
        out = {"path": self.path, "max_bytes": self.max_bytes, "bytes": self.bytes, "val_accuracy": self.val_accuracy,
               "val_agreement": self.val_agreement, "builds": self.builds, "frontier_points": len(self.frontier)}
        out |= {f"setting_{k}": v for k, v in asdict(self.settings).items()}
        return out

    def summary(self) -> str:
        """What was written and why, for people (phq convert --max-bytes)."""
        acc = "" if self.val_accuracy is None else f", validation accuracy {100 * self.val_accuracy:.2f}%"
        return (f"wrote {self.path}: {self.bytes:,} bytes of a {self.max_bytes:,}-byte budget\n"
                f"chosen: {self.settings.label()}{acc}, agreement with the model {100 * self.val_agreement:.2f}%\n"
                f"searched {self.builds} builds; Pareto front:\n{self.table()}")

    def table(self, *, all_points: bool = False) -> str:
        """The frontier as a Markdown table (its Pareto points unless all_points)."""
        rows = self.frontier if all_points else self.pareto()
        lines = ["| settings | bytes | fits | val accuracy | val agreement | chosen |", "| --- | ---: | --- | ---: | ---: | --- |"]
        for p in sorted(rows, key=lambda p: p.bytes):
            acc = "—" if p.val_accuracy is None else f"{100 * p.val_accuracy:.2f}%"
            lines.append(f"| {p.settings.label()} | {p.bytes:,} | {'yes' if p.bytes <= self.max_bytes else 'no'} | {acc} | "
                         f"{100 * p.val_agreement:.2f}% | {'**yes**' if p.settings == self.settings else ''} |")
        return "\n".join(lines)

    def plot(self, path) -> None:
        """Bytes vs validation score of every build, the Pareto front and the budget (matplotlib)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        key = "val_accuracy" if self.val_accuracy is not None else "val_agreement"
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
        ax.plot([p.bytes for p in self.frontier], [100 * getattr(p, key) for p in self.frontier], ".", alpha=0.4, label="builds")
        front = self.pareto()
        ax.plot([p.bytes for p in front], [100 * getattr(p, key) for p in front], "o-", label="Pareto front")
        ax.axvline(self.max_bytes, color="gray", ls="--", label=f"budget {self.max_bytes:,} B")
        ax.plot([self.bytes], [100 * getattr(self, key)], "*", markersize=14, label="chosen")
        ax.set_xscale("log")
        ax.set_xlabel("file bytes")
        ax.set_ylabel(f"validation {key.split('_')[1]} (%)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, metadata={"Software": None})
        plt.close(fig)


def pareto(points: list[Point]) -> list[Point]:
    """Points no other point beats on both bytes and validation score, by bytes."""
    best, out = -1.0, []
    for p in sorted(points, key=lambda p: (p.bytes, -_score(p))):
        if _score(p) > best:
            out.append(p)
            best = _score(p)
    return out


def _score(p: Point) -> float:
    return p.val_agreement if p.val_accuracy is None else p.val_accuracy


class BudgetSearch:
    """The search over one fitted model and one validation set; best(n) per budget.

    `options`: phq.writer.write options used for every build (gamma, seed, block_rows,
    layout, partitions, max_levels); quant, scale and fingerprint_bits are searched.
    `families` and `keep_weights` narrow the search (defaults FAMILIES, KEEP_WEIGHTS); the
    number of builds is at most len(families) x len(keep_weights) x 6 per budget."""

    def __init__(self, model, texts, labels=None, *, metadata: dict | None = None, check_texts=None,
                 families=FAMILIES, keep_weights=KEEP_WEIGHTS, **options):
        from phq.nlu import PROFILE_KEY

        from .sklearn_convert import SCORE_TABLE, _check_featurization, convert, probe_documents

        for name in ("quant", "scale", "fingerprint_bits", "drop_zero_rows"):
            if name in options:
                raise UsageError(f"max_bytes: {name} is chosen by the search; do not pass it")
        if texts is None or isinstance(texts, (str, bytes)) or len(texts) == 0:
            raise UsageError("max_bytes needs texts= (validation documents, a non-empty list) to measure each candidate on")
        self.texts = list(texts)
        self.families = tuple(tuple(f) for f in families)
        self.keep_weights = tuple(float(k) for k in keep_weights)
        if not self.families or not self.keep_weights or not all(0 < k <= 1 for k in self.keep_weights):
            raise UsageError("budget search: families must be non-empty and keep_weights fractions in (0, 1]")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(self.texts),):
                raise UsageError(f"labels= has {labels.size} entries for {len(self.texts)} texts")
        self.labels = labels
        if metadata is not None and (not isinstance(metadata, dict) or PROFILE_KEY in metadata):
            raise UsageError(f"metadata must be a dict without the key {PROFILE_KEY!r}")
        tables, self.tensors, meta, branches = convert(model)
        _check_featurization(model, branches, probe_documents(branches, check_texts))
        self.metadata = {**(metadata or {}), **meta}
        self.options = options
        self.reference = np.asarray(model.predict(self.texts))  # the source model's answers: agreement
        score = tables[SCORE_TABLE]
        self.score_name = SCORE_TABLE
        self.keys = list(score.keys)
        self.W = np.asarray(score.rows, dtype=np.float64)
        # the norm tables: (name, keys, rows, index of each key in self.keys)
        prefixes = {b.norm_table: (b.name + "\x1f" if len(branches) > 1 else "") for b in branches if b.norm_table}
        where = {k: i for i, k in enumerate(self.keys)}
        self.norms = []
        for name, t in tables.items():
            if name == SCORE_TABLE:
                continue
            pos = np.fromiter((where[prefixes[name] + k] for k in t.keys), np.int64, len(t.keys))
            self.norms.append((name, list(t.keys), np.asarray(t.rows), pos))
        mass = np.abs(self.W).sum(axis=1)
        self.rank = np.lexsort((np.arange(len(self.keys)), -mass))  # heaviest first, then key order
        self.cache: dict[Settings, Point] = {}
        self.order: list[Settings] = []  # search order of the builds
        self._tmp = Path(tempfile.mkdtemp(prefix="phq-budget-"))

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def kept_terms(self, keep_terms: float) -> int:
        return max(1, min(len(self.keys), int(round(keep_terms * len(self.keys)))))

    def tables(self, s: Settings) -> dict:
        """The phq.writer tables of one point of the search."""
        kept = np.sort(self.rank[: self.kept_terms(s.keep_terms)])
        W = self.W[kept].copy()
        if s.keep_weights < 1.0:
            A = np.abs(W)
            for c in range(W.shape[1]):
                nz = np.sort(A[:, c][A[:, c] > 0])[::-1]
                keep = int(math.ceil(s.keep_weights * nz.size))  # >= 1 when the column has any
                if keep < nz.size:
                    W[A[:, c] < nz[keep - 1], c] = 0.0  # weights equal to the last kept one stay
        out = {self.score_name: Table([self.keys[i] for i in kept], W, drop_zero_rows=True, fingerprint_bits=s.fingerprint_bits)}
        inside = np.zeros(len(self.keys), dtype=bool)
        inside[kept] = True
        for name, keys, rows, pos in self.norms:
            sel = np.arange(len(keys)) if s.norm == "all" else np.flatnonzero(inside[pos])
            out[name] = Table([keys[i] for i in sel], rows[sel], drop_zero_rows=False, scale="table",
                              fingerprint_bits=s.norm_fingerprint_bits)
        return out

    def write(self, s: Settings, path) -> int:
        from . import write

        quant = s.quant
        return write(path, self.tables(s), tensors=self.tensors, metadata=self.metadata, quant=quant,
                     scale=s.scale, **self.options)

    def measure(self, s: Settings) -> Point:
        """Build one point (cached) and score it on the validation texts."""
        if s in self.cache:
            return self.cache[s]
        import phq.nlu

        path = self._tmp / "candidate.phq"
        size = self.write(s, path)
        with phq.nlu.load(path) as clf:
            pred = np.asarray(clf.predict(self.texts))
        acc = None if self.labels is None else float((pred == self.labels).mean())
        p = Point(s, int(size), self.kept_terms(s.keep_terms), acc, float((pred == self.reference).mean()))
        self.cache[s] = p
        self.order.append(s)
        return p

    def best(self, max_bytes: int) -> Point:
        """The most accurate measured point within max_bytes (runs the bisections it needs)."""
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise UsageError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        probed: list[Settings] = []  # this budget's builds (cached ones included), in search order
        for quant, scale, fp, nfp, norm in self.families:
            if not self.norms and (nfp != fp or norm != "kept"):
                continue  # no norm table: those families repeat another one
            hi = len(TERM_LADDER) - 1  # keeping fewer weights never needs fewer terms pruned
            for kw in self.keep_weights:
                def at(i):
                    s = Settings(quant, scale, fp, nfp, norm, TERM_LADDER[i], kw)
                    probed.append(s)
                    return self.measure(s)

                if at(hi).bytes > max_bytes:
                    continue  # (the least terms of this family do not fit; fewer weights may)
                lo = -1  # invariant: ladder[hi] fits; ladder[lo] does not (-1: not probed, assumed)
                while hi - lo > 1:
                    mid = (lo + hi + 1) // 2
                    if at(mid).bytes <= max_bytes:
                        hi = mid
                    else:
                        lo = mid
        fitting = [self.cache[s] for s in dict.fromkeys(probed) if self.cache[s].bytes <= max_bytes]
        if not fitting:
            smallest = min((self.cache[s] for s in probed), key=lambda p: (p.bytes, self.order.index(p.settings)))
            raise UsageError(
                f"no file of this model fits in {max_bytes:,} bytes: the smallest the search built is "
                f"{smallest.bytes:,} bytes ({smallest.settings.label()}); raise max_bytes"
            )
        return min(fitting, key=lambda p: (-_score(p), p.bytes, probed.index(p.settings)))

    def result(self, max_bytes: int, path) -> BudgetResult:
        """best(max_bytes) written at path."""
        p = self.best(max_bytes)
        size = self.write(p.settings, path)
        if size != p.bytes:  # the writer is deterministic (spec §13.3)
            raise AssertionError(f"rebuilding the chosen point gave {size} bytes, measured {p.bytes}")
        return BudgetResult(os.fspath(path), max_bytes, size, p.settings, p.val_accuracy, p.val_agreement,
                            [self.cache[s] for s in self.order], len(self.order) + 1)


def from_sklearn_budget(model, path, max_bytes, texts, labels=None, *, metadata=None, check_texts=None,
                        families=FAMILIES, keep_weights=KEEP_WEIGHTS, **options) -> BudgetResult:
    """from_sklearn(..., max_bytes=N): search, then write the chosen file at path."""
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise UsageError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    with BudgetSearch(model, texts, labels, metadata=metadata, check_texts=check_texts, families=families,
                      keep_weights=keep_weights, **options) as search:
        return search.result(max_bytes, path)
