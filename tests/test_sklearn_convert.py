"""phq.writer.from_sklearn: every supported kind converts and scores like scikit-learn;
everything else is refused with a message naming it."""

from __future__ import annotations

import numpy as np
import pytest

import phq
import phq.nlu
import phq.writer
from nlu_corpus import TRICKY, corpus, dict_corpus
from phq.errors import UsageError

pytest.importorskip("sklearn")
from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.naive_bayes import MultinomialNB  # noqa: E402
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import Normalizer, StandardScaler  # noqa: E402
from sklearn.svm import SVC, LinearSVC  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TRAIN, LABELS = corpus(400, seed=1)
TEST, _ = corpus(200, seed=2)
DOCS = TEST + TRICKY
BINARY = [lab if lab == "weather" else "other" for lab in LABELS]

VECTORIZERS = {
    "count-word": lambda: CountVectorizer(),
    "count-binary-12": lambda: CountVectorizer(ngram_range=(1, 2), binary=True),
    "tfidf-word12": lambda: TfidfVectorizer(ngram_range=(1, 2)),
    "tfidf-sublinear-l1-accents": lambda: TfidfVectorizer(sublinear_tf=True, norm="l1", strip_accents="unicode"),
    "tfidf-noidf-stop": lambda: TfidfVectorizer(use_idf=False, stop_words="english", lowercase=False),
    "tfidf-char": lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 4), strip_accents="ascii"),
    "tfidf-char_wb": lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2),
    "tfidf-token-pattern": lambda: TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", norm=None, max_features=50),
    "count+tfidf-transformer": lambda: make_pipeline(CountVectorizer(ngram_range=(1, 2)), TfidfTransformer(sublinear_tf=True)),
    "union-word-char": lambda: FeatureUnion(
        [("word", TfidfVectorizer(ngram_range=(1, 2))), ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)))],
        transformer_weights={"word": 1.0, "char": 0.5},
    ),
    "union-nested-drop": lambda: FeatureUnion(
        [("a", FeatureUnion([("w", CountVectorizer()), ("x", "drop")])), ("b", make_pipeline(CountVectorizer(analyzer="char", ngram_range=(3, 3)), TfidfTransformer()))]
    ),
}
CLASSIFIERS = {
    "logreg": lambda: LogisticRegression(max_iter=300),
    "linearsvc": lambda: LinearSVC(random_state=0),
    "linearsvc-l1": lambda: LinearSVC(penalty="l1", dual=False, C=0.5, random_state=0),
    "sgd-log": lambda: SGDClassifier(loss="log_loss", random_state=0),
    "sgd-huber": lambda: SGDClassifier(loss="modified_huber", random_state=0, average=True),
    "sgd-hinge": lambda: SGDClassifier(random_state=0),
    "ridge": lambda: RidgeClassifier(),
}


def fit(vec_name, clf_name, labels=LABELS):
    return Pipeline([("features", VECTORIZERS[vec_name]()), ("clf", CLASSIFIERS[clf_name]())]).fit(TRAIN, labels)


