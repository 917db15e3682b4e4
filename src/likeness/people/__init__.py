"""People: group faces into people, name, merge, split, hide, and curate reference sets."""
