"""Write simulated campaigns in the layouts Galaxy Zoo catalogs are published in (FORMATS.md).

Each writer returns ``{relative path: content}`` for one folder of ``data/01_raw/demo/``, where
content is ``bytes`` (an encoded image), a pandas ``DataFrame`` (written as CSV or parquet by its
extension) or a ``pyarrow.Table`` (parquet, schema and metadata kept). Columns that readers must
ignore are written too (fractions, debiased fractions, GZ2 weights and flags, metadata), so the
demo exercises the same readers real downloads go through.

Simplified: debiased fractions are the fractions nudged toward featured, GZ2 weights equal
counts, and metadata columns (redshift, magnitudes, Petrosian radii) are plausible numbers derived
from the latent truth, not measurements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gz_evo.schema import Schema
from gz_evo.simulate.volunteers import campaign_suffix

Files = dict[str, object]

# Hart et al. 2016 answer stems in file order, with the modern gz2 (question, answer) they map to;
# None for task t08 (odd feature), which galaxy-datasets drops but the release carries.
HART16_STEMS: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("t01_smooth_or_features_a01_smooth", ("smooth-or-featured", "smooth")),
    ("t01_smooth_or_features_a02_features_or_disk", ("smooth-or-featured", "featured-or-disk")),
    ("t01_smooth_or_features_a03_star_or_artifact", ("smooth-or-featured", "artifact")),
    ("t02_edgeon_a04_yes", ("disk-edge-on", "yes")),
    ("t02_edgeon_a05_no", ("disk-edge-on", "no")),
    ("t03_bar_a06_bar", ("bar", "yes")),
    ("t03_bar_a07_no_bar", ("bar", "no")),
    ("t04_spiral_a08_spiral", ("has-spiral-arms", "yes")),
    ("t04_spiral_a09_no_spiral", ("has-spiral-arms", "no")),
    ("t05_bulge_prominence_a10_no_bulge", ("bulge-size", "no")),
    ("t05_bulge_prominence_a11_just_noticeable", ("bulge-size", "just-noticeable")),
    ("t05_bulge_prominence_a12_obvious", ("bulge-size", "obvious")),
    ("t05_bulge_prominence_a13_dominant", ("bulge-size", "dominant")),
    ("t06_odd_a14_yes", ("something-odd", "yes")),
    ("t06_odd_a15_no", ("something-odd", "no")),
    ("t07_rounded_a16_completely_round", ("how-rounded", "round")),
    ("t07_rounded_a17_in_between", ("how-rounded", "in-between")),
    ("t07_rounded_a18_cigar_shaped", ("how-rounded", "cigar")),
    ("t08_odd_feature_a19_ring", None),
    ("t08_odd_feature_a20_lens_or_arc", None),
    ("t08_odd_feature_a21_disturbed", None),
    ("t08_odd_feature_a22_irregular", None),
    ("t08_odd_feature_a23_other", None),
    ("t08_odd_feature_a24_merger", None),
    ("t08_odd_feature_a38_dust_lane", None),
    ("t09_bulge_shape_a25_rounded", ("bulge-shape", "round")),
    ("t09_bulge_shape_a26_boxy", ("bulge-shape", "boxy")),
    ("t09_bulge_shape_a27_no_bulge", ("bulge-shape", "no-bulge")),
    ("t10_arms_winding_a28_tight", ("spiral-winding", "tight")),
    ("t10_arms_winding_a29_medium", ("spiral-winding", "medium")),
    ("t10_arms_winding_a30_loose", ("spiral-winding", "loose")),
    ("t11_arms_number_a31_1", ("spiral-arm-count", "1")),
    ("t11_arms_number_a32_2", ("spiral-arm-count", "2")),
    ("t11_arms_number_a33_3", ("spiral-arm-count", "3")),
    ("t11_arms_number_a34_4", ("spiral-arm-count", "4")),
    ("t11_arms_number_a36_more_than_4", ("spiral-arm-count", "more-than-4")),
    ("t11_arms_number_a37_cant_tell", ("spiral-arm-count", "cant-tell")),
)
HART16_LEADING = (
    "dr7objid",
    "ra",
    "dec",
    "rastring",
    "decstring",
    "sample",
    "gz2_class",
    "total_classifications",
    "total_votes",
)
HART16_FIELDS = ("count", "weight", "fraction", "weighted_fraction", "debiased", "flag")
DECALS_METADATA = (
    "iauname",
    "ra",
    "dec",
    "redshift",
    "elpetro_absmag_r",
    "sersic_nmgy_r",
    "petro_th50",
    "petro_th90",
    "petro_theta",
    "upload_group",
    "active_learning_on",
    "in_gzd_ab",
)


# --- names and encodings ------------------------------------------------------------------------
def _sexagesimal(ra: np.ndarray, dec: np.ndarray) -> tuple[list[tuple], list[tuple]]:
    """(h, m, s) and (sign, d, m, s) tuples, truncated as IAU names are."""
    hours = np.mod(np.asarray(ra, float), 360.0) / 15.0
    h = np.floor(hours)
    m = np.floor((hours - h) * 60)
    s = np.floor(((hours - h) * 60 - m) * 60 * 100 + 1e-6) / 100  # 1e-6: float round-off
    sign = np.where(np.asarray(dec) < 0, "-", "+")
    absdec = np.abs(np.asarray(dec, float))
    d = np.floor(absdec)
    dm = np.floor((absdec - d) * 60)
    ds = np.floor(((absdec - d) * 60 - dm) * 60 * 10 + 1e-6) / 10
    return list(zip(h, m, s, strict=True)), list(zip(sign, d, dm, ds, strict=True))


def iau_names(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """``J132200.16+005202.0``-style names from coordinates in degrees."""
    ras, decs = _sexagesimal(ra, dec)
    return np.array(
        [
            f"J{h:02.0f}{m:02.0f}{s:05.2f}{sign}{d:02.0f}{dm:02.0f}{ds:04.1f}"
            for (h, m, s), (sign, d, dm, ds) in zip(ras, decs, strict=True)
        ],
        dtype=object,
    )


def sexagesimal_strings(ra: np.ndarray, dec: np.ndarray) -> tuple[list[str], list[str]]:
    """GZ2's ``rastring`` ``00:04:11.19`` and ``decstring`` ``+02:09:24.0``."""
    ras, decs = _sexagesimal(ra, dec)
    return (
        [f"{h:02.0f}:{m:02.0f}:{s:05.2f}" for h, m, s in ras],
        [f"{sign}{d:02.0f}:{dm:02.0f}:{ds:04.1f}" for sign, d, dm, ds in decs],
    )


