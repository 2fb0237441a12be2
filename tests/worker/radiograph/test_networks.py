"""Every radiograph network: one logit, a spatial CAM layer, an embedding, rebuilt from its card."""

from __future__ import annotations

import pytest
import torch

from inference_worker.radiograph.networks import ARCHITECTURES, build_classifier, build_from_card
from inference_worker.radiograph.recipes import TINY, recipe


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_architecture_shapes(architecture):
    net = build_classifier(architecture, size=32, params=TINY["params"]).eval()
    x = torch.randn(2, 1, 32, 32)
    maps = {}
    handle = net.cam[0].register_forward_hook(lambda m, i, o: maps.setdefault("map", o))
    with torch.no_grad():
        logits = net(x)
    handle.remove()
    assert logits.shape == (2, 1)
    assert maps["map"].ndim == 4 and maps["map"].shape[0] == 2
    assert net.embed(x).shape == (2, maps["map"].shape[1])


def test_concat_has_one_encoder_and_cam_layer_per_view():
    net = build_classifier("efficientnet-b0", size=32, params=TINY["params"], views=2).eval()
    assert net.cam_layers == ["cam.0", "cam.1"]
    assert net(torch.randn(2, 2, 32, 32)).shape == (2, 1)


def test_build_from_card_restores_the_same_network():
    net = build_classifier("vit", size=32, params=TINY["params"]).eval()
    card = {"architecture": "vit", "config": {"size": 32, "params": TINY["params"]}}
    twin = build_from_card(card)
    twin.load_state_dict(net.state_dict())
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(twin.eval()(x), net(x))


def _groups(net):
    return {m.num_groups for m in net.modules() if isinstance(m, torch.nn.GroupNorm)}


def test_norm_groups_reach_the_efficientnet_from_the_recipe_and_card():
    bone, spine = recipe("demo", "bone-xray")["params"], recipe("demo", "spine-xray")["params"]
    assert _groups(build_classifier("efficientnet-b3", size=32, params=bone)) == {8}
    assert _groups(build_classifier("efficientnet-b0", size=32, params=spine)) == {1}
    # A card saved before the setting existed has no "efficientnet" key: one group, as
    # it was trained, so the saved weights go back into the network they came from.
    old = build_from_card(
        {"architecture": "efficientnet-b0", "config": {"size": 32, "params": TINY["params"]}}
    )
    assert _groups(old) == {1}
    new = build_from_card({"architecture": "efficientnet-b3", "config": {"size": 32, "params": bone}})
    assert _groups(new) == {8}


def test_paper_recipe_is_the_published_one():
    paper = recipe("paper")
    assert (paper["size"], paper["batch_size"], paper["epochs"], paper["lr"]) == (224, 128, 100, 0.1)
    assert (paper["step_epochs"], paper["gamma"], paper["folds"]) == (30, 0.1, 5)
    assert recipe("demo", epochs=3)["epochs"] == 3
    with pytest.raises(ValueError):
        recipe("huge")