def check_parity(pipe, path, docs=DOCS, tol=1e-5):
    with phq.nlu.load(path) as clf:
        np.testing.assert_array_equal(clf.classes_, pipe.classes_)
        ours, theirs = clf.decision_function(docs), pipe.decision_function(docs)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)
        # predictions agree except where two classes tie within float32 rounding
        margin = np.sort(theirs, axis=1)[:, -1] - np.sort(theirs, axis=1)[:, -2] if theirs.ndim == 2 else np.abs(theirs)
        clear = margin > 10 * tol
        np.testing.assert_array_equal(clf.predict(docs)[clear], pipe.predict(docs)[clear])
        assert hasattr(clf, "predict_proba") == hasattr(pipe, "predict_proba")
        if hasattr(pipe, "predict_proba"):
            np.testing.assert_allclose(clf.predict_proba(docs), pipe.predict_proba(docs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("vec_name", sorted(VECTORIZERS))
@pytest.mark.parametrize("clf_name", ["logreg", "linearsvc"])
def test_every_vectorizer_f32_parity(tmp_path, vec_name, clf_name):
    pipe = fit(vec_name, clf_name)
    phq.writer.from_sklearn(pipe, tmp_path / "m.phq", quant="f32")
    check_parity(pipe, tmp_path / "m.phq")


@pytest.mark.parametrize("clf_name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_every_classifier_f32_parity(tmp_path, clf_name, binary):
    pipe = fit("tfidf-word12", clf_name, BINARY if binary else LABELS)
    phq.writer.from_sklearn(pipe, tmp_path / "m.phq", quant="f32")
    check_parity(pipe, tmp_path / "m.phq")
    if binary:
        with phq.nlu.load(tmp_path / "m.phq") as clf:
            assert clf.decision_function(DOCS).shape == (len(DOCS),)


def test_parts_given_separately(tmp_path):
    vec = TfidfVectorizer().fit(TRAIN)
    clf = LinearSVC(random_state=0).fit(vec.transform(TRAIN), LABELS)
    phq.writer.from_sklearn((vec, clf), tmp_path / "m.phq", quant="f32")
    with phq.nlu.load(tmp_path / "m.phq") as ours:
        np.testing.assert_allclose(ours.decision_function(DOCS), clf.decision_function(vec.transform(DOCS)), rtol=1e-5, atol=1e-5)
    count, tfidf = CountVectorizer().fit(TRAIN), TfidfTransformer()
    X = tfidf.fit_transform(count.transform(TRAIN))
    clf2 = LogisticRegression(max_iter=300).fit(X, LABELS)
    phq.writer.from_sklearn([count, tfidf, clf2], tmp_path / "m2.phq", quant="f32")
    with phq.nlu.load(tmp_path / "m2.phq") as ours:
        np.testing.assert_allclose(ours.predict_proba(DOCS), clf2.predict_proba(tfidf.transform(count.transform(DOCS))), rtol=1e-4, atol=1e-5)


def test_integer_and_bool_labels(tmp_path):
    ints = [sorted(set(LABELS)).index(lab) * 10 - 5 for lab in LABELS]
    pipe = make_pipeline(CountVectorizer(), LinearSVC(random_state=0)).fit(TRAIN, ints)
    phq.writer.from_sklearn(pipe, tmp_path / "i.phq", quant="f32")
    with phq.nlu.load(tmp_path / "i.phq") as clf:
        assert clf.classes_.dtype.kind == "i"
        np.testing.assert_array_equal(clf.predict(TEST), pipe.predict(TEST))
    bools = [lab == "alarm" for lab in LABELS]
    pipe = make_pipeline(CountVectorizer(), LogisticRegression()).fit(TRAIN, bools)
    phq.writer.from_sklearn(pipe, tmp_path / "b.phq", quant="f32")
    with phq.nlu.load(tmp_path / "b.phq") as clf:
        assert clf.classes_.dtype == bool
        np.testing.assert_array_equal(clf.predict(TEST), pipe.predict(TEST))


def test_dict_vectorizer(tmp_path):
    docs, labels = dict_corpus(300, seed=3)
    test_docs, _ = dict_corpus(100, seed=4)
    pipe = make_pipeline(DictVectorizer(), LogisticRegression(max_iter=500)).fit(docs, labels)
    phq.writer.from_sklearn(pipe, tmp_path / "d.phq", quant="f32")
    check_parity(pipe, tmp_path / "d.phq", docs=test_docs + [{}, {"unknown": "feature"}])
    with phq.nlu.load(tmp_path / "d.phq") as clf:
        assert clf.input == "dict"
        with pytest.raises(UsageError):
            clf.predict(["a text to a dict model"])


@pytest.mark.parametrize("scale", ["table", "column", "row-block"])
def test_linear8_error_is_within_the_quantization_bound(tmp_path, scale):
    """No norm: |phq - sklearn| <= sum_j |tf_j| * scale/2 per column (spec/nlu-profile-v2.md §8.6)."""
    pipe = fit("tfidf-token-pattern", "logreg")  # norm=None, idf folded into the rows
    phq.writer.from_sklearn(pipe, tmp_path / "q.phq", quant="linear8", scale=scale, block_rows=8)
    vec = pipe.named_steps["features"]
    counts = CountVectorizer(vocabulary=vec.vocabulary_, token_pattern=vec.token_pattern).transform(DOCS)
    with phq.nlu.load(tmp_path / "q.phq") as clf:
        table = clf.table
        half_step = float(table.scales["scale"].max()) / 2  # the coarsest group bounds every group
        bound = np.asarray(counts.sum(axis=1)).ravel() * half_step
        diff = np.abs(clf.decision_function(DOCS) - pipe.decision_function(DOCS)).max(axis=1)
        assert (diff <= bound * (1 + 1e-6) + 1e-9).all()
        assert diff.max() > 0  # linear8 really quantized something


def test_linear8_agreement_and_zero_rows_dropped(tmp_path):
    pipe = fit("tfidf-word12", "linearsvc-l1")
    size8 = phq.writer.from_sklearn(pipe, tmp_path / "l1.phq").bytes
    size32 = phq.writer.from_sklearn(pipe, tmp_path / "l1f.phq", quant="f32").bytes
    assert size8 == (tmp_path / "l1.phq").stat().st_size and size8 < size32
    coef = pipe.named_steps["clf"].coef_
    nonzero_terms = int((coef != 0).any(axis=0).sum())
    with phq.nlu.load(tmp_path / "l1.phq") as clf:
        assert len(clf.table) <= nonzero_terms < coef.shape[1]  # the L1 zeros are not stored
        assert len(clf.model.tables["norm:text"]) == coef.shape[1]  # the norm needs every term
        agree = (clf.predict(DOCS) == pipe.predict(DOCS)).mean()
    assert agree >= 0.97


def test_batches_do_not_change_scores(tmp_path):
    pipe = fit("union-word-char", "logreg")
    phq.writer.from_sklearn(pipe, tmp_path / "u.phq")
    with phq.nlu.load(tmp_path / "u.phq") as clf:
        whole = clf.decision_function(DOCS)
        np.testing.assert_array_equal(clf.decision_function(DOCS, batch_size=1), whole)
        np.testing.assert_array_equal(clf.decision_function(DOCS, batch_size=7), whole)
        one = clf.decision_function([DOCS[3]])
        np.testing.assert_array_equal(one[0], whole[3])


def test_conversion_is_deterministic(tmp_path):
    pipe = fit("union-word-char", "sgd-log")
    phq.writer.from_sklearn(pipe, tmp_path / "a.phq")
    phq.writer.from_sklearn(pipe, tmp_path / "b.phq")
    assert (tmp_path / "a.phq").read_bytes() == (tmp_path / "b.phq").read_bytes()
    phq.validate(tmp_path / "a.phq").close()


def test_metadata_and_options_pass_through(tmp_path):
    pipe = fit("count-word", "ridge")
    phq.writer.from_sklearn(pipe, tmp_path / "m.phq", metadata={"owner": "nlu-team"}, fingerprint_bits=32, quant="f16", seed=7)
    with phq.open(tmp_path / "m.phq") as m:
        assert m.metadata["owner"] == "nlu-team"
        t = m.tables["features"]
        assert (t.fingerprint_bits, t.quant, t.seed) == (32, "f16", 7)
        prof = m.metadata["phq.nlu"]
        assert prof["estimator"] == "RidgeClassifier" and prof["proba"] is None
    with pytest.raises(UsageError, match="phq.nlu"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", metadata={"phq.nlu": {}})
    with pytest.raises(UsageError, match="drop_zero_rows"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", drop_zero_rows=False)
    with pytest.raises(UsageError, match="quant"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", quant="int3")
    with pytest.raises(UsageError, match="unexpected keyword"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq", colour="blue")
    assert not (tmp_path / "x.phq").exists()


class MyVectorizer(CountVectorizer):
    pass


def _unsupported():
    text_clf = LinearSVC(random_state=0)
    return {
        "HashingVectorizer": lambda: make_pipeline(HashingVectorizer(), LinearSVC()).fit(TRAIN, LABELS),
        "custom tokenizer": lambda: make_pipeline(CountVectorizer(tokenizer=str.split, token_pattern=None), LinearSVC()).fit(TRAIN, LABELS),
        "custom analyzer": lambda: make_pipeline(CountVectorizer(analyzer=str.split), LinearSVC()).fit(TRAIN, LABELS),
        "custom preprocessor": lambda: make_pipeline(CountVectorizer(preprocessor=str.upper), LinearSVC()).fit(TRAIN, LABELS),
        "OneVsRestClassifier over MultinomialNB": lambda: make_pipeline(CountVectorizer(), OneVsRestClassifier(MultinomialNB())).fit(TRAIN, LABELS),
        "SVC": lambda: make_pipeline(CountVectorizer(), SVC(kernel="linear")).fit(TRAIN, LABELS),
        "Normalizer": lambda: make_pipeline(CountVectorizer(), Normalizer(), LinearSVC()).fit(TRAIN, LABELS),
        "StandardScaler(with_mean=True)": lambda: _centered_model(),
        "dtype=int8": lambda: make_pipeline(CountVectorizer(dtype=np.int8), LinearSVC()).fit(TRAIN, LABELS),
        "MyVectorizer": lambda: make_pipeline(MyVectorizer(), LinearSVC()).fit(TRAIN, LABELS),
        "not fitted": lambda: make_pipeline(CountVectorizer(), LinearSVC()),
        "a bare classifier": lambda: LinearSVC().fit(np.eye(4), [0, 1, 0, 1]),
        "multilabel": lambda: make_pipeline(CountVectorizer(), RidgeClassifier()).fit(TRAIN, [[i % 2, i // 2 % 2] for i in range(len(TRAIN))]),
        "input='filename'": lambda: _filename_model(),
    }


def _centered_model():
    """scikit-learn cannot center sparse text features, so a centering scaler comes only as parts."""
    vec = CountVectorizer().fit(TRAIN)
    dense = vec.transform(TRAIN).toarray()
    scaler = StandardScaler().fit(dense)
    return (vec, scaler, LinearSVC().fit(scaler.transform(dense), LABELS))


def _filename_model():
    vec = CountVectorizer(input="filename")
    vec.vocabulary_ = {"a": 0}
    vec.fixed_vocabulary_ = True
    return (vec, LinearSVC().fit(np.eye(2)[:, :1].repeat(2, axis=0), [0, 1, 0, 1]))


@pytest.mark.parametrize("what", sorted(_unsupported()))
def test_unsupported_models_are_refused_by_name(tmp_path, what):
    model = _unsupported()[what]()
    with pytest.raises(UsageError) as e:
        phq.writer.from_sklearn(model, tmp_path / "x.phq")
    keyword = {
        "custom tokenizer": "tokenizer",
        "custom analyzer": "analyzer",
        "custom preprocessor": "preprocessor",
        "not fitted": "not fitted",
        "a bare classifier": "LinearSVC",
        "multilabel": "multilabel",
        "input='filename'": "input='filename'",
    }.get(what, what)
    assert keyword in str(e.value)
    assert not (tmp_path / "x.phq").exists()


def test_self_check_catches_a_featurization_it_cannot_reproduce(tmp_path, monkeypatch):
    """If the stored settings were wrong, the converter refuses rather than write a file
    that scores differently: simulate a reading that forgets `lowercase`."""
    import phq.writer.sklearn_convert as conv

    real = conv._text_config
    monkeypatch.setattr(conv, "_text_config", lambda vec: {**real(vec), "lowercase": False})
    pipe = fit("count-word", "linearsvc")
    with pytest.raises(UsageError, match="do not reproduce"):
        phq.writer.from_sklearn(pipe, tmp_path / "x.phq")
