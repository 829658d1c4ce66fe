"""Upload images (or take a photo): a prediction, histogram and heatmap for each."""

import base64
import io
from contextlib import suppress

import pandas as pd
import streamlit as st
from PIL import Image

from model import BlankImageError, ImageError
from model.input.decode import frame_count
from model.judge.verdict import VERDICT_WORDS
from model.number import READ_AS_NUMBER, several_digits
from model.prediction import format_probability
from model.why.attribution import explain
from model.why.describe import describe_map
from ui.number import show_reading
from ui.results import results_csv, results_json
from ui.sidebar import current
from ui.widgets import class_chart, heatmap_views, inline_image, prediction_header

TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]

#: The uploaded images shown, kept for this session: Streamlit empties the uploader when
#: its page is left, and the person came back to find their images gone ...
KEPT = "uploads_kept"
#: ... and those of them held from before the page was left (the uploader no longer
#: holds them): shown with what is uploaded next, until "Forget them".
HELD = "uploads_held"


def uploaded() -> list[tuple[str, bytes]]:
    return [(f.name, f.getvalue()) for f in st.session_state.get("uploads") or []]


def keep_uploads() -> None:
    """The images as the person leaves them: those held, and the uploader's (none, once
    they removed the last with no images held)."""
    held = st.session_state.get(HELD, [])
    st.session_state[KEPT] = held + [item for item in uploaded() if item not in held]


def forget_uploads() -> None:
    st.session_state[HELD] = []
    st.session_state[KEPT] = uploaded()


choice = current()
clf = choice.clf

st.title("Upload images")
col_files, col_camera = st.columns([2, 1])
files = col_files.file_uploader(
    "Images of digits: drawings, scans, photos of paper"
    if clf.reads_digits
    else f"Images for {clf.name} ({clf.judge.thing.removeprefix('a ')}s and anything else)",
    type=TYPES,
    accept_multiple_files=True,
    key="uploads",
    on_change=keep_uploads,  # (not called when a page visit empties it)
)
with col_camera:
    use_camera = st.toggle("Use the camera", key="camera_on", persist_state="session")
    shot = "A photo of a digit on paper" if clf.reads_digits else "A photo"
    photo = st.camera_input(shot, key="camera") if use_camera else None

if not files:  # a page visit emptied the uploader (or its files were removed: `KEPT` says)
    st.session_state[HELD] = list(st.session_state.get(KEPT, []))
held = st.session_state.get(HELD, [])
inputs = list(st.session_state.get(KEPT, []))  # (`keep_uploads`: those held, then the uploader's)
if held:
    with col_files:
        names = ", ".join(name for name, _ in held)
        st.caption(f"Your images from before you left this page: {names} (new uploads join them).")
        st.button("Forget them", on_click=forget_uploads, key="uploads_forget")
if photo is not None:
    inputs.append(("camera photo", photo.getvalue()))
if not inputs:
    st.info(
        "Choose one or more images (PNG, JPEG, GIF, BMP, WebP, TIFF), or take a photo.",
        icon=":material/upload:",
    )
    st.stop()

log_scale = st.toggle(
    "Show small probabilities (log scale)",
    key="upload_log_scale",
    persist_state="session",
    help="On a linear scale a 99.9 % answer hides every other class; the log scale shows them.",
)
read_numbers = clf.reads_digits and st.toggle(
    "Read numbers",
    value=True,
    key="upload_numbers",
    persist_state="session",
    help="Where an image holds several digits side by side (a house number, a price), read "
    "them one by one as a number, each digit with its answer and map.",
)
progress = st.progress(0.0, text="Reading the images...") if len(inputs) > 3 else None
stages, explanations, numbers, readings = [], [], {}, {}
for i, (_, data) in enumerate(inputs):
    reading = None
    if read_numbers:
        with suppress(ImageError):  # the single-digit reading below says why
            reading = clf.read_number(data)
    if reading is not None:
        readings[i] = reading  # (read once: its count words a non-digit answer below)
    if reading is not None and reading.several:
        numbers[i] = reading
        stages.append(None)
    else:
        try:
            s = clf.preprocess_stages(data)
            explanations.append(explain(clf, s, choice.method, choice.layer))
        except ImageError as exc:
            s = exc
        stages.append(s)
    if progress:
        progress.progress((i + 1) / len(inputs), text=f"Explained {i + 1} of {len(inputs)}")
explanations = iter(explanations)
for name, data in inputs:  # (an animated GIF's later frames were dropped without a word)
    frames = frame_count(data)
    if frames > 1:
        st.info(f"**{name}** holds {frames} frames or pages: only the first is read.")
if progress:
    progress.empty()


