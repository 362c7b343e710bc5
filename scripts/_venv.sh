# Sourced by scripts/run and scripts/test (and .ci/run): make .venv and install every dependency
# from the lock file (requirements.lock, or requirements-<EXTRAS>.lock), then the project itself
# with --no-deps, again only when the lock or pyproject.toml changed. ./scripts/lock makes the locks.
PYTHON_BIN="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PYTHON_BIN --version)…"
  "$PYTHON_BIN" -m venv .venv
fi
lock="requirements${EXTRAS:+-$EXTRAS}.lock"
stamp=".venv/.installed-$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)-${EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  echo "Installing dependencies into .venv from $lock (about a minute the first time)…"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps .
  rm -f .venv/.installed-* && touch "$stamp"
fi
