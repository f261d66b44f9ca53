# phq: the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PHQ    := $(VENV)/bin/phq
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
DEMO   := examples/demo

.PHONY: demo test bench install clean

install: $(STAMP)

# A fresh venv with phq (editable) and its test dependencies; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# Build the shipped sample model, inspect it, look features up (one unseen), validate it.
demo: $(STAMP)
	mkdir -p build
	$(PHQ) build $(DEMO)/features.tsv -o build/demo.phq --metadata $(DEMO)/metadata.json --tensor bias=$(DEMO)/bias.txt
	$(PHQ) inspect build/demo.phq
	$(PHQ) lookup build/demo.phq "w=play" "w=the beatles" "w=play|w+1=the" "w=rain" "w=an unseen feature"
	$(PHQ) validate build/demo.phq

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(PY) bench/run.py

clean:
	rm -rf build .pytest_cache .hypothesis
