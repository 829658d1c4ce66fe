"""`python -m model.predict` on files, folders and a video, run as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, drawn_digit, write_video
from tests.helpers import predict_cli as cli


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    (root / "nested" / "deeper").mkdir(parents=True)
    drawn_digit(7).save(root / "seven.png")
    drawn_digit(1).convert("RGB").save(root / "nested" / "one.jpg")
    drawn_digit(0).save(root / "nested" / "deeper" / "zero.bmp")
    (root / "nested" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "notes.txt").write_text("not an image, and ignored in folders")
    write_video(root / "clip.mp4", [4, 7])
    return root


def test_folder_recursive_json(inputs):
    out = cli(inputs / "seven.png", inputs / "nested", "--json")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    errors = [os.path.basename(r["path"]) for r in records if "error" in r]
    records = [r for r in records if "error" not in r]
    assert errors == ["broken.png"]  # failed files are on stdout too, as JSON
    got = {os.path.basename(r["path"]): r["label"] for r in records}
    assert got == {"seven.png": 7, "one.jpg": 1, "zero.bmp": 0}
    for r in records:
        assert len(r["probabilities"]) == 10 and 0 < r["probability"] <= 1
    assert "broken.png" in out.stderr and out.stderr.count("\n") >= 1
    assert out.returncode == 1  # one input failed


def test_all_good_exits_zero_with_plain_output(inputs):
    out = cli(inputs / "seven.png")
    assert out.returncode == 0, out.stderr
    assert "seven.png: 7 (" in out.stdout and "seven.png" not in out.stderr


def test_video_frames(inputs):
    out = cli(inputs / "clip.mp4", "--json", "--fps", "2")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    labels = [r["label"] for r in records]
    assert labels[:2] == [4, 4] and labels[2:4] == [7, 7]
    assert all(r.get("blank") for r in records[4:])  # the blank last second
    assert [r["frame"] for r in records[:3]] == [0, 5, 10]
    text = cli(inputs / "clip.mp4", "--fps", "2").stdout.splitlines()
    assert len(text) == len(records) and text[-1].endswith("): blank"), text  # (left out)


@pytest.mark.parametrize("fps", ["11", "1000"])
def test_a_rate_above_the_videos_own_reads_every_frame_and_is_no_error(inputs, fps):
    """`--fps` above the clip's 10 fps: each of its 30 frames once, exit 0 (a user test:
    "the video was cut short: 30 of the 34 frames expected at 11 fps", exit 1)."""
    out = cli(inputs / "clip.mp4", "--json", "--fps", fps)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["frame"] for r in records] == list(range(30))
    assert "cut short" not in out.stderr + out.stdout


def test_explain_writes_overlays_and_maps(inputs, tmp_path):
    out = cli(
        inputs / "seven.png",
        inputs / "nested" / "one.jpg",
        "--explain",
        "gradcam",
        "--out",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    maps = sorted(tmp_path.glob("*.npy"))
    assert len(maps) == 2 and len(list(tmp_path.glob("*.png"))) == 2
    m = np.load(maps[0])
    assert m.shape == (28, 28) and m.min() >= 0 and m.max() <= 1
    # the text lines say where each map went and how far to trust it (they said nothing)
    said = [line for line in out.stdout.splitlines() if line.startswith("  map: ")]
    assert len(said) == 2, out.stdout
    for line in said:
        path, trust = line.removeprefix("  map: ").split(" (", 1)
        assert os.path.isfile(path) and path.endswith(".gradcam.png"), line
        assert trust.rstrip(")") and "None" not in trust, line


def test_a_map_that_cannot_be_made_for_one_input_does_not_stop_the_run(inputs, tmp_path):
    """`--contrast 7` on a folder stopped the whole run (exit 2) at the first input read as
    a 7, and the inputs after it got no line."""
    out = cli(
        inputs / "seven.png",
        inputs / "nested" / "one.jpg",
        "--json",
        "--explain",
        "gradcam",
        "--contrast",
        "7",
        "--out",
        tmp_path,
    )
    assert out.returncode == 1, out.stderr
    records = {os.path.basename(r["path"]): r for r in map(json.loads, out.stdout.splitlines())}
    assert set(records) == {"seven.png", "one.jpg"}
    assert records["seven.png"]["label"] == 7
    assert "same class" in records["seven.png"]["explanation"]["error"]
    assert records["one.jpg"]["explanation"]["contrast"] == 7  # the next input was mapped
    assert "seven.png: no map:" in out.stderr


def test_a_broken_video_is_said_in_words(tmp_path):
    """PyAV's error came through raw: "([Errno 1094995529] Invalid data found when
    processing input: '/path/clip.mp4')"."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(np.random.default_rng(0).bytes(3000))
    out = cli(clip)
    assert out.returncode == 1
    assert "cannot read the video (invalid data found when processing input)" in out.stderr
    assert "Errno" not in out.stderr and "Errno" not in out.stdout
    assert "frame/s" not in out.stderr  # no progress bar left behind ("0frame [00:00, ?frame/s]")


