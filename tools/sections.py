"""A notebook's sections, as a presenter sees them: one per ``##`` heading (the title cell starts the first).

Shared by the benchmark (kernel time per section), the run-sheet (``tools/run_sheet.py``) and the
slides (``tools/slides.py``), so all three cut a notebook the same way:

    for section in sections(nb): section.title, section.slug, section.cells
    setup, parts = setup_and_sections(nb)  # the tests that run one section after the setup cells

A heading is the first line of a markdown cell (``# ``, ``## ``, ``### ``). The title cell (``#``) and
what follows it up to the first ``##`` heading make the first section, named by the title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from helpers.sections import EXTRA_CODE, LABEL as START_HERE_LABEL

HEADING = re.compile(r"(#{1,6}) +(.*)")
RUNTIME_MARK = re.compile(r"\s*<!-- runtime: [\w/-]+ -->")
ASIDE = re.compile(r"\s*\*\([^)]*\)\*")  # "*(optional, about 10 s)*": not part of a section's name


def heading(cell) -> tuple[int, str] | None:
    """(level, text) of a markdown cell's heading (its first line), or None. The text loses markers, not asides."""
    if cell.cell_type != "markdown" or not cell.source:
        return None
    match = HEADING.fullmatch(cell.source.splitlines()[0].rstrip())
    return (len(match.group(1)), RUNTIME_MARK.sub("", match.group(2)).strip()) if match else None


def title_of(text: str) -> str:
    """A heading's name: its text without the italic aside in brackets."""
    return ASIDE.sub("", text).strip()


def slug(text: str) -> str:
    """'Graphs: `tf.function` and XLA' -> 'graphs-tf-function-and-xla'."""
    return re.sub(r"[^a-z0-9]+", "-", title_of(text).lower()).strip("-")


def is_optional(text: str) -> bool:
    return "*(optional" in text.lower()


def is_start_here(cell) -> bool:
    """A section's start-here cell (``helpers.sections.start_here``): a no-op after the cells above ran."""
    return cell.cell_type == "code" and cell.source.startswith(START_HERE_LABEL)


def is_extra_code(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().lower().startswith(EXTRA_CODE)


@dataclass
class Section:
    title: str  # the heading's name, without its aside
    heading: str  # the heading's text, aside included
    level: int  # 1 for the title section, 2 otherwise
    cells: list = field(default_factory=list)

    @property
    def slug(self) -> str:
        return slug(self.title)

    @property
    def optional(self) -> bool:
        return is_optional(self.heading)


def sections(nb) -> list[Section]:
    found: list[Section] = []
    for cell in nb.cells:
        head = heading(cell)
        if head and (head[0] <= 2 or not found):
            found.append(Section(title_of(head[1]), head[1], head[0]))
        elif not found:
            found.append(Section("(before the title)", "", 1))
        found[-1].cells.append(cell)
    return found


def notebook_key(name: str) -> str:
    """'05_ants_vs_bees.ipynb' -> '05'."""
    return name[:2]


def setup_and_sections(nb) -> tuple[list, list[Section]]:
    """The setup cells (the title section: all above the first ``##`` heading), and the sections after it."""
    setup, *parts = sections(nb)
    return setup.cells, parts
