# Shared by scripts/stack and scripts/test: install what a fresh Debian 12
# machine with Swift lacks. Idempotent and quiet when everything is there.

hitl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# System libraries the package links (libsqlite3, libcurl) and the tools the
# tests use (python3 for JSON Schema validation, curl for HTTP checks,
# chromium and chromium-driver for the approval page's browser test).
HITL_APT_PACKAGES=(libsqlite3-dev libcurl4-openssl-dev python3 python3-venv curl)
HITL_TEST_APT_PACKAGES=(chromium chromium-driver)

ensure_system_packages() {
  local missing=()
  for package in "${HITL_APT_PACKAGES[@]}" "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
      echo "       run: sudo apt-get install -y ${missing[*]}" >&2
      exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The conformance and contract tests validate documents with Python's
# jsonschema (there is no JSON Schema validator package for Swift here).
# Uses the system python when it has jsonschema >= 4.18, else a .venv.
ensure_python_jsonschema() {
  if python3 -c 'import jsonschema, referencing' >/dev/null 2>&1; then
    export HITL_PYTHON="$(command -v python3)"
    return
  fi
  local venv="$hitl_root/.venv"
  if ! "$venv/bin/python" -c 'import jsonschema, referencing' >/dev/null 2>&1; then
    echo "==> installing Python jsonschema into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'jsonschema>=4.18'
  fi
  export HITL_PYTHON="$venv/bin/python"
}

# The browser test drives headless Chromium with Selenium, always from .venv
# (HITL_PYTHON may be the system python, which lacks it).
ensure_python_selenium() {
  local venv="$hitl_root/.venv"
  if ! "$venv/bin/python" -c 'import selenium, axe_selenium_python' >/dev/null 2>&1; then
    echo "==> installing Python selenium and axe-core (axe-selenium-python) into .venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'selenium>=4.20' 'axe-selenium-python>=2.1'
  fi
  export HITL_BROWSER_PYTHON="$venv/bin/python"
}