def test_a_folder_without_images_is_a_failed_input(tmp_path):
    """An empty folder (or one of text files only) printed nothing and exited 0."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("no image")
    for folder in ("empty", "texts"):
        out = cli(tmp_path / folder)
        assert out.returncode == 1, out.stderr
        assert f"{folder}: no images or videos in this folder" in out.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--target", "42"], "class index from 0 to 9"),
        (["--target", "3", "--contrast", "3"], "same"),
    ],
)
def test_a_target_wrong_for_every_input_stops_the_run_once(inputs, tmp_path, flags, said):
    """Since a map that cannot be made for one input no longer stops the run, `--target 42`
    was said once per input (and the run exited 1 after doing all the work)."""
    out = cli(inputs / "nested", "--explain", "saliency", "--out", tmp_path, *flags)
    assert out.returncode == 2 and out.stderr.count(said) == 1, out.stderr
    assert out.stdout == ""


def test_numbers_with_a_model_that_reads_no_digits_stop_the_run_once(inputs):
    """`--number --model fashion-cnn` said so for every input and exited 1 (a user test)."""
    out = cli(inputs / "nested", "--number", "--model", "fashion-cnn")
    said = "--number: fashion-cnn does not read digits"
    assert out.returncode == 2 and out.stderr.count(said) == 1, out.stderr
    assert out.stdout == ""


def test_a_number_of_one_unreadable_mark_fails_as_one_digit_does(inputs, tmp_path):
    """A lone dot: `--number` said "not a number: ... a filled area, not pen strokes" and
    exited 0, where the same image alone is "too small to read" and exit 1 (a user
    test). A lone mark is now tried as a single digit, and a mark that cannot be read
    fails the image; a number that reads stays exit 0."""
    from PIL import Image, ImageDraw

    dot = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(dot).ellipse((140, 140, 146, 146), fill=0)
    dot.save(tmp_path / "dot.png")
    single = cli(tmp_path / "dot.png")
    number = cli(tmp_path / "dot.png", "--number")
    said = "too small to read (a dot or a short tick)"
    assert single.returncode == 1 and said in single.stderr, single.stderr
    assert number.returncode == 1 and said in number.stdout, number.stdout
    as_json = cli(tmp_path / "dot.png", "--number", "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["text"] is None
    read = cli(inputs / "seven.png", "--number")
    assert read.returncode == 0 and read.stdout.strip().endswith(": 7"), read.stdout


def test_usage_errors(inputs, tmp_path):
    assert cli(inputs / "seven.png", "--explain", "gradcam").returncode == 2  # no --out
    bad = cli(
        inputs / "seven.png", "--model", "mnist-mlp", "--explain", "gradcam", "--out", tmp_path
    )
    assert bad.returncode == 2 and "has none" in bad.stderr
    missing = cli(inputs / "nope.png")
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_every_line_comes_in_the_order_the_inputs_were_named(inputs, tmp_path):
    """A missing path, or a file that cannot be read, named after a good one is said after
    that one's answer (both were said before any answer, their batch still waiting)."""
    named = [
        inputs / "seven.png",
        tmp_path / "gone.png",
        inputs / "nested" / "broken.png",
        inputs / "nested" / "one.jpg",
        tmp_path / "empty",
    ]
    (tmp_path / "empty").mkdir()
    out = cli(*named, "--json")
    said = [os.path.basename(json.loads(line)["path"]) for line in out.stdout.splitlines()]
    assert said == ["seven.png", "gone.png", "broken.png", "one.jpg", "empty"], out.stdout
    assert out.returncode == 1


