"""Draw a digit; see the prediction, the probabilities and the heatmap after each stroke."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from model import BlankImageError, ImageError
from model.explain import METHODS
from ui.sidebar import current
from ui.widgets import (
    heatmap_views,
    inline_image,
    inspector,
    prediction_header,
    probability_chart,
)

choice = current()
clf = choice.clf

st.header("Draw a digit")


@st.fragment
def draw_and_explain() -> None:
    """Canvas, prediction and heatmap: each stroke reruns only this fragment."""
    draw_col, heat_col, answer_col = st.columns([29, 29, 34], gap="small")
    with draw_col:
        stroke = st.slider("Pen width", 6, 40, 20, key="pen")
        canvas = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=280,
            height=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key="canvas",
        )
        st.caption("Undo, redo and clear are in the canvas toolbar.")

    image = canvas.image_data  # (H, W, 4) uint8 RGBA, or None before the first stroke
    try:
        if image is None:
            raise BlankImageError("nothing drawn yet")
        e = clf.explain(image, method=choice.method, layer=choice.layer)
    except BlankImageError:
        with answer_col:
            st.info(
                "Draw a digit on the black square: the prediction and the heatmap appear "
                "as soon as you lift the mouse.",
                icon=":material/draw:",
            )
        return
    except ImageError as exc:
        answer_col.error(f"That drawing could not be read: {exc}")
        return

    pred = clf.to_prediction(e.probabilities)
    where = METHODS[e.method].title + (f" on {e.layer}" if e.layer else "")
    full, small = heatmap_views(e)
    with heat_col:
        st.markdown("<div style='height:3.1rem'></div>", unsafe_allow_html=True)
        inline_image(full, f"{where}, over your strokes", 280, fmt="JPEG")
    with answer_col:
        st.caption(f"{clf.name} reads")
        prediction_header(pred)
        probability_chart(pred, clf.class_names, height=200)

    a, b = st.columns([29, 63], gap="small")
    with a:
        inline_image(small, "the 28x28 model input, same map", 150)
    b.markdown(
        f"**Why {pred.class_name}?** Warm colours mark where the evidence for "
        f"*{pred.class_name}* lies in the layer's view of your drawing. "
        f"{METHODS[e.method].description} Change the method or layer in the sidebar; "
        "compare them all on the Explain page."
    )
    with b.expander("Preprocessing inspector: from your canvas to the model input"):
        inspector(e.stages, size=96)


draw_and_explain()
