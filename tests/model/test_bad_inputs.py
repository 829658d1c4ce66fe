"""Awkward inputs get read, or a clear message: float TIFFs, non-Keras model files, the CLI."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
from PIL import Image

from model.errors import ImageError, ImageTooLargeError, ModelLoadError
from model.input.decode import MAX_PIXELS
from model.input.preprocessing import preprocess, preprocess_stages
from tests.helpers import drawn_digit


def float_tiff(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a.astype(np.float32), mode="F").save(buf, "TIFF")
    return buf.getvalue()


def test_float_tiff_in_unit_range_is_read(mnist_cnn):
    seven = np.asarray(drawn_digit(7), np.float32) / 255  # values in [0, 1]
    x = preprocess(float_tiff(seven))
    assert x.max() == pytest.approx(1.0)
    assert mnist_cnn.predict(float_tiff(seven)).label == 7


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_nan_or_inf_says_so(bad):
    a = np.asarray(drawn_digit(7), np.float32) / 255
    a[5, 5] = bad
    with pytest.raises(ImageError, match="NaN or infinite"):
        preprocess(float_tiff(a))


def test_pillows_bomb_cap_is_reported_as_ours(monkeypatch):
    """Above Pillow's own limit, the message still quotes our cap, not Pillow's number."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above 2000 pixels
    data = io.BytesIO()
    Image.new("L", (100, 100)).save(data, "PNG")
    with pytest.raises(ImageTooLargeError) as info:
        preprocess_stages(data.getvalue(), max_pixels=MAX_PIXELS)
    assert f"{MAX_PIXELS:,}" in str(info.value) and "2,000" not in str(info.value)


def test_server_uses_the_library_pixel_cap():
    from server.config import ServerConfig

    assert ServerConfig().max_pixels == MAX_PIXELS


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (pickle.dumps({"weights": [1, 2, 3]}), "a Python pickle"),
        (b"\x89HDF\r\n\x1a\n" + bytes(200), "an HDF5 file"),
        (b"hello, not a model", "not a Keras archive"),
    ],
)
def test_a_non_zip_keras_file_says_what_it_is(tmp_path, content, what):
    from model import load_classifier

    path = tmp_path / "mine.keras"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        load_classifier(path)
    message = str(info.value)
    assert what in message and "mine.keras" in message
    assert str(tmp_path) not in message and "File not found" not in message


@pytest.mark.parametrize("suffix", [".h5", ".pkl"])
def test_a_model_file_of_another_format_says_what_it_is_not_that_it_is_missing(tmp_path, suffix):
    """An .h5 file was "'legacy.h5' is neither a bundled model ... nor a .keras file", as
    if it were not there (a user test); it is now what it is, and how to save it again."""
    from model import load_classifier

    path = tmp_path / f"legacy{suffix}"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200) if suffix == ".h5" else pickle.dumps(1))
    with pytest.raises(ModelLoadError) as info:
        load_classifier(path)
    message = str(info.value)
    assert ("an HDF5 file" if suffix == ".h5" else "a Python pickle") in message
    assert "model.save('legacy.keras')" in message and str(tmp_path) not in message
    assert "neither a bundled model" not in message


