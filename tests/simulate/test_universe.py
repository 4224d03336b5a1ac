"""The truth table holds values as catalogs publish them, so its bytes do not depend on the CPU."""

from __future__ import annotations

import numpy as np
import yaml

from gz_evo.simulate.universe import COORDINATE_DECIMALS, LATENT_DECIMALS, sample_universe
from tests.conftest import PROJECT_ROOT


def test_floats_are_quantised_to_published_precision() -> None:
    params = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_demo.yml").read_text())["demo"]
    truth = sample_universe(params, seed=3)
    for column in truth.select_dtypes(include="floating").columns:
        decimals = COORDINATE_DECIMALS if column in ("ra", "dec") else LATENT_DECIMALS
        values = truth[column].to_numpy()
        np.testing.assert_array_equal(values, np.round(values, decimals), err_msg=column)
    # quantised, not truncated to nothing: coordinates keep sub-arcsecond detail
    assert (np.round(truth["dec"] * 3600, 1) % 1 != 0).any()
