"""Python and C readers agree: on random files from the Python writer (every quantization
scheme of formats 1.0 and 1.1) they return the same found flags, slots, raw rows and
dequantized rows for present and absent keys, and both pass the conformance suites of 1.0
and 1.1 (plain and ASan builds). The C reader built for format 1.0 only
(build/phq-c-conform-v10) passes the 1.0 suite and answers the 1.1 suite exactly as the
Python reader restricted to 1.0 does: E_FEATURE for every file that uses a 1.1 feature."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import phq.writer
from phq.conformance import runner
from phq.conformance.adapter import answer, parse_probes

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
IN_CI = os.environ.get("CI") == "true"


def c_binary(name: str) -> Path:
    path = BUILD / name
    if not path.exists():
        if shutil.which("gcc") is None and not IN_CI:
            pytest.skip("gcc is not installed")
        target = "asan" if name.endswith("-asan") else "v10" if name.endswith("-v10") else "all"
        subprocess.run(["make", "-s", "-C", str(ROOT / "creader"), target], check=True)
    return path


@pytest.fixture(scope="module")
def c_reader():
    return c_binary("phq-c-conform")


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
@pytest.mark.parametrize("binary", ["phq-c-conform", "phq-c-conform-asan"])
def test_c_reader_passes_the_conformance_suite(binary, version):
    results = runner.run([str(c_binary(binary))], version, timeout=60)
    assert len(results) == len(runner.load_suite(version)[1])
    assert [r.file for r in results if r.status != "PASS"] == []


def test_c_reader_built_for_1_0_reads_1_0_and_refuses_1_1_features():
    binary = [str(c_binary("phq-c-conform-v10"))]
    results = runner.run(binary, "1.0", timeout=60)
    assert [r.file for r in results if r.status != "PASS"] == []
    c = {r.file: r.outcome for r in runner.run(binary, "1.1", timeout=60)}
    py = {r.file: r.outcome for r in runner.run(runner.versioned_reader("1.0"), "1.1")}
    assert c == py
    root, files = runner.load_suite("1.1")
    uses = [f["file"] for f in files if int.from_bytes((root / f["file"]).read_bytes()[16:24], "little") & 3]
    assert len(uses) >= 30 and {c[f] for f in uses} == {"E_FEATURE"}
    assert c["valid/y_future_minor_ignorable_addition.phq"] == "accept"


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
QUANTS = ["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"]


@settings(max_examples=90, deadline=None)
@given(
    keys=st.lists(st.binary(max_size=9), min_size=0, max_size=80, unique=True),
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
def test_python_and_c_answer_identically(tmp_path_factory, c_reader, keys, dim, data, quant, layout,
                                         fingerprint_bits, gamma, partitions, max_levels, seed):
    # codebooks have one codebook per table or per column (spec/format-v1.1.md §3)
    scale = data.draw(st.sampled_from(["table", "column"] + ([] if quant.startswith("codebook") else ["row-block"])))
    rows = data.draw(hnp.arrays(np.float32, (len(keys), dim), elements=st.one_of(finite, st.just(0.0))))
    path = tmp_path_factory.mktemp("agree") / "m.phq"
    phq.writer.write(path, {"t": (keys, rows)}, quant=quant, scale=scale, layout=layout, block_rows=3,
                     fingerprint_bits=fingerprint_bits, gamma=gamma, partitions=partitions,
                     max_levels=max_levels, seed=seed, metadata={"k": len(keys)})
    absent = data.draw(st.lists(st.binary(max_size=9), max_size=30))
    probes = "".join(f"74 {k.hex() or '-'}\n" for k in keys + absent)
    py = answer(path, parse_probes(probes))
    c = subprocess.run([str(c_reader), str(path)], input=probes.encode(), capture_output=True, timeout=30)
    assert c.returncode >= 0, "the C reader crashed"
    assert c.stdout.decode() == py
