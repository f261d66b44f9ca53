"""The phq specification as package data (`phq spec show`; pyreader/specdoc.py)."""
