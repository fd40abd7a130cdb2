"""The pure core: rules, prices, hashing, the workflow state and every decision on it.

Nothing here does I/O or imports httpx, SQLAlchemy, Pillow, google-cloud or threading
(``tests/unit/test_purity.py`` checks it in a fresh interpreter).
"""
