"""Property-based fuzzing: mutated catalogs, campaign files and image bytes end in a result or in
one of the project's own errors (``PROJECT_ERRORS``), never in anything else, within Hypothesis'
deadline per input (tests/robustness/conftest.py: profiles, and the count of examples run).

Mutations: truncate, flip, insert or delete bytes; drop, rename or retype columns; inject NaN,
inf, huge, negative or text values; reorder, duplicate or remove rows.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gz_evo.checks import check_dependencies, validate_canonical
from gz_evo.images.decode import BadImage, DecodeConfig, decode_image
from gz_evo.readers import read_decals, read_galaxy_datasets, read_huggingface, read_user
from gz_evo.schema import load_campaign
from tests.gz_fixtures import (
    USER_CAMPAIGN,
    write_decals,
    write_galaxy_datasets,
    write_huggingface,
    write_image_catalog,
    write_user,
)
from tests.robustness.conftest import EXAMPLES
from tests.robustness.corpus import PROJECT_ERRORS, fits_bomb, png_bomb

INJECTED = [math.nan, math.inf, -math.inf, 1e300, -5, 10**20, 0.5, "", "x", None, True, "1e3"]


# --- mutation strategies ----------------------------------------------------------------------
@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """1 to 3 byte-level edits of ``data``: truncate, flip, insert, delete, overwrite."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "overwrite"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            data = data[:at]
        elif op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            block = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(block)] = block
    return bytes(data)


def _retype(series: pd.Series, kind: str) -> pd.Series:
    if kind == "text":
        return series.map(lambda v: f"{v} units")
    if kind == "float":
        return pd.to_numeric(series, errors="coerce").astype(float) + 0.25
    if kind == "bool":
        return series.map(bool)
    if kind == "number_text":
        return series.map(str)
    return pd.Series(np.arange(len(series)), index=series.index)  # "int": a row counter


