"""Enrichment: language, brand matching, sentiment and spike velocity for each mention.

Modules (import what you use; nothing heavy is imported here):

* `enrich.stage` — `match_handler`, `velocity_handler` (for `core.stage.StageLoop`) and
  `enrich_mentions` (both steps without a bus);
* `enrich.settings` — `EnrichSettings`, the ``enrich:`` section of the settings file;
* `enrich.sentiment` — `load_scorer`, `SentimentScorer`, `TransformerScorer`,
  `LexiconScorer`;
* `enrich.velocity` — `SpikeDetector` (any regular series), `BrandVelocity`,
  `VelocityTracker`;
* `enrich.matcher`, `enrich.language`, `enrich.lexicon`, `enrich.enricher`, `enrich.stats`.
"""
