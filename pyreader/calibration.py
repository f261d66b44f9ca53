"""Calibrated classifiers of the NLU profile (spec/nlu-profile-v2.md §2.4, §8.5.1): the optional
member `calibration` of the "phq.nlu" object, checked (§9) and applied to the fold scores.

A calibrated model (scikit-learn's CalibratedClassifierCV over a linear classifier) has F folds; its
score table holds F x kb columns, fold-major (kb = 1 for two classes, else K), and each (fold,
output column) has a monotone map from its score to a probability: a sigmoid 1 / (1 + exp(a t + b))
or an isotonic piecewise-linear table (x, y) stored in two f64 tensors. The model's decision values
are the K averaged probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .errors import ProfileError

METHODS = ("sigmoid", "isotonic")
MAX_FOLDS = 64  # spec §13
MAX_POINTS = 1 << 24  # points of one isotonic map (spec §13)
MEMBERS = {
    "sigmoid": frozenset({"method", "folds", "a", "b"}),
    "isotonic": frozenset({"method", "folds", "points", "x", "y"}),
}
CLIP_ABOVE_ONE = 1e-5  # a fold probability in (1, 1 + 1e-5] becomes 1 (scikit-learn's rule)


def _schema(msg: str) -> ProfileError:
    return ProfileError("E_NLU_SCHEMA", f"calibration: {msg}")


def _reference(msg: str) -> ProfileError:
    return ProfileError("E_NLU_REFERENCE", f"calibration: {msg}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Calibration:
    """The parsed `calibration` member: method, folds, kb and the per-map parameters."""

    def __init__(self, cal, n_classes: int):
        if not isinstance(cal, Mapping):
            raise _schema("must be an object")
        method = cal.get("method")
        if method not in METHODS:
            raise _schema(f"method must be \"sigmoid\" or \"isotonic\", got {str(method)[:40]!r}")
        self.method = method
        names = set(cal)
        if names != MEMBERS[method]:
            raise _schema(f"a {method} calibration has exactly the members {sorted(MEMBERS[method])}, got {sorted(map(str, names))[:8]}")
        folds = cal["folds"]
        if not _is_int(folds) or not 1 <= folds <= MAX_FOLDS:
            raise _schema(f"folds must be an integer in 1..{MAX_FOLDS}")
        self.folds = folds
        self.n_classes = n_classes
        self.kb = 1 if n_classes == 2 else n_classes
        self.n_maps = folds * self.kb  # the score table's columns
        if method == "sigmoid":
            self.a = self._numbers(cal["a"], "a")
            self.b = self._numbers(cal["b"], "b")
        else:
            pts = cal["points"]
            if not isinstance(pts, list) or len(pts) != self.n_maps:
                raise _schema(f"points must be an array of folds x {self.kb} = {self.n_maps} integers")
            if not all(_is_int(p) and 1 <= p <= MAX_POINTS for p in pts):
                raise _schema(f"every points value must be an integer in 1..{MAX_POINTS}")
            self.points = np.asarray(pts, np.int64)
            self.offsets = np.concatenate([[0], np.cumsum(self.points)])
            for m in ("x", "y"):
                if not isinstance(cal[m], str):
                    raise _schema(f"{m} must be a string (a tensor name)")
            self.x_name, self.y_name = cal["x"], cal["y"]

    def _numbers(self, v, name: str) -> np.ndarray:
        if not isinstance(v, list) or len(v) != self.n_maps:
            raise _schema(f"{name} must be an array of folds x {self.kb} = {self.n_maps} numbers")
        out = []
        for x in v:
            if not isinstance(x, (int, float)) or isinstance(x, bool):
                raise _schema(f"{name} holds a value that is not a number")
            try:
                x = float(x)
            except OverflowError:
                x = math.inf
            if not math.isfinite(x):
                raise _schema(f"{name} holds a number that is not a finite binary64")
            out.append(x)
        return np.asarray(out, np.float64)

    def tensor_names(self) -> list[str]:
        return [self.x_name, self.y_name] if self.method == "isotonic" else []

    def resolve(self, model) -> None:
        """E_NLU_REFERENCE checks (spec §9): the isotonic tensors exist, are f64 of shape (sum of
        points,), and hold valid maps (finite; x strictly increasing and y non-decreasing within
        each map; y in [0, 1])."""
        if self.method != "isotonic":
            return
        total = int(self.offsets[-1])
        arrays = []
        for name in (self.x_name, self.y_name):
            t = model.tensors.get(name)
            if t is None:
                raise _reference(f"tensor {name!r} is not in the file")
            if t.dtype != np.float64 or t.shape != (total,):
                raise _reference(f"tensor {name!r} has dtype {t.dtype} and shape {t.shape}; expected f64 ({total},)")
            arrays.append(np.asarray(t, np.float64))
        x, y = arrays
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise _reference("an isotonic map holds a value that is not finite")
        if ((y < 0) | (y > 1)).any():
            raise _reference("an isotonic map holds a y outside [0, 1]")
        inner = np.ones(total, bool)  # pairs (i-1, i) inside one map
        inner[self.offsets[:-1]] = False
        inner[0] = False
        step = np.flatnonzero(inner)
        if (x[step] <= x[step - 1]).any():
            raise _reference("an isotonic map's x values are not strictly increasing")
        if (y[step] < y[step - 1]).any():
            raise _reference("an isotonic map's y values decrease")
        self.x, self.y = x, y

    # -- applying (spec §8.5.1) -------------------------------------------------------------
    def _map(self, j: int, t: np.ndarray) -> np.ndarray:
        """Calibrated value of map j for the scores t (one per document)."""
        if self.method == "sigmoid":
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(self.a[j] * t + self.b[j]))
        lo, hi = int(self.offsets[j]), int(self.offsets[j + 1])
        x, y = self.x[lo:hi], self.y[lo:hi]
        if len(x) == 1:
            return np.where(np.isnan(t), np.nan, y[0])
        t = np.clip(t, x[0], x[-1])
        i = np.clip(np.searchsorted(x, t, side="left"), 1, len(x) - 1)  # thresholds strictly below t
        x0, y0 = x[i - 1], y[i - 1]
        slope = (y[i] - y0) / (x[i] - x0)
        return slope * (t - x0) + y0

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """(n, K) averaged probabilities from the (n, folds x kb) fold scores, in the order of §8.5.1."""
        n, K, kb = raw.shape[0], self.n_classes, self.kb
        mean = np.zeros((n, K))
        for f in range(self.folds):
            q = np.empty((n, kb))
            for c in range(kb):
                q[:, c] = self._map(f * kb + c, raw[:, f * kb + c])
            if K == 2:
                p = np.stack([1.0 - q[:, 0], q[:, 0]], axis=1)
            else:
                s = np.zeros(n)
                for c in range(K):  # left to right
                    s = s + q[:, c]
                zero = s == 0
                with np.errstate(invalid="ignore", divide="ignore"):
                    p = q / np.where(zero, 1.0, s)[:, None]
                p[zero] = 1.0 / K
            p[(p > 1.0) & (p <= 1.0 + CLIP_ABOVE_ONE)] = 1.0
            mean = mean + p
        return mean / self.folds
