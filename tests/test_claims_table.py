"""Every measured figure in README.md and docs/benchmarks.md is generated from the runs recorded in docs/*.json."""

from __future__ import annotations

import json
import re

import claims_table
from benchmark import RESULTS


def test_the_readme_table_is_generated_from_the_recorded_run():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    assert claims_table.readme_block(claims_table.README.read_text()) == claims_table.render(claims), (
        "README's claims table differs from docs/claims.json: run `python tools/claims_table.py benchmark.json` "
        "after `python tools/benchmark.py`")


def test_every_figure_is_collected_from_a_notebook_run():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    reports = [(notebook, figures) for notebook, figures in claims["results"].items()]
    for file, run in claims_table.recorded_runs():
        assert {"machine", "date", "backbones"} <= set(run), f"docs/{file} is not what tools/benchmark.py writes"
        for name, backbone in run["backbones"].items():
            assert name in claims_table.BACKBONES and "weights" in backbone, f"docs/{file}: {name}"
            reports += [(notebook[:2], report) for notebook, report in backbone["notebooks"].items()]
    for notebook, figures in reports:
        for key in figures:
            if key in ("peak_rss_mb", "kernel_seconds", "sections"):
                continue  # measured by the runner itself (sections: by tools/benchmark.py, for the run-sheet)
            assert f'"{key}"' in RESULTS[notebook], f"notebook {notebook}'s {key} is not collected by tools/benchmark.py"


