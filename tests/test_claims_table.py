"""The README's claims table is the one the last benchmark run's figures give, and each figure comes from a notebook."""

from __future__ import annotations

import json

import claims_table
from benchmark import RESULTS


def test_the_readme_table_is_generated_from_the_recorded_run():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    assert claims_table.readme_block(claims_table.README.read_text()) == claims_table.render(claims), (
        "README's claims table differs from docs/claims.json: run `python tools/claims_table.py benchmark.json` "
        "after `python tools/benchmark.py`")


def test_every_figure_is_collected_from_a_notebook_run():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    for notebook, figures in claims["results"].items():
        for key in figures:
            if key in ("peak_rss_mb", "kernel_seconds"):
                continue  # measured by the runner itself
            assert f'"{key}"' in RESULTS[notebook], f"notebook {notebook}'s {key} is not collected by tools/benchmark.py"


def test_a_changed_figure_changes_the_table():
    claims = json.loads(claims_table.CLAIMS_JSON.read_text())
    before = claims_table.render(claims)
    claims["results"]["05"]["transfer_val_accuracy"][-1] -= 0.1
    assert claims_table.render(claims) != before
