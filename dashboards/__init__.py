"""The indexer, the search API and the search page."""
