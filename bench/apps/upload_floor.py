"""Streamlit's own floor for bench/uploads.py: a bare multi-file uploader that only counts its files."""

import streamlit as st

st.set_page_config(page_title="Upload floor", layout="wide")
files = st.file_uploader("Drop files", accept_multiple_files=True, key="floor") or []
st.write(f"{len(files)} file(s) received: " + ", ".join(f.name for f in files))