def encode_image(image: np.ndarray, fmt: str, quality: int = 90) -> bytes:
    """uint8 RGB -> PNG or JPEG bytes (deterministic for a given Pillow); ``jpeg`` means ``jpg``."""
    from gz_evo.images.shards import encode_pixels

    encoding = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}.get(fmt)
    if encoding is None:
        raise ValueError(f"unknown image format {fmt!r}; use png or jpg")
    return encode_pixels(image, encoding, quality=quality)


def _encoded(paths: Iterable[str], images: np.ndarray, fmt: str) -> Files:
    """``{path: encoded image}``, one path per image."""
    return {path: encode_image(image, fmt) for path, image in zip(paths, images, strict=True)}


# --- vote blocks --------------------------------------------------------------------------------
def _fraction(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, count / np.where(total > 0, total, 1), np.nan)


def _debiased(fraction: np.ndarray, answer: str) -> np.ndarray:
    """A stand-in for published debiased fractions: nudged toward featured, still in [0, 1]."""
    nudge = 0.05 if answer in ("featured-or-disk", "features", "yes") else -0.02
    return np.clip(fraction + nudge, 0.0, 1.0)


def decals_release(
    votes: pd.DataFrame, galaxies: pd.DataFrame, images: np.ndarray, schema: Schema, campaign: str
) -> Files:
    """GZ DECaLS volunteer release (``gz_decals_volunteers_5.csv``) + ``images/J123/J123...png``.

    Per question, as released: ``{q}_total-votes``, then per answer ``{q}_{a}``,
    ``{q}_{a}_fraction``, ``{q}_{a}_debiased`` (no campaign suffix).
    """
    names = galaxies["id_str"].to_numpy()
    radius = galaxies["half_light_radius"].to_numpy()
    columns: dict[str, object] = {
        "iauname": names,
        "ra": galaxies["ra"].to_numpy(),
        "dec": galaxies["dec"].to_numpy(),
        "redshift": np.round(0.02 + 0.12 * np.exp(-radius / 4.0), 5),
        "elpetro_absmag_r": np.round(-21.5 - 0.3 * np.log(radius), 4),
        "sersic_nmgy_r": np.round(10 ** (-0.4 * (galaxies["magnitude"].to_numpy() - 22.5)), 4),
        "petro_th50": np.round(radius, 4),
        "petro_th90": np.round(2.4 * radius, 4),
        "petro_theta": np.round(1.9 * radius, 4),
        "upload_group": np.where(np.arange(len(names)) % 7 == 0, "pre_active", "active_baseline"),
        "active_learning_on": np.arange(len(names)) % 7 != 0,
        "in_gzd_ab": np.zeros(len(names), dtype=bool),
    }
    for question in schema.campaign_questions(campaign):
        base = question.base_name
        counts = votes[question.answer_columns].to_numpy()
        total = counts.sum(axis=1)
        columns[f"{base}_total-votes"] = total
        for position, answer in enumerate(question.answers):
            fraction = _fraction(counts[:, position], total)
            columns[f"{base}_{answer}"] = counts[:, position]
            columns[f"{base}_{answer}_fraction"] = np.round(fraction, 6)
            columns[f"{base}_{answer}_debiased"] = np.round(_debiased(fraction, answer), 6)
    files: Files = {"gz_decals_volunteers_5.csv": pd.DataFrame(columns)}
    files.update(_encoded([f"images/{name[:4]}/{name}.png" for name in names], images, "png"))
    return files


