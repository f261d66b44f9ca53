# phq: the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PHQ    := $(VENV)/bin/phq
CKSUM  := $(shell cksum < pyproject.toml | cut -d' ' -f1)
STAMP  := $(VENV)/.installed-$(CKSUM)
DEMO_STAMP := $(VENV)/.demo-installed-$(CKSUM)
SOURCES := pyproject.toml setup.py pyreader/_accel.c pyreader/_accel_nlu.c creader/phq.c creader/phq.h $(wildcard creader/phq_nlu*.c creader/phq_nlu*.h)

FUZZ_SECONDS ?= 60
FUZZ_NLU_SECONDS ?= 30
# The Python suite runs on every core (pytest-xdist); `make test PYTEST_PAR=` runs it in one process.
# loadfile keeps each test file in one worker, in file order (tests/test_corruption.py's last test
# checks what the others produced).
PYTEST_PAR ?= -n auto --dist loadfile

.PHONY: demo test test-py js-deps test-js bench-js bench bench-nlu clinc150 snips snips-quick install creader creader-test fuzz fuzz-py clean

install: $(STAMP)

# A fresh venv with phq (editable) and its test dependencies; redone when pyproject.toml changes,
# or the optional accelerator's sources (setup.py builds phq._accel from them; see README).
# The test extra holds the demo's, so it satisfies `make demo` too.
$(STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* $(VENV)/.demo-installed-* && touch $@ $(DEMO_STAMP)

# The demo's lighter install: phq and the .[demo] extra (scikit-learn, sklearn-crfsuite) only.
$(DEMO_STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	rm -f $(VENV)/.demo-installed-* && touch $@

# The claim on real data (examples/demo/demo.py): train an intent classifier and a slot tagger
# on SNIPS (shipped in examples/snips/data/), convert them into one phq file, compare bytes,
# accuracy, slot F1, load time and first-prediction latency, parse a few utterances, validate.
demo: $(DEMO_STAMP)
	$(PY) examples/demo/demo.py --out build/demo

# Everything: the C reader's build and unit tests (plain and ASan+UBSan), a short libFuzzer
# run of the C reader, then the Python test suite (which also runs the conformance suite
# against the Python and C readers), whose summary line closes the output.
test: $(STAMP) creader-test fuzz js-deps
	PHQ_REQUIRE_BROWSER=1 PHQ_FULL_SUITE=1 $(PY) -m pytest -q $(PYTEST_PAR)

test-py: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_PAR)

# The JavaScript runtime's test tools (js/, tests/test_js.py): Debian's chromium (skipped when a
# chromium is already installed) and puppeteer-core from npm, which never downloads a browser.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)
js-deps: js/node_modules/.package-lock.json
	@test -x $(CHROMIUM) || { echo "chromium missing: apt-get install -y chromium"; \
	  (apt-get install -y chromium || (apt-get update && apt-get install -y chromium)) >/dev/null; }

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "node/npm missing: apt-get install -y nodejs npm"; \
	  (apt-get install -y nodejs npm || (apt-get update && apt-get install -y nodejs npm)) >/dev/null; }
	cd js && PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The JS runtime alone: Node's test runner, then tests/test_js.py (suites, differential, browser).
test-js: $(STAMP) js-deps
	cd js && node --test test/
	PHQ_REQUIRE_BROWSER=1 $(PY) -m pytest -q tests/test_js.py

# The JS runtime in headless Chromium on CLINC150 (bench/bench_js.py -> bench/results/js.json).
bench-js: $(STAMP) js-deps
	$(PY) bench/bench_js.py

creader: $(STAMP)
	$(MAKE) -C creader all asan PY=$(abspath $(PY))

creader-test: $(STAMP)
	$(MAKE) -C creader test PY=$(abspath $(PY))

fuzz: $(STAMP)
	$(MAKE) -C creader fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) PY=$(abspath $(PY))
	$(MAKE) -C creader fuzz-nlu FUZZ_SECONDS=$(FUZZ_NLU_SECONDS) PY=$(abspath $(PY))

# Mutation fuzzing of the Python reader over the golden files (fuzz/README.md); the test
# suite runs a short fixed-seed version.
fuzz-py: $(STAMP)
	$(PY) fuzz/fuzz_py.py --seconds $(FUZZ_SECONDS)

bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(PY) bench/run.py
	$(MAKE) bench-nlu
	$(PY) bench/bench_tagger.py

# NLU runtimes on CLINC150 (bench/bench_nlu.py): scikit-learn, fastText, phq pure / accelerated / C
bench-nlu: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(PY) bench/bench_nlu.py --readme

# The CLINC150 compression-vs-accuracy report (examples/clinc150/README.md): trains the
# models, converts them, writes examples/clinc150/results/ and README.md's report table.
clinc150: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,report]'
	$(PY) examples/clinc150/report.py

# The SNIPS intent + slots report (examples/snips/README.md): a CRF tagger (sklearn-crfsuite)
# and an intent classifier, converted into one phq file; writes examples/snips/results/.
# snips-quick: a subset, for a smoke test (numbers not meaningful).
snips: $(STAMP)
	$(PY) examples/snips/report.py --per-intent

snips-quick: $(STAMP)
	$(PY) examples/snips/report.py --quick --out build/snips-quick

clean:
	rm -rf build .pytest_cache .hypothesis
