"""Schema monitoring tests reuse the end-to-end helpers and fixtures (tests/e2e/conftest.py)."""
import importlib.util
import sys
from pathlib import Path

_E2E = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("e2e_conftest", _E2E)
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# Fixtures, re-exported so pytest finds them here.
built = e2e.built
applied = e2e.applied