def _odd_feature_counts(odd_yes: np.ndarray, truth: pd.DataFrame, rng) -> np.ndarray:
    """GZ2 task t08 (ring, lens, disturbed, irregular, other, merger, dust lane) from t06 'yes'."""
    n = len(truth)
    ring = truth["ring"].to_numpy()
    tidal = truth["tidal"].astype(str).to_numpy() != "none"
    merger = truth["merger"].to_numpy()
    clumpy = truth["clump_count"].to_numpy() > 0
    dust = truth["edge_on"].to_numpy()
    p = np.stack(
        [
            np.where(ring, 3.0, 0.2),
            np.full(n, 0.15),
            np.where(tidal, 2.0, 0.3),
            np.where(clumpy, 1.5, 0.3),
            np.full(n, 0.4),
            np.where(merger, 3.0, 0.15),
            np.where(dust, 1.5, 0.1),
        ],
        axis=1,
    )
    return rng.multinomial(odd_yes, p / p.sum(axis=1, keepdims=True))


def _gz2_class(votes: pd.DataFrame) -> np.ndarray:
    """A coarse ``gz2_class`` string from plurality votes (Er, Ei, Ec, Sb, SBc, Ser, A)."""

    def top(question: str, answers: list[str]) -> np.ndarray:
        block = votes[[f"{question}-gz2_{a}" for a in answers]].to_numpy()
        return np.asarray(answers, dtype=object)[block.argmax(axis=1)]

    kind = top("smooth-or-featured", ["smooth", "featured-or-disk", "artifact"])
    rounded = top("how-rounded", ["round", "in-between", "cigar"])
    edge = top("disk-edge-on", ["yes", "no"])
    bar = top("bar", ["yes", "no"])
    bulge = top("bulge-size", ["dominant", "obvious", "just-noticeable", "no"])
    shape = top("bulge-shape", ["round", "boxy", "no-bulge"])
    round_letter = {"round": "r", "in-between": "i", "cigar": "c"}
    bulge_letter = {"dominant": "a", "obvious": "b", "just-noticeable": "c", "no": "d"}
    shape_letter = {"round": "r", "boxy": "b", "no-bulge": "n"}
    classes = []
    for k, r, e, b, bs, sh in zip(kind, rounded, edge, bar, bulge, shape, strict=True):
        if k == "artifact":
            classes.append("A")
        elif k == "smooth":
            classes.append("E" + round_letter[r])
        elif e == "yes":
            classes.append("Se" + shape_letter[sh])
        else:
            classes.append(("SB" if b == "yes" else "S") + bulge_letter[bs])
    return np.asarray(classes, dtype=object)


