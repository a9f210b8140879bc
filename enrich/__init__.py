"""Enrichment: language, brand matching, sentiment and spike velocity for each mention."""
