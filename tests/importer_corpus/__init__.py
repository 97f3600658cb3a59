"""Builders of valid and broken importer inputs, shared by the corpus, property and fuzz tests."""
