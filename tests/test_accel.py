"""The optional accelerator (phq._accel, the C reader bound for Python) never changes an
answer: on every golden file of the 1.0 and 1.1 suites, on random tables of every
quantization scheme and layout, and on files that open but fail lookups, the accelerated
lookups (`slot`, `get`, `[]`, `in`, `raw`, `slots`, `lookup`, `lookup_raw`) return exactly
what the Python path (`Table._pure_*`) returns (same bits, dtypes and shapes) or raise the
same FormatError code. PHQ_PURE=1, a missing module and a C open that fails all give the
Python path. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import phq
import phq.table as table_mod
import phq.writer
from corrupt_util import edit_section, find, write_image
from phq import layout as L
from phq.conformance.adapter import parse_probes

if os.environ.get("CI") == "true" and shutil.which("gcc"):
    from phq import _accel  # CI has a compiler: a build that broke must fail here, not skip
else:
    _accel = pytest.importorskip("phq._accel", reason="the optional accelerator is not built (no C compiler at install)")

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
QUANTS = ["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"]


@pytest.fixture(autouse=True)
def _accelerated(monkeypatch):
    """Every test here starts with the accelerator on, whatever the caller's PHQ_PURE."""
    monkeypatch.delenv("PHQ_PURE", raising=False)


def _files(kind: str) -> list[Path]:
    return sorted(p for v in ("v1.0", "v1.1") for p in (SUITE / v / kind).glob("*.phq"))


def _probe_pool() -> list[bytes]:
    """Every probe key of every golden file, for the invalid files (which have no probes)."""
    keys = set()
    for p in _files("valid"):
        keys.update(k for _t, k in parse_probes(p.with_suffix(".probes").read_text()))
    return sorted(keys)


POOL = _probe_pool()
ABSENT = [b"absent-%d" % i for i in range(40)] + ["absent-\u00e9-%d" % i for i in range(10)] + ["", b""]


def _outcome(call):
    """('ok', value) or ('error', code) of a call; values as comparable bytes."""
    try:
        v = call()
    except phq.FormatError as e:
        return ("error", e.code)
    except KeyError:
        return ("KeyError",)
    if isinstance(v, tuple):
        return ("ok", tuple(_canon(x) for x in v))
    return ("ok", _canon(v))


def _canon(v):
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.flags.writeable, np.ascontiguousarray(v).tobytes())
    return v


def assert_same_answers(t: phq.Table, keys: list) -> int:
    """Compare every accelerated entry point with the Python path on `keys`; returns how
    many keys were found."""
    assert t.accelerated
    pairs = [
        (lambda: t.slots(keys), lambda: t._pure_slots(keys)),
        (lambda: t.lookup(keys), lambda: t._pure_lookup(keys)),
        (lambda: t.lookup_raw(keys), lambda: t._pure_lookup_raw(keys)),
        (lambda: t.lookup(tuple(keys)), lambda: t._pure_lookup(keys)),
        (lambda: t.lookup(iter(keys)), lambda: t._pure_lookup(keys)),
        (lambda: t.lookup([]), lambda: t._pure_lookup([])),
    ]
    for k in keys:
        pairs += [
            (lambda k=k: t.slot(k), lambda k=k: t._pure_slot(k)),
            (lambda k=k: t[k], lambda k=k: t._pure_getitem(k)),
            (lambda k=k: t.get(k, "none"), lambda k=k: t._pure_get(k, "none")),
            (lambda k=k: k in t, lambda k=k: t._pure_slot(k) >= 0),
        ]
    for acc, pure in pairs:
        assert _outcome(acc) == _outcome(pure)
    try:
        return int((t._pure_slots(keys) >= 0).sum())
    except phq.FormatError:
        return 0


