"""Start a notebook at any main section, in a fresh kernel (a kernel that died, someone who joined late).

A section that uses what earlier sections computed opens with one short cell:

    # start here (fresh kernel): rebuilds what this section needs; skip when you ran the cells above
    from helpers.sections import start_here
    start_here("03_transfer_svm_cars.ipynb", "Predict the unlabelled photos")

``start_here`` reads the notebook file, finds the variables the section's code uses that the kernel does
not have, and runs again only the cells above that make them (and the cells those need in turn), their
output hidden and their figures not drawn: no cell it does not need. Photo features come from the feature cache
(``helpers.features.featurize``), so most sections are back in seconds; a model trained above is trained
again. When the kernel already has every variable (you ran the cells above), it does nothing.

It knows a variable is made by a cell that assigns, imports or defines it, or changes it in place
(``model.fit(...)``, ``compile_for_training(model, ...)``, ``base.trainable = False``).
"""

from __future__ import annotations

import ast
import builtins
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SECTION_PREFIX = "## "  # a main section: a markdown cell whose first line is a level-2 heading
LABEL = "# start here (fresh kernel): rebuilds what this section needs; skip when you ran the cells above"
EXTRA_CODE = "# extra code"
_INNER_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_NEVER_CHANGE = {"print", "display"}  # calls that only show their arguments
_ALWAYS_THERE = set(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}


@dataclass
class Cell:
    """One code cell: the section it is in, its source, and the names it reads, binds and changes in place."""

    section: str  # the heading's text without "## "; "" for the cells above the first section (the setup)
    source: str
    reads: set[str] = field(default_factory=set)
    binds: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)


def _python(source: str) -> ast.Module:
    """A cell as Python (IPython's %magics and !shell lines become calls), parsed."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def _names(node, ctx) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _inner_scope_names(node) -> set[str]:
    """Names local to the functions, lambdas, classes and comprehensions inside ``node``: their arguments and assignments."""
    local = set()
    for scope in (n for n in ast.walk(node) if isinstance(n, _INNER_SCOPES)):
        local |= {a.arg for a in ast.walk(scope) if isinstance(a, ast.arg)}
        for inner in ast.iter_child_nodes(scope):
            if not isinstance(inner, ast.arguments):
                local |= _names(inner, ast.Store)
    return local


def _outside_inner_scopes(node):
    """``node`` and what is below it, not entering functions, lambdas, classes and comprehensions (yielded, not entered)."""
    yield node
    if not isinstance(node, _INNER_SCOPES):
        for child in ast.iter_child_nodes(node):
            yield from _outside_inner_scopes(child)


def _top_level_binds(statement) -> set[str]:
    """The names a statement binds in the notebook's namespace (not inside a function or comprehension)."""
    bound = set()
    for node in _outside_inner_scopes(statement):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):  # import ... as ...
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    return bound


def _changed_in_place(statement) -> set[str]:
    """Names a statement may change without assigning them: ``x.fit(...)``, ``f(x, ...)``, ``x.a = ...``, ``x[i] = ...``."""
    changed = set()
    for node in _outside_inner_scopes(statement):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):  # a call whose result is dropped
            func = node.value.func
            if isinstance(func, ast.Name) and func.id in _NEVER_CHANGE:
                continue
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                changed.add(func.value.id)  # x.method(...)
            changed |= {arg.id for arg in node.value.args if isinstance(arg, ast.Name)}  # f(x, ...)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and isinstance(target.value, ast.Name):
                    changed.add(target.value.id)
    return changed


def _scan(statements, cell: Cell) -> None:
    """Add what each statement reads before the cell binds it, binds and changes, in order; into compound statements."""
    for statement in statements:
        parts, bodies = [statement], []
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            parts = [statement.iter]
            cell.reads |= _reads(statement.iter, cell)
            cell.binds |= _top_level_binds(statement.target)
            bodies = [statement.body, statement.orelse]
        elif isinstance(statement, (ast.If, ast.While)):
            parts, bodies = [statement.test], [statement.body, statement.orelse]
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                cell.reads |= _reads(item.context_expr, cell)
                if item.optional_vars is not None:
                    cell.binds |= _top_level_binds(item.optional_vars)
            parts, bodies = [], [statement.body]
        elif isinstance(statement, ast.Try):
            parts, bodies = [], [statement.body, statement.orelse, statement.finalbody]
            for handler in statement.handlers:
                if handler.type is not None:
                    cell.reads |= _reads(handler.type, cell)
                if handler.name:
                    cell.binds.add(handler.name)
                bodies.append(handler.body)
        if not isinstance(statement, (ast.For, ast.AsyncFor)):
            for part in parts:
                cell.reads |= _reads(part, cell)
                cell.changes |= _changed_in_place(part) - _ALWAYS_THERE
                cell.binds |= _top_level_binds(part)
        for body in bodies:
            _scan(body, cell)


