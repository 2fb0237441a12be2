"""Training of the sacral models from cases: segmenter, six-class classifier (four
ablation variants) and the malignancy DenseNet with its reader stacker.

Model selection and calibration use the validation split only; test/external splits
are never read here.
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np
import torch
from monai.losses import DiceCELoss

from inference_worker.evaluation.metrics import classification_metrics, dice_per_structure
from inference_worker.models import registry
from inference_worker.sacral import classifier as cls_mod
from inference_worker.sacral import fine_stage
from inference_worker.sacral import malignancy as mal_mod
from inference_worker.sacral import segmentation as seg_mod
from inference_worker.sacral.calibration import fit_temperature, softmax
from inference_worker.sacral.data import TASK, Case
from inference_worker.sacral.ensemble import combine, member_seeds
from inference_worker.sacral.features import case_features, tabular_raw
from inference_worker.sacral.preprocess import STRUCTURES, prepare_image, prepare_labels
from inference_worker.sacral.reader_simulation import simulate_reader
from inference_worker.sacral.tabular import fit_stats, standardise
from inference_worker.vocabulary import SACRAL_CLASSES

log = logging.getLogger(__name__)

# Segmentation learns on a 4 mm grid in 48-voxel (192 mm) patches. The segmenter is
# trained for a fixed number of steps, not epochs, because what it needs is gradient
# steps, whatever the cohort size (100 steps, what "12 epochs" once came to, left the
# tumour unlearned). Held-out seed 202 (docs/evaluation/sacral_ct.md): 1500 steps of
# 32-voxel patches gave tumour Dice 0.600, 2000 of 48 0.683, 4000 of 48 0.697; hips
# 0.88 -> 0.91 -> 0.92. The DenseNet went 0.70 -> 0.79 -> 0.93 with 12 -> 30 -> 60 epochs.
# QUICK exercises every path FULL uses (ensembles, imperfect-mask views), in miniature.
QUICK = {
    "seg_steps": 4,
    "seg_spacing": 4.0,
    "patch": 32,
    "cls_epochs": 2,
    "mal_epochs": 1,
    "crop": 32,
    "cls_members": 2,
    "mal_members": 2,
    "mask_views": 1,
    "train_on_predicted": True,
    "select_on_predicted": True,
    "mirror": True,
    "tabular_dropout": 0.5,
}
# Classifiers (docs/evaluation/sacral_ct.md, "Classifier robustness"): trained on views of
# imperfect masks (6 perturbed + the segmenter's own + all of them mirrored), selected
# and calibrated on the segmenter's masks of the validation cases, tabular rows dropped
# for half the samples, and ensembles of 5 (six-class) and 3 (DenseNet) seeds. On
# held-out seeds 202/303 with a 300-case training cohort this took fusion from
# 0.965/0.868 to the figures recorded there.
FULL = {
    "seg_steps": 4000,
    "seg_spacing": 4.0,
    "patch": 48,
    "cls_epochs": 40,
    "mal_epochs": 60,
    "crop": 32,
    "cls_members": 5,
    "mal_members": 3,
    "mask_views": 6,
    "train_on_predicted": True,
    "select_on_predicted": True,
    "mirror": True,
    "tabular_dropout": 0.5,
}
SEG_BATCH = 2


def prepare(cases: list[Case], crop: int, seed: int, spacing=(4.0, 4.0, 4.0)) -> list[dict]:
    rng = np.random.default_rng(seed)
    items = []
    for case in cases:
        hu, labels, affine = case.load()
        if labels is None:
            raise ValueError(f"{case.case_id}: training needs a label map")
        item = {
            "case": case,
            "seg_image": prepare_image(hu, affine, spacing).as_tensor(),
            "seg_labels": prepare_labels(labels, affine, spacing).as_tensor().to(torch.uint8),
            "y": SACRAL_CLASSES.index(case.diagnosis),
            "malignant": int(case.malignant),
            # Phantoms carry their lesion's look; a simulated reader reads it (with errors).
            "reader": simulate_reader(case.lesion, case.malignant, rng),
        }
        item.update(case_features(hu, labels, affine, case.clinical, crop))
        items.append(item)
    return items


# --- segmentation -------------------------------------------------------------------------


def _random_patch(item: dict, size: int, rng: np.random.Generator):
    image, labels = item["seg_image"], item["seg_labels"]
    shape = np.array(image.shape[1:])
    fg = labels[0] > 0
    if rng.random() < 0.75 and fg.any():
        # Bias towards the tumour: it is the rarest and the hardest structure.
        target = labels[0] == STRUCTURES["tumour"] if rng.random() < 0.67 else fg
        if not target.any():
            target = fg
        points = torch.nonzero(target)
        centre = points[rng.integers(len(points))].numpy()
    else:
        centre = rng.integers(0, shape)
    start = np.clip(centre - size // 2, 0, np.maximum(shape - size, 0))
    sl = tuple(slice(int(s), int(s) + size) for s in start)
    img, lab = image[(slice(None), *sl)], labels[(slice(None), *sl)]
    pad = [0, 0] * 3
    for axis in range(3):
        pad[2 * (2 - axis) + 1] = size - img.shape[axis + 1]
    if any(pad):
        img = torch.nn.functional.pad(img, pad)
        lab = torch.nn.functional.pad(lab, pad)
    return img, lab


def _intensity_jitter(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Scanner differences: a small gain and offset per sample, and noise."""
    gain = torch.as_tensor(rng.uniform(0.94, 1.06, size=(x.shape[0], 1, 1, 1, 1)), dtype=x.dtype)
    offset = torch.as_tensor(rng.uniform(-0.02, 0.02, size=(x.shape[0], 1, 1, 1, 1)), dtype=x.dtype)
    return x * gain + offset + 0.02 * torch.randn_like(x)


