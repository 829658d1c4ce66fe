"""DigitLens: draw a digit, see what the network reads and why.

streamlit run app.py
"""

import mimetypes
from pathlib import Path

import streamlit as st

from ui.resources import keep_keras_state, note_activity
from ui.sidebar import sidebar
from ui.widgets import style

#: The tab icon, a local file: a `:material/...:` page icon is fetched from fonts.gstatic.com.
ICON = Path(__file__).with_name("static") / "icon.png"
# Static serving sends the content type Python guesses; make sure the wasm runtime and
# its ES modules get theirs on any platform (browsers refuse them otherwise).
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")

st.set_page_config(page_title="DigitLens", page_icon=str(ICON), layout="wide")
keep_keras_state()
note_activity()
style()

pages = [
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/upload.py", title="Upload", icon=":material/upload:"),
    st.Page("app_pages/camera.py", title="Camera", icon=":material/videocam:"),
    st.Page("app_pages/explain.py", title="Explain", icon=":material/biotech:"),
    st.Page("app_pages/evidence.py", title="Evidence", icon=":material/scatter_plot:"),
    st.Page(  # (at /model, its title: /model opened the Draw page, a user test)
        "app_pages/model_card.py", title="Model", icon=":material/account_tree:", url_path="model"
    ),
]
page = st.navigation(pages)
st.session_state["_choice"] = sidebar()
page.run()
