# mmreviosa: one-command set-up, demo and tests.
#   make demo   installs into .venv if needed, then trains + evaluates the tiny model on InterShapes
#   make test   installs into .venv if needed, then runs the test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmreviosa-installed
REQS   := requirements/runtime.txt requirements/mminstall.txt requirements/nodeps.txt requirements/tests.txt \
          requirements/deepspeed.txt setup.py

.PHONY: install demo test test-fast bench clean-demo

install: $(STAMP)

$(STAMP): $(REQS) tools/install_env.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install_env.sh
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/run_demo.py --work-dir work_dirs/demo

test: $(STAMP)
	$(PY) -m pytest tests

test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/bench_jf.py
	$(PY) benchmarks/bench_aml.py

clean-demo:
	rm -rf work_dirs/demo data/intershapes_demo
