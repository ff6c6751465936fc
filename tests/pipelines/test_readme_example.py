"""README's "Test your own pipeline locally" example runs as written, in a fresh process."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SECTION = "## Test your own pipeline locally"

pytestmark = pytest.mark.timeout(900)


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section holds one example"
    return blocks[0]


def test_readme_local_mode_example_runs_as_written(standin, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(_example())
    # A user's shell: none of the session's local Azure ML settings; the example starts its own.
    env = {k: v for k, v in os.environ.items() if k not in standin.env}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=840)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    predictions = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert len(predictions) == 1 and abs(predictions[0] - 9.0) < 1e-6  # y = 2x + 1 at x = 4
    assert list((tmp_path / "local_outputs").glob("my-pipeline-*/invoke-endpoint/response"))