def _reads(node, cell: Cell) -> set[str]:
    return _names(node, ast.Load) - _inner_scope_names(node) - cell.binds - _ALWAYS_THERE


def analyse(section: str, source: str) -> Cell:
    """What a cell reads from the notebook's namespace (before binding it), binds in it, and changes in place."""
    cell, tree = Cell(section, source), _python(source)
    _scan(tree.body, cell)
    cell.imports = {(alias.asname or alias.name).split(".")[0]
                    for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    if source.startswith(EXTRA_CODE):
        cell.changes = set()  # by the course's convention, such a cell only draws or goes deeper
    return cell


def notebook_cells(path) -> list[Cell]:
    """The notebook's code cells, in order, each with the main section it belongs to."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    section, cells = "", []
    for raw in notebook["cells"]:
        source = "".join(raw["source"]) if isinstance(raw["source"], list) else raw["source"]
        if raw["cell_type"] == "markdown" and source.startswith(SECTION_PREFIX):
            section = source.splitlines()[0][len(SECTION_PREFIX):].strip()
        elif raw["cell_type"] == "code" and not source.startswith(LABEL):
            cells.append(analyse(section, source))
    imported = set().union(*(c.imports for c in cells))
    for cell in cells:
        cell.changes -= imported  # np.fill_diagonal(x, -1) may change x, not np
    return cells


def find_section(cells: list[Cell], section: str) -> str:
    """The full heading of the section whose heading starts with ``section``."""
    headings = list(dict.fromkeys(c.section for c in cells if c.section.startswith(section)))
    if len(headings) != 1:
        raise ValueError(f"{len(headings)} sections start with {section!r} (headings with code: "
                         f"{sorted(set(c.section for c in cells))})")
    return headings[0]


def needs(cells: list[Cell], section: str) -> set[str]:
    """The names the section's cells read before the section itself binds them: what must exist when it starts."""
    needed, bound = set(), set()
    for cell in (c for c in cells if c.section == section):
        needed |= cell.reads - bound
        bound |= cell.binds
    made_above = set().union(*(c.binds for c in cells[: _first_index(cells, section)]))
    return needed & made_above  # a name no cell above makes is the section's own business (or a builtin)


def _first_index(cells, section):
    return next(i for i, c in enumerate(cells) if c.section == section)


def cells_to_rerun(cells: list[Cell], section: str, defined: set[str]) -> tuple[list[Cell], set[str]]:
    """The cells above ``section`` to run again for what it needs and ``defined`` lacks; and what was missing.

    Walks the cells above upwards: a cell is taken when it binds or changes a name still needed, and then
    what it reads (and the kernel lacks) is needed too.
    """
    missing = needs(cells, section) - defined
    needed, chosen = set(missing), []
    for cell in reversed(cells[: _first_index(cells, section)]):
        if needed & (cell.binds | cell.changes):
            chosen.append(cell)
            needed -= cell.binds - cell.reads
            needed |= cell.reads - defined
    return chosen[::-1], missing


def find_notebook(notebook: str) -> Path:
    """The notebook file: in the current folder (Jupyter runs a notebook from its own), or the course's notebooks/."""
    for candidate in (Path(notebook), Path(__file__).resolve().parents[1] / "notebooks" / notebook):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"start_here needs the notebook file {notebook} beside the kernel (JupyterLab, Binder, a clone of the "
        "course). On Colab, run the cells above instead: Runtime > Run before.")


def start_here(notebook: str, section: str) -> None:
    """Run again, quietly, the cells above ``section`` that make what it needs and the kernel lacks (see the module's doc).

    ``notebook``: the file name, e.g. "03_transfer_svm_cars.ipynb"; ``section``: the start of the section's heading.
    """
    import matplotlib.pyplot as plt
    from IPython import get_ipython
    from IPython.utils.capture import capture_output

    shell = get_ipython()
    cells = notebook_cells(find_notebook(notebook))
    section = find_section(cells, section)
    chosen, missing = cells_to_rerun(cells, section, set(shell.user_ns))
    if not missing:
        return  # you ran the cells above: nothing to do
    print(f"Not in this kernel yet: {', '.join(sorted(missing))}.")
    per_section = Counter(cell.section or "setup" for cell in chosen)
    print(f"Running {len(chosen)} cells above again (their output hidden), from:",
          "; ".join(f"{name} ({count})" for name, count in per_section.items()))
    start = time.perf_counter()
    for cell in chosen:
        with capture_output():
            result = shell.run_cell(cell.source, silent=True)  # silent: no Out[] either
        plt.close("all")  # the figures they drew: not shown
        if not result.success:
            print(f"This cell above failed, run the cells above instead:\n{cell.source}")
            result.raise_error()
    print(f"Ready in {time.perf_counter() - start:.0f} s.")
