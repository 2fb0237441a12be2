"""Contact sheets of phantom cases, for a radiologist to judge realism.

Regenerate the figures in docs/phantoms/ with::

    .venv/bin/python -m inference_worker.phantoms.montage docs/phantoms
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from inference_worker.vocabulary import SACRAL_CLASSES


def window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    lo = centre - width / 2
    return (np.clip((values.astype(np.float32) - lo) / width, 0, 1) * 255).astype(np.uint8)


def ct_views(case, zoom: float = 1.5) -> Image.Image:
    """Four panels through the lesion centre, radiological display convention.

    Axial (bone window), axial (soft-tissue window, tumour label outlined in red),
    coronal and sagittal (bone window). Axial/coronal: patient's right on the
    viewer's left; axial anterior up; coronal/sagittal superior up, sagittal
    anterior on the left. Axial panels are cropped to the pelvis.
    """
    inv = np.linalg.inv(case.affine)
    i, j, k = (np.rint(inv @ np.r_[case.lesion["centre_ras_mm"], 1.0])[:3]).astype(int)
    i, j, k = (int(np.clip(v, 0, n - 1)) for v, n in zip((i, j, k), case.hu.shape, strict=True))
    sx, sy, sz = case.spacing
    nx, ny, _ = case.hu.shape
    tumour = case.labels == 1
    crop = (slice(int(nx * 0.12), int(nx * 0.88)), slice(int(ny * 0.1), int(ny * 0.9)))
    axial = case.hu[crop[0], crop[1], k][:, ::-1].T
    axial_mask = tumour[crop[0], crop[1], k][:, ::-1].T
    views = [
        (window(axial, 400, 1800), None, 1.0),
        (window(axial, 40, 400), axial_mask, 1.0),
        (window(case.hu[crop[0], j, ::-1].T, 400, 1800), None, sz / sx),
        (window(case.hu[i, crop[1], ::-1][::-1].T, 400, 1800), None, sz / sy),
    ]
    panels = []
    for grey, msk, aspect in views:
        rgb = np.stack([grey] * 3, axis=-1)
        if msk is not None:
            rgb[msk & ~_erode(msk)] = (255, 60, 60)
        pil = Image.fromarray(rgb)
        size = (int(pil.width * zoom), max(1, int(round(pil.height * aspect * zoom))))
        panels.append(pil.resize(size, Image.BILINEAR))
    height = max(p.height for p in panels)
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 6 * (len(panels) - 1), height))
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 6
    return sheet


def _erode(mask):
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    return out


def caption(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 16), (0, 0, 0))
    out.paste(img, (0, 16))
    ImageDraw.Draw(out).text((3, 2), text, fill=(255, 255, 0))
    return out


def stack(images, gap=6) -> Image.Image:
    width = max(im.width for im in images)
    sheet = Image.new("RGB", (width, sum(im.height for im in images) + gap * (len(images) - 1)))
    y = 0
    for im in images:
        sheet.paste(im, (0, y))
        y += im.height + gap
    return sheet


def sacral_sheet(seeds=(11, 12), profile="default") -> Image.Image:
    from inference_worker.phantoms.sacral_ct import generate_case

    rows = []
    for n, diagnosis in enumerate(SACRAL_CLASSES):
        for seed in seeds:
            case = generate_case(seed + 100 * n, diagnosis, profile)
            les = case.lesion
            text = (
                f"{diagnosis}  seed {seed}  {case.clinical['age']:.0f}{case.clinical['sex']}  "
                f"{les['level']} {les['position']} {les['side']}  {case.clinical['tumour_volume_ml']:.0f} ml"
            )
            rows.append(caption(ct_views(case), text))
    return stack(rows)


def hybrid_sheet(seeds=(1, 2, 3)) -> Image.Image:
    from inference_worker.phantoms.hybrid_ct import generate_hybrid_case

    rows = []
    for seed, diagnosis in zip(seeds, ("giant_cell_tumour", "chordoma", "chondrosarcoma"), strict=False):
        case = generate_hybrid_case(seed, diagnosis)
        les = case.lesion
        text = f"HYBRID (real CT + phantom tumour)  {diagnosis}  seed {seed}  {les['level']} {les['position']} {les['side']}"
        rows.append(caption(ct_views(case), text))
    return stack(rows)


def _radiograph_tile(pixels, box, height=384) -> Image.Image:
    grey = (pixels.astype(np.float32) / 16).clip(0, 255).astype(np.uint8)
    rgb = np.stack([grey] * 3, axis=-1)
    x0, y0, x1, y1 = box
    rgb[y0:y1, [x0, x1 - 1]] = (255, 60, 60)
    rgb[[y0, y1 - 1], x0:x1] = (255, 60, 60)
    pil = Image.fromarray(rgb)
    return pil.resize((int(pil.width * height / pil.height), height), Image.BILINEAR)


def _row(tiles) -> Image.Image:
    sheet = Image.new(
        "RGB", (sum(t.width for t in tiles) + 6 * (len(tiles) - 1), max(t.height for t in tiles))
    )
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width + 6
    return sheet


def bone_sheet() -> Image.Image:
    """Every subtype once (box in red); tumours on the first rows, infections last."""
    from inference_worker.phantoms import bone_xray

    codes = [*bone_xray.TUMOURS, *bone_xray.INFECTIONS, *bone_xray.INFECTIONS]
    tiles = []
    for n, code in enumerate(codes):
        case = bone_xray.generate_case(500 + n, code)
        text = f"{code} {case.clinical['age']:.0f}{case.clinical['sex']} {case.clinical['site']}"
        tiles.append(caption(_radiograph_tile(case.pixels, case.box, 320), text[:40]))
    rows = [_row(tiles[i : i + 4]) for i in range(0, len(tiles), 4)]
    return stack(rows)


def spine_sheet() -> Image.Image:
    from inference_worker.phantoms import spine_xray

    rows = []
    for diagnosis in ("metastasis", "osteoporotic_fracture"):
        tiles = []
        for seed in (1, 2):
            case = spine_xray.generate_case(seed + (10 if diagnosis == "metastasis" else 0), diagnosis)
            f = case.findings
            text = f"{diagnosis} {case.level} {case.clinical['age']:.0f}{case.clinical['sex']} {f['shape']} wink={f['winking_pedicle']}"
            tiles.append(caption(_radiograph_tile(case.ap, case.boxes["ap"]), text[:48]))
            tiles.append(caption(_radiograph_tile(case.lateral, case.boxes["lateral"]), "lateral"))
        rows.append(_row(tiles))
    return stack(rows)


def save(img: Image.Image, path: Path) -> None:
    # Grey levels plus a red outline fit a 256-colour palette: a third of the bytes in git.
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/phantoms")
    out.mkdir(parents=True, exist_ok=True)
    what = set(argv[1:]) or {"sacral", "external", "hybrid", "bone", "spine"}
    if "sacral" in what:
        save(sacral_sheet(), out / "sacral_ct.png")
    if "external" in what:
        save(sacral_sheet(seeds=(21,), profile="external"), out / "sacral_ct_external.png")
    if "hybrid" in what:
        save(hybrid_sheet(), out / "sacral_ct_hybrid.png")
    if "bone" in what:
        save(bone_sheet(), out / "bone_xray.png")
    if "spine" in what:
        save(spine_sheet(), out / "spine_xray.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
