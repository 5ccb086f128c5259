"""The package builds cleanly: no deprecation warning from the build backend (SPDX ``license``, no license
classifier), and the wheel says its license the modern way. Built from a copy of the project, with the
virtualenv's own setuptools (no build isolation: no download), into a temporary directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_building_the_wheel_prints_no_deprecation_warning(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, project / name)
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    wheels = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    result = subprocess.run(
        [*command, str(project)], capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )
    output = result.stdout + result.stderr

    assert result.returncode == 0, output[-4000:]
    assert not re.findall(r".*deprecat.*", output, flags=re.IGNORECASE), output[-4000:]
    (wheel,) = wheels.glob("wsgi_cassandra-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Classifier: License ::" not in text
