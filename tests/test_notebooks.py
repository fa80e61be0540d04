"""Source notebooks are thin and stripped; the built book holds every figure and table it promises."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HTML = ROOT / "_build" / "html"
# notebook -> (figures, tables, headings) its rendered page must show at least
EXPECTED = {
    "00_overview": (1, 1, ("The headline, as this build measured it", "How to read the numbers")),
    "01_attacks": (1, 1, ("Triggers", "No defense: ACC and ASR")),
    "02_simclr": (2, 2, ("Figure 1: the self-supervised feature space", "Appendix F")),
    "03_flows": (2, 1, ("The flows as a generative classifier",)),
    "04_detection": (2, 1, ("Figure 2: distributions of the maximum foreign density v",)),
    "05_splitting": (1, 1, ("Scoring, splitting and relabeling",)),
    "06_finetuning": (1, 4, ("Table 1: GSSD against the baselines", "GSSD in detail",
                             "Table 4: what each step contributes", "What the fine-tuning changes")),
    "07_ablations": (1, 3, ("Table 2: poisoning rates", "Table 3: the feature extractor",
                            "Robustness to the hyperparameters")),
    "08_knn_energy": (0, 1, ("Against the kNN and energy cleansing of Wang et al.",)),
    "09_summary": (0, 6, ("Paper-scale runs",)),
}


def test_every_notebook_is_in_the_book_and_the_makefile():
    toc = (ROOT / "_toc.yml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert [nb.stem for nb in NOTEBOOKS] == sorted(EXPECTED)
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in toc and nb.stem in makefile


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_stripped_and_parameterised(path):
    nb = json.loads(path.read_text())
    ids = [c.get("id") for c in nb["cells"]]
    # nbformat 4.5 requires cell ids; papermill warns on every run without them, and a future nbformat refuses
    assert None not in ids and len(set(ids)) == len(ids), "give every cell a unique id"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip the outputs"
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and "profile" in "".join(params[0]["source"])
    assert nb["metadata"]["kernelspec"]["name"] == "gssd"


@pytest.mark.parametrize("own_tags, expected", [(["parameters", "hide-input"], ["hide-input", "injected-parameters"]),
                                                (["parameters"], ["injected-parameters"])])
def test_the_injected_parameters_are_shown_like_the_notebooks_own(tmp_path, own_tags, expected):
    import nbformat

    from gssd_utils.make.injected import match_injected_cell

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'quick'", metadata={"tags": own_tags}),
        nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(profile)", metadata={"tags": ["remove-input"]})])
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    match_injected_cell(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].metadata["tags"] == expected
    assert cells[0].metadata["tags"] == own_tags and cells[2].metadata["tags"] == ["remove-input"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images = self.tables = 0
        self.errors: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class", "") or ""
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        if tag == "img":
            self.images += 1
        elif tag == "table":
            self.tables += 1
        if "traceback" in classes or "output error" in classes:
            self.errors.append(classes)

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip().rstrip("#").strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)
        if "Traceback (most recent call last)" in data or "PapermillExecutionError" in data:
            self.errors.append(data.strip()[:200])


def _require_book() -> None:
    if not HTML.is_dir():
        if os.environ.get("GSSD_REQUIRE_BOOK"):
            pytest.fail("GSSD_REQUIRE_BOOK is set but _build/html does not exist: run `make book` first")
        pytest.skip("the book has not been built (run `make book PROFILE=smoke`)")


@pytest.mark.parametrize(("stem", "expected"), sorted(EXPECTED.items()))
def test_built_page_has_its_figures_and_tables_and_no_errors(stem, expected):
    _require_book()
    page = _Page()
    page.feed((HTML / "book" / f"{stem}.html").read_text())
    figures, tables, headings = expected
    assert page.images >= figures, f"{stem}: {page.images} images, expected {figures}"
    assert page.tables >= tables, f"{stem}: {page.tables} tables, expected {tables}"
    for heading in headings:
        assert any(heading in h for h in page.headings), f"{stem}: no section {heading!r} in {page.headings}"
    assert not page.errors, f"{stem}: errored cells: {page.errors}"


def test_book_tables_show_two_decimals_dashes_and_words_for_flags():
    import pandas as pd

    from gssd_utils.experiments.book import styled

    table = pd.DataFrame({"ACC": [99.444, None], "ACC paper": [94.9, 93.0], "target detected": [True, False],
                          "best ACC - ASR": [True, False]})
    html = styled(table).to_html()
    assert "99.44<" in html and "99.440000" not in html and "—" in html
    assert ">yes<" in html and ">no<" in html and ">best<" in html
    assert "font-style: italic" in html  # the paper's column is marked
