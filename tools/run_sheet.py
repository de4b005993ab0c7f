"""The instructor's run-sheet, generated: a 2-hour and a 3-hour plan from the notebooks and the recorded benchmark.

    python tools/benchmark.py && python tools/claims_table.py benchmark.json   # measure, record in docs/
    python tools/run_sheet.py            # regenerate INSTRUCTORS.md's run-sheet and the notebooks' run times
    python tools/run_sheet.py --check    # exit 1 if either is not what the notebooks and docs/ give

For each plan, each notebook and each section (one per ``##`` heading, ``tools/sections.py``):

- **talk**: the words of the markdown shown, at ``WORDS_PER_MINUTE``, plus ``DEMO_SECONDS`` per code cell
  run (pointing at the code and its output);
- **kernel**: the sum of the execution times of the code cells run, on each backbone, from the newest
  recorded run (``docs/benchmark-*.json``) that timed that notebook's cells (``sections`` in its report,
  by cell id, so a section is timed even when cells moved); a cell added since is listed as not timed;
- **start first**: cells run that take ``LONG_SECONDS`` or more on either backbone;
- **skip**: what the plan leaves out (optional sections, ``# extra code`` cells, exercises, notebook 5).

A section's minutes: its long cells run while the presenter talks (the longer of the two counts), the rest
of its kernel time adds to the talk.
The notebooks' ``**Run time**`` lines (marked ``<!-- runtime: NN -->``) are regenerated too, from the
README's figures (``tools/claims_table.py``: the newest run of each notebook that is not marked contended).
``tests/test_run_sheet.py`` checks that both are what this gives and that the 2-hour plan fits.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
import claims_table  # noqa: E402
from sections import EXTRA_CODE, Section, is_start_here, sections  # noqa: E402
from slides import is_hidden_solution  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
INSTRUCTORS = ROOT / "INSTRUCTORS.md"
NOTEBOOKS = ROOT / "notebooks"
BACKBONES = claims_table.BACKBONES  # Inception V3 first, as in the README
WORDS_PER_MINUTE = 130  # a calm presenter reading aloud and explaining
DEMO_SECONDS = 20  # per code cell run: point at the code, then at its output
LONG_SECONDS = 15  # a cell this long (either backbone) is started before talking over it
RUNTIME_LINE = re.compile(r"\*\*Run time\*\*:[^<]*<!-- runtime: (\d\d) -->")


@dataclass(frozen=True)
class Plan:
    name: str
    minutes: int  # what the plan must fit in
    notebooks: tuple[str, ...]
    optional_sections: bool
    extra_code: bool
    exercises: bool
    breaks: int  # minutes of breaks
    from_copies: tuple[str, ...] = ()  # "NN: section title" shown from the presenter copy, not run live


def in_copies(section: Section, plan: Plan, notebook: str) -> bool:
    return f"{notebook}: {section.title}" in plan.from_copies


PLANS = (
    # notebook 4 exports too, so the 2-hour plan shows notebook 3's export from the presenter copy
    Plan("2-hour session", 120, ("01", "02", "03", "04"), optional_sections=False, extra_code=False,
         exercises=False, breaks=5, from_copies=("03: Put it in production",)),
    Plan("3-hour session", 180, ("01", "02", "03", "04", "05"), optional_sections=True, extra_code=True,
         exercises=False, breaks=15),
)


def words(markdown: str) -> int:
    return len(re.sub(r"<!--.*?-->", " ", markdown, flags=re.S).split())


def is_exercise(section: Section) -> bool:
    """Exercises and the end-of-notebook questionnaire: homework, unless the plan has time for them."""
    return section.title.lower().startswith(("exercise", "check your understanding"))


def notebook_paths() -> dict[str, Path]:
    return {path.name[:2]: path for path in sorted(NOTEBOOKS.glob("*.ipynb"))}


def cell_times() -> tuple[dict, dict]:
    """{backbone: {notebook: {cell id: seconds}}} from the newest recorded run that timed each, and those runs."""
    times = {name: {} for name in BACKBONES}
    source = {name: {} for name in BACKBONES}
    for file, run in claims_table.recorded_runs():  # oldest first: a newer run overwrites
        for name, backbone in run["backbones"].items():
            for notebook, report in backbone.get("notebooks", {}).items():
                if "sections" in report:
                    times[name][notebook[:2]] = {cell: s for section in report["sections"]
                                                 for cell, s in section["cells"].items()}
                    source[name][notebook[:2]] = (file, run)
    return times, source


def runs_cells(section: Section, plan: Plan) -> list:
    """The code cells of ``section`` that ``plan`` runs."""
    if not plan_shows(section, plan):
        return []
    return [cell for cell in section.cells if cell.cell_type == "code" and not is_hidden_solution(cell)
            and not is_start_here(cell)
            and (plan.extra_code or not cell.source.lstrip().lower().startswith(EXTRA_CODE))]


def plan_shows(section: Section, plan: Plan) -> bool:
    return (plan.optional_sections or not section.optional) and (plan.exercises or not is_exercise(section))


def shown_words(section: Section, plan: Plan) -> int:
    if not plan_shows(section, plan):
        return 0
    total, in_solution = 0, False
    for cell in section.cells:
        if cell.cell_type == "markdown":
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            in_solution = first.startswith("###") and first.strip("# ").lower() == "solution" or (
                in_solution and not first.startswith("#"))
            if not in_solution:
                total += words(cell.source.split("### Solution")[0])
    return total


def first_line(cell) -> str:
    line = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("%")), "")
    return line if len(line) <= 60 else line[:57] + "..."


def seconds(value: float) -> str:
    return claims_table.seconds(value)


@dataclass
class Row:
    notebook: str
    section: Section
    talk_minutes: float
    kernel: dict  # backbone -> seconds
    long_cells: list  # (cell, {backbone: seconds})
    skipped: str
    untimed: list  # ids of cells run that no recorded run timed


def plan_rows(plan: Plan, times: dict) -> list[Row]:
    rows = []
    for key, path in notebook_paths().items():
        if key not in plan.notebooks:
            continue
        timed = {name: times[name].get(key, {}) for name in BACKBONES}  # {} when no recorded run timed it
        for section in sections(nbformat.read(path, as_version=4)):
            if in_copies(section, plan, key):
                rows.append(Row(key, section, 0.0, {name: 0 for name in BACKBONES}, [],
                                "the whole section (show the presenter copy)", []))
                continue
            cells = runs_cells(section, plan)
            kernel = {name: sum(timed[name].get(cell.id, 0) for cell in cells) for name in BACKBONES}
            untimed = [cell.id for cell in cells if any(cell.id not in timed[name] for name in BACKBONES)]
            long_cells = [(cell, {name: timed[name].get(cell.id, 0) for name in BACKBONES}) for cell in cells
                          if max(timed[name].get(cell.id, 0) for name in BACKBONES) >= LONG_SECONDS]
            skipped = ""
            if not plan_shows(section, plan):
                skipped = "the whole section" + (" (optional)" if section.optional else " (homework)")
            else:
                extra = [c for c in section.cells if c.cell_type == "code" and c not in cells
                         and not is_hidden_solution(c)]
                solutions = [c for c in section.cells if is_hidden_solution(c)]
                parts = [f"{len(extra)} `# extra code` cell{'s' if len(extra) > 1 else ''}"] if extra else []
                parts += ["the solution"] if solutions else []
                skipped = ", ".join(parts)
            talk = shown_words(section, plan) / WORDS_PER_MINUTE + len(cells) * DEMO_SECONDS / 60
            rows.append(Row(key, section, talk, kernel, long_cells, skipped, untimed))
    return rows


def section_minutes(row: Row, backbone: str) -> float:
    """Talk, and the kernel's time: the long cells run while the presenter talks, the rest adds up."""
    long = sum(seconds[backbone] for _, seconds in row.long_cells) / 60
    return max(row.talk_minutes, long) + row.kernel[backbone] / 60 - long


