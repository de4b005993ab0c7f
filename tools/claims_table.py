"""The README's table "What the talks claimed, and what this course measures", generated from a benchmark run.

    python tools/benchmark.py --backbone mobilenet_v2          # runs every notebook, writes benchmark.json
    python tools/claims_table.py benchmark.json                # docs/claims.json + the README's table

Every figure in the table is computed and printed by a notebook on the run (``RESULTS`` in
``tools/benchmark.py`` collects it from the notebook's own variables): nothing is typed by hand.
``docs/claims.json`` keeps the figures of the run the README shows; ``tests/test_claims_table.py``
fails when the README's table is not the one those figures give.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from helpers.intervals import accuracy_interval

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLAIMS_JSON = ROOT / "docs" / "claims.json"
BACKBONE = "mobilenet_v2"  # the backbone with real weights on the machines that run the benchmark
START, END = "<!-- claims-table -->", "<!-- /claims-table -->"


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


def readme_block(text: str) -> str:
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    if not match:
        raise SystemExit(f"{README} has no {START} ... {END} block")
    return match.group(1)


def main(benchmark_json: str) -> None:
    run = json.loads(Path(benchmark_json).read_text())
    backbone = run["backbones"][BACKBONE]
    results = {name[:2]: report for name, report in backbone["notebooks"].items()}
    claims = {"date": run["date"][:10], "machine": run["machine"], "backbone_title": "MobileNetV2",
              "results": {nb: results[nb] for nb in ("01", "03", "05")}}
    CLAIMS_JSON.parent.mkdir(exist_ok=True)
    CLAIMS_JSON.write_text(json.dumps(claims, indent=2) + "\n")
    text = README.read_text()
    README.write_text(text.replace(readme_block(text), render(claims)))
    print(render(claims))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmark.json")
