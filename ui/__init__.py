"""Shared Streamlit code: cached resources, the sidebar and widgets. No ML logic here."""
