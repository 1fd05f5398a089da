"""Answer quality: evaluation against question files and questions generated from the archive."""
