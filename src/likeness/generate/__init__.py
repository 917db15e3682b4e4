"""Generation: prompts with @mentions, the pipeline with each mentioned person's adapter, a
layout that keeps two people apart, and every image through the safety gate and provenance."""
