"""Shape data: procedural shapes, mesh ingestion, SDF sampling and dataset shards."""
