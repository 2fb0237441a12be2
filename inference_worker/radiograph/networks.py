"""2D classifiers for radiographs, built from MONAI backbones with one sigmoid output.

Every network here has the same shape: one encoder per input view giving a spatial
feature map, an identity layer ``cam.<i>`` on that map (the target layer of Grad-CAM and
Score-CAM, so saliency code need not know each backbone's internals), global average
pooling (the embedding used for similar-case retrieval) and one linear logit.

- EfficientNet-B0/B3/B4: ``monai.networks.nets.EfficientNetBN`` without its pooling and
  classifier. Its forward is replayed up to the last activation, because MONAI calls the
  same ``_swish`` module for the stem and the head, and a CAM hooked there would fire twice.
- ViT: ``monai.networks.nets.ViT`` without its classification head; the patch tokens are
  laid back on their grid, so a CAM of a transformer is still a map over the image.
- Swin: ``monai.networks.nets.swin_unetr.SwinTransformer`` (SwinUNETR's encoder); its
  deepest stage is the map.
"""

from __future__ import annotations

import torch
from monai.networks.nets import EfficientNetBN, ViT
from monai.networks.nets.swin_unetr import SwinTransformer
from torch import nn

EFFICIENTNETS = ("efficientnet-b0", "efficientnet-b3", "efficientnet-b4")
ARCHITECTURES = (*EFFICIENTNETS, "vit", "swin")


class EfficientNetEncoder(nn.Module):
    def __init__(self, name: str, in_channels: int, norm_groups: int = 1) -> None:
        super().__init__()
        # Group norm instead of MONAI's
        # batch norm. Measured here from scratch at 64 px: in eval mode the batch-norm
        # network's features shrank ~30x per stage and became input-independent (batch
        # std 1e-14 at the head), so every image got the same score (validation AUC 0.5)
        # while train mode looked fine. Group norm has no running statistics to go stale
        # and works with the small batches a CPU affords. One group (layer norm over each
        # image's whole feature map) is the default and what every older card was trained
        # with; a recipe may ask for more (``params["efficientnet"]["norm_groups"]``).
        net = EfficientNetBN(
            name,
            pretrained=False,
            spatial_dims=2,
            in_channels=in_channels,
            num_classes=1,
            norm=("group", {"num_groups": norm_groups}),
        )
        self.stem_padding, self.stem, self.bn0 = net._conv_stem_padding, net._conv_stem, net._bn0
        self.blocks = net._blocks
        self.head_padding, self.head, self.bn1 = net._conv_head_padding, net._conv_head, net._bn1
        self.act0, self.act1 = nn.SiLU(), nn.SiLU()  # swish = x * sigmoid(x)
        self.channels = int(net._fc.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.bn0(self.stem(self.stem_padding(x))))
        x = self.blocks(x)
        return self.act1(self.bn1(self.head(self.head_padding(x))))


class ViTEncoder(nn.Module):
    def __init__(
        self, in_channels: int, size: int, patch: int, hidden: int, mlp: int, layers: int, heads: int
    ):
        super().__init__()
        if size % patch:
            raise ValueError(f"ViT input {size} is not a multiple of its patch size {patch}")
        self.vit = ViT(
            in_channels=in_channels,
            img_size=(size, size),
            patch_size=(patch, patch),
            hidden_size=hidden,
            mlp_dim=mlp,
            num_layers=layers,
            num_heads=heads,
            classification=False,
            spatial_dims=2,
        )
        self.grid = size // patch
        self.channels = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, _ = self.vit(x)  # (B, grid*grid, hidden), row-major patch order
        b, n, c = tokens.shape
        return tokens.transpose(1, 2).reshape(b, c, self.grid, self.grid)


class SwinEncoder(nn.Module):
    def __init__(self, in_channels: int, size: int, embed: int, depths, heads, window: int):
        super().__init__()
        if size % 32:
            raise ValueError(f"Swin input {size} must be a multiple of 32 (patch 2, four merges)")
        self.swin = SwinTransformer(
            in_chans=in_channels,
            embed_dim=embed,
            window_size=(window, window),
            patch_size=(2, 2),
            depths=tuple(depths),
            num_heads=tuple(heads),
            spatial_dims=2,
        )
        self.channels = embed * 2 ** len(depths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.swin(x)[-1]


class RadiographClassifier(nn.Module):
    """Encoders (one per view, or one for all channels) -> CAM layer -> pool -> one logit."""

    def __init__(self, encoders: list[nn.Module], dropout: float = 0.2) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        self.cam = nn.ModuleList(nn.Identity() for _ in encoders)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(sum(e.channels for e in encoders), 1)

    @property
    def cam_layers(self) -> list[str]:
        return [f"cam.{i}" for i in range(len(self.cam))]

    def _split(self, x: torch.Tensor) -> list[torch.Tensor]:
        # One encoder takes every channel; several take one channel (one view) each.
        if len(self.encoders) == 1:
            return [x]
        return [x[:, i : i + 1] for i in range(len(self.encoders))]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        parts = [
            cam(enc(v)).mean(dim=(2, 3))
            for enc, cam, v in zip(self.encoders, self.cam, self._split(x), strict=True)
        ]
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


def build_encoder(architecture: str, in_channels: int, size: int, params: dict) -> nn.Module:
    if architecture in EFFICIENTNETS:
        groups = params.get("efficientnet", {}).get("norm_groups", 1)
        return EfficientNetEncoder(architecture, in_channels, norm_groups=groups)
    if architecture == "vit":
        v = params["vit"]
        return ViTEncoder(in_channels, size, v["patch"], v["hidden"], v["mlp"], v["layers"], v["heads"])
    if architecture == "swin":
        s = params["swin"]
        return SwinEncoder(in_channels, size, s["embed"], s["depths"], s["heads"], s["window"])
    raise ValueError(f"unknown architecture {architecture!r}; use one of {', '.join(ARCHITECTURES)}")


def build_classifier(architecture: str, *, size: int, params: dict, in_channels: int = 1, views: int = 1):
    """``views`` > 1: one encoder per view channel, features concatenated (seed 004's "concat")."""
    if views > 1:
        encoders = [build_encoder(architecture, 1, size, params) for _ in range(views)]
    else:
        encoders = [build_encoder(architecture, in_channels, size, params)]
    return RadiographClassifier(encoders, dropout=params.get("dropout", 0.2))


def build_from_card(card: dict) -> RadiographClassifier:
    """The network a model card describes (the registry's ``build`` callback)."""
    c = card["config"]
    return build_classifier(
        card["architecture"],
        size=c["size"],
        params=c["params"],
        in_channels=c.get("in_channels", 1),
        views=c.get("views", 1),
    )
