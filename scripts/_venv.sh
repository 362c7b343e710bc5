# Sourced by scripts/run and scripts/test: make .venv and install the project's pinned
# dependencies (again only when pyproject.toml changed). EXTRAS selects optional groups.
PYTHON_BIN="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PYTHON_BIN --version)…"
  "$PYTHON_BIN" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  echo "Installing dependencies into .venv (about a minute the first time)…"
  target="."
  [ -n "${EXTRAS:-}" ] && target=".[${EXTRAS}]"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$target"
  rm -f .venv/.installed-* && touch "$stamp"
fi