def total_minutes(plan: Plan, rows: list[Row], backbone: str) -> float:
    return sum(section_minutes(row, backbone) for row in rows) + plan.breaks


def minutes(value: float) -> str:
    return f"{value:.1f}"


def render_plan(plan: Plan, times: dict) -> str:
    rows = plan_rows(plan, times)
    totals = {name: total_minutes(plan, rows, name) for name in BACKBONES}
    left_out = [key for key in notebook_paths() if key not in plan.notebooks]
    lines = [f"### {plan.name}: at most {plan.minutes} minutes", "",
             "Total, breaks included (" + f"{plan.breaks} min): "
             + "; ".join(f"**{minutes(totals[name])} min** on {BACKBONES[name]}" for name in BACKBONES)
             + (" (fits)" if max(totals.values()) <= plan.minutes else f" (**over {plan.minutes} min**: skip more)")
             + ". Shows " + ("every section, optional ones included" if plan.optional_sections
                             else "no optional section") + ", " + ("every" if plan.extra_code else "no")
             + " `# extra code` cell, " + ("the exercises (not their solutions)" if plan.exercises
                                           else "no exercise (homework)")
             + "".join(f"; shows {title.split(': ', 1)[1]} (notebook {int(title[:2])}) from the presenter copy"
                       for title in plan.from_copies)
             + (f"; leaves out notebook{'s' if len(left_out) > 1 else ''} "
                + ", ".join(str(int(k)) for k in left_out) + " (optional)" if left_out else "") + "."
             + (f" **{untimed} code cells are not timed** on a backbone (no recorded run has them): the totals leave "
                "them out." if (untimed := sum(len(row.untimed) for row in rows)) else ""), "",
             f"| notebook / section | talk (min) | kernel, {' / '.join(BACKBONES.values())} | start before talking "
             "| skip |", "|---|---|---|---|---|"]
    for key in plan.notebooks:
        nb_rows = [row for row in rows if row.notebook == key]
        talk = sum(row.talk_minutes for row in nb_rows)
        kernel = " / ".join(seconds(sum(row.kernel[name] for row in nb_rows)) for name in BACKBONES)
        lines.append(f"| **notebook {int(key)}** ({notebook_paths()[key].name}) | **{minutes(talk)}** | **{kernel}** | | |")
        for row in nb_rows:
            start = "; ".join(f"`{first_line(cell)}` ({' / '.join(seconds(s[n]) for n in BACKBONES)})"
                              for cell, s in row.long_cells)
            shown = row.skipped.startswith("the whole")
            kernel = "–" if shown else " / ".join(seconds(row.kernel[name]) for name in BACKBONES)
            untimed = f" ({len(row.untimed)} cell{'s' if len(row.untimed) > 1 else ''} not timed yet)" if row.untimed else ""
            lines.append(f"| {row.section.title} | {'–' if shown else minutes(row.talk_minutes)} | {kernel}{untimed} "
                         f"| {start} | {row.skipped} |")
    return "\n".join(lines)


