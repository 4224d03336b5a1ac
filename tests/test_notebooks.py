"""notebooks/: committed without outputs, and each runs end to end on a tiny `kedro run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_explore_gz_evo.ipynb",
        "02_finetune_your_labels.ipynb",
        "03_read_results.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_with_a_parameters_cell(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    stale = [i for i, cell in enumerate(code) if cell["outputs"] or cell["execution_count"]]
    assert not stale, f"{path.name}: code cells {stale} keep outputs: strip them before committing"
    assert "parameters" in code[0]["metadata"].get("tags", []), "papermill-style parameters cell"
    assert "GZ_EVO_PROJECT" in "".join(code[0]["source"])


@pytest.mark.slow
def test_notebooks_run_end_to_end_on_a_tiny_run(
    project_copy: Path, run_pipelines, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    # 30 downstream galaxies: enough labels for finetune.min_labelled (20) in notebook 02
    run_pipelines("__default__", runtime_params={"demo": {"downstream": {"n": 30}}})
    # the kernels inherit these: the notebooks' parameters cells read them
    monkeypatch.setenv("GZ_EVO_PROJECT", str(project_copy))
    monkeypatch.setenv("GZ_EVO_ENV", "test")
    monkeypatch.setenv("GZ_EVO_NOTEBOOK_EPOCHS", "1")
    printed = {}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )  # fmt: skip
        client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
        printed[path.name] = "".join(
            output.get("text", "") + output.get("data", {}).get("text/plain", "")
            for cell in notebook.cells
            for output in cell.get("outputs", [])
        )
    assert "labelled galaxies" in printed["01_explore_gz_evo.ipynb"]
    assert "'test':" in printed["02_finetune_your_labels.ipynb"]  # the metrics dict
    assert "1 kedro runs" in printed["03_read_results.ipynb"]
    assert "main encoder" in printed["03_read_results.ipynb"]