def gz2_hart16(
    votes: pd.DataFrame,
    galaxies: pd.DataFrame,
    images: np.ndarray,
    schema: Schema,
    campaign: str,
    rng: np.random.Generator,
) -> Files:
    """Hart et al. 2016 ``gz2_hart16.csv`` (231 columns) + ``gz2_filename_mapping.csv``
    (``objid``, ``sample``, ``asset_id``) + ``images/{asset_id}.jpg``.

    ``votes`` has the modern gz2 columns (``smooth-or-featured-gz2_smooth``); the odd-feature task
    t08, which the modern schema drops, is simulated here so that the file is complete.
    """
    suffix = campaign_suffix(schema, campaign)
    n = len(galaxies)
    objids = galaxies["id_str"].astype("int64").to_numpy()
    rastring, decstring = sexagesimal_strings(galaxies["ra"].to_numpy(), galaxies["dec"].to_numpy())
    sample = np.where(np.arange(n) % 10 == 9, "extra", "original")
    odd_yes = votes[f"something-odd{suffix}_yes"].to_numpy()
    odd = _odd_feature_counts(odd_yes, galaxies, rng)
    counts = {}
    odd_position = 0
    for stem, target in HART16_STEMS:
        if target is None:
            counts[stem] = odd[:, odd_position]
            odd_position += 1
        else:
            question, answer = target
            counts[stem] = votes[f"{question}{suffix}_{answer}"].to_numpy()
    task_totals: dict[str, np.ndarray] = {}
    for stem, values in counts.items():
        task = stem.split("_a", 1)[0]
        task_totals[task] = task_totals.get(task, 0) + values
    columns: dict[str, object] = {
        "dr7objid": objids,
        "ra": np.round(galaxies["ra"].to_numpy(), 6),
        "dec": np.round(galaxies["dec"].to_numpy(), 6),
        "rastring": rastring,
        "decstring": decstring,
        "sample": sample,
        "gz2_class": _gz2_class(votes),
        "total_classifications": task_totals["t01_smooth_or_features"],
        "total_votes": sum(counts.values()),
    }
    for stem, values in counts.items():
        total = task_totals[stem.split("_a", 1)[0]]
        fraction = _fraction(values, total)
        weight = np.round(values * 0.97, 3)  # consistency weights: most volunteers near 1
        weighted_fraction = _fraction(weight, np.round(total * 0.97, 3))
        columns[f"{stem}_count"] = values
        columns[f"{stem}_weight"] = weight
        columns[f"{stem}_fraction"] = np.round(np.nan_to_num(fraction), 3)
        columns[f"{stem}_weighted_fraction"] = np.round(np.nan_to_num(weighted_fraction), 3)
        debiased = _debiased(np.nan_to_num(fraction), stem.rsplit("_", 1)[1])
        columns[f"{stem}_debiased"] = np.round(debiased, 3)
        columns[f"{stem}_flag"] = (np.nan_to_num(fraction) > 0.8).astype(np.int64)
    asset_ids = np.arange(1, n + 1) * 7 + 50_000
    files: Files = {
        "gz2_hart16.csv": pd.DataFrame(columns),
        "gz2_filename_mapping.csv": pd.DataFrame(
            {"objid": objids, "sample": sample, "asset_id": asset_ids}
        ),
    }
    files.update(_encoded([f"images/{asset_id}.jpg" for asset_id in asset_ids], images, "jpg"))
    return files


