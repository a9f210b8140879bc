"""The shared kernel: records, settings, clock, and the bus and store ports with their adapters."""
