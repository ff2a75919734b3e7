# Two commands on a fresh machine:
#   make book   set up .venv, fetch the data if missing, build the book into _build/html
#               (execution cache _build/.jupyter_cache)
#   make test   set up .venv, lint, run the unit tests, then build the whole book with the
#               quick profile, failing on any cell error or Sphinx warning (-W). That book
#               goes to _build/quick/_build/html, with its own execution cache and doctrees
#               under _build/quick/_build, so it never replaces the reader's book in
#               _build/html. (Both share the results store, _build/fmnist_edu_cache, where
#               runs are keyed by their settings, the quick profile's included.) Then, when
#               Debian's Chromium is installed (.ci/run installs it), the phone layout check
#               (`make phone`, on that book, not rebuilt); without Chromium it says SKIPPED;
#               last, every chapter run as a plain notebook outside the build (`make notebooks`).
# And one that needs a browser (not part of `make test`: CI has none unless installed):
#   make a11y   build the quick book as `make test` does, then check every page with axe-core
#               in Debian's Chromium (apt-get install -y chromium) at desktop and phone
#               widths, offline: fails on a serious or critical finding or a network request.
#               Installs tools/a11y's pinned npm packages (axe-core, playwright-core) first.
#   make phone  build the quick book, then open every page at a 390 px phone width, served
#               on 127.0.0.1 with every other request refused (tools/a11y/phone.mjs): fails
#               on figure text under 9 CSS px, a table, output, figure or equation that is
#               cut off or makes the page scroll sideways, or clipped "Next" link text.
#   make widgets  build the quick book, then check its live widgets in Chromium, served on
#               127.0.0.1 (tools/web/checks): in-browser predictions equal PyTorch's, no
#               console error, axe-core (`make widgets-check` checks the book as built and
#               runs in `make test`, or says SKIPPED without Chromium). Both books install
#               the widgets' engine first (npm ci in tools/web) when npm is present.
# And a figure, not a test:
#   make bench  training speed: the sgemm peak, the MLP's and the CNN's images/s and fraction
#               of that peak on the CPU, and on a GPU when present, before and after this
#               round's speed-ups (benchmarks/bench_training.py); then the seeds of one design
#               trained one after the other against batched as one model, with how far each
#               batched seed is from its solo run (benchmarks/bench_batched.py); then a grid's
#               runs in one process at all threads against one worker per core at one thread
#               (benchmarks/bench_grid_workers.py)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QUICK  := _build/quick
A11Y   := tools/a11y
A11Y_STAMP := $(A11Y)/node_modules/.installed
WEB    := tools/web
WEB_STAMP := $(WEB)/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: install data book quick-book test a11y phone phone-check notebooks lint workflows bench format clean \
	web-engine widgets widgets-check

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/fmnist-edu data download

book: data web-engine
	$(BIN)/jupyter-book build book
	@echo "The book is in _build/html/index.html"

quick-book: $(STAMP) web-engine
	FMNIST_EDU_PROFILE=quick $(BIN)/jupyter-book build book -W --path-output $(QUICK)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The GitHub Actions workflows against GitHub's workflow schema (bundled: works offline).
workflows: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_batched.py
	$(BIN)/python benchmarks/bench_grid_workers.py

test: lint workflows
	$(BIN)/python -m pytest
	$(MAKE) quick-book
	$(MAKE) phone-check
	$(MAKE) widgets-check
	$(MAKE) notebooks

# Every chapter as a plain notebook outside the build (Binder, Colab): converted with
# jupytext into a folder outside the checkout and run with the quick profile. After the
# quick book, the results store is warm, so this mostly re-runs the analysis.
notebooks: $(STAMP)
	FMNIST_EDU_PROFILE=quick $(BIN)/python tools/chapters_as_notebooks.py

$(A11Y_STAMP): $(A11Y)/package.json $(A11Y)/package-lock.json
	cd $(A11Y) && npm ci --no-audit --no-fund
	touch $(A11Y_STAMP)

a11y: quick-book $(A11Y_STAMP)
	node $(A11Y)/check.mjs $(QUICK)/_build/html

phone: quick-book
	$(MAKE) phone-check

# The phone check on the quick book as built (no rebuild), or a clear skip without a browser.
phone-check:
	@if [ -x "$(CHROMIUM)" ] && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(A11Y_STAMP) && \
		CHROMIUM="$(CHROMIUM)" node $(A11Y)/phone.mjs $(QUICK)/_build/html; \
	else \
		echo "SKIPPED the phone layout check: no Chromium at $(CHROMIUM) or no npm" \
			"(apt-get install -y chromium nodejs npm; .ci/run installs Chromium)"; \
	fi

# The live widgets' engine (onnxruntime-web, pinned in tools/web's lock file), which the
# book's build copies into the site; without npm the book is built without it and each
# widget says so in one line.
$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

web-engine:
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(WEB_STAMP); \
	else \
		echo "NOTE: no npm, so the book is built without its live widgets' engine" \
			"(install Node 20+ and npm, then npm ci --prefix $(WEB))"; \
	fi

widgets: quick-book
	$(MAKE) widgets-check

# The live widgets in Chromium on the quick book as built (no rebuild), served on
# 127.0.0.1 with every other request refused (tools/web/checks/run.mjs): in-browser
# predictions against PyTorch's, no console error, axe-core; or a clear skip.
widgets-check:
	@if [ -x "$(CHROMIUM)" ] && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(A11Y_STAMP) && \
		CHROMIUM="$(CHROMIUM)" node $(WEB)/checks/run.mjs $(QUICK)/_build/html; \
	else \
		echo "SKIPPED the live widgets' browser check: no Chromium at $(CHROMIUM) or no npm" \
			"(apt-get install -y chromium nodejs npm; .ci/run installs Chromium)"; \
	fi

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf _build