@pytest.mark.parametrize("path", _files("valid"), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_golden_files_same_answers(path):
    probes = parse_probes(path.with_suffix(".probes").read_text())
    with phq.open(path) as model:
        for name, t in model.tables.items():
            mine = [k for tn, k in probes if tn == name.encode()]
            # bytes and str spellings (str where the key is UTF-8), absent keys
            strs = []
            for k in mine:
                try:
                    strs.append(k.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
            keys = mine + strs + ABSENT
            found = assert_same_answers(t, keys)
            assert found >= (len(mine) > 0 and t.num_keys > 0)


def _opens(path: Path) -> bool:
    try:
        phq.open(path).close()
    except phq.FormatError:
        return False
    return True


# invalid files refused at open never reach a lookup (nor the accelerator)
OPENABLE_INVALID = [p for p in _files("invalid") if _opens(p)]


def test_some_invalid_files_open():
    assert len(OPENABLE_INVALID) >= 15


@pytest.mark.parametrize("path", OPENABLE_INVALID, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_invalid_files_that_open_same_answers_or_codes(path):
    """Files that only full validation refuses (checksums, NaN weights and levels, rank
    entries, sparse indexes, ...): both paths answer, or fail, identically."""
    with phq.open(path) as model:
        for t in model.tables.values():
            assert_same_answers(t, POOL[:400] + ABSENT)


def test_damaged_golden_files_same_answers_or_codes(tmp_path):
    """Random byte damage to the golden files (fixed seed): wherever the damaged file still
    opens, both paths answer, or fail, identically (lookup-time errors found in a batch
    are reported with their own code, never another one)."""
    rng = np.random.default_rng(20261124)
    files = [p for p in _files("valid") if p.stat().st_size > 200]
    compared = 0
    for i in range(400):
        src = files[rng.integers(len(files))]
        data = bytearray(src.read_bytes())
        for _ in range(rng.integers(1, 7)):
            at = int(rng.integers(64, len(data)))
            data[at] = int(rng.integers(256)) if rng.random() < 0.5 else data[at] ^ (1 << int(rng.integers(8)))
        path = write_image(tmp_path / f"d{i % 4}.phq", bytes(data))
        try:
            model = phq.open(path)
        except phq.FormatError:
            continue
        probes = [k for _t, k in parse_probes(src.with_suffix(".probes").read_text())]
        with model:
            for t in model.tables.values():
                if t.accelerated:
                    assert_same_answers(t, probes[:40] + ABSENT[:8])
                    compared += 1
    assert compared >= 50


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(st.one_of(st.binary(max_size=9), st.text(max_size=6)), min_size=0, max_size=80, unique_by=lambda k: k.encode() if isinstance(k, str) else k),
    dim=st.integers(0, 5),
    data=st.data(),
    quant=st.sampled_from(QUANTS),
    layout=st.sampled_from(["dense", "sparse"]),
    fingerprint_bits=st.sampled_from([0, 8, 16, 32]),
    gamma=st.sampled_from([0.5, 1.0, 2.0]),
    partitions=st.integers(1, 3),
    max_levels=st.sampled_from([1, 3, 64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_tables_same_answers(tmp_path_factory, keys, dim, data, quant, layout, fingerprint_bits, gamma,
                                    partitions, max_levels, seed):
    scale = data.draw(st.sampled_from(["table", "column"] + ([] if quant.startswith("codebook") else ["row-block"])))
    rows = data.draw(hnp.arrays(np.float32, (len(keys), dim), elements=st.one_of(finite, st.just(0.0))))
    path = tmp_path_factory.mktemp("accel") / "m.phq"
    bkeys = [k.encode() if isinstance(k, str) else k for k in keys]
    try:
        phq.writer.write(path, {"t": (bkeys, rows)}, quant=quant, scale=scale, layout=layout, block_rows=3,
                         fingerprint_bits=fingerprint_bits, gamma=gamma, partitions=partitions,
                         max_levels=max_levels, seed=seed)
    except phq.UsageError:
        return  # an option combination the writer refuses
    absent = data.draw(st.lists(st.one_of(st.binary(max_size=9), st.text(max_size=6)), max_size=30))
    with phq.open(path) as model:
        assert_same_answers(model.tables["t"], list(keys) + absent)


def test_big_table_batches_and_keys_python_leaves_to_itself(tmp_path):
    """A larger linear8 table (the benchmark's shape), batches of 4096, and key kinds the
    accelerator hands back to Python (bytearray, memoryview, str subclasses, surrogates)."""
    rng = np.random.default_rng(3)
    keys = [f"w={i}|w+1={i * 7}" for i in range(20000)]
    path = tmp_path / "big.phq"
    phq.writer.write(path, {"t": (keys, (rng.standard_normal((len(keys), 150)) * 0.5).astype(np.float32))}, layout="dense")
    with phq.open(path) as model:
        t = model.tables["t"]
        batch = [keys[i] for i in rng.integers(0, len(keys), 4096)] + [f"nope{i}" for i in range(500)]
        assert_same_answers(t, batch[:300])
        for acc, pure in ((t.lookup, t._pure_lookup), (t.slots, t._pure_slots), (t.lookup_raw, t._pure_lookup_raw)):
            assert _outcome(lambda: acc(batch)) == _outcome(lambda: pure(batch))

        class S(str):
            pass

        odd = [bytearray(b"w=1|w+1=7"), memoryview(b"w=2|w+1=14"), S("w=3|w+1=21"), np.str_("w=4|w+1=28")]
        for k in odd:
            assert _outcome(lambda: t[k]) == _outcome(lambda: t._pure_getitem(k))
            assert t.slot(k) == t._pure_slot(k) >= 0
        assert _outcome(lambda: t.lookup(odd + ["w=5|w+1=35"])) == _outcome(lambda: t._pure_lookup(odd + ["w=5|w+1=35"]))
        for bad in ("\ud800", 17, None):
            with pytest.raises(phq.UsageError):
                t.get(bad)
            with pytest.raises(phq.UsageError):
                t.lookup(["w=1|w+1=7", bad])
        # f32 rows stay read-only views of the file, as on the Python path
    path32 = tmp_path / "f32.phq"
    phq.writer.write(path32, {"t": (keys[:100], np.ones((100, 3), np.float32))}, quant="f32", layout="dense")
    with phq.open(path32) as model:
        t = model.tables["t"]
        assert t.accelerated and not t[keys[0]].flags.writeable and not t._pure_getitem(keys[0]).flags.writeable


# --- errors ---------------------------------------------------------------------------------
def _rank_corrupt(tmp_path, layout: str) -> tuple[str, list[str]]:
    keys = [f"key{i}" for i in range(300)]
    path = tmp_path / f"ok_{layout}.phq"
    phq.writer.write(path, {"t": (keys, np.arange(300 * 3, dtype=np.float32).reshape(300, 3) % 7)}, layout=layout)
    data = path.read_bytes()
    e = find(data, L.KIND_MPH_RANK)
    bad = edit_section(data, e.index, 0, (0xFFFFFFFF).to_bytes(8, "little"))  # partition 0, first rank entry
    return write_image(tmp_path / f"rank_{layout}.phq", bad), keys


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_corrupt_rank_gives_the_same_error_codes(tmp_path, layout):
    path, keys = _rank_corrupt(tmp_path, layout)
    with phq.open(path) as model:  # open does not read rank entries
        t = model.tables["t"]
        assert t.accelerated
        codes = set()
        for call in (lambda: t[keys[0]], lambda: t.get(keys[0]), lambda: t.slot(keys[0]), lambda: keys[0] in t,
                     lambda: t.raw(keys[0]), lambda: t.lookup(keys[:50]), lambda: t.slots(keys[:50]),
                     lambda: t.lookup_raw(keys[:50])):
            with pytest.raises(phq.FormatError) as info:
                call()
            codes.add(info.value.code)
        assert codes == {"E_RANK"}
        assert_same_answers(t, keys[:40] + ABSENT)
        # the C side's own error maps to the same name (PHQ_E_RANK -> "E_RANK")
        for call in (lambda: t._acc.slot(keys[0]), lambda: t._acc.get(keys[0]),
                     lambda: t._acc.slots(keys[:50], np.empty(50, np.int64)),
                     lambda: t._acc.lookup(keys[:50], np.empty((50, 3), np.float32), np.empty(50, bool))):
            with pytest.raises(phq.FormatError) as info:
                call()
            assert info.value.code == "E_RANK"
    assert _accel.error_name(27) == "E_RANK"  # the shared name table (phq.h order = spec §11 order)
    assert [_accel.error_name(i) for i in range(1, 33)] == list(phq.ERROR_CODES)


# --- switching it off -----------------------------------------------------------------------------
@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "m.phq"
    phq.writer.write(path, {"t": ([f"k{i}" for i in range(50)], np.ones((50, 4), np.float32))})
    return path


def test_phq_pure_turns_it_off(model_path, monkeypatch):
    with phq.open(model_path) as model:
        assert model.tables["t"].accelerated
    for value in ("1", "yes"):
        monkeypatch.setenv("PHQ_PURE", value)
        assert not table_mod.accel_enabled()
        with phq.open(model_path) as model:
            t = model.tables["t"]
            assert not t.accelerated and t.slot("k3") >= 0 and t.lookup(["k3", "x"])[1].tolist() == [True, False]
    monkeypatch.setenv("PHQ_PURE", "0")
    assert table_mod.accel_enabled()


def test_phq_pure_in_a_fresh_process(model_path):
    code = "import phq,json; t=phq.open(%r).tables['t']; print(json.dumps([t.accelerated, t.slot('k3')]))" % str(model_path)
    env = dict(os.environ, PHQ_PURE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    env.pop("PHQ_PURE")
    out2 = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out)[0] is False and json.loads(out2)[0] is True and json.loads(out)[1] == json.loads(out2)[1]


def test_fallback_when_the_module_is_missing(model_path, monkeypatch):
    with phq.open(model_path) as model:
        expect = _outcome(lambda: model.tables["t"].lookup(["k1", "k2", "zz"]))
    monkeypatch.setattr(table_mod, "_accel", None)
    assert not table_mod.accel_enabled()
    with phq.open(model_path) as model:
        t = model.tables["t"]
        assert not t.accelerated
        assert _outcome(lambda: t.lookup(["k1", "k2", "zz"])) == expect
        assert t.get("zz") is None and t["k1"].dtype == np.float32


def test_fallback_when_the_c_open_fails(model_path, monkeypatch):
    """A file the Python reader accepts but the C reader refuses: the table is served by
    Python, and nothing raises differently."""

    class Refusing:
        Fallback = _accel.Fallback

        @staticmethod
        def Model(buf):
            raise phq.FormatError("E_LIMIT", "refused by the C reader")

    monkeypatch.setattr(table_mod, "_accel", Refusing)
    with phq.open(model_path) as model:
        t = model.tables["t"]
        assert not t.accelerated and t["k1"].shape == (4,) and t.get("nope") is None


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.binary(max_size=70), max_size=50), seed=st.integers(0, 2**32 - 1))
def test_compiled_key_hashing_equals_mmh3(keys, seed):
    """phq.hashing.hash_keys: the accelerator's C loop and mmh3 give the same digests
    (every tail length 0..15 of MurmurHash3's blocks, any seed), lists and tuples alike."""
    from phq import hashing

    assert os.environ.get("PHQ_PURE", "") in ("", "0")
    fast = hashing.hash_keys(keys, seed)
    fast_t = hashing.hash_keys(tuple(keys), seed)
    os.environ["PHQ_PURE"] = "1"
    try:
        pure = hashing.hash_keys(keys, seed)
    finally:
        del os.environ["PHQ_PURE"]
    assert fast.shape == pure.shape == (len(keys), 2)
    assert np.array_equal(fast, pure) and np.array_equal(fast_t, pure)
    if keys:
        assert hashing.key_hash(keys[0], seed) == (int(pure[0, 0]), int(pure[0, 1]))
