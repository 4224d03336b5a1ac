"""Latent morphology: kinds, shapes and features follow the knobs, and the seed fixes everything."""

import numpy as np
import pandas as pd
import pytest

from gz_evo.simulate.morphology import DISK_THICKNESS, difficulty, sample_morphology


def test_same_seed_same_truth_and_knobs_change_fractions() -> None:
    a = sample_morphology(500, np.random.default_rng(1))
    b = sample_morphology(500, np.random.default_rng(1))
    pd.testing.assert_frame_equal(a, b)
    many_rings = sample_morphology(2000, np.random.default_rng(2), ring_fraction=0.9)
    few_rings = sample_morphology(2000, np.random.default_rng(2), ring_fraction=0.05)
    assert many_rings["ring"].mean() > 4 * few_rings["ring"].mean()


def test_features_belong_to_the_right_kinds() -> None:
    truth = sample_morphology(3000, np.random.default_rng(0))
    featured = truth["kind"] == "featured"
    assert set(truth["kind"]) == {"smooth", "featured", "artifact"}
    # only disks have arms, bars, rings and clumps; smooth galaxies are all bulge
    for column in ("arm_count", "bar_strength", "clump_count"):
        assert (truth.loc[~featured, column] == 0).all()
    assert not truth.loc[~featured, "ring"].any()
    assert (truth.loc[truth["kind"] == "smooth", "bulge_fraction"] == 1.0).all()
    # edge-on disks are thin; face-on ones are round; artifacts have no tidal features
    assert (truth.loc[truth["edge_on"], "axis_ratio"] < 0.3).all()
    assert truth.loc[featured, "axis_ratio"].min() >= DISK_THICKNESS - 1e-9
    assert (truth.loc[truth["kind"] == "artifact", "tidal"] == "none").all()
    assert set(truth["tidal"]) == {"none", "shell", "stream", "plume"}


def test_small_faint_galaxies_are_harder() -> None:
    truth = pd.DataFrame({"half_light_radius": [4.0, 0.5, 4.0], "magnitude": [16.0, 16.0, 21.0]})
    hard = difficulty(truth, psf_fwhm=1.2, limiting_magnitude=19.0)
    assert hard[0] < 0.1 < hard[1]
    assert hard[0] < 0.1 < hard[2]
    assert ((hard >= 0) & (hard <= 1)).all()


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="featured_fraction"):
        sample_morphology(5, np.random.default_rng(0), featured_fraction=0.9, artifact_fraction=0.2)
