# digestbot: `make run` installs everything and starts it; `make test` installs and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run chat test lint eval bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU torch first (this exact release is a CPU build); an unpinned torch pulls several GB of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# ONNX fp32 + int8 exports of the bundled model (EMBEDDING_BACKEND); not fatal: first use builds them, or torch is used
	HF_HUB_OFFLINE=1 $(BIN)/python -m knowledge.onnx_export build-onnx || true
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/digestbot run

chat: install
	$(BIN)/digestbot chat

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

eval: install
	$(BIN)/digestbot eval --baselines ../shared/eval/dev_questions.jsonl

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data