def _suffixed_block(
    votes: pd.DataFrame, schema: Schema, campaign: str, hf: bool
) -> dict[str, np.ndarray]:
    """Suffixed counts, ``_fraction`` and ``_total-votes`` (HF: int32/float32, interleaved)."""
    columns: dict[str, np.ndarray] = {}
    for question in schema.campaign_questions(campaign):
        counts = votes[question.answer_columns].to_numpy()
        total = counts.sum(axis=1)
        fractions = [_fraction(counts[:, p], total) for p in range(counts.shape[1])]
        if hf:
            for position, column in enumerate(question.answer_columns):
                columns[column] = counts[:, position].astype(np.int32)
                columns[f"{column}_fraction"] = fractions[position].astype(np.float32)
                if position == 0:
                    columns[f"{question.name}_total-votes"] = total.astype(np.int32)
        else:
            for position, column in enumerate(question.answer_columns):
                columns[column] = counts[:, position].astype(np.int64)
            columns[f"{question.name}_total-votes"] = total.astype(np.int64)
            for position, column in enumerate(question.answer_columns):
                columns[f"{column}_fraction"] = fractions[position]
    return columns


def train_test_split(n: int, rng: np.random.Generator, test_fraction: float = 0.2) -> np.ndarray:
    """Boolean mask of test rows (galaxy-datasets splits 80/20 at random)."""
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[: round(test_fraction * n)]] = True
    return test


def galaxy_datasets(
    votes: pd.DataFrame,
    galaxies: pd.DataFrame,
    images: np.ndarray,
    schema: Schema,
    campaign: str,
    rng: np.random.Generator,
    name: str = "candels_ortho",
) -> Files:
    """galaxy-datasets ``{name}_train_catalog.parquet`` / ``_test_catalog.parquet`` +
    ``images/{filename}`` (``{id_str}.jpg``, no subfolder, as for Hubble/CANDELS)."""
    ids = galaxies["id_str"].to_numpy()
    frame = pd.DataFrame(
        {
            "id_str": ids,
            "filename": [f"{i}.jpg" for i in ids],
            "ra": galaxies["ra"].to_numpy(),
            "dec": galaxies["dec"].to_numpy(),
            **_suffixed_block(votes, schema, campaign, hf=False),
        }
    )
    # Raw task columns that galaxy-datasets did not rename stay in its catalogues.
    first = schema.campaign_questions(campaign)[0]
    frame["num_classifications"] = frame[f"{first.name}_total-votes"].to_numpy(np.float64)
    frame["t04_clump_configuration_a1_chain_frac"] = np.round(rng.uniform(0, 0.3, len(ids)), 3)
    test = train_test_split(len(ids), rng)
    files: Files = {
        f"{name}_train_catalog.parquet": frame[~test].reset_index(drop=True),
        f"{name}_test_catalog.parquet": frame[test].reset_index(drop=True),
    }
    files.update(_encoded([f"images/{i}.jpg" for i in ids], images, "jpg"))
    return files


def _hf_features(columns: Mapping[str, np.ndarray]) -> dict:
    dtypes = {"int32": "int32", "float32": "float32", "float64": "float64", "object": "string"}
    features: dict = {"image": {"_type": "Image"}}
    for name, values in columns.items():
        features[name] = {"dtype": dtypes[str(np.asarray(values).dtype)], "_type": "Value"}
    return features


