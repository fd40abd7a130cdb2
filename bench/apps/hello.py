"""The hello-world page the benchmarks compare against (same server, same config)."""

import streamlit as st

st.set_page_config(page_title="Hello", layout="wide")
st.title("Hello")
st.write("Hello, world.")
