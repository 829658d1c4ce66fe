"""Run the sanity check (model.why.sanity) on a model and record it in its card.

    python -m training.sanity --model mnist-cnn --data-dir DATA_DIR

Cascading randomisation (Adebayo et al. 2018): a map that barely changes when the
network's weights are randomised explains the input, not the model. The result per
`method@layer` goes into the card's `explanations.sanity` section, which the report
reads to label every map.
"""

from __future__ import annotations

import argparse
import sys

from model.why.sanity import SANITY_DIGITS, card_section, default_targets, key, sanity_check


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.sanity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="mnist-cnn", help="bundled name or path to a .keras file")
    p.add_argument("--data-dir", help="folder with the test set (default $DIGITLENS_DATA_DIR)")
    p.add_argument("--n", type=int, default=SANITY_DIGITS, help="test images to check on")
    p.add_argument("--dry-run", action="store_true", help="print, do not write the card")
    args = p.parse_args(argv)

    from model import load_classifier
    from model.errors import DigitLensError
    from model.runtime.artifacts import read_card, write_card

    try:
        from model.datasets import load_split, locate, to_model_input

        clf = load_classifier(args.model)
        test = load_split(locate(clf.card.dataset_or_default, args.data_dir), "test")
    except (DigitLensError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the data loader's own errors (no data folder, bad files)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    x = to_model_input(test.images[: args.n])
    labels = clf.probabilities(x).argmax(axis=1)
    results = sanity_check(clf.net, x, labels, default_targets(clf.conv_layers))
    for r in results:
        print(
            f"{key(r.method, r.layer):32s} {'pass' if r.passed else 'FAIL'}  "
            f"r_all {r.rank_r_all:+.2f}  r_ink {r.rank_r_ink:+.2f}"
        )
    if not args.dry_run:
        card = read_card(clf.artifact.keras_path)
        card = card.with_explanations("sanity", card_section(results, len(x)))
        path = write_card(clf.artifact.keras_path, card)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
