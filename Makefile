# Two commands on a fresh machine:
#   make book   set up .venv, fetch the data if missing, build the book into _build/html
#   make test   set up .venv, lint, run the unit tests, then build the whole book with the
#               quick profile, failing on any cell error or Sphinx warning (-W)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install data book test lint format clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/fmnist-edu data download

book: data
	$(BIN)/jupyter-book build book
	@echo "The book is in _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest
	FMNIST_EDU_PROFILE=quick $(BIN)/jupyter-book build book -W

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf _build