def huggingface(
    votes: pd.DataFrame,
    galaxies: pd.DataFrame,
    images: np.ndarray,
    schema: Schema,
    campaign: str,
    rng: np.random.Generator,
    dataset_name: str = "gz_desi",
) -> Files:
    """Hugging Face ``data/train-00000-of-00001.parquet`` and ``data/test-...``: ``image`` as the
    ``{bytes, path}`` struct (JPEG), ``id_str``, ``dataset_name``, ``ra``, ``dec``, then per
    question interleaved int32 counts, float32 ``_fraction`` and int32 ``_total-votes``."""
    import pyarrow as pa

    ids = galaxies["id_str"].to_numpy().astype(object)
    columns: dict[str, np.ndarray] = {
        "id_str": ids,
        "dataset_name": np.full(len(ids), dataset_name, dtype=object),
        "ra": galaxies["ra"].to_numpy(np.float64),
        "dec": galaxies["dec"].to_numpy(np.float64),
        **_suffixed_block(votes, schema, campaign, hf=True),
    }
    encoded = [encode_image(image, "jpg") for image in images]
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    metadata = {b"huggingface": json.dumps({"info": {"features": _hf_features(columns)}}).encode()}
    test = train_test_split(len(ids), rng, test_fraction=0.1)
    files: Files = {}
    for split, mask in (("train", ~test), ("test", test)):
        rows = np.flatnonzero(mask)
        image_column = pa.array(
            [{"bytes": encoded[i], "path": f"{ids[i]}.jpg"} for i in rows], type=image_type
        )
        arrays = {"image": image_column}
        for name, values in columns.items():
            subset = values[rows]
            arrays[name] = pa.array(
                subset, type=pa.string() if subset.dtype == object else None, from_pandas=True
            )
        table = pa.table(arrays).replace_schema_metadata(metadata)
        files[f"data/{split}-00000-of-00001.parquet"] = table
    return files


def user_campaign(
    votes: pd.DataFrame, galaxies: pd.DataFrame, images: np.ndarray, schema: Schema, campaign: str
) -> Files:
    """A user's own campaign: ``votes.csv`` (``id_str``, ``file_loc``, ``{question}{suffix}_{a}``
    counts) + ``images/{id_str}.png``; ``file_loc`` is relative to the folder."""
    ids = galaxies["id_str"].to_numpy()
    file_loc = [f"images/{i}.png" for i in ids]
    frame = pd.DataFrame({"id_str": ids, "file_loc": file_loc})
    for column in schema.campaign_answer_columns(campaign):
        frame[column] = votes[column].to_numpy()
    files: Files = {"votes.csv": frame}
    files.update(_encoded(file_loc, images, "png"))
    return files


def image_catalog(
    galaxies: pd.DataFrame, images: np.ndarray, labels: Mapping[str, np.ndarray] | None = None
) -> Files:
    """``catalog.csv`` (``id_str``, ``file_loc`` [, labels]) + ``images/{id_str}.jpg``: the
    unlabelled images and the downstream-task catalog."""
    ids = galaxies["id_str"].to_numpy()
    file_loc = [f"images/{i}.jpg" for i in ids]
    frame = pd.DataFrame({"id_str": ids, "file_loc": file_loc, **dict(labels or {})})
    files: Files = {"catalog.csv": frame}
    files.update(_encoded(file_loc, images, "jpg"))
    return files


def downstream_labels(galaxies: pd.DataFrame) -> dict[str, np.ndarray]:
    """Labels no pretraining question asks: ``ring`` (0/1), ``tidal`` (none/shell/stream/plume)."""
    return {
        "ring": galaxies["ring"].to_numpy().astype(np.int64),
        "tidal": galaxies["tidal"].astype(str).to_numpy(),
    }


#: Format name (parameter ``demo.campaigns.<name>.format``) -> writer.
WRITERS = {
    "decals_release": decals_release,
    "gz2_hart16": gz2_hart16,
    "galaxy_datasets": galaxy_datasets,
    "huggingface": huggingface,
    "user_campaign": user_campaign,
}
#: Writers that also take a random generator (for splits or extra simulated columns).
WRITERS_WITH_RNG = frozenset({"gz2_hart16", "galaxy_datasets", "huggingface"})
#: How each format names its galaxies (see ``universe.assign_ids``).
ID_STYLES = {
    "decals_release": "iauname",
    "gz2_hart16": "dr7objid",
    "galaxy_datasets": "candels",
    "huggingface": "desi",
    "user_campaign": "prefixed",
}
