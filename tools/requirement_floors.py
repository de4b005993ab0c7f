"""The lowest versions ``requirements.txt`` allows, as a pip constraints file.

CI's "declared floors" leg installs the course at exactly these versions, so a floor that
does not really work fails CI instead of a learner's laptop:

    python tools/requirement_floors.py > floors.txt
    pip install -r requirements.txt -c floors.txt
"""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
FLOOR = re.compile(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)")


def requirement_floors(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{package: lowest allowed version}`` for every ``name>=version`` line of ``path``."""
    floors = {}
    for line in path.read_text().splitlines():
        match = FLOOR.match(line.strip())
        if match:
            floors[match.group(1).lower()] = match.group(2)
    return floors


if __name__ == "__main__":
    for name, version in requirement_floors().items():
        print(f"{name}=={version}")
