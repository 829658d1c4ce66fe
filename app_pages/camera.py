"""Point the camera at a written digit: the model reads it in the browser, frame by frame."""

import streamlit as st

from ui.camera import live_camera
from ui.sidebar import current

clf = current().clf

st.header("Live camera")
st.caption(
    "Hold a digit written on paper (dark on light, or light on dark) in front of the "
    "camera. Each frame is read in your browser: the digit is found (its largest ink "
    "region), cropped, fitted and centred as MNIST was, then read by the model and judged "
    'as everywhere in the app: only a digit is shown large; anything else is "unsure" or '
    '"not a digit" in words. Frames '
    "that arrive while the model is busy are dropped, not queued. No frame leaves your "
    "device. For a single photo, use the Upload page."
)
if not clf.is_digit:
    st.info(
        f"The live camera reads 28x28 digit models in the browser; for {clf.name}, take a "
        "photo with the camera on the Upload page."
    )
    st.stop()
if clf.recipe != "mnist":
    st.warning(f"{clf.name} reads garments; the camera looks for a written digit.")
if not live_camera("camera", clf):
    st.info(f"{clf.name} has no ONNX export, so it cannot run in the browser.")