def train_segmenter(
    train: list[dict], val: list[dict], config: dict, steps: int, seed: int, device, progress=None
):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = seg_mod.build_segmenter(config).to(device)
    # Dice over the whole batch, not per patch: a 128 mm patch often holds no tumour or
    # no hip bone, and per-patch Dice then adds a near-constant term for the absent class.
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    lr = config["lr"]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    patch = config["roi"][0]
    steps = max(1, steps)
    # One cycle: a short warm-up then annealing to ~0, so the last steps settle the
    # boundaries instead of bouncing at a constant rate.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    net.train()
    running = None
    for step in range(steps):
        pairs = [
            _random_patch(train[rng.integers(len(train))], patch, rng)
            for _ in range(config.get("batch", SEG_BATCH))
        ]
        x = _intensity_jitter(torch.stack([p[0] for p in pairs]), rng).to(device)
        y = torch.stack([p[1] for p in pairs]).long().to(device)
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        if progress and (step + 1) % 100 == 0:
            progress(f"segmenter step {step + 1}/{steps}: loss {running:.3f}")
    net.eval()
    return net, {"validation": segmentation_dice(net, val, config, device), "steps": steps}


def segmentation_dice(net, items: list[dict], config: dict, device) -> dict:
    """Mean Dice per structure on the coarse grid after keeping one component each."""
    scores: dict[str, list[float]] = {k: [] for k in STRUCTURES}
    for item in items:
        probs = seg_mod.predict_probabilities(net, item["seg_image"], config["roi"], device)
        pred = seg_mod.keep_components(probs.argmax(0, keepdim=True))[0].numpy()
        for k, v in dice_per_structure(pred, item["seg_labels"][0].numpy(), STRUCTURES).items():
            scores[k].append(v)
    return {k: round(float(np.mean(v)), 4) if v else None for k, v in scores.items()}


# --- classifiers --------------------------------------------------------------------------


def _augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    # Shifts of up to 2 voxels (the predicted tumour's centre wobbles at inference) and
    # intensity jitter. No flips: left-right would contradict the location input and
    # anterior-posterior would move the presacral mass behind the sacrum.
    shifts = tuple(int(v) for v in rng.integers(-2, 3, size=3))
    return _intensity_jitter(torch.roll(x, shifts=shifts, dims=(2, 3, 4)), rng)


