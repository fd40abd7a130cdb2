"""Batch Studio: the single page (placeholder until the page issue lands)."""

import streamlit as st

st.set_page_config(page_title="Batch Studio", layout="wide")
st.title("Batch Studio")
