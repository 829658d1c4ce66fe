"""DigitLens: draw a digit, see what the network reads and why.

streamlit run app.py
"""

import streamlit as st

from ui.resources import keep_keras_state
from ui.sidebar import sidebar
from ui.widgets import style

st.set_page_config(page_title="DigitLens", page_icon=":material/search:", layout="wide")
keep_keras_state()
style()

pages = [
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/upload.py", title="Upload", icon=":material/upload:"),
    st.Page("app_pages/explain.py", title="Explain", icon=":material/biotech:"),
    st.Page("app_pages/model_card.py", title="Model", icon=":material/account_tree:"),
]
page = st.navigation(pages)
st.session_state["_choice"] = sidebar()
page.run()
