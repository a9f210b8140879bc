"""The YAML rule schema and the rules engine that fires and resolves alerts."""
