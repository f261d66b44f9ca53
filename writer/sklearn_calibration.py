"""CalibratedClassifierCV over a supported linear classifier -> a calibrated model of the NLU
profile (spec/nlu-profile-v2.md §2.4, §8.5.1). Called by phq.writer.sklearn_convert.convert.

scikit-learn's CalibratedClassifierCV (method "sigmoid" or "isotonic", ensemble True or False, cv
folds or a frozen prefit estimator) keeps F `calibrated_classifiers_`: each a fitted linear
classifier and one calibrator per output column (kb = 1 for two classes, else K). phq stores:
  - the F classifiers side by side in the score table: F x kb columns, fold-major (column
    f * kb + c is fold f's column c), and their intercepts in the intercept tensor;
  - the calibrators in the metadata member "calibration": sigmoid a, b as JSON numbers;
    isotonic thresholds in two f64 tensors (CALIBRATION_X, CALIBRATION_Y), one map after the
    other, with each map's number of points in the metadata.
The converter checks its reading before writing: every fold's decision_function is linear in
its coef_ (sklearn_convert._check_decision), and phq's calibration rule (phq.calibration) applied
to the folds' own decision values reproduces CalibratedClassifierCV.predict_proba on probe vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phq.errors import UsageError

CALIBRATION_X = "calibration:x"
CALIBRATION_Y = "calibration:y"
NAME = "CalibratedClassifierCV"


@dataclass
class Calibrated:
    """What the converter needs of a CalibratedClassifierCV."""

    coef: np.ndarray  # (folds x kb, features)
    intercept: np.ndarray  # (folds x kb,)
    classes: list
    estimator: str
    member: dict  # the "calibration" member of "phq.nlu"
    tensors: dict = field(default_factory=dict)
    folds: list = field(default_factory=list)  # the fitted fold classifiers (for the self-check)


def is_calibrated(clf) -> bool:
    return type(clf).__name__ == NAME and type(clf).__module__.startswith("sklearn.")


def _base(est):
    """The fold's fitted classifier (a FrozenEstimator, cv="prefit"'s successor, is unwrapped)."""
    if type(est).__name__ == "FrozenEstimator" and hasattr(est, "estimator"):
        est = est.estimator
    if type(est).__name__ == "Pipeline":
        raise UsageError(
            f"{NAME} over a Pipeline is not supported: each fold would have its own vocabulary; "
            f"put the vectorizer before the {NAME} (Pipeline([vectorizer, {NAME}(classifier)]))"
        )
    return est


def _isotonic(cal, where: str) -> tuple[np.ndarray, np.ndarray]:
    if type(cal).__name__ != "IsotonicRegression":
        raise UsageError(f"{NAME} {where}: calibrator {type(cal).__name__} is not an IsotonicRegression")
    if getattr(cal, "out_of_bounds", None) != "clip" or getattr(cal, "increasing_", True) is not True:
        raise UsageError(f"{NAME} {where}: an isotonic calibrator with out_of_bounds={cal.out_of_bounds!r}, "
                         f"increasing={getattr(cal, 'increasing_', '?')!r} is not supported (only 'clip', increasing)")
    x = np.asarray(cal.X_thresholds_, np.float64)
    y = np.asarray(cal.y_thresholds_, np.float64)
    if x.ndim != 1 or x.shape != y.shape or not 1 <= len(x) <= (1 << 24):
        raise UsageError(f"{NAME} {where}: isotonic thresholds of shapes {x.shape}, {y.shape} are not supported")
    problems = []
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        problems.append("non-finite thresholds")
    if (np.diff(x) <= 0).any():
        problems.append("X_thresholds_ not strictly increasing")
    if (np.diff(y) < 0).any() or (y < 0).any() or (y > 1).any():
        problems.append("y_thresholds_ not non-decreasing in [0, 1]")
    if float(cal.X_min_) != x[0] or float(cal.X_max_) != x[-1]:
        problems.append("X_min_/X_max_ differ from the first/last threshold")
    if problems:
        raise UsageError(f"{NAME} {where}: an isotonic calibrator with {', '.join(problems)} is not supported")
    return x, y


def fold_estimators(clf) -> list:
    """The fitted classifier of each fold, in order."""
    return [_base(cc.estimator) for cc in clf.calibrated_classifiers_]


def calibrated_parts(clf, classifier) -> Calibrated:
    """Read a fitted CalibratedClassifierCV; `classifier` is sklearn_convert._classifier (the
    supported linear bases and their checks)."""
    if not hasattr(clf, "calibrated_classifiers_"):
        raise UsageError(f"{NAME} is not fitted (no calibrated_classifiers_); fit it before converting")
    method = clf.method
    if method not in ("sigmoid", "isotonic"):
        raise UsageError(f"{NAME} with method={method!r} is not supported (only 'sigmoid' and 'isotonic': "
                         "spec/nlu-profile-v2.md §2.4)")
    ccs = list(clf.calibrated_classifiers_)
    classes = list(clf.classes_)
    K = len(classes)
    kb = 1 if K == 2 else K
    if not 1 <= len(ccs) <= 64:
        raise UsageError(f"{NAME} with {len(ccs)} calibrated classifiers is not supported (the profile allows 1..64 folds)")
    coefs, intercepts, folds, base_names = [], [], [], set()
    a, b, points, xs, ys = [], [], [], [], []
    for f, cc in enumerate(ccs):
        where = f"fold {f}"
        est = _base(cc.estimator)
        coef, intercept, fold_classes, name = classifier(est)
        base_names.add(name)
        if len(fold_classes) != K or any(x != y for x, y in zip(fold_classes, classes)):
            raise UsageError(f"{NAME} {where}: its classifier saw {len(fold_classes)} of the {K} classes "
                             "(a fold without every class is not supported: use stratified folds)")
        if getattr(cc, "method", method) != method or len(cc.calibrators) != kb:
            raise UsageError(f"{NAME} {where}: {len(cc.calibrators)} calibrators of method {cc.method!r}; expected {kb} {method!r}")
        coefs.append(coef)
        intercepts.append(intercept)
        folds.append(est)
        for c, cal in enumerate(cc.calibrators):
            if method == "sigmoid":
                if type(cal).__name__ != "_SigmoidCalibration":
                    raise UsageError(f"{NAME} {where}: calibrator {type(cal).__name__} is not a sigmoid calibration")
                av, bv = float(cal.a_), float(cal.b_)
                if not (np.isfinite(av) and np.isfinite(bv)):
                    raise UsageError(f"{NAME} {where}: a sigmoid calibration with a non-finite a or b")
                a.append(av)
                b.append(bv)
            else:
                x, y = _isotonic(cal, f"{where}, column {c}")
                points.append(len(x))
                xs.append(x)
                ys.append(y)
    if len(base_names) != 1:
        raise UsageError(f"{NAME}: folds of different classifier types {sorted(base_names)}")
    member: dict = {"method": method, "folds": len(ccs)}
    tensors: dict = {}
    if method == "sigmoid":
        member |= {"a": a, "b": b}
    else:
        member |= {"points": points, "x": CALIBRATION_X, "y": CALIBRATION_Y}
        tensors = {CALIBRATION_X: np.concatenate(xs), CALIBRATION_Y: np.concatenate(ys)}
    return Calibrated(np.concatenate(coefs), np.concatenate(intercepts), classes,
                      f"{NAME}({base_names.pop()})", member, tensors, folds)


def check_calibration(clf, cal: Calibrated, probe: np.ndarray, check_decision) -> None:
    """Each fold is linear (check_decision) and phq's calibration rule, applied to the folds' own
    decision values, gives CalibratedClassifierCV.predict_proba on the probe vectors."""
    from phq.calibration import Calibration

    if probe.shape[1] == 0:
        return
    kb = 1 if len(cal.classes) == 2 else len(cal.classes)
    raw = []
    for f, est in enumerate(cal.folds):
        rows = slice(f * kb, (f + 1) * kb)
        check_decision(est, cal.coef[rows], cal.intercept[rows], probe)
        raw.append(np.asarray(est.decision_function(probe), np.float64).reshape(len(probe), -1))
    rule = Calibration(cal.member, len(cal.classes))
    if rule.method == "isotonic":
        rule.x, rule.y = cal.tensors[CALIBRATION_X], cal.tensors[CALIBRATION_Y]
    mine = rule.probabilities(np.concatenate(raw, axis=1))
    want = np.asarray(clf.predict_proba(probe), np.float64)
    if mine.shape != want.shape or not np.allclose(mine, want, rtol=1e-9, atol=1e-12):
        raise UsageError(f"{NAME}.predict_proba does not follow the profile's calibration rule "
                         "(spec/nlu-profile-v2.md §8.5.1); cannot convert")