@st.composite
def mutated_frame(draw, frame: pd.DataFrame) -> pd.DataFrame:
    """1 to 3 table-level edits: drop/rename/retype a column, inject a value, reorder,
    duplicate or remove rows."""
    frame = frame.copy()
    ops = ["drop", "rename", "retype", "inject", "inject", "reorder", "duplicate", "empty"]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(ops))
        if not len(frame.columns):
            break
        column = draw(st.sampled_from(list(frame.columns)))
        if op == "drop":
            frame = frame.drop(columns=column)
        elif op == "rename":
            name = draw(st.one_of(st.text(max_size=12), st.sampled_from(list(frame.columns))))
            frame = frame.rename(columns={column: name})
        elif op == "retype":
            kind = draw(st.sampled_from(["text", "float", "bool", "number_text", "int"]))
            frame[column] = _retype(frame[column], kind)
        elif op == "inject" and len(frame):
            row = draw(st.integers(0, len(frame) - 1))
            values = frame[column].astype(object).copy()
            values.iloc[row] = draw(st.sampled_from(INJECTED))
            frame[column] = values
        elif op == "reorder":
            frame = frame.sample(frac=1.0, random_state=draw(st.integers(0, 2**16)))
        elif op == "duplicate" and len(frame):
            row = draw(st.integers(0, len(frame) - 1))
            frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
        elif op == "empty":
            frame = frame.iloc[:0]
    return frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    """CSV as is; parquet with mixed-type columns (which Arrow refuses to store) as text."""
    if path.suffix != ".parquet":
        frame.to_csv(path, index=False)
        return
    arrays = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        try:
            arrays.append(pa.array(values, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            arrays.append(pa.array([None if v is None else str(v) for v in values]))
    names = [str(c) for c in frame.columns]  # repeated names too: parquet can hold them
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)


def _only_project_errors(call: Callable[[], object], name: str) -> object | None:
    """Run ``call``: a result, or a project error (returned as None); anything else fails."""
    EXAMPLES[name] += 1
    try:
        return call()
    except PROJECT_ERRORS:
        return None


def _validate(table: pd.DataFrame | None, campaign: str, campaign_dirs=()) -> None:
    """What ingestion does with a reader's table: the decision-tree check, then the contract."""
    if table is None or not len(table):
        return
    from gz_evo.readers._common import campaign_questions

    schema = campaign_questions(campaign, campaign_dirs)[0]
    kept, _ = _only_project_errors(
        lambda: check_dependencies(table, schema, campaign, 1.0, "fuzz"), "validation"
    ) or (None, None)
    if kept is not None:
        _only_project_errors(
            lambda: validate_canonical(kept, schema.answer_columns, "fuzz"), "validation"
        )


# --- catalogs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import gz_evo.training.user_finetune  # noqa: F401  (torch: imported once, not in a deadline)

    root = tmp_path_factory.mktemp("fuzz_bases")
    decals = write_decals(root / "dr5", n=8)
    user = write_user(root / "user", root / "campaigns", n=8)
    candels = write_galaxy_datasets(root / "candels", n=8)
    hf = write_huggingface(root / "hf", n=8)
    return {
        "decals": decals,
        "decals_frame": pd.read_csv(decals["path"], dtype={"iauname": str}),
        "user": user,
        "user_frame": pd.read_csv(user["path"]),
        "candels": candels,
        "candels_frame": pd.read_parquet(candels["paths"][0]),
        "hf": hf,
        "tasks": write_image_catalog(root / "tasks", n=10, prefix="t", labels=True),
    }


_SCRATCH = Path(tempfile.mkdtemp(prefix="gz_evo_fuzz_"))


@pytest.fixture(scope="module", autouse=True)
def _remove_scratch():
    yield
    shutil.rmtree(_SCRATCH, ignore_errors=True)


def _scratch() -> Path:
    """A fresh folder for one example's files (all removed after the module)."""
    return Path(tempfile.mkdtemp(dir=_SCRATCH))


@given(data=st.data())
def test_decals_csv_bytes(bases: dict, data: st.DataObject) -> None:
    raw = bases["decals"]["path"].read_bytes()
    path = _scratch() / "gz_decals_volunteers_5.csv"
    path.write_bytes(data.draw(mutated_bytes(raw)))
    table = _only_project_errors(lambda: read_decals(path, "dr5"), "decals CSV bytes")
    _validate(table, "dr5")


@given(data=st.data())
def test_decals_csv_tables(bases: dict, data: st.DataObject) -> None:
    frame = data.draw(mutated_frame(bases["decals_frame"]))
    path = _scratch() / "gz_decals_volunteers_5.csv"
    _write(frame, path)
    options = {"image_pattern": "{iauname[:4]}/{iauname}.png", "image_dir": bases["decals"][
        "image_dir"]}  # fmt: skip
    table = _only_project_errors(lambda: read_decals(path, "dr5", **options), "decals CSV tables")
    _validate(table, "dr5")


@given(data=st.data())
def test_user_csv_tables_with_image_paths(bases: dict, data: st.DataObject) -> None:
    frame = data.draw(mutated_frame(bases["user_frame"]))
    folder = bases["user"]["path"].parent
    path = folder / f"fuzz_{data.draw(st.integers(0, 10**9))}.csv"  # beside the images
    _write(frame, path)
    dirs = [bases["user"]["campaign_dir"]]
    try:
        table = _only_project_errors(
            lambda: read_user(path, USER_CAMPAIGN["name"], campaign_dirs=dirs), "user CSV tables"
        )
    finally:
        path.unlink()
    _validate(table, USER_CAMPAIGN["name"], tuple(str(d) for d in dirs))


@given(data=st.data())
def test_galaxy_datasets_parquet_tables(bases: dict, data: st.DataObject) -> None:
    frame = data.draw(mutated_frame(bases["candels_frame"]))
    path = _scratch() / "candels_ortho_train_catalog.parquet"
    _write(frame, path)
    image_dir = bases["candels"]["image_dir"]
    table = _only_project_errors(
        lambda: read_galaxy_datasets(path, "candels", image_dir=image_dir), "parquet tables"
    )
    _validate(table, "candels")


@given(data=st.data())
def test_parquet_bytes(bases: dict, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(["candels", "hf"]))
    raw = bases[source]["paths"][0].read_bytes()
    path = _scratch() / "train-00000-of-00001.parquet"
    path.write_bytes(data.draw(mutated_bytes(raw)))
    if source == "hf":
        table = _only_project_errors(lambda: read_huggingface(path, "dr8"), "parquet bytes")
        _validate(table, "dr8")
    else:
        table = _only_project_errors(lambda: read_galaxy_datasets(path, "candels"), "parquet bytes")
        _validate(table, "candels")


# --- campaign files ---------------------------------------------------------------------------
_YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated_campaign(draw) -> dict:
    campaign = yaml.safe_load(yaml.safe_dump(USER_CAMPAIGN))
    for _ in range(draw(st.integers(1, 3))):
        targets = [campaign]
        questions = campaign.get("questions")
        if isinstance(questions, list):
            targets += [q for q in questions if isinstance(q, dict)]
        target = draw(st.sampled_from(targets))
        key = draw(st.one_of(st.sampled_from(sorted(target) or ["name"]), st.text(max_size=10)))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(_YAML_VALUES)
    return campaign


@given(data=st.data())
def test_campaign_files(data: st.DataObject) -> None:
    folder = _scratch()
    path = folder / f"{USER_CAMPAIGN['name']}.{data.draw(st.sampled_from(['yaml', 'yml']))}"
    if data.draw(st.booleans()):
        text = yaml.safe_dump(data.draw(mutated_campaign()), allow_unicode=True).encode()
    else:
        text = data.draw(mutated_bytes(yaml.safe_dump(USER_CAMPAIGN).encode()))
    path.write_bytes(text)
    _only_project_errors(lambda: load_campaign(USER_CAMPAIGN["name"], [folder]), "campaign YAML")


# --- images -----------------------------------------------------------------------------------
def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    if fmt == "FITS":
        fits.PrimaryHDU(rng.normal(size=(3, 20, 20)).astype(np.float32)).writeto(buffer)
    elif fmt == "FITS1":
        fits.PrimaryHDU(rng.normal(size=(20, 20)).astype(np.float32)).writeto(buffer)
    elif fmt == "RGBA":
        Image.fromarray(np.dstack([pixels, pixels[..., 0]])).save(buffer, format="PNG")
    elif fmt == "GIF":
        Image.fromarray(pixels).convert("P").save(buffer, format="GIF")
    else:
        Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


IMAGES = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "RGBA", "GIF", "TIFF", "BMP", "FITS",
                                         "FITS1")}  # fmt: skip