def thumbnail(e) -> str:
    buf = io.BytesIO()
    Image.fromarray(heatmap_views(e, 84)[0]).resize((64, 64)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


rows = []
for i, ((name, data), s) in enumerate(zip(inputs, stages, strict=True)):
    if i in numbers:
        reading = numbers[i]
        with st.container(border=True):
            st.markdown(f"**{name}**: a number")
            show_reading(clf, reading, choice.method, choice.layer, key=f"dl-upload-{i}-digit")
        # A number is as sure as its least sure digit; where the reading has nothing to
        # say, its digits' answers do (the row's "sure" and "why" were blank, a user test).
        read = [d.prediction for d in reading.digits if d.prediction is not None]
        weakest = min((p.probability for p in read), default=None) if reading.text else None
        each = ", ".join(f"{p.class_name} ({format_probability(p.probability)})" for p in read)
        rows.append(
            {
                "file": name,
                "thumbnail": None,
                "label": None,
                "class": reading.text,
                "probability": weakest,
                "sure": None if weakest is None else format_probability(weakest),
                "verdict": reading.verdict,
                # (an unsure number's said nothing: a user test)
                "reason": reading.reason or (f"{len(read)} digits: {each}" if each else None),
                "error": None,
            }
        )
        continue
    if isinstance(s, ImageError):
        # A blank, noisy or too small image's error says so in words of its own ("the image
        # looks blank: ..."): a prefix of ours repeated it ("white.png looks blank: the
        # image looks blank").
        st.error(
            f"**{name}**: {s}"
            if isinstance(s, BlankImageError)
            else f"**{name}** cannot be used: {s}"
        )
        rows.append(
            {
                "file": name,
                "thumbnail": None,
                "label": None,
                "class": None,
                "probability": None,
                "sure": None,
                "verdict": None,
                "reason": None,
                "error": str(s),
            }
        )
        continue
    e = next(explanations)
    pred = clf.to_prediction(e.probabilities, e.x)
    if pred.verdict != "digit" and clf.reads_digits:  # (as /v1/predict and the CLI say it)
        how = READ_AS_NUMBER["upload"]  # ("... like 3 digits: ... turn on 'Read numbers'")
        pred = several_digits(clf, data, pred, readings.get(i), how)
    rows.append(
        {
            "file": name,
            "thumbnail": thumbnail(e),
            "label": pred.label,
            "class": pred.class_name,
            "probability": pred.probability,
            "sure": format_probability(pred.probability),
            "verdict": pred.verdict,
            "reason": pred.reason,
            "error": None,
        }
    )
    with st.container(border=True):
        a, b, c = st.columns([1.1, 1, 1.4])
        full, _ = heatmap_views(e)
        with a:
            alt = describe_map(e, clf.class_names)
            inline_image(full, name, "100%", fmt="JPEG", alt=f"{name}: {alt}")
        with b:
            prediction_header(pred, clf.class_names)
            inline_image(heatmap_views(e, 140)[1], "model input + heatmap", 140, alt=alt)
        with c:
            class_chart(pred, clf.class_names, height=180, log=log_scale)

st.subheader("Results")
table = pd.DataFrame(rows)
# On screen, the verdict in words for what this model reads (a Sandal was "digit") and no
# grey "None" where a row has nothing to say; the downloads keep the API's values.
words = VERDICT_WORDS[clf.reads_digits]
shown = table.assign(verdict=table["verdict"].map(lambda v: words.get(v, v)))
text = ["class", "sure", "verdict", "reason", "error"]
shown[text] = shown[text].astype(object).where(shown[text].notna(), "")
# One column of sentences: a row has a verdict's reason or an error, never both (the error
# sat past a wide empty reason column, off the right edge).
shown["why"] = [e or r for e, r in zip(shown["error"], shown["reason"], strict=True)]
shown["thumbnail"] = shown["thumbnail"].fillna("")  # (a row without a map read "None" there)
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "thumbnail": st.column_config.ImageColumn("heatmap", width="small"),
        # (sized to its longest word, "not one it knows": it was cut to "not a digi")
        "verdict": st.column_config.TextColumn(width=120),
        # (the reason or the error: a sentence, cut after a few words in a narrow column)
        "why": st.column_config.TextColumn(width="large"),
        # (the class's name, or the number read: "label" beside it said 7 twice for a
        # digit, and 9 beside "Ankle boot")
        "class": st.column_config.TextColumn("answer"),
    },
    # The exact probability and the class index go into the downloads; on screen,
    # "> 99.9 %" and never a rounded "100%". The downloads keep the reason and the error
    # apart. The answer and its verdict first after the file: on a 390-pixel phone the
    # verdict sat past the table's right edge behind the heatmap (a user test); the
    # heatmap is on each file's card above too.
    column_order=["file", "class", "verdict", "sure", "why", "thumbnail"],
)
d1, d2, _ = st.columns([1, 1, 4])
d1.download_button("Download CSV", results_csv(rows), "digitlens.csv", "text/csv")
d2.download_button("Download JSON", results_json(rows), "digitlens.json", "application/json")
