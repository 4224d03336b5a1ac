"""GalaxyAugment: galaxies stay centred and keep their shape; views are random, eval is fixed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gz_evo.training.augment import GalaxyAugment


def _ellipses(
    batch: int, size: int = 64, axis_ratio: float = 0.5, angle: float = 0.3
) -> torch.Tensor:
    """Centred, rotated, bright ellipses on black: uint8 [B, 3, size, size]."""
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    u = x * math.cos(angle) + y * math.sin(angle)
    v = -x * math.sin(angle) + y * math.cos(angle)
    inside = (u / (0.3 * size)) ** 2 + (v / (0.3 * size * axis_ratio)) ** 2 <= 1
    image = (inside.float() * 255).to(torch.uint8)
    return image.expand(batch, 3, size, size).clone()


def _moments(views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid offset from the image centre (pixels) and axis ratio of each view's mass."""
    mass = views.mean(1).clamp(min=0)  # [B, S, S], background normalised to 0
    size = mass.shape[-1]
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    total = mass.sum((1, 2))
    cx, cy = (mass * x).sum((1, 2)) / total, (mass * y).sum((1, 2)) / total
    dx, dy = x - cx[:, None, None], y - cy[:, None, None]
    cxx = (mass * dx * dx).sum((1, 2)) / total
    cyy = (mass * dy * dy).sum((1, 2)) / total
    cxy = (mass * dx * dy).sum((1, 2)) / total
    trace, det = cxx + cyy, cxx * cyy - cxy**2
    root = torch.sqrt((trace / 2) ** 2 - det)
    ratio = torch.sqrt((trace / 2 - root) / (trace / 2 + root))
    return torch.hypot(cx, cy), ratio


def _plain(**knobs) -> GalaxyAugment:
    return GalaxyAugment(
        **{"output_size": 64, "mean": (0, 0, 0), "std": (1, 1, 1), "seed": 0, **knobs}
    )


def test_rotation_and_flips_keep_the_galaxy_centred_and_its_shape() -> None:
    augment = _plain(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), padding_mode="zeros")
    views = augment.train_view(_ellipses(32))
    offset, ratio = _moments(views)
    assert (offset < 0.5).all()
    assert torch.allclose(ratio, torch.full_like(ratio, 0.5), atol=0.03)
    # and the orientation really changes from view to view
    orientations = {tuple((views[i, 0] > 0.5).nonzero()[:3].flatten().tolist()) for i in range(32)}
    assert len(orientations) > 10


def test_random_resized_crop_keeps_shape_and_moves_the_centre_within_its_margin() -> None:
    scale = (0.64, 0.81)
    augment = _plain(crop_scale=scale, crop_ratio=(1.0, 1.0), padding_mode="zeros")
    offset, ratio = _moments(augment.train_view(_ellipses(32)))
    assert torch.allclose(ratio, torch.full_like(ratio, 0.5), atol=0.04)
    # the crop centre moves at most (1 - side) / 2 of the image per axis; output zooms by 1 / side
    side = math.sqrt(scale[0])
    assert (offset <= math.sqrt(2) * (1 - side) / 2 * 64 / side + 1.0).all()
    assert offset.max() > 0.5


def test_two_views_differ_and_eval_view_is_deterministic() -> None:
    augment = GalaxyAugment(output_size=48, seed=1)
    images = _ellipses(8, size=64)
    first, second = augment.two_views(images)
    assert first.shape == second.shape == (8, 3, 48, 48) and first.dtype == torch.float32
    assert (first - second).abs().amax((1, 2, 3)).min() > 0.1
    evaluation = augment.eval_view(images)
    assert torch.equal(evaluation, augment.eval_view(images))
    assert torch.equal(evaluation, GalaxyAugment(output_size=48, seed=99).eval_view(images))
    augment.eval()
    assert torch.equal(augment(images), evaluation)


def test_the_same_seed_gives_the_same_views() -> None:
    images = _ellipses(4)
    assert torch.equal(
        GalaxyAugment(seed=3).train_view(images), GalaxyAugment(seed=3).train_view(images)
    )