IMAGES["PNG bomb"] = png_bomb()
IMAGES["FITS bomb"] = fits_bomb()


#: decoding is cheap: the image tests run six times the profile's examples
CHEAP = settings(max_examples=6 * settings.default.max_examples)


@CHEAP
@given(fmt=st.sampled_from(sorted(IMAGES)), data=st.data())
def test_image_bytes(fmt: str, data: st.DataObject) -> None:
    mutated = data.draw(mutated_bytes(IMAGES[fmt]))
    EXAMPLES["image bytes"] += 1
    try:
        pixels = decode_image(mutated, f"galaxy.{fmt.lower()}", DecodeConfig(), draft_size=16)
    except BadImage:
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"SIMPLE  =", b"GIF89a", b"II*\x00", b"BM"]


@CHEAP
@given(data=st.binary(max_size=512), prefix=st.sampled_from(MAGICS))
def test_image_random_bytes(data: bytes, prefix: bytes) -> None:
    EXAMPLES["image random bytes"] += 1
    try:
        decode_image(prefix + data, None, DecodeConfig())
    except BadImage:
        pass


# --- downstream and finetune catalogs ----------------------------------------------------------
@given(data=st.data())
def test_task_and_finetune_catalogs(bases: dict, data: st.DataObject) -> None:
    from gz_evo.training.downstream import DownstreamTask
    from gz_evo.training.user_finetune import FinetuneSettings, labelled_table

    frame = data.draw(mutated_frame(bases["tasks"]["frame"]))
    suffix = data.draw(st.sampled_from([".csv", ".parquet"]))
    path = _scratch() / f"labels{suffix}"
    _write(frame, path)
    label = data.draw(st.sampled_from(["ring", "tidal"]))
    kind = data.draw(st.sampled_from(["binary", "multiclass", "regression"]))
    task = DownstreamTask(
        name="fuzz", catalog=str(path), id_column="id_str", image_column="file_loc", label=label,
        kind=kind, image_root=None, requires=None, val_fraction=0.2, test_fraction=0.2,
    )  # fmt: skip
    _only_project_errors(lambda: task.read_catalog(None), "downstream/finetune catalogs")
    settings = FinetuneSettings.from_params({
        "catalog": str(path), "id_column": "id_str", "image_column": "file_loc", "label": label,
        "kind": kind, "image_root": None, "encoder": "unused", "val_fraction": 0.2,
        "test_fraction": 0.2, "max_bad_fraction": 0.1, "min_labelled": 2,
        "predict_catalog": None, "workdir": "unused", "changes": {},
    })  # fmt: skip
    _only_project_errors(lambda: labelled_table(settings), "downstream/finetune catalogs")