def render(times: dict, source: dict) -> str:
    files = sorted({file for per in source.values() for file, _ in per.values()})
    if not files:
        raise SystemExit("no recorded run in docs/ has section times: run tools/benchmark.py, then "
                         "tools/claims_table.py benchmark.json")
    runs = dict((file, run) for per in source.values() for file, run in per.values())
    head = ["Kernel times from " + ", ".join(
        f"[`docs/{file}`](docs/{file}) ({runs[file]['date'][:10]}, {runs[file]['machine']})" for file in files) + "."]
    for file in files:
        if runs[file].get("note"):
            head.append(f"\n**Note on `{file}`**: {runs[file]['note']}")
    head.append(f"\nTalk: {WORDS_PER_MINUTE} words of markdown a minute, plus {DEMO_SECONDS} s per code cell run. "
                f"Start before talking: cells of {LONG_SECONDS} s or more on either backbone (run the section up "
                "to and including them, then talk while they run). A section takes its talk or its long cells, "
                "whichever is longer, plus its other cells' kernel time; the totals add the sections and the "
                "breaks.")
    return "\n".join(head + [""] + [render_plan(plan, times) + "\n" for plan in PLANS]).rstrip()


# --- the notebooks' run-time lines ----------------------------------------------------------------------

def runtime_line(notebook: str, figures: dict) -> str:
    times = {name: figures[name]["notebooks"][notebook]["kernel_seconds"] for name in BACKBONES}
    return (f"**Run time**: {seconds(times['inception_v3'])} of kernel time with Inception V3, the default backbone, "
            f"{seconds(times['mobilenet_v2'])} with MobileNetV2, top to bottom on a quiet 2-core CPU, longer on a busy "
            f"laptop (the README's table, "
            f"measured by `tools/benchmark.py`; INSTRUCTORS.md gives each section's time). "
            f"<!-- runtime: {notebook} -->")


def notebooks_with_runtimes() -> dict[Path, str]:
    """Each notebook's text with its run-time lines regenerated (only notebooks that change)."""
    figures = claims_table.current(claims_table.recorded_runs())
    changed = {}
    for key, path in notebook_paths().items():
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = RUNTIME_LINE.sub(lambda m: runtime_line(m.group(1), figures), cell.source)
        if nbformat.writes(nb) != before:
            changed[path] = nbformat.writes(nb)
    return changed


def generated(instructors: str) -> str:
    return claims_table.replace_block(instructors, "run-sheet", render(*cell_times()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args()
    text = INSTRUCTORS.read_text()
    stale = [INSTRUCTORS.name] if generated(text) != text else []
    stale += [path.name for path in notebooks_with_runtimes()]
    if args.check:
        if stale:
            print("Not what the recorded runs give (run tools/run_sheet.py):", *stale, sep="\n  ")
        return 1 if stale else 0
    regenerate()
    print("regenerated:", ", ".join(stale) or "nothing changed")
    return 0


def regenerate() -> None:
    """Write INSTRUCTORS.md's run-sheet and the notebooks' run-time lines (``tools/claims_table.py`` calls it too)."""
    INSTRUCTORS.write_text(generated(INSTRUCTORS.read_text()))
    for path, notebook in notebooks_with_runtimes().items():
        path.write_text(notebook + ("" if notebook.endswith("\n") else "\n"))


if __name__ == "__main__":
    sys.exit(main())
