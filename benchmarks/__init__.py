"""quotebot's measurements, outside the engine: `quotebot bench` (benchmarks.harness) and the scripts beside it."""
