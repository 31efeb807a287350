"""Manba's Streamlit pages and rendering helpers (used by app.py)."""
