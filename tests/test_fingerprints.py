"""Measured false-positive rate of absent keys on 1M unseen keys is within 2x of 2^-b."""

import numpy as np
import pytest

import phq
import phq.writer


@pytest.fixture(scope="module")
def unseen():
    return [b"unseen|%d" % i for i in range(1_000_000)]


@pytest.mark.parametrize("bits", [8, 16])
def test_false_positive_rate(tmp_path, unseen, bits):
    keys = [b"seen|%d" % i for i in range(50_000)]
    phq.writer.write(tmp_path / "f.phq", {"t": (keys, np.zeros((len(keys), 0)))}, fingerprint_bits=bits, quant="f32")
    t = phq.open(tmp_path / "f.phq").tables["t"]
    assert t.slots(keys).min() >= 0
    rate = float((t.slots(unseen) >= 0).mean())
    expected = 2.0**-bits
    assert expected / 2 <= rate <= expected * 2, (bits, rate, expected)


def test_without_fingerprints_every_unseen_key_lands_somewhere(tmp_path):
    keys = [b"k%d" % i for i in range(1000)]
    phq.writer.write(tmp_path / "n.phq", {"t": (keys, np.ones((1000, 1)))}, fingerprint_bits=0, gamma=1.0)
    t = phq.open(tmp_path / "n.phq").tables["t"]
    found = t.slots([b"u%d" % i for i in range(10000)]) >= 0
    # an unseen key is "found" exactly when it hits a one bit at some level (or the fallback)
    assert 0.5 < found.mean() < 1.0