def test_normalisation_and_eval_crop() -> None:
    grey = torch.full((2, 3, 32, 32), 51, dtype=torch.uint8)
    augment = GalaxyAugment(
        output_size=16, mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5), padding_mode="border"
    )
    expected = (torch.tensor([0.2, 0.2, 0.2]) - torch.tensor([0.1, 0.2, 0.3])) / 0.5
    assert torch.allclose(augment.eval_view(grey).mean((0, 2, 3)), expected, atol=1e-5)
    assert torch.allclose(augment.train_view(grey).mean((0, 2, 3)), expected, atol=1e-5)
    cropped = _plain(eval_crop_scale=0.25).eval_view(_ellipses(1))
    full = _plain().eval_view(_ellipses(1))
    assert cropped.mean() > 2 * full.mean()  # the central half zooms in on the galaxy


def test_greyscale_and_colour_jitter() -> None:
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (16, 3, 32, 32), dtype=np.uint8))
    grey = _plain(greyscale_p=1.0, output_size=32).train_view(images)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    jitter = {"p": 1.0, "brightness": 0.5, "contrast": 0.5, "saturation": 0.5}
    plain = _plain(output_size=32, crop_scale=(1, 1), rotation_degrees=0, hflip_p=0, vflip_p=0)
    jittered = _plain(
        output_size=32,
        crop_scale=(1, 1),
        rotation_degrees=0,
        hflip_p=0,
        vflip_p=0,
        colour_jitter=jitter,
    )
    a, b = plain.train_view(images), jittered.train_view(images)
    assert 0 <= b.min() and b.max() <= 1
    assert (a - b).abs().mean() > 0.02
    assert not torch.allclose(b[0].mean(), b[1].mean() * a[0].mean() / a[1].mean(), atol=1e-3)


def test_large_images_are_downsampled_without_aliasing() -> None:
    stripes = torch.zeros(1, 3, 256, 256, dtype=torch.uint8)
    stripes[..., ::2] = 255
    view = _plain(output_size=32, crop_scale=(0.9, 1.0)).train_view(stripes)
    assert abs(view.mean().item() - 0.5) < 0.05 and view.std() < 0.1


def test_from_params_matches_the_parameters_file() -> None:
    import yaml

    from tests.conftest import PROJECT_ROOT

    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_images.yml").read_text())
    augment = GalaxyAugment.from_params(params["images"]["augment"], seed=0)
    assert augment.config()["crop_scale"] == params["images"]["augment"]["crop_scale"]
    assert augment.train_view(_ellipses(2)).shape == (2, 3, 64, 64)


def test_bad_inputs_and_knobs_are_refused() -> None:
    with pytest.raises(ValueError, match="square"):
        GalaxyAugment().train_view(torch.zeros(1, 3, 32, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="crop_scale"):
        GalaxyAugment(crop_scale=(0.9, 0.5))


def test_cpu_scratch_never_leaks_into_returned_views() -> None:
    """The float copy and grid are reused between calls on a CPU; returned views never are."""
    images = _ellipses(6, size=40)
    augment = GalaxyAugment(output_size=32, seed=5)
    reference = GalaxyAugment(output_size=32, seed=5)
    first, second = augment.two_views(images)
    kept = first.clone()
    augment.train_view(images)  # would overwrite `first` if it were scratch
    assert torch.equal(first, kept) and first.data_ptr() != second.data_ptr()
    assert torch.equal(first, reference.train_view(images))  # same numbers as a fresh module
    for crop in (1.0, 0.5):  # eval views, with and without sampling, are fresh tensors too
        evaluation = GalaxyAugment(output_size=40, eval_crop_scale=crop)
        one = evaluation.eval_view(images)
        kept = one.clone()
        evaluation.eval_view(_ellipses(6, size=40).flip(-1))
        assert torch.equal(one, kept) and torch.equal(one, evaluation.eval_view(images))
    smaller = augment.train_view(images[:2])  # a new batch shape gets new scratch
    assert smaller.shape == (2, 3, 32, 32)
