"""The ingestion nodes, called directly on fixtures in the real layouts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gz_evo.checks import IngestionError
from gz_evo.datasets.raw import RawCatalogDataset
from gz_evo.pipelines.ingestion.nodes import build_ingestion_report, ingest_campaign
from tests.gz_fixtures import write_decals

SETTINGS = {"reader": "decals", "options": {"image_pattern": "{iauname[:4]}/{iauname}.png"}}


@pytest.fixture
def raw_dr5(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=20)
    dataset = RawCatalogDataset(filepath=str(written["path"]), image_dir=str(written["image_dir"]))
    return written, dataset.load()


def test_ingest_campaign_reads_checks_and_reports(raw_dr5):
    _, raw = raw_dr5
    table, dropped, stats = ingest_campaign(raw, SETTINGS, 0.01, True, [], campaign="dr5")
    assert len(table) == 20 and dropped.empty
    assert stats == {"rows_read": 20, "rows_kept": 20, "rows_dropped": 0}
    assert table["image_path"].notna().all()


def test_rows_breaking_the_tree_are_dropped_into_the_report(raw_dr5):
    written, raw = raw_dr5
    frame = pd.read_csv(written["path"], dtype={"iauname": str})
    frame.loc[4, "bar_strong"] = frame.loc[4, "disk-edge-on_no"] + 5
    frame.loc[4, "bar_total-votes"] = frame.loc[4, ["bar_strong", "bar_weak", "bar_no"]].sum()
    frame.to_csv(written["path"], index=False)
    table, dropped, stats = ingest_campaign(raw, SETTINGS, 0.1, True, [], campaign="dr5")
    assert stats["rows_dropped"] == 1 and written["ids"][4] not in set(table["id_str"])
    assert dropped["id_str"].tolist() == [written["ids"][4]]
    report, summary = build_ingestion_report(["dr5"], dr5_stats=stats, dr5_dropped=dropped)
    assert summary["dr5"]["rows_dropped"] == summary["total"]["rows_dropped"] == 1
    assert report["question"].tolist() == ["bar-dr5"]
    with pytest.raises(IngestionError, match="above the tolerance"):
        ingest_campaign(raw, SETTINGS, 0.0, True, [], campaign="dr5")


def test_disabled_campaign_gives_an_empty_canonical_table(tmp_path: Path):
    raw = RawCatalogDataset(filepath=str(tmp_path / "absent.csv")).load()
    table, _, stats = ingest_campaign(
        raw, {"enabled": False, "reader": "decals"}, 0.01, True, [], campaign="dr8"
    )
    assert len(table) == 0 and "bar-dr8_strong" in table.columns and stats["rows_read"] == 0


def test_unknown_reader_names_the_parameter(raw_dr5):
    _, raw = raw_dr5
    with pytest.raises(ValueError, match=r"ingestion.campaigns.dr5.reader"):
        ingest_campaign(raw, {"reader": "fits"}, 0.01, True, [], campaign="dr5")


def test_raw_dataset_globs_and_never_writes(tmp_path: Path):
    (tmp_path / "data").mkdir()
    for name in ("train-00000-of-00001.parquet", "test-00000-of-00001.parquet"):
        (tmp_path / "data" / name).write_bytes(b"")
    dataset = RawCatalogDataset(filepath=str(tmp_path / "data" / "*.parquet"))
    assert [p.name for p in dataset.load().paths] == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
    ]
    assert dataset.exists()
    with pytest.raises(Exception, match="raw input"):
        dataset.save(pd.DataFrame())


def test_a_failing_source_writes_no_output(raw_dr5, tmp_path: Path):
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline
    from kedro.runner import SequentialRunner

    from gz_evo.datasets import AtomicParquetDataset
    from gz_evo.pipelines.ingestion.pipeline import create_pipeline

    written, raw = raw_dr5
    frame = pd.read_csv(written["path"], dtype={"iauname": str})
    frame.loc[2, "merging_merger"] = -3
    frame.to_csv(written["path"], index=False)
    output = tmp_path / "out" / "dr5_votes.parquet"
    catalog = DataCatalog(
        datasets={
            "raw_dr5": MemoryDataset(raw, copy_mode="assign"),
            "dr5_votes": AtomicParquetDataset(str(output)),
            "params:ingestion.campaigns.dr5": MemoryDataset(SETTINGS),
            "params:ingestion.tolerance": MemoryDataset(0.01),
            "params:ingestion.check_images": MemoryDataset(True),
            "params:campaign_dirs": MemoryDataset([]),
            "params:ingestion.max_memory_gb": MemoryDataset(None),
        }
    )
    node = next(n for n in create_pipeline().nodes if n.name == "ingest_dr5")
    with pytest.raises(IngestionError, match="merging_merger"):
        SequentialRunner().run(Pipeline([node]), catalog)
    assert not output.exists()
    assert not output.parent.exists() or not any(output.parent.iterdir())  # no temp file left


def test_the_report_takes_its_inputs_by_name_in_the_campaigns_order():
    stats = {
        "dr5": {"rows_read": 3, "rows_kept": 2, "rows_dropped": 1},
        "gz2": {"rows_read": 5, "rows_kept": 5, "rows_dropped": 0},
        "dr8": {"rows_read": 4, "rows_kept": 2, "rows_dropped": 2},
    }
    dropped = {
        campaign: pd.DataFrame({"id_str": [f"{campaign}-{i}" for i in range(s["rows_dropped"])]})
        for campaign, s in stats.items()
    }
    results = {}
    for campaign, counts in stats.items():
        results[f"{campaign}_stats"] = counts
        results[f"{campaign}_dropped"] = dropped[campaign]
    campaigns = ["dr8", "dr5", "gz2"]
    table, summary = build_ingestion_report(campaigns, **results)
    again, summary_again = build_ingestion_report(campaigns, **dict(reversed(results.items())))
    assert list(summary) == [*campaigns, "total"] == list(summary_again)
    assert summary == summary_again and summary["dr8"] == stats["dr8"]
    assert summary["total"] == {"rows_read": 12, "rows_kept": 9, "rows_dropped": 3}
    assert table["id_str"].tolist() == ["dr8-0", "dr8-1", "dr5-0"] == again["id_str"].tolist()
    with pytest.raises(ValueError, match=r"missing \['gz2_dropped'\]"):
        build_ingestion_report(
            campaigns, **{k: v for k, v in results.items() if k != "gz2_dropped"}
        )