def _fit_classifier(
    net,
    xs,
    tabs,
    ys,
    val_xs,
    val_tabs,
    val_ys,
    epochs,
    seed,
    device,
    lr=2e-3,
    batch=8,
    weight_decay=1e-3,
    tabular_dropout=0.0,
):
    """Train with AdamW + one cycle, keep the best validation-loss epoch.

    ``xs`` is (n, C, D, H, W), or (n, V, C, D, H, W) with V views of each case (crops
    from the true and from imperfect tumour masks, ``robust.py``): each sample of a
    batch then draws one of its views, with ``tabs`` (n, V, d) following the same draw.

    ``tabular_dropout``: the share of training samples whose whole tabular row is set to
    0, the training mean, which is also what inference feeds for a missing age or sex.
    Against modality competition: with age and location at hand a fusion network can fit
    the training cases while its image branch learns less than the image-only model's.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(ys)
    views = xs.dim() == 6
    epochs = max(1, epochs)
    per_epoch = max(1, sum(1 for s in range(0, n, batch) if n - s >= 2))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * per_epoch, pct_start=0.15
    )
    best, best_state = np.inf, None
    for _ in range(epochs):
        net.train()
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            if views:
                pick = torch.as_tensor(rng.integers(xs.shape[1], size=len(idx)))
                x, t = xs[idx, pick], tabs[idx, pick] if tabs is not None else None
            else:
                x, t = xs[idx], tabs[idx] if tabs is not None else None
            x = _augment(x, rng).to(device)
            if t is not None and tabular_dropout > 0:
                keep = torch.as_tensor(rng.random(len(idx)) >= tabular_dropout, dtype=t.dtype)
                t = t * keep[:, None]
            t = t.to(device) if t is not None else None
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                net(x, t) if t is not None else net(x), ys[idx].to(device)
            )
            loss.backward()
            opt.step()
            sched.step()
        logits = predict_logits(net, val_xs, val_tabs, device)
        val_loss = float(torch.nn.functional.cross_entropy(torch.as_tensor(logits), val_ys))
        if val_loss < best:  # keep the best validation epoch
            best = val_loss
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    net.eval()
    return net


@torch.no_grad()
def predict_logits(net, xs, tabs, device, batch: int = 16) -> np.ndarray:
    net.eval()
    out = []
    for start in range(0, len(xs), batch):
        x = xs[start : start + batch].to(device)
        if tabs is not None:
            out.append(net(x, tabs[start : start + batch].to(device)).cpu())
        else:
            out.append(net(x).cpu())
    return torch.cat(out).numpy()


def _stack(items, key):
    return torch.as_tensor(np.stack([i[key] for i in items]))


def _train_views(item: dict) -> list[dict]:
    """What a training case offers: its true-mask features plus any imperfect-mask views."""
    return [item] + list(item.get("views", ()))


def _select_view(item: dict) -> dict:
    """What a validation case is judged on: the segmenter's mask when it was computed
    (the inference condition), else the true mask."""
    return item.get("predicted") or item


def _view_inputs(items, columns, stats, multi: bool):
    """Crops (and standardised tabular rows) of the training views: (n, V, ...) when
    ``multi``, every case cycling its views up to the largest V, else the true view."""
    if not multi:
        sets = [[i] for i in items]
    else:
        per_case = [_train_views(i) for i in items]
        v = max(len(views) for views in per_case)
        sets = [[views[j % len(views)] for j in range(v)] for views in per_case]
    xs = torch.as_tensor(np.stack([[f["crop"] for f in s] for s in sets]))
    tabs = None
    if columns:
        tabs = torch.as_tensor(
            np.stack([standardise(np.array([tabular_raw(f, columns) for f in s]), stats) for s in sets])
        )
    if not multi:
        xs = xs[:, 0]
        tabs = tabs[:, 0] if tabs is not None else None
    return xs, tabs


def _ensemble_fit(build, config, train, val, columns, stats, labels_key, epochs, seed, device, lr):
    """Train ``members`` networks (seeded one by one) on the training views, select each on
    the validation views, and return them as one network (an ensemble when k > 1)."""
    multi = any(i.get("views") for i in train)
    xs, tabs = _view_inputs(train, columns, stats, multi)
    val_sel = [_select_view(i) for i in val]
    val_xs = _stack(val_sel, "crop")
    val_tabs = (
        torch.as_tensor(standardise(np.array([tabular_raw(f, columns) for f in val_sel]), stats))
        if columns
        else None
    )
    ys = torch.as_tensor([i[labels_key] for i in train])
    val_ys = torch.as_tensor([i[labels_key] for i in val])
    seeds = member_seeds(seed, config.get("members", 1))
    members = []
    for member_seed in seeds:
        net = build({**config, "members": 1}, member_seed).to(device)
        members.append(
            _fit_classifier(
                net,
                xs,
                tabs,
                ys,
                val_xs,
                val_tabs,
                val_ys,
                epochs,
                member_seed,
                device,
                lr=lr,
                weight_decay=config.get("weight_decay", 1e-3),
                tabular_dropout=config.get("tabular_dropout", 0.0) if columns else 0.0,
            )
        )
    net = combine(members).eval()
    logits = predict_logits(net, val_xs, val_tabs, device)
    return net, logits, val_ys


def train_six_class(train, val, variant: str, config: dict, epochs: int, seed: int, device):
    columns = cls_mod.tabular_columns(cls_mod.VARIANTS[variant])
    stats = fit_stats(np.array([tabular_raw(i, columns) for i in train])) if columns else None
    cfg = {**config, "variant": variant, "tabular_columns": columns, "tabular_stats": stats}
    cfg["member_seeds"] = member_seeds(seed, cfg.get("members", 1))
    net, logits, val_ys = _ensemble_fit(
        cls_mod.build_classifier, cfg, train, val, columns, stats, "y", epochs, seed, device, lr=2e-3
    )
    cfg["temperature"] = fit_temperature(logits, val_ys.numpy())
    probs = softmax(logits, cfg["temperature"])
    metrics = classification_metrics(
        [SACRAL_CLASSES[y] for y in val_ys.tolist()], probs, SACRAL_CLASSES, n_boot=0
    )
    return net, cfg, {"validation": _summary(metrics), "validation_inputs": _val_inputs(val)}


def _val_inputs(val) -> str:
    n = sum(1 for i in val if i.get("predicted"))
    return f"{n} of {len(val)} validation cases on the segmenter's mask, the rest on the true mask"


def train_malignancy(train, val, config: dict, epochs: int, seed: int, device):
    cfg = {**config}
    cfg["member_seeds"] = member_seeds(seed, cfg.get("members", 1))
    net, logits, val_ys = _ensemble_fit(
        mal_mod.build_malignancy, cfg, train, val, [], None, "malignant", epochs, seed, device, lr=1e-3
    )
    cfg["temperature"] = fit_temperature(logits, val_ys.numpy())
    p_mal = softmax(logits, cfg["temperature"])[:, 1]
    readers = [i["reader"] for i in val]
    cfg["stacker"] = mal_mod.fit_stacker(p_mal, readers, val_ys.numpy())
    cfg["stacker_note"] = "fitted on the validation split with simulated readers (phantom truth + noise)"
    y_names = [mal_mod.CLASSES[y] for y in val_ys.tolist()]
    alone = classification_metrics(y_names, np.column_stack([1 - p_mal, p_mal]), mal_mod.CLASSES, n_boot=0)
    return net, cfg, {"validation": _summary(alone), "validation_inputs": _val_inputs(val)}


def _summary(m: dict) -> dict:
    keep = ("n", "auc_macro", "auc_ci", "f1_macro", "accuracy", "calibration_error", "confusion_matrix")
    return {k: m.get(k) for k in keep}


# --- everything ---------------------------------------------------------------------------


def train_all(
    cases: list[Case],
    *,
    out: str,
    epochs: int | None = None,
    quick: bool = False,
    seed: int = 0,
    manifest=None,
    progress=None,
    segmenter_from=None,
) -> list[str]:
    """Train and save every sacral model; returns the saved folders. ``segmenter_from``
    (a models folder) skips the segmenter's ~700 s: its segmenter is copied instead."""
    progress = progress or functools.partial(print, flush=True)  # flushed: logs show progress live
    plan = dict(QUICK if quick else FULL)
    if epochs is not None:
        plan.update(cls_epochs=epochs, mal_epochs=epochs)
    device = registry.default_device()
    torch.manual_seed(seed)
    train_cases = [c for c in cases if c.split == "train"]
    val_cases = [c for c in cases if c.split == "validation"]
    if len(train_cases) < 2 or len(val_cases) < 2:
        raise ValueError("training needs at least two train and two validation cases")
    t0 = time.time()
    spacing = (plan["seg_spacing"],) * 3
    train = prepare(train_cases, plan["crop"], seed, spacing)
    val = prepare(val_cases, plan["crop"], seed + 1, spacing)
    if epochs is not None:
        # --epochs means passes over the training cases for the segmenter too.
        plan["seg_steps"] = max(1, epochs * len(train) // SEG_BATCH)
    progress(f"prepared {len(train)} train / {len(val)} validation cases in {time.time() - t0:.0f}s")
    synthetic = all(c.synthetic for c in cases)
    sizes = {"train": len(train), "validation": len(val)}
    common = dict(
        task=TASK,
        seed=seed,
        split_sizes=sizes,
        synthetic_training=synthetic,
        data_manifest=manifest,
        root=out,
    )
    saved = []

    seg_cfg = {
        **seg_mod.DEFAULT_CONFIG,
        "roi": [plan["patch"]] * 3,
        "spacing": list(spacing),
        "steps": plan["seg_steps"],
        "batch": SEG_BATCH,
        "lr": 5e-3,
    }
    t0 = time.time()
    if segmenter_from is None:
        net, metrics = train_segmenter(train, val, seg_cfg, plan["seg_steps"], seed, device, progress)
    else:  # classifier iteration: an earlier run's segmenter, unchanged, saved again here
        net, seg_cfg, metrics = reuse_segmenter(segmenter_from, device)
    saved.append(
        registry.save_model(
            name="segmenter",
            state={"state_dict": net.state_dict()},
            architecture="monai.networks.nets.UNet",
            config=seg_cfg,
            metrics=metrics,
            extra={"hu_reference": hu_reference(train)},
            **common,
        )
    )
    progress(f"segmenter: {metrics} ({time.time() - t0:.0f}s)")
    # The fine stage belongs with its segmenter: reused with it, unchanged, when it has one.
    reused_fine = reuse_fine_stage(segmenter_from, device) if segmenter_from is not None else None
    t0 = time.time()
    fine_net, fine_cfg, fine_metrics = reused_fine or _train_fine_stage(
        train, val, net, seg_cfg, quick, epochs, seed, device, progress
    )
    saved.append(
        registry.save_model(
            name=fine_stage.NAME,
            state={"state_dict": fine_net.state_dict()},
            architecture="monai.networks.nets.UNet (fine tumour stage)",
            config=fine_cfg,
            metrics=fine_metrics,
            **common,
        )
    )
    progress(f"{fine_stage.NAME}: {fine_metrics.get('validation_ct_grid')} ({time.time() - t0:.0f}s)")

    t0 = time.time()
    fine_net.eval()
    add_imperfect_views(train, val, net, seg_cfg, plan, seed, device, fine=(fine_net, fine_cfg))
    progress(f"imperfect-mask views: {_views_summary(train, val)} ({time.time() - t0:.0f}s)")

    cls_cfg = {
        **cls_mod.DEFAULT_CONFIG,
        "crop": plan["crop"],
        "epochs": plan["cls_epochs"],
        "members": plan.get("cls_members", 1),
        **_view_config(plan),
    }
    for variant in cls_mod.VARIANTS:
        t0 = time.time()
        net, cfg, metrics = train_six_class(train, val, variant, cls_cfg, plan["cls_epochs"], seed, device)
        saved.append(
            registry.save_model(
                name=f"classifier-{variant}",
                state={"state_dict": net.state_dict()},
                architecture="FusionClassifier (3D CNN + tabular MLP)",
                config=cfg,
                metrics=metrics,
                **common,
            )
        )
        progress(f"classifier-{variant}: {metrics['validation']['auc_macro']} ({time.time() - t0:.0f}s)")

    mal_cfg = {
        **mal_mod.DEFAULT_CONFIG,
        "crop": plan["crop"],
        "epochs": plan["mal_epochs"],
        "members": plan.get("mal_members", 1),
        **_view_config(plan),
    }
    mal_cfg.pop("tabular_dropout")  # no tabular input to drop
    t0 = time.time()
    net, cfg, metrics = train_malignancy(train, val, mal_cfg, plan["mal_epochs"], seed, device)
    saved.append(
        registry.save_model(
            name="malignancy",
            state={"state_dict": net.state_dict()},
            architecture="monai.networks.nets.DenseNet121 (3D)",
            config=cfg,
            metrics=metrics,
            **common,
        )
    )
    progress(f"malignancy: {metrics['validation']['auc_macro']} ({time.time() - t0:.0f}s)")
    return [str(p) for p in saved]


def _train_fine_stage(train, val, coarse_net, coarse_cfg, quick, epochs, seed, device, progress):
    """The fine tumour stage (``fine_stage``), trained after and on top of the segmenter:
    (network, config, metrics)."""
    from inference_worker.sacral import train_fine  # it imports this module

    return train_fine.train_fine_stage(
        [item["case"] for item in train],
        [item["case"] for item in val],
        coarse_net,
        coarse_cfg,
        quick=quick,
        epochs=epochs,
        seed=seed,
        device=device,
        progress=progress,
    )


def _reuse(models_root, name: str, build, device):
    """An earlier run's model, unchanged: (network, config, metrics noting where from)."""
    loaded = registry.load_model(
        TASK, name, build=lambda c: build(c["config"]), root=models_root, device=device
    )
    metrics = {
        **loaded.card["metrics"],
        "reused_from": f"{loaded.path} (sha256 {loaded.card['sha256'][:12]})",
    }
    return loaded.network, loaded.card["config"], metrics


def reuse_segmenter(models_root, device):
    return _reuse(models_root, "segmenter", seg_mod.build_segmenter, device)


def reuse_fine_stage(models_root, device):
    """An earlier run's fine tumour stage, or None if that folder has none."""
    try:
        return _reuse(models_root, fine_stage.NAME, fine_stage.build_fine_segmenter, device)
    except FileNotFoundError:
        return None


def _view_config(plan: dict) -> dict:
    return {
        k: plan.get(k, d)
        for k, d in (
            ("mask_views", 0),
            ("train_on_predicted", False),
            ("select_on_predicted", False),
            ("mirror", False),
            ("tabular_dropout", 0.0),
        )
    }


def add_imperfect_views(train, val, seg_net, seg_cfg, plan, seed, device, fine=None) -> None:
    """Give each training case ``mask_views`` perturbed-mask views (and, with
    ``train_on_predicted``, the segmenter's own mask), and each validation case the
    segmenter's mask for selection and temperature (``select_on_predicted``). ``fine``:
    the fine tumour stage (network, config), so predicted masks are the pipeline's."""
    from inference_worker.sacral.robust import mirrored, perturbed_features, predicted_features

    k = plan.get("mask_views", 0)
    on_train, on_val = plan.get("train_on_predicted", False), plan.get("select_on_predicted", False)
    if not (k or on_train or on_val or plan.get("mirror")):
        return
    rng = np.random.default_rng(seed + 7)
    crop = plan["crop"]
    for item in train:
        if not (k or on_train):
            break
        hu, labels, affine = item["case"].load()
        views = perturbed_features(hu, labels, affine, item["case"].clinical, crop, k, rng) if k else []
        if on_train:
            pred = predicted_features(
                seg_net, seg_cfg, device, hu, affine, item["case"].clinical, crop, fine=fine
            )
            if pred is not None:
                views.append(pred)
        item["views"] = views
    if plan.get("mirror"):
        for item in train:
            item["views"] = list(item.get("views", ())) + [mirrored(f) for f in _train_views(item)]
    if on_val:
        for item in val:
            hu, _, affine = item["case"].load()
            item["predicted"] = predicted_features(
                seg_net, seg_cfg, device, hu, affine, item["case"].clinical, crop, fine=fine
            )


def _views_summary(train, val) -> str:
    views = sum(len(i.get("views", ())) for i in train)
    pred = sum(1 for i in val if i.get("predicted"))
    return f"{views} extra training views, {pred}/{len(val)} validation cases on the predicted mask"


def hu_reference(items: list[dict]) -> dict:
    """HU percentiles inside the body of the training scans: the in-domain reference."""
    from inference_worker.sacral.preprocess import HU_MAX, HU_MIN

    values = []
    for item in items:
        img = item["seg_image"][0].numpy() * (HU_MAX - HU_MIN) + HU_MIN
        body = img > -300
        values.append(np.percentile(img[body], [10, 50, 90]))
    arr = np.array(values)
    return {"p10_p50_p90_mean": arr.mean(0).round(1).tolist(), "p10_p50_p90_sd": arr.std(0).round(1).tolist()}
