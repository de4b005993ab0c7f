"""INSTRUCTORS.md's run-sheet is what the notebooks and the recorded benchmark runs give, and the 2-hour plan fits.

Every section it names is a ``##`` section of its notebook, every kernel time it states is the sum of
the recorded execution times of the cells it runs (``docs/benchmark-*.json``, ``sections`` of a
notebook's report), and the notebooks' run-time lines are the README's figures.
"""

from __future__ import annotations

import re

import claims_table
import nbformat
import run_sheet
from sections import sections

BLOCK = re.compile(r"<!-- run-sheet -->\n(.*?)<!-- /run-sheet -->", re.S)


def sheet() -> str:
    return BLOCK.search(run_sheet.INSTRUCTORS.read_text()).group(1)


def test_the_run_sheet_is_generated_from_the_notebooks_and_the_recorded_runs():
    text = run_sheet.INSTRUCTORS.read_text()
    assert text == run_sheet.generated(text), (
        "INSTRUCTORS.md's run-sheet differs from what the notebooks and docs/benchmark-*.json give: run "
        "`python tools/run_sheet.py` (after `python tools/benchmark.py` and `python tools/claims_table.py benchmark.json`)")


def plans() -> list[tuple[run_sheet.Plan, str]]:
    """(plan, its part of the sheet)."""
    parts = re.split(r"^### ", sheet(), flags=re.M)[1:]
    assert len(parts) == len(run_sheet.PLANS)
    return list(zip(run_sheet.PLANS, parts))


def rows(part: str) -> list[tuple[str, list[str]]]:
    """(notebook key, cells) of each section row of a plan's table."""
    found, notebook = [], None
    for line in part.splitlines():
        if match := re.match(r"\| \*\*notebook (\d)\*\*", line):
            notebook = f"0{match.group(1)}"
        elif line.startswith("| ") and notebook and not line.startswith("|---"):
            found.append((notebook, [cell.strip() for cell in line.strip("|").split(" | ")]))
    return found


def test_every_section_it_names_is_in_the_notebooks():
    titles = {key: [s.title for s in sections(nbformat.read(path, as_version=4))]
              for key, path in run_sheet.notebook_paths().items()}
    for plan, part in plans():
        named = rows(part)
        assert named, plan.name
        for notebook, cells in named:
            assert cells[0] in titles[notebook], f"{plan.name}: notebook {notebook} has no section {cells[0]!r}"
        for notebook in plan.notebooks:  # and every section of every notebook shown, in order
            assert [cells[0] for key, cells in named if key == notebook] == titles[notebook], (plan.name, notebook)


def test_every_kernel_time_is_the_recorded_cells_sum():
    times, _ = run_sheet.cell_times()
    names = list(claims_table.BACKBONES)
    for plan, part in plans():
        for (notebook, cells), row in zip(rows(part), run_sheet.plan_rows(plan, times)):
            if cells[2] == "–":  # a section the plan skips
                assert cells[4].startswith("the whole section"), cells
                continue
            if "not timed" in cells[2]:
                continue  # cells no recorded run timed (added since): said so, and no figure for them
            recorded = [sum(times[name][notebook][cell.id] for cell in run_sheet.runs_cells(row.section, plan))
                        for name in names]
            stated = [float(s) for s in re.findall(r"(\d+) s", cells[2].split("(")[0])]
            assert stated == [round(s) for s in recorded], (plan.name, notebook, cells[0], stated, recorded)
            for cell, per_backbone in row.long_cells:  # "start before talking": each cell's own recorded time
                assert all(per_backbone[name] == times[name][notebook][cell.id] for name in names)


def test_the_2_hour_plan_fits_on_both_backbones():
    times, _ = run_sheet.cell_times()
    plan, part = plans()[0]
    assert plan.minutes == 120
    for name, title in claims_table.BACKBONES.items():
        total = run_sheet.total_minutes(plan, run_sheet.plan_rows(plan, times), name)
        assert total <= plan.minutes, f"the 2-hour plan takes {total:.1f} min on {title}"
        assert f"**{total:.1f} min** on {title}" in part


def test_the_notebooks_run_times_are_the_readmes():
    for key, path in run_sheet.notebook_paths().items():
        first = nbformat.read(path, as_version=4).cells[0].source
        assert len(run_sheet.RUNTIME_LINE.findall(first)) == 1, f"{path.name}: one marked **Run time** line"
    stale = run_sheet.notebooks_with_runtimes()
    assert not stale, f"run `python tools/run_sheet.py`: {[p.name for p in stale]}"
    text = "".join(cell.source for path in run_sheet.notebook_paths().values()
                   for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    assert len(re.findall(r"<!-- runtime: ", text)) == len(run_sheet.notebook_paths()), "a run time in a heading "\
        "is either generated (a marked **Run time** line) or not stated"


def test_the_readme_sends_instructors_to_the_run_sheet():
    readme = claims_table.README.read_text()
    assert "(INSTRUCTORS.md)" in readme and len(readme.splitlines()) <= 130
