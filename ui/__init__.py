"""The Streamlit app: thin pages over kb.service."""
