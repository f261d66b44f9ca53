"""TSV, JSONL and NPZ inputs (spec §13.6)."""

import numpy as np
import pytest

import phq
from phq.writer import read_jsonl, read_npz, read_table_file, read_tsv


def test_tsv_with_escapes_and_empty_key(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_bytes(b"play\t1\t-2\nthe\\tbeatles\t0.5\t0\n\\xff\\xfe\t1e-3\t2\n\t0\t0\r\nback\\\\slash\t1\t1")
    keys, rows = read_tsv(p)
    assert keys == [b"play", b"the\tbeatles", b"\xff\xfe", b"", b"back\\slash"]
    assert rows.shape == (5, 2) and rows[0].tolist() == [1.0, -2.0]


def test_tsv_errors_name_the_line(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("a\t1\t2\nb\t1\n")
    with pytest.raises(phq.UsageError, match=r"bad.tsv:2"):
        read_tsv(p)
    p.write_text("a\tx\n")
    with pytest.raises(phq.UsageError, match=r"bad.tsv:1: a weight is not a number"):
        read_tsv(p)


def test_tsv_dim0_and_empty_file(tmp_path):
    p = tmp_path / "k.tsv"
    p.write_text("alpha\nbeta\n")
    keys, rows = read_tsv(p)
    assert keys == [b"alpha", b"beta"] and rows.shape == (2, 0)
    p.write_text("")
    keys, rows = read_tsv(p)
    assert keys == [] and rows.shape == (0, 0)


def test_jsonl(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"key": "play", "weights": [1, 2]}\n\n{"key_hex": "fffe", "weights": [3, 4]}\n')
    keys, rows = read_jsonl(p)
    assert keys == ["play", b"\xff\xfe"] and rows.tolist() == [[1, 2], [3, 4]]
    p.write_text('{"key": "a", "weights": [1]}\n{"key": "b", "weights": [1, 2]}\n')
    with pytest.raises(phq.UsageError, match="different lengths"):
        read_jsonl(p)
    p.write_text('{"weights": [1]}\n')
    with pytest.raises(phq.UsageError, match=":1:"):
        read_jsonl(p)


def test_npz(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, keys=np.array(["a", "bé"]), weights=np.eye(2))
    keys, rows = read_npz(p)
    assert keys == ["a", "bé"] and rows.tolist() == [[1, 0], [0, 1]]
    np.savez(p, keys=np.array([1, 2]), weights=np.eye(2))
    with pytest.raises(phq.UsageError, match="str or bytes"):
        read_npz(p)
    np.savez(p, weights=np.eye(2))
    with pytest.raises(phq.UsageError, match="missing"):
        read_npz(p)


def test_unknown_extension(tmp_path):
    with pytest.raises(phq.UsageError, match="unknown input type"):
        read_table_file(tmp_path / "x.csv")
