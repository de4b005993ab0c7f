"""Every claim in the notebooks' markdown is tied to a check that runs, or worded so it claims nothing (issue 24).

No notebook is executed: the test reads each notebook as committed (``clean_notebooks.read_committed``)
and its stored check outputs, which nbval compares on every run (a claim that turns false fails CI).

**The convention** (CONTRIBUTING.md, *Claims*). A measured, numeric, ranking or comparative statement in
markdown is either

(a) tied to a check: ``<!-- claim: some-id -->`` (lowercase words and dashes) in its paragraph or list
    item, and a code cell tagged ``nbval-check-output`` and ``claim:some-id`` that prints one line per
    claim tag, in tag order: ``Check: <the claim in plain words>: True``. A check that only holds with the
    real pretrained weights also carries ``needs-pretrained-weights`` (the Inception V3 run on random
    weights does not compare it), and the paragraph of its claim must then say *pretrained* (e.g. "with
    the pretrained weights, ... (check below)"), so nothing is stated as fact that a random-weight run
    contradicts;
(b) or a question (the sentence ends with ``?``);
(c) or a fact from outside the run: a phrase of ``docs/facts.tsv`` (phrase, tab, its source), such as a
    paper's figure, a date, a dataset's size, a version, or a setting the code fixes (``EPOCHS = 5``).

**What the test flags** in a markdown cell, after taking out what is not prose: fenced code, ``code
spans``, ``$math$`` (worked examples a reader checks by hand), link targets and URLs, HTML tags and
comments, a heading's section number ("# 3. ...") and a list's item numbers ("1. **Build...**"). The rest
is cut into blocks (paragraphs and list items); a block holding a claim marker is tied and not read
further; a line holding a ``<!-- runtime: ... -->`` marker is skipped (its run-time figures are tied to
the benchmark's JSON by the instructor kit's tests). In every other sentence that is not a question:

- **numbers**: digits (``20``, ``1,000``, ``96.5%``, ``3.5x``, ``28×28``, ``2015``) and ratios in words
  (``twice``, ``four times``, ``half``, ``a quarter``), except in cross-references (``notebook 3``,
  ``notebooks 1–4``, ``cell 12``, ``section 8``, ``step 2``);
- **comparative, ranking and absolute words**, the vocabulary of the claims issue 24 found contradicted:
  ``COMPARATIVE`` below (better, beats, smoother, faster, most, best, state of the art, never, always,
  neither, mostly, keeps climbing, agree, reads like, land among, inside the model, easy, overfit...).

A flagged number or word is allowed when a phrase of ``docs/facts.tsv`` covers it. Each finding names
the notebook, the cell (index and id), the sentence and the word, and says the three ways out.

Run ``python tests/test_claims.py`` to list every finding at once.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from clean_notebooks import claim_ids, read_committed  # noqa: E402
from notebook_runner import CHECK_MARK, CHECK_TAG, is_check_cell  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FACTS = ROOT / "docs" / "facts.tsv"
NEEDS_PRETRAINED_WEIGHTS = "needs-pretrained-weights"
MAX_WORDS = 150  # a markdown cell a learner reads in one go

CLAIM_MARKER = re.compile(r"<!--\s*claim:\s*([^\s>]*)\s*-->")
CLAIM_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
RUNTIME_MARKER = "<!-- runtime:"
CHECK_LINE = re.compile(r"Check: \S.*: True")

NUMBER = re.compile(
    r"(?<![\w.])\d+(?:,\d{3}| \d{3}(?!\d))*(?:\.\d+)?½?(?:\s?(?:[–-]|\.\.)\s?\d+(?:\.\d+)?½?)?"  # 20, 1,000, 0.5, 30–45, 0..255
    r"(?:\s?%|[×x]\d+|\s?[x×](?![a-wyz]))?"  # 96.5%, 28×28, 3.5x
    r"|\b(?:twice|half|a quarter|(?:two|three|four|five|six|seven|eight|nine|ten|a hundred|hundred)\s+times)\b",
    re.IGNORECASE)
CROSS_REFERENCE = re.compile(
    r"\b(?:notebooks?|cells?|sections?|steps?|exercises?|rules?)\s+\d+(?:\s*(?:[–-]|,|and|or|to)\s*\d+)*",
    re.IGNORECASE)
COMPARATIVE = re.compile(r"\b(?:" + "|".join([
    # comparatives and rankings
    r"better", r"worse", r"beats?", r"beaten", r"outperforms?", r"smoother", r"bumpier", r"faster", r"slower",
    r"easier", r"harder", r"easy", r"larger", r"smaller", r"bigger", r"higher", r"lower", r"fewer",
    r"(?:far |well )?(?:above|below) (?:training|validation|test|it|the baseline|chance|a coin toss|from scratch)",
    r"most", r"least", r"best", r"worst", r"fastest", r"slowest", r"smallest", r"largest", r"biggest",
    r"state[- ]of[- ]the[- ]art",
    # absolutes and trends
    r"never", r"always", r"neither (?:works?|helps?|does|is|gives?)", r"mostly", r"keeps? (?:climbing|improving|rising|falling|growing)",
    r"overfits?", r"overfitting",
    # what a result or a figure shows, and where a thing is
    r"agrees?", r"agreement", r"disagrees?", r"reads? like", r"lands?", r"land among", r"inside the model",
]) + r")\b", re.IGNORECASE)


@dataclass
class Finding:
    notebook: str
    cell: int
    cell_id: str
    sentence: str
    word: str

    def __str__(self):
        return (f"{self.notebook} cell {self.cell} ({self.cell_id}): {self.word!r} in: {self.sentence!r}\n"
                f"    tie it to a check (<!-- claim: id --> + a check cell tagged claim:id), word it as a question,"
                f" or add the phrase with its source to docs/facts.tsv")


def read_facts(path: Path = FACTS) -> list[str]:
    """The allowed phrases of docs/facts.tsv (phrase, tab, source; # comments); each must give its source."""
    phrases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        phrase, _, source = line.partition("\t")
        assert phrase.strip() and source.strip(), f"docs/facts.tsv line {number}: 'phrase<TAB>source' expected"
        phrases.append(phrase.strip())
    return phrases


def prose(markdown: str) -> str:
    """The cell's text a learner reads as sentences, without code, math, links' targets or markup."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"^.*" + re.escape(RUNTIME_MARKER) + r".*$", " ", text, flags=re.MULTILINE)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.DOTALL)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text only
    text = re.sub(r"\[!\[[^\]]*\]\]", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\*\*|(?<=\S)\*|\*(?=\S)", "", text)  # bold and italics (a list's "* " stays)
    text = re.sub(r"^(#+\s*)\d+\.", r"\1", text, flags=re.MULTILINE)  # "# 3. From logits..."
    text = re.sub(r"^(\s*)\d+\.\s", r"\1- ", text, flags=re.MULTILINE)  # "1. **Build...**"
    text = re.sub(r"^\*\*\d+\.\s", "**", text, flags=re.MULTILINE)  # "**1. Make it square**"
    return text


def blocks(markdown: str) -> list[str]:
    """Paragraphs and list items, each as the raw markdown (markers included)."""
    out = []
    for paragraph in re.split(r"\n\s*\n", re.sub(r"```.*?```", "\n\n", markdown, flags=re.DOTALL)):
        items = re.split(r"\n(?=\s*(?:[-*]|\d+\.)\s)", paragraph)
        out += [item for item in items if item.strip()]
    return out


def sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in re.split(r"(?<=[.!?:;])\s+(?=[A-Z*(\"'])", text) if s.strip()]


def covered(sentence: str, start: int, end: int, phrases: list[str]) -> bool:
    lowered = sentence.lower()
    for phrase in phrases:
        for match in re.finditer(re.escape(phrase.lower()), lowered):
            if match.start() <= start and end <= match.end():
                return True
    return False


def markdown_findings(source: str, phrases: list[str]) -> list[tuple[str, str]]:
    """(sentence, word) for every flagged number or word of one markdown cell (the rule in the docstring)."""
    findings = []
    for block in blocks(source):
        if CLAIM_MARKER.search(block):
            continue
        for sentence in sentences(prose(block)):
            sentence = re.sub(r"^[-*]\s+", "", sentence)
            if sentence.rstrip(" *_)").endswith("?"):
                continue
            references = [m.span() for m in CROSS_REFERENCE.finditer(sentence)]
            for pattern in (NUMBER, COMPARATIVE):
                for match in pattern.finditer(sentence):
                    if any(a <= match.start() and match.end() <= b for a, b in references):
                        continue
                    if not covered(sentence, match.start(), match.end(), phrases):
                        findings.append((sentence, match.group()))
    return findings


def notebook_findings(name: str, nb, phrases: list[str]) -> list[Finding]:
    return [Finding(name, index, cell.get("id", "?"), sentence, word)
            for index, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for sentence, word in markdown_findings(cell.source, phrases)]


def claims_in_markdown(nb) -> dict[str, list[str]]:
    """{claim id: [the markdown blocks that carry its marker]}."""
    claims: dict[str, list[str]] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for block in blocks(cell.source):
                for claim in CLAIM_MARKER.findall(block):
                    claims.setdefault(claim, []).append(block)
    return claims


def check_cells(nb) -> list[tuple[int, object]]:
    return [(index, cell) for index, cell in enumerate(nb.cells) if is_check_cell(cell)]


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def claim_problems(name: str, nb) -> list[str]:
    """Claims without checks, checks without claims, and check cells that do not print one true line per claim."""
    problems = []
    claims = claims_in_markdown(nb)
    checked: dict[str, int] = {}
    for index, cell in check_cells(nb):
        where = f"{name} cell {index} ({cell.get('id', '?')})"
        tags = cell.metadata.get("tags", [])
        ids = claim_ids(cell)
        if CHECK_TAG not in tags:
            problems.append(f"{where}: a check marked by the '{CHECK_MARK}' comment: tag it '{CHECK_TAG}' and "
                            f"'claim:<id>' instead (the learner's code holds no test scaffolding)")
        if any(line.strip() == CHECK_MARK for line in cell.source.splitlines()):
            problems.append(f"{where}: remove the '{CHECK_MARK}' comment line (the tag '{CHECK_TAG}' is the marker)")
        if not ids:
            problems.append(f"{where}: a check cell without a 'claim:<id>' tag: which claim of the markdown does it check?")
        for claim in ids:
            checked[claim] = index
            if not CLAIM_ID.fullmatch(claim):
                problems.append(f"{where}: claim id {claim!r} is not lowercase words and dashes")
            if claim not in claims:
                problems.append(f"{where}: checks claim {claim!r}, but no markdown cell of {name} carries "
                                f"<!-- claim: {claim} -->")
            elif NEEDS_PRETRAINED_WEIGHTS in tags:
                for block in claims[claim]:
                    if "pretrained" not in block.lower() and not prose(block).strip().endswith("?"):
                        problems.append(f"{name}: claim {claim!r} is checked only with the pretrained weights "
                                        f"(cell {index}), but its text states it as fact for any weights; say "
                                        f"'with the pretrained weights, ...': {block.strip()[:160]!r}")
        lines = printed(cell).splitlines()
        if len(lines) != len(ids) or not all(CHECK_LINE.fullmatch(line) for line in lines):
            problems.append(f"{where}: stored output must be one 'Check: <claim in plain words>: True' line per "
                            f"claim tag ({len(ids)}), is:\n{printed(cell)}")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and claim_ids(cell) and not is_check_cell(cell):
            problems.append(f"{name} cell {index}: 'claim:' tags on a cell not tagged '{CHECK_TAG}'")
    for claim in claims:
        if not CLAIM_ID.fullmatch(claim):
            problems.append(f"{name}: <!-- claim: {claim} --> is not lowercase words and dashes")
        elif claim not in checked:
            problems.append(f"{name}: <!-- claim: {claim} --> has no check cell tagged 'claim:{claim}'")
    return problems


def words(markdown: str) -> int:
    """Words a learner reads: without HTML comments (markers) and the Colab badge."""
    text = re.sub(r"<!--.*?-->", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)", " ", text)
    return len(text.split())


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def facts() -> list[str]:
    return read_facts()


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param.name, read_committed(request.param)


def test_every_claim_has_its_check_and_every_check_its_claim(notebook):
    name, nb = notebook
    problems = claim_problems(name, nb)
    assert not problems, "\n".join(problems)


def test_every_number_and_comparison_is_tied_a_question_or_a_fact(notebook, facts):
    name, nb = notebook
    findings = notebook_findings(name, nb, facts)
    assert not findings, f"{len(findings)} untied claim(s):\n" + "\n".join(map(str, findings))


def test_markdown_cells_are_short(notebook):
    name, nb = notebook
    long = [f"{name} cell {i} ({c.get('id', '?')}): {words(c.source)} words" for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and words(c.source) > MAX_WORDS]
    assert not long, f"markdown cells over {MAX_WORDS} words: cut or split them:\n" + "\n".join(long)


def test_every_fact_gives_its_source_and_is_used(facts):
    text = " ".join(re.sub(r"\s+", " ", prose(c.source)).lower() for path in NOTEBOOKS
                    for c in read_committed(path).cells if c.cell_type == "markdown")
    unused = [phrase for phrase in facts if phrase.lower() not in text]
    assert not unused, "phrases of docs/facts.tsv no notebook uses (remove them):\n" + "\n".join(unused)


# The seven claims issue 24 found contradicted by a run, as first written: each must be flagged.
ORIGINAL_CLAIMS = {
    "nb4 recap: augmentation inside the model": (
        "- **Transfer learning in Keras**: a pretrained network without its output layer, frozen, with its "
        "preprocessing\n  and data augmentation inside the model, and a small new **head** on top."),
    "nb4: the two classifiers should mostly agree": (
        "Two classifiers built on the same pretrained network, trained on the same 20 photos, should mostly "
        "agree; a red\ntitle marks a photo where they don't."),
    "nb1: validation above training in the first epochs": (
        "Don't be surprised to see validation above training in the first epochs: the training numbers are "
        "averaged over the epoch, while the model was still\nimproving, and dropout switches off part of the "
        "DNN during training only."),
    "nb2: rebuilding up to layers[-2] does not work in Keras 3": (
        "> **Warning**: older tutorials get the logits (the scores before the softmax) by popping the last layer\n"
        "> (`model.layers.pop()`) or by rebuilding the model up to `model.layers[-2]`. Neither works in Keras 3."),
    "nb4: quantization makes the model four times smaller": (
        "The TFLite file is the smallest: the weights, still as 32-bit floats, and only what inference needs "
        "(the exercise\nmakes it four times smaller)."),
    "nb3: unlabelled photos land among their predicted class": (
        "If the features are good, the classes form two groups without ever being told\nthe labels, and the "
        "unlabelled photos land among the class they were predicted to be."),
    "nb3: the raw-logit explanation reads like the baseline": (
        "Without the scaler, a class counts in proportion to how much its logit\nreally moves, and the "
        "explanation then reads like the baseline, refined."),
}


@pytest.mark.parametrize("sentence", ORIGINAL_CLAIMS.values(), ids=ORIGINAL_CLAIMS.keys())
def test_the_claims_issue_24_found_contradicted_are_flagged(sentence, facts):
    findings = markdown_findings(sentence, facts)
    assert findings, f"not flagged: {sentence!r}"
    tied = markdown_findings(sentence + " <!-- claim: some-claim -->", facts)
    assert not tied, "a claim marker in the paragraph ties it"


def test_a_question_claims_nothing_and_a_runtime_line_is_skipped(facts):
    assert not markdown_findings("Is transfer's curve smoother than from scratch's, or only higher?", facts)
    assert markdown_findings("Transfer's curve is smoother than from scratch's.", facts)
    assert not markdown_findings("## Fine-tuning *(optional, about 15 s)* <!-- runtime: 05 fine_tuning -->", facts)
    assert markdown_findings("## Fine-tuning *(optional, about 15 s)*", facts)
    assert not markdown_findings("As in notebook 4 and notebooks 1–4 (cell 12), `x = 3` and $y = 2x$.", facts)


def test_a_check_and_its_claim_must_match(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Transfer wins. <!-- claim: transfer-wins -->"),
                nbformat.v4.new_code_cell("print('Check: transfer wins:', True)",
                                          metadata={"tags": [CHECK_TAG, "claim:transfer-wins"]})]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Check: transfer wins: True\n")]
    assert not claim_problems("t", nb)
    nb.cells[1].outputs[0].text = "Check: transfer wins: False\n"
    assert any("one 'Check:" in p for p in claim_problems("t", nb)), "a stored False fails"
    nb.cells[1].outputs[0].text = "Check: transfer wins: True\n"
    nb.cells[1].metadata["tags"].append("needs-pretrained-weights")
    assert any("pretrained" in p for p in claim_problems("t", nb)), "stated as fact for random weights"
    nb.cells[0].source = "With the pretrained weights, transfer wins. <!-- claim: transfer-wins -->"
    assert not claim_problems("t", nb)
    nb.cells[0].source = "Transfer wins. <!-- claim: transfer-won -->"
    problems = claim_problems("t", nb)
    assert any("has no check cell" in p for p in problems) and any("no markdown cell" in p for p in problems)
    nb.cells[1].source = "# NBVAL_CHECK_OUTPUT\n" + nb.cells[1].source
    assert any("comment line" in p for p in claim_problems("t", nb))


if __name__ == "__main__":
    phrases = read_facts()
    for path in NOTEBOOKS:
        nb = read_committed(path) if "--committed" in sys.argv else __import__("nbformat").read(path, as_version=4)
        for problem in claim_problems(path.name, nb):
            print(problem)
        for finding in notebook_findings(path.name, nb, phrases):
            print(finding.notebook[:2], finding.cell, finding.cell_id, repr(finding.word), "|", finding.sentence)
        for i, c in enumerate(nb.cells):
            if c.cell_type == "markdown" and words(c.source) > MAX_WORDS:
                print(f"LONG {path.name[:2]} cell {i} ({c.id}): {words(c.source)} words")
