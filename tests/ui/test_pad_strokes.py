"""What the drawing pad's state keeps for its next mount (`ui.canvas.kept_strokes`): the
strokes of a finished drawing, checked; the browser test of a page left and come back to
is tests/e2e/test_app_browser.py."""

from ui.canvas import MAX_KEPT_POINTS, MAX_KEPT_STROKES, kept_strokes


def state(paths, final=True):
    drawing = {"png": "data:image/png;base64,", "seq": 3, "final": final, "strokes": 1}
    if paths is not None:
        drawing["paths"] = paths
    return {"drawing": drawing}


def test_a_finished_drawing_is_kept_and_a_cleared_pad_keeps_nothing():
    seven = [{"w": 20, "pts": [[40, 40], [240, 40], [120.5, 250.1]]}]
    assert kept_strokes(state(seven)) == [{"w": 20.0, "pts": seven[0]["pts"]}]
    assert kept_strokes(state([])) == []  # Clear: the pad comes back empty


def test_nothing_is_kept_from_a_live_read_or_no_drawing():
    assert kept_strokes(state(None, final=False)) is None  # (sent without its strokes)
    assert kept_strokes({"drawing": None}) is None
    assert kept_strokes(None) is None


def test_malformed_or_oversized_strokes_are_not_kept():
    for paths in (
        "strokes",
        [{"w": 20}],
        [{"w": "wide", "pts": [[1, 2]]}],
        [{"w": 20, "pts": []}],
        [{"w": 20, "pts": [[1, 2, 3]]}],
        [{"w": 20, "pts": [["1", 2]]}],
        [{"w": 20, "pts": [[1, 2]]}] * (MAX_KEPT_STROKES + 1),
        [{"w": 20, "pts": [[1, 2]] * (MAX_KEPT_POINTS + 1)}],
    ):
        assert kept_strokes(state(paths)) is None, paths
