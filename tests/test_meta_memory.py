"""META checked without a JSON tree (issue 15, item 6; spec §5.2, §17).

Open and validate check the metadata with the accelerator's C validator or the pure
Python token checker (phq.metajson); the tree of Python values is built only when a caller
reads `Model.metadata`. Peak memory is measured in a fresh subprocess (VmHWM less the
process's size before the call, and tracemalloc), with generous structural bounds, never
times. Every check of §5.2 still fires, with E_METADATA, deep inside a huge META, in both
paths; and the pure checker agrees with a reference (json.loads with the old hooks) on
random and mutated texts, at every chunk size.
"""

from __future__ import annotations

import decimal
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

import phq
import phq.diff as D
import phq.metajson as J
import phq.table as T
from phq.cli import main
from phq.errors import FormatError

import worst_cases as W

MiB = 1 << 20
HAS_ACCEL = T._accel is not None and hasattr(T._accel, "json_check")
PATHS = ["pure", pytest.param("accel", marks=pytest.mark.skipif(not HAS_ACCEL, reason="phq._accel is not built"))]


def _env(path: str) -> dict:
    env = dict(os.environ)
    env.pop("PHQ_PURE", None)
    if path == "pure":
        env["PHQ_PURE"] = "1"
    return env


MEASURE = textwrap.dedent("""
    import json, sys, tracemalloc
    import phq, phq.table
    from phq.inspect import describe
    from phq.cli import main
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    op, path = sys.argv[1], sys.argv[2]
    base = hwm()
    tracemalloc.start()
    if op == "validate":
        with phq.validate(path) as m:
            pass
    elif op == "open":
        with phq.open(path) as m:
            names = m.metadata_names()
    elif op == "inspect":
        import io, contextlib
        with contextlib.redirect_stdout(io.StringIO()):
            main(["inspect", path])
    elif op == "diff":
        import phq.diff
        phq.diff.diff(path, sys.argv[3])
    traced = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"rss": hwm() - base, "traced": traced, "parsed": m._metadata is not None if op in ("open", "validate") else None,
                      "accel": phq.table.accel_enabled()}))
""")


