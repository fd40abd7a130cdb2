"""Batch Studio: the page (``app_page.py``) served with the app's own routes and lifespan.

``streamlit run streamlit_app.py`` (the README's command, Community Cloud's) detects ``app``
below and serves it; ``uvicorn streamlit_app:app`` works too. Mock mode without an API key.
At start-up the runtime is built (paid work left open is settled, the sweep starts) before
anyone visits; ``/healthz``, ``/readyz`` and ``/metrics`` answer beside the page
(``studio/server.py``).
"""

import streamlit as st

from studio.server import lifespan, routes

app = st.App("app_page.py", routes=routes(), lifespan=lifespan)
