"""Sources of mentions: polling and streaming ingesters that produce to ``mentions.raw``."""
