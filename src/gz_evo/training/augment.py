"""Batched galaxy augmentations that run on the training device (GPU when there is one).

One fused ``affine_grid`` + ``grid_sample`` per batch applies, with random parameters per galaxy,
a rotation by any angle, horizontal and vertical flips and a random resized crop (torchvision's
area-scale and aspect-ratio sampling); colour jitter (brightness, contrast, saturation) and
greyscale are per-galaxy blends on the same batch. Images arrive as the data modules deliver them
(``uint8[B, 3, H, W]``, square) and leave as normalised ``float32[B, 3, S, S]``.

    augment = GalaxyAugment.from_params(params["images"]["augment"], seed=params["seed"])
    augment = augment.to(device)
    view = augment.train_view(batch["image"].to(device))      # or augment(batch) in train mode
    view_a, view_b = augment.two_views(images)                 # independent, for contrastive loss
    evaluation = augment.eval_view(images)                     # deterministic

The crop is taken after rotating and flipping the image about its centre, as galaxy work does;
corners that rotate in from outside are black (``padding_mode`` zeros, as in zoobot's rotation).
When the stored image is much larger than the output, the batch is first downsampled with an
antialiased resize, so sampling never aliases.

On a CPU the float copy of the batch and the sampling grid go into scratch tensors the module keeps
between batches (per device, shape and dtype; never returned): a fresh 224 px batch of 64 is ~60 MB
of float32, and page-faulting that in anew every batch cost as much as the sampling itself. (On
CUDA the caching allocator already reuses memory, so no scratch is kept there.) One module should
therefore not be called from several threads at once. The output view has to be fresh memory,
and glibc hands every block above 32 MB straight back to the kernel when it is freed (a 224 px
batch of 64 is 38 MB), so the first time the module runs on a CPU it raises glibc's mmap and trim
thresholds (:func:`reuse_freed_memory`): freed batches are then reused instead of page-faulted in
again, which took a third of the CPU time of a 224 px view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gz_evo.memory import reuse_freed_memory

_GREY = (0.299, 0.587, 0.114)


class GalaxyAugment(nn.Module):
    """Random rotation, flips, resized crop, colour jitter, greyscale and normalisation on batches.

    Args:
        output_size: side ``S`` of the output views.
        rotation_degrees: angles are uniform in ``[-rotation_degrees, rotation_degrees]``
            (180 = any angle).
        hflip_p, vflip_p: probability of a horizontal / vertical flip.
        crop_scale: area fraction of the random resized crop, ``(low, high)``.
        crop_ratio: aspect ratio (width / height) of the crop, ``(low, high)``, log-uniform.
        colour_jitter: ``{"p", "brightness", "contrast", "saturation"}``: with probability ``p``
            a galaxy's factors are uniform in ``[1 - x, 1 + x]``; None or p = 0 turns it off.
        greyscale_p: probability of replacing a galaxy by its luminance in all three channels.
        mean, std: normalisation on the [0, 1] scale, per channel.
        padding_mode: ``grid_sample`` padding for corners outside the image.
        eval_crop_scale: area fraction of the central crop used by :meth:`eval_view`.
        seed: seeds this module's own generator (reproducible views); None uses torch's global RNG.
    """

    def __init__(
        self,
        output_size: int = 64,
        rotation_degrees: float = 180.0,
        hflip_p: float = 0.5,
        vflip_p: float = 0.5,
        crop_scale: Sequence[float] = (0.7, 0.8),
        crop_ratio: Sequence[float] = (0.9, 1.1),
        colour_jitter: dict[str, float] | None = None,
        greyscale_p: float = 0.0,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        padding_mode: str = "zeros",
        eval_crop_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        if not 0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {crop_ratio}")
        self.output_size = int(output_size)
        self.rotation_degrees = float(rotation_degrees)
        self.hflip_p, self.vflip_p = float(hflip_p), float(vflip_p)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.crop_ratio = (float(crop_ratio[0]), float(crop_ratio[1]))
        jitter = dict(colour_jitter or {})
        self.jitter_p = float(jitter.get("p", 0.0))
        self.brightness = float(jitter.get("brightness", 0.0))
        self.contrast = float(jitter.get("contrast", 0.0))
        self.saturation = float(jitter.get("saturation", 0.0))
        self.greyscale_p = float(greyscale_p)
        self.padding_mode = padding_mode
        self.eval_crop_scale = float(eval_crop_scale)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("grey", torch.tensor(_GREY, dtype=torch.float32).view(1, 3, 1, 1))
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        self._scratch: dict[tuple, torch.Tensor] = {}

    @classmethod
    def from_params(cls, params: dict[str, Any], seed: int | None = None) -> GalaxyAugment:
        """Build from the ``images.augment`` parameters (keys as in ``__init__``)."""
        return cls(**{**params, "seed": params.get("seed", seed)})

    def config(self) -> dict[str, Any]:
        """The knobs, JSON-able (for encoder_config.json)."""
        return {
            "output_size": self.output_size,
            "rotation_degrees": self.rotation_degrees,
            "hflip_p": self.hflip_p,
            "vflip_p": self.vflip_p,
            "crop_scale": list(self.crop_scale),
            "crop_ratio": list(self.crop_ratio),
            "colour_jitter": {
                "p": self.jitter_p,
                "brightness": self.brightness,
                "contrast": self.contrast,
                "saturation": self.saturation,
            },
            "greyscale_p": self.greyscale_p,
            "mean": self.mean.flatten().tolist(),
            "std": self.std.flatten().tolist(),
            "padding_mode": self.padding_mode,
            "eval_crop_scale": self.eval_crop_scale,
        }

    # ---- public views ----------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """A random training view in train mode, the evaluation view in eval mode."""
        return self.train_view(images) if self.training else self.eval_view(images)

    @torch.no_grad()
    def train_view(self, images: torch.Tensor) -> torch.Tensor:
        """A random view per galaxy: ``uint8[B, 3, H, W]`` -> ``float32[B, 3, S, S]``."""
        batch, scale = self._as_float(images, self.crop_scale[0])
        theta = self._random_theta(batch.shape[0]).to(batch.device)
        view = self._sample(batch, theta, self.padding_mode)
        if self._colour_on():
            return self._normalise(self._colour(view.div_(scale)), 1.0)
        return self._normalise(view, scale)

    def two_views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent random views of the same batch (contrastive learning)."""
        return self.train_view(images), self.train_view(images)

    @torch.no_grad()
    def eval_view(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic view: central crop (``eval_crop_scale``), antialiased resize, normalise."""
        side = math.sqrt(self.eval_crop_scale)
        # the view is returned, so only the path that samples from `batch` may use scratch
        batch, scale = self._as_float(images, self.eval_crop_scale, scratch=side != 1.0)
        if side == 1.0 and batch.shape[-1] == self.output_size:
            view = batch.clone() if batch.data_ptr() == images.data_ptr() else batch
        elif side == 1.0:
            view = F.interpolate(batch, size=self.output_size, mode="bilinear", antialias=True)
        else:
            theta = torch.zeros(batch.shape[0], 2, 3, device=batch.device)
            theta[:, 0, 0] = theta[:, 1, 1] = side
            view = self._sample(batch, theta, "border")
        return self._normalise(view.clamp_(0.0, scale), scale)

    # ---- internals -------------------------------------------------------------------------------
    def _as_float(
        self, images: torch.Tensor, smallest_area: float, scratch: bool = True
    ) -> tuple[torch.Tensor, float]:
        """Floats on the input's scale (255 for uint8, else 1), downsampled (antialiased) so that
        a crop of ``smallest_area`` is about S pixels; and that scale. With ``scratch`` the float
        copy may be a reused scratch tensor (callers must not return it)."""
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
            raise ValueError(f"expected square images [B, 3, H, H], got {tuple(images.shape)}")
        scale = 255.0 if images.dtype == torch.uint8 else 1.0
        if images.dtype == torch.float32:
            batch = images
        else:
            batch = self._scratch_like("input", images.shape, images.device) if scratch else None
            batch = images.float() if batch is None else batch.copy_(images)
        largest_useful = math.ceil(self.output_size / math.sqrt(smallest_area))
        if batch.shape[-1] > largest_useful:
            batch = F.interpolate(batch, size=largest_useful, mode="bilinear", antialias=True)
        return batch, scale

    def _scratch_like(
        self, name: str, shape: Sequence[int], device: torch.device
    ) -> torch.Tensor | None:
        """A float32 scratch tensor kept between calls on a CPU (None on other devices)."""
        if device.type != "cpu":
            return None
        reuse_freed_memory()
        key = (name, tuple(shape))
        tensor = self._scratch.get(key)
        if tensor is None:
            # one batch shape at a time is the usual case: drop scratch of other shapes
            self._scratch = {k: v for k, v in self._scratch.items() if k[0] != name}
            tensor = self._scratch[key] = torch.empty(tuple(shape), dtype=torch.float32)
        return tensor

    def _normalise(self, view: torch.Tensor, scale: float) -> torch.Tensor:
        """``(view / scale - mean) / std``, in place (one pass over the batch)."""
        return view.mul_(1.0 / (scale * self.std)).sub_(self.mean / self.std)

    def _colour_on(self) -> bool:
        jitter = self.jitter_p > 0 and bool(self.brightness or self.contrast or self.saturation)
        return jitter or self.greyscale_p > 0

    def _uniform(self, size: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(size, generator=self.generator) * (high - low) + low

    def _random_theta(self, size: int) -> torch.Tensor:
        """Per-galaxy affine maps from output to input coordinates: rotate, flip, then crop."""
        angle = torch.deg2rad(self._uniform(size, -self.rotation_degrees, self.rotation_degrees))
        flip_x = torch.where(torch.rand(size, generator=self.generator) < self.hflip_p, -1.0, 1.0)
        flip_y = torch.where(torch.rand(size, generator=self.generator) < self.vflip_p, -1.0, 1.0)
        area = self._uniform(size, *self.crop_scale)
        log_ratio = self._uniform(size, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        ratio = torch.exp(log_ratio)
        width = torch.sqrt(area * ratio).clamp(max=1.0)
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        centre_x = (torch.rand(size, generator=self.generator) * 2 - 1) * (1 - width)
        centre_y = (torch.rand(size, generator=self.generator) * 2 - 1) * (1 - height)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotate_flip = torch.stack(
            [
                torch.stack([cos * flip_x, -sin * flip_y], -1),
                torch.stack([sin * flip_x, cos * flip_y], -1),
            ],
            dim=-2,
        )  # [B, 2, 2]
        crop = torch.diag_embed(torch.stack([width, height], -1))
        centre = torch.stack([centre_x, centre_y], -1).unsqueeze(-1)
        return torch.cat([rotate_flip @ crop, rotate_flip @ centre], dim=-1)

    def _sample(self, batch: torch.Tensor, theta: torch.Tensor, padding: str) -> torch.Tensor:
        """One bilinear ``grid_sample`` of the batch through per-galaxy affine maps ``theta``.

        The grid equals ``affine_grid(theta, ...)`` (align_corners=False), built as a broadcast sum
        of a column term and a row term: half the memory traffic of the generic version on CPUs.
        """
        side = self.output_size
        steps = (torch.arange(side, device=batch.device, dtype=torch.float32) * 2 + 1) / side - 1
        columns = steps.view(1, 1, side, 1) * theta[:, None, None, :, 0]
        rows = steps.view(1, side, 1, 1) * theta[:, None, None, :, 1] + theta[:, None, None, :, 2]
        grid = self._scratch_like("grid", (batch.shape[0], side, side, 2), batch.device)
        grid = torch.add(columns, rows, out=grid)  # [B, S, S, 2]: (x, y) per output pixel
        return F.grid_sample(
            batch, grid, mode="bilinear", padding_mode=padding, align_corners=False
        )

    def _factors(self, size: int, strength: float, applied: torch.Tensor) -> torch.Tensor:
        factors = self._uniform(size, 1.0 - strength, 1.0 + strength).clamp(min=0.0)
        return torch.where(applied, factors, torch.ones_like(factors)).view(-1, 1, 1, 1)

    def _colour(self, view: torch.Tensor) -> torch.Tensor:
        size, device = view.shape[0], view.device
        if self.jitter_p > 0 and (self.brightness or self.contrast or self.saturation):
            applied = torch.rand(size, generator=self.generator) < self.jitter_p
            brightness = self._factors(size, self.brightness, applied).to(device)
            contrast = self._factors(size, self.contrast, applied).to(device)
            saturation = self._factors(size, self.saturation, applied).to(device)
            view = (view * brightness).clamp(0.0, 1.0)
            grey_mean = (view * self.grey).sum(1, keepdim=True).mean((2, 3), keepdim=True)
            view = ((view - grey_mean) * contrast + grey_mean).clamp(0.0, 1.0)
            grey = (view * self.grey).sum(1, keepdim=True)
            view = ((view - grey) * saturation + grey).clamp(0.0, 1.0)
        if self.greyscale_p > 0:
            applied = (torch.rand(size, generator=self.generator) < self.greyscale_p).to(device)
            grey = (view * self.grey).sum(1, keepdim=True).expand_as(view)
            view = torch.where(applied.view(-1, 1, 1, 1), grey, view)
        return view.clamp(0.0, 1.0)
