"""What the command line writes beside each input: maps and overlays (`--explain`), and
the counterfactual's and its adversarial twin's pictures (`--counterfactual K`), and the
top-k line of models with many classes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from model.input.sources import Item


def output_folder_problem(out: Path) -> str | None:
    """Make the folder `out` where missing; why it cannot hold what is written there (a
    file of that name, a file above it, no permission), or None. The CLI's `--out` and the
    audit's say the same."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot make a folder there ({exc.strerror})"
    if not os.access(out, os.W_OK | os.X_OK):
        return "the folder is not writable"
    return None


def stem(item: Item, names: dict[Path, str]) -> str:
    """The output name of an input (see `collect`), with `.f<frame>` for a video frame."""
    name = names.get(item.path, item.path.name)
    return name if item.frame is None else f"{name}.f{item.frame:06d}"


def write_explanation(
    clf,
    item: Item,
    name: str,
    stages,
    method: str | None,
    layer: str | None,
    out: Path,
    target: int | None = None,
    contrast: int | None = None,
) -> dict:
    """Write the overlay (`<name>.<method>.png`) and the map (`.npy`); describe them, with
    trust and sanity."""
    from PIL import Image

    from model.why.report import report

    r = report(clf, stages, method, layer, target, contrast)
    e = r.explanation
    out.mkdir(parents=True, exist_ok=True)
    tag = e.method + (f".vs{e.contrast}" if e.contrast is not None else "")
    npy, png = out / f"{name}.{tag}.npy", out / f"{name}.{tag}.png"
    np.save(npy, e.heatmap)
    Image.fromarray(r.overlay).save(png)
    return {**r.to_dict(), "map": str(npy), "overlay": str(png)}


def map_line(written: dict | None) -> str | None:
    """What the text output says of a map `write_explanation` wrote: "map: PATH (how far
    to trust it)"; None where no map was written (none asked, or it could not be made)."""
    if not written or "overlay" not in written:
        return None
    trust = written["trust"]["verdict"] if written.get("trust") else "no trust score"
    return f"map: {written['overlay']} ({trust})"


def edit_line(edit: dict) -> str:
    """What the text output says of an edit `write_counterfactual` wrote: its kind, its
    message and the picture it went to, as a map's line names its overlay."""
    return f"{edit['kind']}: {edit['message']} ({edit['picture']})"


def write_counterfactual(clf, name: str, stages, target: int, out: Path) -> dict:
    """Write `<name>.cf<K>.png` / `.npy` (the edit) and `<name>.adv<K>.png` / `.npy` (the
    adversarial twin's change, magnified); describe both."""
    from PIL import Image

    from model.why.counterfactual import adversarial, counterfactual
    from model.why.edit_pictures import change_picture, edit_picture

    out.mkdir(parents=True, exist_ok=True)
    record = {}
    for tag, fn in (("cf", counterfactual), ("adv", adversarial)):
        r = fn(clf, stages, target)
        npy, png = out / f"{name}.{tag}{target}.npy", out / f"{name}.{tag}{target}.png"
        np.save(npy, r.x)
        picture = edit_picture(r) if tag == "cf" else change_picture(r)[0]
        Image.fromarray(picture).save(png)
        record[r.kind] = {**r.to_dict(), "x": str(npy), "picture": str(png)}
    return record


#: Models with more classes than this print their top-k in plain text.
TOP_K_TEXT_ABOVE = 10


def top_line(clf, pred, k: int) -> str:
    """ "  top-5: tabby 41.0%, tiger cat 20.3%, ..." plus a newline, for models with many
    classes; empty for the digit models (their one line says it all)."""
    from model.prediction import format_probability

    if len(clf.class_names) <= TOP_K_TEXT_ABOVE:
        return ""
    tops = ", ".join(
        f"{t.class_name} {format_probability(t.probability)}" for t in clf.top(pred, k)
    )
    return f"  top-{k}: {tops}\n"