def measure(op: str, path: str, *more, mode: str) -> dict:
    r = subprocess.run([sys.executable, "-c", MEASURE, op, str(path), *map(str, more)], capture_output=True, text=True,
                       env=_env(mode), timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def empty_json(tmp_path_factory):
    """~4 MiB of metadata: ~1.4 million empty containers (a tree of them is ~150 MiB)."""
    d = tmp_path_factory.mktemp("meta")
    a = W.empty_containers(d / "a.phq", 4 * MiB)
    b = W.empty_containers(d / "b.phq", 4 * MiB, last="[0]")
    return a, b, os.path.getsize(a)


@pytest.mark.parametrize("mode", PATHS)
def test_open_and_validate_build_no_tree(empty_json, mode):
    a, _, size = empty_json
    for op in ("open", "validate"):
        r = measure(op, a, mode=mode)
        assert r["accel"] == (mode == "accel")
        assert r["parsed"] is False  # the tree was not built
        # the META copy, a blanked copy, the checker's temporaries (chunks): a few times the
        # META plus a constant; RSS adds the file's pages
        assert r["traced"] < 4 * size + 16 * MiB, (op, r)
        assert r["rss"] < 6 * size + 32 * MiB, (op, r)


@pytest.mark.parametrize("mode", PATHS)
def test_inspect_and_diff_of_a_huge_meta_stay_bounded(empty_json, mode):
    a, b, size = empty_json
    bound = dict(traced=4 * size + 16 * MiB, rss=6 * size + 32 * MiB)  # a tree would be ~35 x size
    r = measure("inspect", a, mode=mode)  # the text summary: top-level names, a shallow scan
    assert r["traced"] < bound["traced"] and r["rss"] < bound["rss"], r
    bound = dict(traced=8 * size + 16 * MiB, rss=12 * size + 32 * MiB)  # two files
    r = measure("diff", a, a, mode=mode)  # same bytes: no tree
    assert r["traced"] < bound["traced"] and r["rss"] < bound["rss"], r
    r = measure("diff", a, b, mode=mode)  # different texts over the tree budget: member by member, by text
    assert r["traced"] < bound["traced"] and r["rss"] < bound["rss"], r


def test_metadata_is_parsed_at_first_access(tmp_path):
    path = tmp_path / "m.phq"
    phq.writer.write(path, {}, metadata={"labels": ["a", "b"], "n": 3})
    with phq.open(path) as m:
        assert m._metadata is None and m.metadata_names() == ["labels", "n"] and m._metadata is None
        assert m.metadata == {"labels": ["a", "b"], "n": 3}
        assert m.metadata is m.metadata  # parsed once
        assert m.metadata_names() == ["labels", "n"]
    assert m.metadata["n"] == 3  # still there after close
    phq.writer.write(path, {}, metadata=None)
    with phq.open(path) as m:
        assert m.metadata == {} and m.metadata_names() == [] and m.metadata_bytes is None


# -- every check of §5.2 fires deep inside a huge META, with the same code -----------------------
def _huge(inner: str, nbytes: int = MiB) -> bytes:
    """{"a":[{},[],... inner ...,{},[]]}: the defect in the middle of ~nbytes of containers (8 chunks)."""
    half = ",".join(["{}", "[]"] * (nbytes // 12))
    return ('{"a":[' + half + "," + inner + "," + half + "]}").encode()


DEFECTS = [
    ('{"x":1,"y":{"k":1,"k":2}}', "duplicate key 'k'"),
    ('{"\\u006b":1,"k":2}', "duplicate key 'k'"),
    ('{"\\ud83d\\ude00":1,"\U0001F600":2}', "duplicate key"),
    ("[" * 63 + "]" * 63, "deeper than 64"),  # levels 3..65
    ('{"x":NaN}', "NaN"),
    ('{"x":-Infinity}', "Infinity"),
    ('{"x":01}', "not valid JSON"),
    ('{"x":1.}', "not valid JSON"),
    ('"a\x01b"', "not valid JSON"),
    ('"\\x"', "not valid JSON"),
    ("[1,]", "not valid JSON"),
    ('{"x" 1}', "not valid JSON"),
    ("[1 2]", "not valid JSON"),
    ("{]", "not valid JSON"),
    ("truefalse", "not valid JSON"),
]


@pytest.mark.parametrize("mode", PATHS)
@pytest.mark.parametrize("inner, what", DEFECTS)
def test_every_check_fires_deep_in_a_huge_meta(tmp_path, monkeypatch, mode, inner, what):
    raw = _huge(inner)
    assert len(raw) <= 16 * MiB
    path = tmp_path / "m.phq"
    W.write_sections(path, [W._raw_metadata(raw.decode("utf-8"))])
    if mode == "pure":
        monkeypatch.setenv("PHQ_PURE", "1")
    for fn in (phq.open, phq.validate):
        with pytest.raises(FormatError) as e:
            fn(path)
        assert e.value.code == "E_METADATA" and what in e.value.message, e.value.message
    at = raw.index(inner.encode()) + 128  # the META section starts at 128 (header, one section entry, padding)
    assert at <= e.value.offset <= at + len(inner.encode())  # reported where the defect is
    # and the same text without the defect is valid
    fixed = _huge("[]")
    W.write_sections(path, [W._raw_metadata(fixed.decode())])
    phq.validate(path).close()


@pytest.mark.parametrize("mode", PATHS)
def test_the_other_refusals(tmp_path, monkeypatch, mode):
    if mode == "pure":
        monkeypatch.setenv("PHQ_PURE", "1")
    for raw in [b"", b"   ", b"[1]", b'"s"', b'{"a":1}{}', b'{"a":1} x', b'{"a":"\xff"}', b"\xef\xbb\xbf{}", b'{"a":1',
                b'{"a":"x}', b'{"a":[}', b'{"a":1}}']:
        with pytest.raises(FormatError) as e:
            J.check(raw, 0)
        assert e.value.code == "E_METADATA", raw


# -- the pure checker agrees with a reference parser -----------------------------------------------
def _reference(raw: bytes) -> bool:
    """§5.2 as the reader checked it before (a tree): json.loads with hooks, then the depth."""
    def pairs(items):
        d = dict(items)
        if len(d) != len(items):
            raise ValueError("duplicate")
        return d

    def no_constant(name):
        raise ValueError(name)

    try:
        v = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs, parse_constant=no_constant, parse_int=decimal.Decimal)
    except (ValueError, RecursionError):
        return False
    if not isinstance(v, dict):
        return False

    def depth(x):
        kids = list(x.values()) if isinstance(x, dict) else x if isinstance(x, list) else None
        return 0 if kids is None else 1 + max(map(depth, kids), default=0)

    return depth(v) <= 64


_PIECES = [b"{", b"}", b"[", b"]", b":", b",", b'"', b"\\", b"a", b"1", b"0", b"-", b".", b"e", b"true", b"null", b" ",
           b"\n", b'"a"', b'"b"', b"\\u0061", b"\\ud800", b"\x01", b"\xc3\xa9", b"\xff", b"NaN"]


def _random_json(rnd: random.Random, d: int = 0) -> bytes:
    r = rnd.random()
    if d > 5 or r < 0.3:
        return rnd.choice([b"1", b"-0.5e3", b'"a"', b'"\\u0061"', b'"\\"\\\\"', b"true", b"null", b'""', b'"\xc3\xa9"'])
    if r < 0.6:
        return b"[" + b",".join(_random_json(rnd, d + 1) for _ in range(rnd.randint(0, 4))) + b"]"
    names = [rnd.choice([b'"a"', b'"b"', b'"\\u0061"', b'"c"', b'""', b'"\\ud800"', b'"\xc3\xa9"', b'"\\u00e9"'])
             for _ in range(rnd.randint(0, 3))]
    return b"{" + b",".join(k + b":" + _random_json(rnd, d + 1) for k in names) + b"}"


@pytest.mark.parametrize("seed", range(3))
def test_pure_checker_agrees_with_the_reference(seed, monkeypatch):
    rnd = random.Random(seed)
    for i in range(600):
        monkeypatch.setattr(J, "CHUNK", rnd.choice([1, 2, 3, 5, 8, 64, 1 << 18, 1 << 18]))  # state carried across chunks
        raw = bytearray(b'{"x":' + _random_json(rnd) + b"}" if rnd.random() < 0.9 else _random_json(rnd))
        for _ in range(rnd.choice([0, 0, 1, 2])):
            at = rnd.randint(0, len(raw))
            op = rnd.random()
            if op < 0.4:
                raw[at:at] = rnd.choice(_PIECES)
            elif op < 0.8 and raw:
                del raw[at : at + rnd.randint(1, 3)]
            else:
                raw[at : at + 1] = rnd.choice(_PIECES)
        raw = bytes(raw)
        try:
            J.check_pure(raw, 0)
            ok = True
        except FormatError as e:
            assert e.code == "E_METADATA"
            ok = False
        assert ok == _reference(raw), raw
        if HAS_ACCEL:
            assert (T._accel.json_check(raw) is None) == ok, raw
        if ok:
            assert J.parse(raw) == json.loads(raw)
            assert J.top_level_names(raw) == list(json.loads(raw))


def test_top_level_members_are_the_value_texts():
    raw = b' { "a" : [1, {"x":2}] , "b\\u0041":"s\\"" ,"c":{},"d":-1.5e3 } '
    got = [(name, raw[s:e]) for name, s, e in J.top_level_members(raw)]
    assert got == [("a", b'[1, {"x":2}]'), ("bA", b'"s\\""'), ("c", b"{}"), ("d", b"-1.5e3")]
    assert J.top_level_members(b"{}") == []


# -- inspect and diff: what they show of a huge META ---------------------------------------------
def test_inspect_of_a_huge_meta(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("phq.inspect.INLINE_TREE_BYTES", 100)
    path = tmp_path / "m.phq"
    meta = {"b": [[], {}] * 50, "a": 1e300, "s": "\x1b[2J"}
    phq.writer.write(path, {}, metadata=meta)
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 0
    assert "metadata: a, b, s" in capsys.readouterr().out
    assert main(["inspect", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["metadata"] == meta  # the META text itself, spliced in: the same values
    assert "\x1b" not in out  # still escaped


def test_diff_of_huge_metas_member_by_member(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "META_TREE_COST", 2000)
    a, b = tmp_path / "a.phq", tmp_path / "b.phq"
    big = [[]] * 100  # costs ~6,500 bytes as a tree: over the budget
    phq.writer.write(a, {}, metadata={"big": big, "same": big, "small": [1, 2], "gone": big, "x": 1})
    phq.writer.write(b, {}, metadata={"big": big + [[0]], "same": big, "small": [1, 3], "new": big, "x": 1.0})
    seen = []
    real = J.parse
    monkeypatch.setattr(J, "parse", lambda raw, *k: seen.append(len(raw)) or real(raw, *k))
    report = D.diff(a, b)
    assert max(seen) < 100  # no tree of a big member was built
    got = {(f.item, f.change): f for f in report.findings if f.area == "metadata"}
    assert set(got) == {("$.big", "not_compared"), ("$.gone", "removed"), ("$.new", "added"), ("$.small[1]", "changed")}
    assert got["$.big", "not_compared"].detail == {"path": ["big"], "bytes_a": 301, "bytes_b": 305}
    assert got["$.small[1]", "changed"].a == 2 and got["$.small[1]", "changed"].b == 3
    assert not report.same and "too large to compare value by value" in report.text()
    json.loads(report.to_json())
    # identical texts: equal without any parse
    seen.clear()
    assert D.diff(a, a).same and seen == []