def test_a_new_run_is_recorded_and_supersedes_older_figures(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    for file, run in claims_table.recorded_runs():
        (docs / file).write_text(json.dumps(run))
    monkeypatch.setattr(claims_table, "ROOT", tmp_path)
    monkeypatch.setattr(claims_table, "CLAIMS_JSON", docs / "claims.json")
    run = {"machine": "test machine", "date": "2099-01-01T00:00:00", "backbones": {"inception_v3": {
        "weights": "structural", "notebooks": {"05_ants_vs_bees.ipynb": {"peak_rss_mb": 2048, "kernel_seconds": 99.6}}}}}
    (tmp_path / "benchmark.json").write_text(json.dumps(run))
    claims_table.record(str(tmp_path / "benchmark.json"))
    assert (docs / "benchmark-2099-01-01-notebook-05.json").is_file() and not (docs / "claims.json").exists()
    figures = claims_table.current(claims_table.recorded_runs())
    assert claims_table.notebook_cells(figures, "05")[0].startswith("100 s / ")
    assert claims_table.notebook_cells(figures, "05")[1].startswith("2.00 / ")


def test_a_changed_figure_changes_the_table():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    before = claims_table.render(claims)
    claims["results"]["05"]["transfer_val_accuracy"][-1] -= 0.1
    assert claims_table.render(claims) != before


# --- every measured figure in one place: the JSON in docs/ ----------------------------------------

PROSE = [claims_table.README, claims_table.ROOT / "CONTRIBUTING.md", *sorted((claims_table.ROOT / "docs").glob("*.md"))]
GENERATED = ("claims-table", "notebooks-table", "benchmark-table", "benchmark-runs")
# docs/benchmarks.md's one-off measurements (cell by cell, before/after a change): figures benchmark.py does
# not record, kept there only, dated, for the reasoning; the section is left out of the scan.
ONE_OFF = "## Notes from one-off measurements"
# A measured figure: numbers (alone, or listed or ranged: "1.14 / 1.15", "1.3–1.5") and a unit of time or memory.
FIGURE = re.compile(r"((?:\d+(?:\.\d+)?\s?(?:/|–|to|and)\s?)*\d+(?:\.\d+)?)\s?(GiB|ms|s|images/s)(?![\w-])")
# Bounds are targets and limits, not measurements: "under 0.5 GiB", "≤ 240 s", "at most 2 GiB".
BOUND = re.compile(r"(?:under|over|above|below|within|at most|at least|limit of|after|≤|≥|<|>)\s*$")


def figures(text: str) -> set[str]:
    """Every figure in text, one per number, as '1.14 GiB', leaving out bounds."""
    found, bound, end = set(), False, 0
    for match in FIGURE.finditer(text):
        # "under 0.5 GiB and 10 s": a figure joined to a bound by "and" or a comma is a bound too
        joined = bound and re.fullmatch(r",? (?:and )?", text[end : match.start()])
        bound, end = bool(joined or BOUND.search(text[max(0, match.start() - 12) : match.start()])), match.end()
        if bound:
            continue
        found.update(f"{number} {match.group(2)}" for number in re.findall(r"\d+(?:\.\d+)?", match.group(1)))
    return found


def prose(path) -> str:
    """The file's text without its generated blocks and without docs/benchmarks.md's one-off notes."""
    text = path.read_text()
    for name in GENERATED:
        text = re.sub(rf"<!-- {name} -->\n.*?<!-- /{name} -->", "", text, flags=re.S)
    return text.split(ONE_OFF)[0]


def recorded_figures() -> set[str]:
    """What the recorded runs give (the generated blocks), and what helpers/backbones.py declares."""
    readme, benchmarks = claims_table.generated(claims_table.README.read_text(), claims_table.BENCHMARKS_MD.read_text())
    blocks = "\n".join(claims_table.block(text, name) for text, names in
                       ((readme, GENERATED[:2]), (benchmarks, GENERATED[2:])) for name in names)
    # read, not imported: importing helpers.backbones imports Keras
    backbones = (claims_table.ROOT / "helpers" / "backbones.py").read_text()
    declared = {f"{gib} GiB" for gib in re.findall(r"memory_gib=(\d+\.\d+)", backbones)}
    assert declared
    return figures(blocks) | declared


def test_every_generated_block_is_what_the_recorded_runs_give():
    """README's claims table and notebooks table, and docs/benchmarks.md's tables, from docs/*.json."""
    readme, benchmarks = claims_table.README.read_text(), claims_table.BENCHMARKS_MD.read_text()
    expected_readme, expected_benchmarks = claims_table.generated(readme, benchmarks)
    for name, actual, expected in (("README.md", readme, expected_readme),
                                   ("docs/benchmarks.md", benchmarks, expected_benchmarks)):
        assert actual == expected, (
            f"{name}'s generated figures differ from the runs recorded in docs/: run `python tools/claims_table.py` "
            "(after `python tools/benchmark.py`: `python tools/claims_table.py benchmark.json`)")


def test_no_prose_states_a_figure_the_recorded_runs_do_not_give():
    """Outside the generated blocks, a time or memory figure must be one the JSON gives (or a declared bound).

    Kept simple on purpose: every number followed by GiB, s, ms or images/s (ranges and lists
    included) in README.md, CONTRIBUTING.md and docs/*.md, except after a bound word ("under",
    "at most", "≤"...: targets and limits, not measurements), must appear in a generated block or be
    a backbone's declared ``memory_gib``. A stale figure copied into prose, or a new one typed by hand,
    fails here: link to docs/benchmarks.md instead, or add the figure to the JSON and the generator.
    """
    allowed = recorded_figures()
    stray = {f"{path.relative_to(claims_table.ROOT)}: {figure}"
             for path in PROSE for figure in figures(prose(path)) - allowed}
    assert not stray, f"figures not given by the runs recorded in docs/: {sorted(stray)}"


def test_the_scan_finds_figures_and_skips_bounds():
    assert figures("took 243 s and 2.43 GiB; notebooks 1.3–1.5 GiB; 20.3 images/s") == {
        "243 s", "2.43 GiB", "1.3 GiB", "1.5 GiB", "20.3 images/s"}
    assert figures("decodes in under 0.5 GiB and 10 s; ≤ 240 s; at most 2 GiB; 30–40 minutes") == set()