def test_a_dash_reads_one_image_piped_in(inputs):
    """`... predict - < seven.png`: standard input is an input like a file (named `-`, its
    outputs `stdin`); with nothing piped in, or named twice, it is said in words."""
    with open(inputs / "seven.png", "rb") as piped:
        out = cli("-", inputs / "nested" / "one.jpg", "-", stdin=piped)
    (first, _), (second, answer) = (line.split(": ", 1) for line in out.stdout.splitlines())
    assert first == "-" and second.endswith("one.jpg") and answer.startswith("1 ("), out.stdout
    assert "-: standard input is read once" in out.stderr and out.returncode == 1
    empty = cli("-", stdin=subprocess.DEVNULL)
    assert "-: nothing was piped into standard input" in empty.stderr
    assert empty.returncode == 1 and "Traceback" not in empty.stderr


def test_output_names_follow_the_input_not_how_it_was_spelled(tmp_path):
    """A folder's files are named by their path inside it; equal names never overwrite."""
    from model.input.sources import collect

    scans = tmp_path / "scans"
    (scans / "a").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    for path in (scans / "a" / "seven.png", scans / "seven.png", tmp_path / "other" / "seven.png"):
        drawn_digit(7).save(path)
    spellings = (str(scans), str(scans.resolve()), str(tmp_path / "other" / ".." / "scans"))
    for spelling in spellings:
        files, errors, names = collect([spelling])
        assert not errors
        assert sorted(names.values()) == ["a__seven.png", "seven.png"]
    files, _, names = collect([str(scans), str(tmp_path / "other" / "seven.png")])
    assert [names[f] for f in files] == ["a__seven.png", "seven.png", "seven.png-2"]


def test_a_reader_that_stops_early_ends_the_run_without_a_traceback(inputs):
    """`python -m model.predict scans/ | head -1`: the pipe closes, the run stops quietly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "model.predict", "--quiet", str(inputs)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the first answer: its write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1 and "Traceback" not in err, err


def test_a_fashion_models_refusal_is_worded_as_its_own(inputs):
    """fashion-cnn's line for a drawn 7 says "not one it knows", as the app does; it said
    "not a digit: ..." of a digit (found by a helper session)."""
    out = cli(inputs / "seven.png", "--model", "fashion-cnn")
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[0]
    assert "seven.png: not one it knows: This does not look like a Fashion-MNIST item" in line
    assert "not a digit" not in out.stdout


def test_a_file_named_dash_is_a_file_not_standard_input(tmp_path, monkeypatch):
    """`predict ./-` read standard input (Path("./-") == Path("-"); a review)."""
    from model.input.sources import STDIN, collect

    drawn_digit(7).save(tmp_path / "-", "PNG")
    monkeypatch.chdir(tmp_path)
    files, errors, names = collect(["./-", "-"])
    assert files == [tmp_path / "-", STDIN] and not errors
    assert [names[f] for f in files] == ["-", "stdin"]


@pytest.mark.parametrize(
    "flags",
    [["--explain"], ["--counterfactual", "1"], ["--number", "--explain"]],
)
def test_an_out_that_cannot_be_a_folder_is_a_usage_error_before_any_work(inputs, tmp_path, flags):
    """A file where the folder should go: exit 2 with the reason, as the audit says it (a
    user test: a traceback ending in FileExistsError, after the first answer)."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for out in (taken, taken / "below"):
        got = cli(inputs / "seven.png", *flags, "--out", out)
        assert got.returncode == 2, got.stderr
        assert f"--out {out}: cannot make a folder there" in got.stderr
        assert "Traceback" not in got.stderr and not got.stdout


def test_look_alikes_are_asked_for_within_the_servers_bound(inputs):
    """`--neighbours 100000` took 60000 ("6265 of 60000 look-alikes are 7s"); the server
    refuses more than 64."""
    from model.why.index import MAX_K

    got = cli(inputs / "seven.png", "--neighbours", str(MAX_K + 1))
    assert got.returncode == 2 and f"--neighbours must be from 1 to {MAX_K}" in got.stderr


def test_a_link_to_nothing_and_a_pipe_are_said_what_they_are(tmp_path):
    """A dangling link in a folder was left out without a word, and a pipe named on the
    command line was "no such file or folder" (a user test)."""
    folder = tmp_path / "scans"
    folder.mkdir()
    drawn_digit(7).save(folder / "seven.png")
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    out = cli(folder, pipe)
    assert out.returncode == 1
    assert "seven.png: 7 (" in out.stdout
    assert f"{folder / 'gone.png'}: a link to a file that is not there" in out.stderr
    assert f"{pipe}: not a file: a pipe" in out.stderr
