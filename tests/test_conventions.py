"""The files a course repository is expected to have agree with the project's own settings."""

import ast
import re
from pathlib import Path

import retarget_repository as rr
import yaml
from support import CI_PYTHONS

ROOT = Path(__file__).resolve().parents[1]


def test_licence_file_is_the_mit_licence_pyproject_declares():
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(), re.M)
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Going Deeper contributors" in text
    assert "Permission is hereby granted, free of charge" in text


def test_citation_names_this_release_and_repository():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == rr.configured_ref().removeprefix("v"), "run tools/retarget_repository.py --ref"
    assert citation["repository-code"] == rr.links(rr.configured_repository())["clone"]
    assert citation["license"] == "MIT" and citation["authors"] and citation["title"]


def test_conda_environment_is_the_pip_requirements_on_a_python_ci_tests():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    (python,) = [d for d in dependencies if isinstance(d, str) and d.startswith("python")]
    assert python.removeprefix("python=") in CI_PYTHONS, f"environment.yml: {python} is not a Python CI tests"
    (pip,) = [d["pip"] for d in dependencies if isinstance(d, dict)]
    assert pip == ["-r requirements.txt"], "everything but Python comes from requirements.txt, as in the README"
    assert "pip" in dependencies


def test_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog") and "keepachangelog.com" in text
    versions = re.findall(r"^## \[([^]]+)\]", text, re.M)
    assert versions and versions[0] in ("Unreleased", rr.configured_ref().removeprefix("v"))


def test_contributing_shows_the_readmes_test_command():
    readme, contributing = (ROOT / "README.md").read_text(), (ROOT / "CONTRIBUTING.md").read_text()
    command = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", readme, re.S).group(1)
    assert command in contributing and "CONTRIBUTING.md" in readme


def test_no_test_module_imports_another():
    """What test modules share lives in tests/support.py: importing a test module would collect its tests twice."""
    test_modules = {path.stem for path in (ROOT / "tests").glob("test_*.py")}
    for path in sorted((ROOT / "tests").glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
        assert not imported & test_modules, f"{path.name} imports {imported & test_modules}: move it to support.py"
