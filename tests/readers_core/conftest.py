"""Make the synthetic-layout builders in ``helpers_core.py`` importable (importlib mode has no rootdir path)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
