"""Every measured figure the README and docs/benchmarks.md show, generated from recorded benchmark runs.

    python tools/benchmark.py                                  # runs every notebook, writes benchmark.json
    python tools/claims_table.py benchmark.json                # records it in docs/, regenerates the tables
    python tools/claims_table.py                               # only regenerates the tables from docs/

It also regenerates INSTRUCTORS.md's run-sheet and the notebooks' run-time lines (``tools/run_sheet.py``).

Three generated blocks, each between ``<!-- name -->`` and ``<!-- /name -->`` markers:

- the README's claims table (``claims-table``), from ``docs/claims.json``: the key results of a
  MobileNetV2 run with pretrained weights. Every figure is computed and printed by a notebook on
  the run (``RESULTS`` in ``tools/benchmark.py`` collects it from the notebook's own variables);
- the kernel time and peak memory columns of the README's notebooks table (``notebooks-table``),
  for both backbones;
- ``docs/benchmarks.md``'s table and list of runs (``benchmark-table``, ``benchmark-runs``).

The last two come from the runs recorded in ``docs/benchmark-*.json``, each the JSON that
``tools/benchmark.py`` writes (a run of some notebooks only holds those): for each backbone and
notebook, the newest run that measured it, leaving out runs marked ``"contended": true`` (a busy machine:
``tools/benchmark.py --contended``; such a run is listed, and its section times may feed the run-sheet,
``tools/run_sheet.py``, until a quiet run replaces them). A JSON file is the one place a figure lives;
``tests/test_claims_table.py`` fails when a generated block is not what the recorded runs give,
and when prose elsewhere states a figure they do not.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from helpers.intervals import accuracy_interval

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
CLAIMS_JSON = ROOT / "docs" / "claims.json"
BACKBONE = "mobilenet_v2"  # the backbone with real weights on the machines that run the benchmark
START, END = "<!-- claims-table -->", "<!-- /claims-table -->"
BACKBONES = {"inception_v3": "Inception V3", "mobilenet_v2": "MobileNetV2"}  # the README's column order
COURSE = ("01", "02", "03", "04")  # the course proper; notebook 5 is optional
# Targets the benchmark is held to (bounds, not measurements): the tables say whether each is met.
COURSE_SECONDS_TARGET = 240  # notebooks 1-4 on Inception V3
PEAK_GIB_TARGET = 1.8  # Binder's budget, with room (a session gets at most 2 GB)
NOTEBOOK_05_TARGETS = {"inception_v3": 180, "mobilenet_v2": 90}
RATIO_TARGET, WARM_SECONDS_TARGET = 0.8, 1.0


def interval(accuracy: float, n: int) -> str:
    """'96.1% (95% CI 91.7–98.5%)': the accuracy on n photos and its Clopper-Pearson interval."""
    _, low, high = accuracy_interval(round(accuracy * n), n)
    return f"{accuracy:.1%} (95% CI {low:.1%}–{high:.1%})"


def difference(values) -> str:
    value, low, high = values
    return f"{value:+.1%} (95% CI {low:+.1%} to {high:+.1%})"


def rows(measured: dict) -> list[tuple[str, str, str]]:
    """(the talk's claim, what the course measures, where) for each claim, from a run's results."""
    nb1, nb3, nb5 = measured["01"], measured["03"], measured["05"]
    n_val = nb5["n_val"]
    return [
        ("A frozen pretrained network + a new `Dense` head: about **96.5% after 5–6 epochs** (cats vs dogs)",
         f"{interval(nb5['transfer_val_accuracy'][-1], n_val)} after {len(nb5['transfer_val_accuracy'])} epochs, "
         f"ants vs bees, {n_val} validation photos", "notebook 5"),
        ("A network trained from scratch: about **82% after 100 epochs**",
         f"small CNN, {nb5['long_epochs']} epochs: {interval(nb5['long_val_accuracy'], n_val)}; same photos, size "
         f"and epochs ({len(nb5['transfer_val_accuracy'])}): {interval(nb5['scratch_val_accuracy'], n_val)}",
         "notebook 5"),
        ("Data augmentation and fine-tuning help",
         f"augmentation {difference(nb5['augmentation_gain'])}; fine-tuning the top block "
         f"{difference(nb5['fine_tuning_gain'])} (paired, same photos)", "notebook 5"),
        ("**20 photos** are enough for an SVM on the logits",
         f"leave-one-out {interval(nb3['svm_leave_one_out_accuracy'], 20)}; {nb3['test_correct']}/7 on the "
         f"labelled test photos", "notebook 3"),
        ("The SVM takes a **very small training time**", f"{nb3['svm_fit_ms']:.0f} ms to fit on 20 photos", "notebook 3"),
        ("XLA makes TensorFlow graphs faster",
         f"{nb1['xla_speedup']:.1f}× faster than `tf.function` alone on one elementwise function (machine-dependent)",
         "notebook 1"),
    ]


def render(claims: dict) -> str:
    lines = [f"Measured by `tools/benchmark.py` on {claims['backbone_title']} (pretrained weights), {claims['date']}, "
             f"{claims['machine']}:", "",
             "| the talks claimed | this course measures (95% confidence interval) | printed by |", "|---|---|---|"]
    lines += [f"| {claim} | {figure} | {where} |" for claim, figure, where in rows(claims["results"])]
    return "\n".join(lines)


def block(text: str, name: str) -> str:
    """The text between ``<!-- name -->`` and ``<!-- /name -->``."""
    match = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->", text, re.S)
    if not match:
        raise SystemExit(f"no <!-- {name} --> ... <!-- /{name} --> block")
    return match.group(1).removesuffix("\n")


def readme_block(text: str) -> str:
    return block(text, "claims-table")


def replace_block(text: str, name: str, content: str) -> str:
    old = block(text, name)
    return text.replace(f"<!-- {name} -->\n{old}{chr(10) if old else ''}<!-- /{name} -->",
                        f"<!-- {name} -->\n{content}\n<!-- /{name} -->", 1)


# --- the recorded benchmark runs: docs/benchmark-*.json -------------------------------------------

def recorded_runs() -> list[tuple[str, dict]]:
    """(file name, run) of every recorded run, oldest first."""
    runs = [(path.name, json.loads(path.read_text())) for path in (ROOT / "docs").glob("benchmark-*.json")]
    return sorted(runs, key=lambda item: (item[1]["date"], item[0]))


def current(runs: list[tuple[str, dict]]) -> dict:
    """For each backbone: each notebook's report and each whole-run figure, from the newest run that has it."""
    figures = {name: {"notebooks": {}} for name in BACKBONES}
    for file, run in runs:  # oldest first: a newer run overwrites
        if run.get("contended"):
            continue  # its times are inflated: never a table's figure
        for name, backbone in run["backbones"].items():
            for notebook, report in backbone.get("notebooks", {}).items():
                figures[name]["notebooks"][notebook[:2]] = {**report, "run": file, "weights": backbone["weights"]}
            covers_course = set(COURSE) <= {n[:2] for n in backbone.get("notebooks", {})}
            for key in ("course_kernel_seconds", "featurization", "car_features_cache"):
                if key in backbone and (key != "course_kernel_seconds" or covers_course):  # a part is not the course
                    figures[name][key] = backbone[key]
                    figures[name][key + "_run"] = file
    return figures


def seconds(value: float) -> str:
    return f"{value:.0f} s"


def gib(report: dict) -> str:
    return f"{report['peak_rss_mb'] / 1024:.2f}"


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def notebook_cells(figures: dict, notebook: str) -> tuple[str, str]:
    """The README's two columns for one notebook: kernel time and peak memory, Inception V3 / MobileNetV2."""
    reports = [figures[name]["notebooks"][notebook] for name in BACKBONES]
    return (" / ".join(seconds(r["kernel_seconds"]) for r in reports),
            " / ".join(gib(r) for r in reports) + " GiB")


def fill_notebooks_table(table: str, figures: dict) -> str:
    """The README's notebooks table with its last two cells (time, memory) generated, the others kept."""
    lines = []
    for line in table.splitlines():
        row = re.match(r"\| (\d) \|", line)
        if row:
            cells = line.rstrip("|").split(" | ")
            line = " | ".join(cells[:-2] + list(notebook_cells(figures, f"0{row.group(1)}"))) + " |"
        lines.append(line)
    return "\n".join(lines)


def benchmark_table(figures: dict, runs: list[tuple[str, dict]]) -> str:
    """docs/benchmarks.md's table: the newest figures of each backbone, and the targets they are held to."""
    def row(what: str, cell, target: str = "") -> str:
        return f"| {what} | {' | '.join(cell(figures[name]) for name in BACKBONES)} | {target} |"

    def time_memory(n: str):
        return lambda fig: f"{seconds(fig['notebooks'][n]['kernel_seconds'])} / {gib(fig['notebooks'][n])} GiB"

    def peak(fig: dict) -> str:
        n = max(COURSE, key=lambda n: fig["notebooks"][n]["peak_rss_mb"])
        return f"{gib(fig['notebooks'][n])} GiB (notebook {int(n)})"

    def pretrained(notebook: str, cell):
        """Accuracies only from real weights: structural ones cost the same time and memory, but predict nothing."""
        return lambda fig: (cell(fig["notebooks"][notebook]) if fig["notebooks"][notebook]["weights"] == "pretrained"
                            else "not reported")

    def title(name: str) -> str:
        weights = {figures[name]["notebooks"][n]["weights"] == "pretrained" for n in COURSE}
        return BACKBONES[name] + {frozenset({True}): " (pretrained)", frozenset({False}): " (structural weights)"}.get(
            frozenset(weights), " (pretrained and structural weights)")

    inc = figures["inception_v3"]
    fits = [BACKBONES[name] for name in BACKBONES
            if max(figures[name]["notebooks"][n]["peak_rss_mb"] for n in COURSE) / 1024 <= PEAK_GIB_TARGET]
    nb5_target = "; ".join(
        f"≤ {bound} s on {BACKBONES[name]}: {met(figures[name]['notebooks']['05']['kernel_seconds'] <= bound)}"
        for name, bound in NOTEBOOK_05_TARGETS.items())
    files = sorted({fig[key] for fig in figures.values() for key in fig if key.endswith("_run")}
                   | {report["run"] for fig in figures.values() for report in fig["notebooks"].values()})
    dates = dict((file, run["date"][:10]) for file, run in runs)
    titles = " | ".join(title(name) for name in BACKBONES)
    featurization, cache = inc["featurization"], inc["car_features_cache"]
    return "\n".join([
        "From " + ", ".join(f"[`{file}`]({file}) ({dates[file]})" for file in files) + ":", "",
        f"| what | {titles} | target |", "|---|---|---|---|",
        *(row(f"notebook {int(n)}, kernel time / peak memory", time_memory(n)) for n in COURSE),
        row("whole course (notebooks 1–4), kernel time", lambda fig: seconds(fig["course_kernel_seconds"]),
            f"≤ {COURSE_SECONDS_TARGET} s on Inception V3: {met(inc['course_kernel_seconds'] <= COURSE_SECONDS_TARGET)}"),
        row("peak memory of notebooks 1–4", peak, f"≤ {PEAK_GIB_TARGET} GiB: met on {' and '.join(fits) or 'neither'}"),
        row("notebook 5 (optional, measured apart), kernel time / peak memory", time_memory("05"), nb5_target),
        row("featurization, course path (files → logits)",
            lambda fig: f"{fig['featurization']['course_images_per_s']:.1f} images/s"),
        row("featurization, bare model on in-memory tensors",
            lambda fig: f"{fig['featurization']['bare_model_images_per_s']:.1f} images/s"),
        row(f"ratio, same run, batch {featurization['batch_size']} (featurize's), {featurization['images']} photos",
            lambda fig: f"{fig['featurization']['ratio']:.2f}", f"≥ {RATIO_TARGET}"),
        row(f"featurizing the {cache['photos']} car photos, cold cache",
            lambda fig: f"{fig['car_features_cache']['cold_seconds']:.1f} s"),
        row(f"same, warm cache (models built: {max(f['car_features_cache']['warm_models_built'] for f in figures.values())})",
            lambda fig: f"{fig['car_features_cache']['warm_seconds'] * 1000:.0f} ms", f"≤ {WARM_SECONDS_TARGET:.0f} s"),
        row("MNIST linear / DNN: test accuracy",
            lambda fig: " / ".join(f"{r['accuracy']:.4f}" for r in fig["notebooks"]["01"]["mnist"][:2]),
            "≥ 0.91 / ≥ 0.97"),
        row("cars: SVM on logits, leave-one-out accuracy",
            pretrained("03", lambda report: f"{report['svm_leave_one_out_accuracy']:.2f}"), "≥ 0.95"),
        row("cars: Keras head / from scratch / TF Hub, 5-fold validation accuracy",
            pretrained("04", lambda report: " / ".join(f"{report[k + '_kfold_validation_accuracy']:.2f}"
                                                       for k in ("head", "scratch", "tfhub"))), "≥ 0.9 (head, TF Hub)"),
    ])


def runs_table(runs: list[tuple[str, dict]]) -> str:
    """docs/benchmarks.md's list of recorded runs, newest first: what each measured, on what machine."""
    rows = ["| run (its JSON, with notes) | machine | measured | notebooks 1–4, kernel time: Inception V3 / MobileNetV2 |",
            "|---|---|---|---|"]
    for file, run in reversed(runs):
        backbones = run["backbones"]
        course = " / ".join(seconds(backbones[name]["course_kernel_seconds"])
                            if "course_kernel_seconds" in backbones.get(name, {}) else "–" for name in BACKBONES)
        notebooks = sorted({n[:2] for b in backbones.values() for n in b.get("notebooks", {})})
        what = ", ".join(f"{BACKBONES[name]}" for name in BACKBONES if name in backbones)
        numbers = ", ".join(str(int(n)) for n in notebooks)
        what += (f": notebook{'s' if len(notebooks) > 1 else ''} {numbers}" if notebooks else ": the course's total")
        contended = " (contended: its times are in no table)" if run.get("contended") else ""
        rows.append(f"| [{run['date'][:10]}]({file}){contended} | {run['machine']} | {what} | {course} |")
    return "\n".join(rows)


def generated(readme: str, benchmarks: str) -> tuple[str, str]:
    """README and docs/benchmarks.md with every generated block as the recorded figures give it."""
    runs = recorded_runs()
    figures = current(runs)
    claims = json.loads(CLAIMS_JSON.read_text())
    readme = replace_block(readme, "claims-table", render(claims))
    readme = replace_block(readme, "notebooks-table", fill_notebooks_table(block(readme, "notebooks-table"), figures))
    benchmarks = replace_block(benchmarks, "benchmark-table", benchmark_table(figures, runs))
    benchmarks = replace_block(benchmarks, "benchmark-runs", runs_table(runs))
    return readme, benchmarks


def record(benchmark_json: str) -> None:
    """Keep a benchmark run in docs/: as docs/benchmark-<date>.json, and as docs/claims.json when it can give the claims."""
    run = json.loads(Path(benchmark_json).read_text())
    notebooks = sorted({n[:2] for b in run["backbones"].values() for n in b.get("notebooks", {})})
    suffix = "" if set(COURSE) <= set(notebooks) else "-notebook-" + "-".join(notebooks)
    (ROOT / "docs" / f"benchmark-{run['date'][:10]}{suffix}.json").write_text(json.dumps(run, indent=2) + "\n")
    backbone = run["backbones"].get(BACKBONE, {})
    results = {name[:2]: report for name, report in backbone.get("notebooks", {}).items()}
    if backbone.get("weights") == "pretrained" and {"01", "03", "05"} <= set(results) and not run.get("contended"):
        claims = {"date": run["date"][:10], "machine": run["machine"], "backbone_title": "MobileNetV2",
                  "results": {nb: results[nb] for nb in ("01", "03", "05")}}
        CLAIMS_JSON.write_text(json.dumps(claims, indent=2) + "\n")


def main(benchmark_json: str | None) -> None:
    if benchmark_json:
        record(benchmark_json)
    readme, benchmarks = generated(README.read_text(), BENCHMARKS_MD.read_text())
    README.write_text(readme)
    BENCHMARKS_MD.write_text(benchmarks)
    import run_sheet  # INSTRUCTORS.md's run-sheet and the notebooks' run times come from the same runs

    run_sheet.regenerate()
    print(f"regenerated the figures in {README.name}, docs/{BENCHMARKS_MD.name}, INSTRUCTORS.md and the notebooks' "
          "run-time lines")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
