import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Moto  # noqa: E402


@pytest.fixture
def moto(tmp_path):
    server = Moto(tmp_path)
    try:
        yield server
    finally:
        server.stop()
