"""The reporting pipeline on small synthetic outputs: every stage, some stages, none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from kedro.runner import SequentialRunner

from gz_evo.pipelines.pretraining.pipeline import VARIANTS
from gz_evo.pipelines.reporting import create_pipeline
from gz_evo.pipelines.reporting.pipeline import ENCODER_PREFIXES
from tests.conftest import PROJECT_ROOT
from tests.reporting.synthetic import TEST_LOSS, VOTES, catalog, edit_json, remove, write_outputs


def _report(tmp_path: Path) -> str:
    report = tmp_path / "report.html"
    SequentialRunner().run(create_pipeline(), catalog(tmp_path / "data", report))
    return report.read_text()


def _status(html: str) -> dict[str, str]:
    """Section title -> status, from the page's stage table."""
    rows = re.findall(r'<td><a href="#(\w+)">[^<]*</a></td>\s*<td><code>\w+</code></td>\s*'
                      r"<td>([a-z ]+)", html)  # fmt: skip
    return dict(rows)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    write_outputs(tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page from every stage's outputs (rendered once for the tests that only read it)."""
    root = tmp_path_factory.mktemp("full")
    write_outputs(root / "data")
    return _report(root)


def test_every_stage_ran(full_report: str) -> None:
    html = full_report
    assert _status(html) == dict.fromkeys(
        ["composition", "pretraining", "examples", "calibration", "scaling", "downstream"], "ran"
    )
    assert '<div class="notice' not in html  # no section says it is missing something
    # the composition table, the headline metrics, the fits and the downstream table
    assert f"{VOTES:,}" in html and "<td>alpha</td>" in html and "<td>beta</td>" in html
    assert f"{TEST_LOSS:.2f}" in html and f"{TEST_LOSS + 1.111:.2f}" in html
    assert "0.321 [0.250, 0.400]" in html and "0.123 [0.100, 0.150]" in html
    assert "not identifiable" in html and "two points for two" in html
    assert "0.500 [0.400, 0.600]" in html  # the per-question exponents
    assert "+50.0%" in html  # error reduction of the encoder against random_init
    assert "Task real_rings did not run: it needs ../shared/data/rings" in html
    # figures: curves, per campaign, per question, 2 campaigns of examples, calibration,
    # the sweep's PNG, one label-efficiency curve
    assert html.count('<img src="data:image/png;base64,') == 8


def test_stages_missing_are_named_with_the_command_to_run(tmp_path: Path, outputs: Path) -> None:
    remove(outputs, "scaling_points", "scaling_fits", "scaling_figures")
    remove(outputs, "downstream_summary", "downstream_error_reductions")
    remove(outputs, "hybrid.pretraining_metrics", "hybrid.pretraining_history")
    html = _report(tmp_path)
    status = _status(html)
    assert status["scaling"] == status["downstream"] == "not run"
    assert status["pretraining"] == "partial" and status["composition"] == "ran"
    for name in ("scaling_points", "scaling_fits", "downstream_summary"):
        assert f"<code>{name}</code>" in html
    assert "hybrid.pretraining_metrics" in html
    assert "kedro run --pipelines scaling" in html and "kedro run --pipelines downstream" in html
    assert f"{TEST_LOSS:.2f}" in html  # what did run is still there


def test_nothing_ran_still_gives_a_page(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    html = _report(tmp_path)
    assert set(_status(html).values()) == {"not run"}
    assert "<code>gz_evo_summary</code>" in html and "<code>gz_evo_catalog</code>" in html
    assert "<img" not in html


def test_numbers_come_from_the_inputs(tmp_path: Path, outputs: Path, full_report: str) -> None:
    before = _report(tmp_path)
    # deterministic bytes (no timestamps): DVC sees a change only when an input changed
    assert before == full_report
    edit_json(outputs, "pretraining_metrics", lambda m: m.update(test_loss=61.0357))
    edit_json(outputs, "gz_evo_summary", lambda s: s["total"].update(votes=4242424))
    after = _report(tmp_path)
    assert f"{TEST_LOSS:.2f}" in before and f"{TEST_LOSS:.2f}" not in after
    assert "61.04" in after and "4,242,424" in after and f"{VOTES:,}" not in after


def test_the_page_is_self_contained(full_report: str) -> None:
    """Nothing to fetch: figures are data URIs, the style sheet is inline, no scripts."""
    html = full_report
    assert "http://" not in html and "https://" not in html
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "url(" not in html


def test_every_encoder_of_the_pretraining_pipeline_is_reported() -> None:
    assert ENCODER_PREFIXES == ("", *(f"{name}." for name in VARIANTS))


def test_the_report_reads_every_stage_through_optional_entries() -> None:
    """In conf/base/catalog.yml each dataset the pipeline reads loads as None when absent."""
    entries = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    pipeline = create_pipeline()
    read = {n for n in pipeline.inputs() if not n.startswith("params:")}
    for name in sorted(read):
        key = name if name in entries else "{variant}." + name.split(".", 1)[1]
        assert entries[key]["type"] == "gz_evo.datasets.optional.OptionalDataset", name
    assert pipeline.outputs() == {"report_html"}
    assert entries["report_html"]["dataset"]["filepath"] == "data/08_reporting/report.html"
