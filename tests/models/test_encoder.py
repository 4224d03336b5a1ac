"""timm encoders by name; pretrained weights only from local files; the Dirichlet head's range."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from gz_evo.models.encoder import PretrainedWeightsNotFound, create_encoder
from gz_evo.models.heads import DirichletHead


@pytest.mark.parametrize(
    ("architecture", "size"),
    [
        ("test_resnet", 32),
        ("test_efficientnet", 32),
        ("test_convnext", 32),
        ("test_vit", 160),
        ("test_maxvit", 160),  # its windows need the size it was defined for
    ],
)
def test_tiny_timm_encoders_give_pooled_features(architecture: str, size: int) -> None:
    """One tiny timm test model of each family the issue names (same code path as full size)."""
    encoder = create_encoder(architecture)
    features = encoder(torch.zeros(2, 3, size, size))
    assert features.shape == (2, encoder.num_features)


def test_unknown_architecture_is_named() -> None:
    with pytest.raises(ValueError, match="no_such_net"):
        create_encoder("no_such_net")


def test_pretrained_without_local_weights_stops_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(PretrainedWeightsNotFound, match="not available locally"):
        create_encoder("resnet18", pretrained=True)
    with pytest.raises(PretrainedWeightsNotFound, match="does not exist"):
        create_encoder("test_resnet", pretrained=True, weights_path=str(tmp_path / "none.pth"))


def test_pretrained_from_a_local_file_loads_those_weights(tmp_path: Path) -> None:
    import timm

    source = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    encoder = create_encoder("test_resnet", pretrained=True, weights_path=str(path))
    for name, tensor in encoder.state_dict().items():
        torch.testing.assert_close(tensor, source.state_dict()[name])


def test_head_concentrations_lie_in_1_101_and_mc_dropout_varies() -> None:
    torch.manual_seed(0)
    head = DirichletHead(8, 5, dropout=0.5)
    features = 100 * torch.randn(64, 8)
    concentrations = head(features)
    assert concentrations.shape == (64, 5)
    assert torch.all(concentrations >= 1) and torch.all(concentrations <= 101)
    head.eval()
    assert torch.equal(head(features), head(features))
    head.mc_dropout = True
    assert not torch.equal(head(features), head(features))
