"""The audit of a whole data set (model.audit): every input gets a row, nothing crashes
the run, the local loop gives the rows the report and the Parquet file are made from."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model.audit import PREDICTIONS, REPORT, audit, read_audit
from model.audit.batch import AuditBatch, AuditConfig
from model.audit.engines import run_local
from model.audit.inputs import AuditInputError, list_inputs
from model.datasets import FILES, IMAGES_MAGIC, LABELS_MAGIC
from model.input.samples import drawn_digit
from tests.helpers import ROOT, write_idx, write_video
from tests.helpers import predict_cli as cli


def audit_cli(command: str, *args) -> subprocess.CompletedProcess:
    """`python -m COMMAND ARGS` (the audit's two spellings), run as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", *command.split(), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def folder(tmp_path):
    """Two digits (one in a sub-folder), a corrupt file, random noise and a text file."""
    root = tmp_path / "inputs"
    (root / "sub").mkdir(parents=True)
    drawn_digit(7).save(root / "sub" / "seven.png")
    drawn_digit(7).convert("RGBA").save(root / "seven-rgba.png")
    (root / "broken.png").write_bytes(b"not a png at all")
    noise = (np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8)
    Image.fromarray(noise).save(root / "noise.png")
    (root / "notes.txt").write_text("not an input")
    return root


def test_a_folder_gives_one_row_per_image_and_bad_files_their_reason(folder, tmp_path):
    result = audit([str(folder)], tmp_path / "out")
    rows = read_audit(tmp_path / "out")
    names = [p.rsplit("/", 1)[-1] for p in rows["path"]]
    assert names == ["broken.png", "noise.png", "seven-rgba.png", "seven.png"]  # sorted, no .txt
    by_name = dict(zip(names, range(len(names)), strict=True))
    assert rows["label"][by_name["seven.png"]] == 7
    assert rows["label"][by_name["seven-rgba.png"]] == 7
    assert rows["verdict"][by_name["seven.png"]] == "digit"
    assert "not an image" in rows["error"][by_name["broken.png"]]
    assert "noise" in rows["error"][by_name["noise.png"]]
    assert rows["label"][by_name["broken.png"]] == -1
    assert rows["error"][by_name["seven.png"]] is None
    assert "true_label" not in rows  # no labels were given
    assert len(result) == 4
    page = (tmp_path / "out" / REPORT).read_text()
    assert "Unreadable inputs (2)" in page and "broken.png" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_explaining_adds_a_map_and_its_trust_per_readable_input(folder, tmp_path):
    audit([str(folder / "sub")], tmp_path / "out", explain="gradcam")
    rows = read_audit(tmp_path / "out")
    assert list(rows["method"]) == ["gradcam"]
    heat = np.frombuffer(rows["map"][0], np.uint8).reshape(28, 28)
    assert heat.max() == 255  # normalised to its peak
    assert np.isfinite(rows["trust"][0]) and rows["trust_verdict"][0]


@pytest.mark.data
def test_an_idx_split_carries_its_labels_and_the_report_its_accuracy(tmp_path, real_data_dir):
    result = audit(["mnist:test"], tmp_path / "out", data_dir=real_data_dir, batch_size=500)
    rows = result.columns
    assert len(rows["path"]) == 10_000
    assert rows["path"][3].endswith("t10k-images-idx3-ubyte.gz#3")
    accuracy = float((rows["label"] == rows["true_label"]).mean())
    assert accuracy > 0.99  # the bundled model's test accuracy (its card says 99.5 %)
    page = (tmp_path / "out" / REPORT).read_text()
    assert "The most confident mistakes" in page and "Confusion" in page


def test_an_idx_file_and_a_csv_list_are_inputs(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 6:22, 12:16] = 255  # three bars
    idx = write_idx(tmp_path / FILES["test_images"], images, IMAGES_MAGIC)
    write_idx(tmp_path / FILES["test_labels"], np.array([1, 1, 7], np.uint8), LABELS_MAGIC)
    rows = list_inputs([str(idx)])
    assert list(rows.true_label) == [1, 1, 7] and rows.labelled
    drawn_digit(7).save(tmp_path / "a.png")
    (tmp_path / "list.csv").write_text("path,label\na.png,7\nmissing.png,3\n")
    rows = list_inputs([str(tmp_path / "list.csv")])
    assert list(rows.true_label) == [7, 3]
    out = run_local(rows, AuditConfig())
    assert out["label"][0] == 7 and "no such file" in out["error"][1]


def test_bad_input_specs_say_what_was_expected(tmp_path):
    with pytest.raises(AuditInputError, match="no such file"):
        list_inputs([str(tmp_path / "nowhere")])
    with pytest.raises(AuditInputError, match="which split"):
        list_inputs(["mnist:validation"])
    (tmp_path / "list.csv").write_text("file\nx.png\n")
    with pytest.raises(AuditInputError, match="`path` column"):
        list_inputs([str(tmp_path / "list.csv")])


def test_one_batch_object_serves_every_engine_and_keeps_row_order(folder):
    rows = list_inputs([str(folder)])
    whole = run_local(rows, AuditConfig(), batch_size=64)
    one_by_one = run_local(rows, AuditConfig(), batch_size=1, workers=1)
    for name in ("path", "label", "verdict", "error"):
        assert list(whole[name]) == list(one_by_one[name])
    np.testing.assert_allclose(whole["probability"], one_by_one["probability"], rtol=1e-5)
    # Two worker processes, one batch at a time each, load the model they are given.
    other = AuditConfig(model="fashion-cnn")
    here = run_local(rows, other, batch_size=1, workers=1)
    processes = run_local(rows, other, batch_size=1, workers=2)
    for name in ("path", "label", "class_name", "verdict", "error"):
        assert list(here[name]) == list(processes[name])
    np.testing.assert_allclose(here["probability"], processes["probability"], atol=1e-5)
    batch = AuditBatch(AuditConfig())({k: v[:2] for k, v in rows.columns().items()})
    assert len(batch["path"]) == 2  # a plain dict of columns in, a dict out (Ray's format)


def test_the_command_writes_both_files(folder, tmp_path):
    out = tmp_path / "out"
    done = audit_cli("digitlens audit", folder, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "4 inputs (2 unreadable)" in done.stdout
    assert (out / PREDICTIONS).is_file() and (out / REPORT).is_file()
    bad = audit_cli("model.audit", folder, "--out", out, "--explain", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_the_command_lists_its_inputs_once_and_counts_them_all(folder, tmp_path, monkeypatch):
    """The progress bar's total comes from the audit's own listing: the command listed
    every input a second time for it (a glob over a bucket: twice the listing)."""
    import model.audit
    from model.audit.__main__ import main

    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return list_inputs(*args, **kwargs)

    monkeypatch.setattr(model.audit, "list_inputs", counted)
    monkeypatch.setattr("model.audit.inputs.list_inputs", counted)
    got = []
    assert main([str(folder), "--out", str(tmp_path / "out"), "--limit", "3"]) == 0
    assert len(calls) == 1, calls
    assert audit([str(folder)], tmp_path / "again", listed=got.append, limit=3) and got == [3]


def test_limit_audits_the_first_inputs_and_says_of_how_many(folder, tmp_path):
    """--limit N: a quick look at a large set (a user found none: the whole of mnist:test,
    explained, took 8 minutes); its rows are the first N of the listed order."""
    whole = list_inputs([str(folder)])
    out = tmp_path / "out"
    done = audit_cli("digitlens audit", folder, "--out", out, "--limit", 2)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 inputs"), done.stdout
    rows = read_audit(out)
    assert list(rows["path"]) == list(whole.path[:2])
    assert "2 (the first of 4)" in (out / REPORT).read_text()
    bad = audit_cli("model.audit", folder, "--out", out, "--limit", 0)
    assert bad.returncode == 2 and "'0': give a number above 0" in bad.stderr


def test_a_list_named_by_uri_reads_its_images_through_pyarrow_file_systems(tmp_path):
    """file:// takes the same path through pyarrow.fs as s3:// or gs:// (no network here)."""
    drawn_digit(7).save(tmp_path / "seven.png")
    (tmp_path / "list.csv").write_text(f"path,label\nfile://{tmp_path}/seven.png,7\nbad.png,1\n")
    rows = list_inputs([f"file://{tmp_path}/list.csv"])
    assert list(rows.path) == [f"file://{tmp_path}/seven.png", f"file://{tmp_path}/bad.png"]
    out = run_local(rows, AuditConfig())
    assert out["label"][0] == 7 and out["error"][0] is None
    assert out["error"][1]  # a missing object is a row with its error, not a crash
    with pytest.raises(AuditInputError, match="Parquet/CSV list"):
        list_inputs([f"file://{tmp_path}/seven.png"])


def test_evidence_places_each_input_on_the_atlas_as_the_app_does(
    tmp_path, real_data_dir, bundled_evidence
):
    """--evidence: the representation, atlas position and look-alike agreement of every
    input read, the same numbers `clf.place` and `clf.neighbours` give one input."""
    from model.datasets import load_split, locate
    from model.load import load_classifier

    test = load_split(locate("mnist", real_data_dir), "test")
    folder = tmp_path / "digits"
    folder.mkdir()
    lines = ["path,label"]
    for i in range(40):
        Image.fromarray(test.images[i]).save(folder / f"{i:02d}.png")
        lines.append(f"{folder / f'{i:02d}.png'},{test.labels[i]}")
    (folder / "broken.png").write_bytes(b"not a png")
    lines.append(f"{folder / 'broken.png'},3")
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n")
    result = audit([str(tmp_path / "list.csv")], tmp_path / "out", evidence=True)
    t = read_audit(tmp_path / "out")
    assert len(t["path"]) == 41 and t["embedding"][40] is None and t["error"][40]
    assert all(len(e) == 32 for e in t["embedding"][:40])
    clf = load_classifier("mnist-cnn")
    for i in (0, 7, 33):
        x = folder / f"{i:02d}.png"
        placed = clf.place(x)
        assert (t["atlas_x"][i], t["atlas_y"][i]) == pytest.approx((placed.x, placed.y), abs=1e-3)
        nb = clf.neighbours(x)
        assert t["lookalikes_agree"][i] == pytest.approx(nb.agree / nb.k)
    agree = np.asarray(t["lookalikes_agree"][:40], np.float64)
    assert agree.mean() > 0.9  # MNIST test digits: their look-alikes back the answer
    page = result.path(REPORT).read_text()
    assert "Among the training digits" in page and "placed on the atlas" in page


def test_number_reads_each_input_as_a_written_number(tmp_path):
    """--number: a column with the number each image shows, digit by digit."""
    from tests.helpers import number

    (tmp_path / "n").mkdir()
    number(4, 7).save(tmp_path / "n" / "47.png")
    drawn_digit(7).save(tmp_path / "n" / "7.png")
    (tmp_path / "n" / "broken.png").write_bytes(b"no")
    result = audit([str(tmp_path / "n")], tmp_path / "out", number=True)
    t = read_audit(tmp_path / "out")
    got = dict(zip([p.rsplit("/", 1)[1] for p in t["path"]], t["number"], strict=True))
    assert got == {"47.png": "47", "7.png": "7", "broken.png": None}
    page = result.path(REPORT).read_text()
    assert "Read as numbers" in page
    # what each input read, not only the numbers not sure (a user test: the list was
    # empty where all were sure), and a number is not "judged not a digit" as one digit
    listed = page[page.index("<h2>Read as numbers</h2>") :]
    assert "<td>47</td>" in listed and "<td>7</td>" in listed
    judged = page[page.index("<h2>Judged not a digit</h2>") :]
    assert "47.png" not in judged[: judged.index("<h2>", 5)]
    assert "1 more input judged not a digit as one digit read as a number" in judged


def test_ray_blocks_are_whole_batches_a_few_per_actor():
    from model.audit.engines import BLOCKS_PER_ACTOR, MAX_BLOCK_BATCHES, block_rows

    assert block_rows(10, 2, 64) == 64  # a small audit: one batch a block
    rows = block_rows(10_000, 2, 64)
    assert rows % 64 == 0 and -(-10_000 // rows) <= 2 * BLOCKS_PER_ACTOR
    assert block_rows(10**7, 2, 64) == 64 * MAX_BLOCK_BATCHES  # a retry redoes one block


def test_what_cannot_be_audited_is_said_before_any_work(folder, tmp_path):
    """A bad --out, an empty input, a broken IDX file and labels that name no class each
    stop the audit in words before an input is read (an explained audit can take hours)."""
    (tmp_path / "a-file").write_text("")
    with pytest.raises(AuditInputError, match="cannot make a folder"):
        audit([str(folder)], tmp_path / "a-file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AuditInputError, match="no inputs found"):
        audit([str(tmp_path / "empty")], tmp_path / "out")
    assert not (tmp_path / "out" / PREDICTIONS).exists()  # nothing that looks like a result
    images = np.zeros((3, 28, 28), np.uint8)
    idx = write_idx(tmp_path / FILES["test_images"], images, IMAGES_MAGIC)
    write_idx(tmp_path / FILES["test_labels"], np.array([1, 7], np.uint8), LABELS_MAGIC)
    with pytest.raises(AuditInputError, match="3 images but 2 labels"):
        list_inputs([str(idx)])
    (tmp_path / "cut-images-idx3-ubyte.gz").write_bytes(idx.read_bytes()[:20])
    with pytest.raises(AuditInputError, match="cut-images"):
        list_inputs([str(tmp_path / "cut-images-idx3-ubyte.gz")])
    drawn_digit(7).save(tmp_path / "a.png")
    for label, why in (("seven", "'seven' is not a class index"), ("2.5", "2.5 is not")):
        (tmp_path / "list.csv").write_text(f"path,label\na.png,{label}\n")
        with pytest.raises(AuditInputError, match=why):
            list_inputs([str(tmp_path / "list.csv")])
    (tmp_path / "list.csv").write_text("path,label\na.png,12\n")
    with pytest.raises(AuditInputError, match="name no class of the model"):
        audit([str(tmp_path / "list.csv")], tmp_path / "out")


def test_a_glob_through_a_timestamped_folder_and_an_idx_reference(tmp_path):
    """A `:` in a folder's name is no data set (`mnist:test`); a glob keeps the files a
    folder would; `file#i` past the end is that input's error, a `#` in a name is a file."""
    run = tmp_path / "run_2026-12-05T10:00"
    run.mkdir()
    drawn_digit(7).save(run / "seven.png")
    (run / "notes.csv").write_text("path\nseven.png\n")
    rows = list_inputs([f"{run}/*"])
    assert [p.rsplit("/", 1)[1] for p in rows.path] == ["seven.png"]
    idx = write_idx(tmp_path / FILES["test_images"], np.zeros((2, 28, 28), np.uint8), IMAGES_MAGIC)
    (tmp_path / "list.csv").write_text(f"path\n{idx}#1\n{idx}#2\ngone#3.png\n")
    out = run_local(list_inputs([str(tmp_path / "list.csv")]), AuditConfig())
    assert out["error"][0] is None
    assert "holds 2 images: there is no image 2" in out["error"][1]
    assert "no such file" in out["error"][2]


def test_a_video_gives_one_row_per_sampled_frame(tmp_path):
    """The rows listed ahead are the frames the batch samples: none missing, none made up,
    also for a stream whose first frame is not at 0 s."""
    for start in (0.0, 0.55):
        clip = tmp_path / f"clip-{start}.mp4"
        write_video(clip, [4, 7], start_s=start)  # 4, 7, then a blank second: 3 s at 10 fps
        rows = list_inputs([str(clip)], fps=2.0)
        out = run_local(rows, AuditConfig())
        assert len(rows) == 6 and list(out["frame"]) == list(range(6))
        assert list(out["label"][:4]) == [4, 4, 7, 7] and list(out["error"][:4]) == [None] * 4
        assert all("blank" in e for e in out["error"][4:]), out["error"]
    with pytest.raises(AuditInputError, match="fps must be above 0"):
        list_inputs([str(clip)], fps=0)


def test_a_video_cut_short_keeps_the_frames_read_before_it_stops(tmp_path):
    """A video whose decoder fails halfway keeps the answers of the frames read before
    (every row was "the video cannot be read": a user test); the rows after say why."""
    import cv2

    whole = tmp_path / "clip.avi"  # (Motion JPEG in AVI, as OpenCV writes it: cut in half,
    # its decoder raises where the data stops)
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 5, (280, 280))
    for d in (7, 1, 4, 0, 7, 1):
        bgr = np.ascontiguousarray(np.asarray(drawn_digit(d).convert("RGB"))[:, :, ::-1])
        for _ in range(5):
            writer.write(bgr)
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    rows = list_inputs([str(cut)], fps=2.0)
    out = run_local(rows, AuditConfig())
    read = [i for i, e in enumerate(out["error"]) if e is None]
    assert read and read == list(range(len(read))), out["error"]
    assert out["label"][0] == 7
    rest = out["error"][len(read) :]
    assert all(f"cut short after {len(read)} frames" in e for e in rest), rest


def test_the_report_shows_the_unsure_inputs_least_sure_first():
    """The report counted the `unsure` inputs and never showed one (a user test)."""
    from model.audit.report import render

    t = {
        "path": np.array(["a.png", "b.png", "c.png"], dtype=object),
        "frame": np.array([-1, -1, -1]),
        "error": [None, None, None],
        "verdict": np.array(["unsure", "digit", "unsure"], dtype=object),
        "probability": np.array([0.7, 0.99, 0.55]),
        "ood_score": np.array([0.5, -1.0, 0.8]),
        "label": np.array([3, 7, 5]),
        "class_name": np.array(["3", "7", "5"], dtype=object),
    }
    page = render(t, {"model": "m"}, [str(d) for d in range(10)], lambda p, f: None, (28, 28))
    shown = page[page.index("<h2>Unsure</h2>") :]
    assert shown.index("most like 5 (55.0 %)") < shown.index("most like 3 (70.0 %)")
    assert "most like 7" not in shown


def test_the_report_says_none_and_all_exactly(tmp_path):
    """Shares of a count are exact at the ends ("0 %", "100 %"); a probability never is."""
    from model.audit.report import _pct

    assert (_pct(0, 40), _pct(40, 40), _pct(2, 10_000)) == ("0 %", "100 %", "&lt; 0.1 %")


def test_a_fashion_models_report_words_its_refusals_as_its_own(tmp_path, bundled_evidence):
    """fashion-cnn's audit calls a drawn 7 "not one it knows", not "not a digit", and its
    atlas holds training images, not digits (a helper session and a review found the
    report saying "not a digit" of a digit); a digit model's report keeps its words."""
    drawn_digit(7).save(tmp_path / "seven.png")
    for model, said in (("fashion-cnn", "not one it knows"), ("mnist-cnn", None)):
        audit([str(tmp_path / "seven.png")], tmp_path / model, model=model, evidence=True)
        page = (tmp_path / model / REPORT).read_text()
        if said:
            assert f"<h2>Judged {said}</h2>" in page and f"{said} (ood" in page
            assert "Among the training images" in page and f"1 judged {said}" in page
            assert "digit" not in page.replace("digitlens", "").replace("DigitLens", "")
        else:
            assert "<h2>Judged not a digit</h2><p>None.</p>" in page


def test_a_link_to_nothing_in_a_folder_is_an_unreadable_row(folder, tmp_path):
    """A dangling link among a folder's images was left out without a word (a user test);
    every other unreadable file gets its row and its reason."""
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    audit([str(folder)], tmp_path / "out")
    rows = read_audit(tmp_path / "out")
    names = [p.rsplit("/", 1)[-1] for p in rows["path"]]
    assert "gone.png" in names
    assert "no such file" in rows["error"][names.index("gone.png")]


def test_the_preprocessing_is_chosen_as_the_cli_chooses_it(folder, tmp_path):
    """The audit had no --preprocessing: an own model that needs -1-1, caffe or the
    fashion recipe could not be audited with the scaling it needs (a user test). It is
    now passed to every worker, as the CLI's and the server's."""
    from model.audit.__main__ import parse_args
    from model.load import load_classifier

    audit([str(folder / "sub")], tmp_path / "card")
    audit([str(folder / "sub")], tmp_path / "chosen", preprocessing="0-1")
    card, chosen = read_audit(tmp_path / "card"), read_audit(tmp_path / "chosen")
    assert card["label"][0] == 7
    assert card["probability"][0] != chosen["probability"][0]  # another input
    want = load_classifier("mnist-cnn", preprocessing="0-1").predict(drawn_digit(7))
    assert abs(chosen["probability"][0] - want.probability) < 1e-6  # as the CLI reads it
    assert parse_args(["x", "--out", "o", "--preprocessing", "0-1"]).preprocessing == "0-1"


def test_a_card_less_models_default_map_is_measured_once_for_every_row(folder, tmp_path):
    """Without a card the CLI and the server choose the default map by measurement,
    but the audit's workers each fell back to Grad-CAM (a user test). The audit now
    ranks the methods once, on its first inputs, and every row uses the winner; the
    report says how it was chosen."""
    from model.why.choice import FOLDER_INPUTS, rank
    from tests.helpers import tiny_digit_net

    own = tmp_path / "own.keras"
    tiny_digit_net().save(own)
    for d, digit in enumerate((0, 1, 4, 7)):
        drawn_digit(digit).save(folder / f"d{d}.png")
    audit([str(folder)], tmp_path / "out", model=str(own), explain="default")
    rows = read_audit(tmp_path / "out")
    methods = {m for m, e in zip(rows["method"], rows["error"], strict=True) if e is None}
    assert len(methods) == 1, methods
    from model.load import load_classifier

    clf = load_classifier(own)
    readable = sorted(p for p in folder.rglob("*.png") if p.name not in ("broken.png",))
    xs = []
    for p in readable:
        try:
            xs.append(clf.preprocess(p))
        except Exception:  # noqa: BLE001  (noise is refused: the audit skips it too)
            continue
    assert methods == {rank(clf, np.stack(xs[:FOLDER_INPUTS]))[0][0]}
    page = (tmp_path / "out" / REPORT).read_text()
    assert f"chosen on {len(xs)} inputs" in page


def test_the_report_says_how_a_0_255_models_input_was_fitted(folder, tmp_path):
    """The CLI, the app and the server say that a digit model's first Rescaling of
    0..255 gets the recipe's 0..1 as 0..255; the audit's report said nothing (a user
    test). Its model line now says it."""
    import keras

    own = tmp_path / "d255.keras"
    keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    ).save(own)
    audit([str(folder / "sub")], tmp_path / "out", model=str(own))
    page = (tmp_path / "out" / REPORT).read_text()
    assert "d255 (its first layer, Rescaling(scale=0.00392157" in page
    # ... and what decides its verdicts: mnist-cnn's detector, lent to a digit model
    # without one (model.judge.which), as the CLI says on stderr.
    assert "<th>verdicts by</th><td>mnist-cnn&#x27;s detector</td>" in page
    said = cli(str(folder / "sub"), "--model", str(own))
    assert said.returncode == 0, said.stderr
    assert "d255: verdicts by mnist-cnn's digit detector" in said.stderr