def cli(capsys, *args) -> tuple[int, list[str], str]:
    from model.predict import main

    code = main([*map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return code, [line for line in out.splitlines() if line.strip()], err


def test_cli_json_puts_failed_files_on_stdout(tmp_path, capsys, mnist_cnn):
    drawn_digit(7).save(tmp_path / "seven.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    Image.new("L", (100, 100)).save(tmp_path / "blank.png")
    code, lines, _ = cli(capsys, tmp_path, tmp_path / "missing.png", "--json")
    records = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in lines}
    assert code == 1
    assert set(records) == {"seven.png", "broken.png", "blank.png", "missing.png"}
    assert records["seven.png"]["label"] == 7 and records["seven.png"]["verdict"] == "digit"
    assert "error" not in records["seven.png"]
    for name in ("broken.png", "blank.png", "missing.png"):
        assert records[name]["error"], name


def test_cli_text_reports_errors_on_stderr_only(tmp_path, capsys, mnist_cnn):
    drawn_digit(7).save(tmp_path / "seven.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    code, lines, err = cli(capsys, tmp_path)
    assert code == 1
    assert lines == [f"{tmp_path / 'seven.png'}: 7 (> 99.9 %)"] or (
        len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'seven.png'}: 7 (")
    )
    assert "broken.png" in err and "broken.png" not in "".join(lines)


def test_cli_says_a_truncated_video_was_cut_short(tmp_path, capsys, mnist_cnn):
    import av

    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 280, 280, "yuv420p"
        for d in (7, 1, 4, 0):
            rgb = np.asarray(drawn_digit(d).convert("RGB"))
            for _ in range(10):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    code, lines, _ = cli(capsys, cut, "--json")
    records = [json.loads(line) for line in lines]
    frames = [r for r in records if "frame" in r]
    assert code == 1 and frames and frames[0]["label"] == 7
    assert "cut short" in records[-1]["error"]
    code, lines, _ = cli(capsys, path, "--json")  # the whole clip: no complaint
    assert code == 0 and all("error" not in json.loads(line) for line in lines)


def test_a_huge_image_is_refused_in_our_words_alone(tmp_path):
    """Pillow's DecompressionBombWarning (its own 89 MP cap) was printed beside our refusal,
    as a user runs the command line (pytest's own warning filters would hide the point)."""
    from tests.helpers import predict_cli

    Image.new("L", (10_000, 10_000)).save(tmp_path / "huge.png")  # 100 MP, a few KB
    done = predict_cli("--quiet", str(tmp_path / "huge.png"))
    assert done.returncode == 1 and "too large" in done.stderr, done.stderr
    assert "DecompressionBomb" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("what", "x"),
    [
        ("a NaN pixel", np.where(np.eye(28, dtype=bool), np.nan, 0.5)),
        ("an infinite pixel", np.where(np.eye(28, dtype=bool), np.inf, 0.5)),
        ("0..255 levels", np.full((28, 28), 255.0)),
        ("negative values", np.full((28, 28), -0.5)),
    ],
)
def test_a_model_input_the_model_cannot_take_is_refused(mnist_cnn, what, x):
    """A NaN pixel came back "0, digit" with a NaN probability, and a test image's 0..255
    levels "7, not a digit" with a score of 663,951 (a user test); /v2 refused both."""
    from model.errors import ModelInputError

    with pytest.raises(ModelInputError, match="finite numbers in 0..1"):
        mnist_cnn.predict_input(x)
    with pytest.raises(ModelInputError):
        mnist_cnn.predict_inputs(np.stack([np.zeros((28, 28)), x]))


def test_model_inputs_at_the_ends_of_their_range_are_read(mnist_cnn):
    x = np.zeros((28, 28), np.float32)
    x[4:24, 12:16] = 1.0 + 1e-6  # (a float's rounding past 1 is no reason to refuse)
    assert mnist_cnn.predict_input(x).label == 1


def test_a_png_with_huge_text_metadata_is_refused_for_it_not_called_corrupt():
    """A 7 whose PNG carries 3 MB of text (compressed: 4 KB) passes Pillow's 1 MB cap on a
    text chunk: refused, as a bomb would be, but it was "corrupt or truncated" (a user
    test). A small text chunk is read as ever."""
    from PIL import PngImagePlugin

    for size, refused in ((3_000_000, True), (1_000, False)):
        info = PngImagePlugin.PngInfo()
        info.add_text("comment", "x" * size, zip=True)
        buf = io.BytesIO()
        drawn_digit(7).save(buf, "PNG", pnginfo=info)
        if refused:
            with pytest.raises(ImageError, match="text metadata is too large") as said:
                preprocess(buf.getvalue())
            assert "corrupt" not in str(said.value)
        else:
            assert preprocess(buf.getvalue()).shape == (28, 28)
