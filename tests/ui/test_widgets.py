"""Pictures the pages share (`ui.widgets`)."""

from __future__ import annotations

import numpy as np


def test_each_preprocessing_stage_is_framed_apart_from_the_page():
    """The crop is the ink's own box: white ink flush with its edge ran into the white page,
    and a 7's bar looked cut off in the inspector (a user test)."""
    from ui.widgets import STAGE_FRAME, STAGE_FRAME_RGB, stage_picture

    crop = np.zeros((30, 20), np.float32)
    crop[0, :] = 1.0  # a 7's bar along the top edge
    square = np.asarray(stage_picture(crop, 100))
    f = STAGE_FRAME
    # Every stage the same square (a 1's tall crop was shown three times as tall as the
    # others, a user test): the picture centred, the rest transparent.
    assert square.shape == (100 + 2 * f, 100 + 2 * f, 4)
    seen = np.flatnonzero(square[0, :, 3])
    left = (100 + 2 * f - (67 + 2 * f)) // 2
    assert (seen == np.arange(left, left + 67 + 2 * f)).all()  # (the longest side 100)
    assert (square[:, :left, 3] == 0).all() and (square[:, left + 67 + 2 * f :, 3] == 0).all()
    picture = square[:, left : left + 67 + 2 * f, :3]
    for edge in (picture[:f], picture[-f:], picture[:, :f], picture[:, -f:]):
        assert (edge == STAGE_FRAME_RGB).all()
    assert (picture[f, f:-f] == 255).all()  # the bar, inside the frame
