"""Postfix mail logs: read, scan, summarise as pflogsumm does, count traffic, follow a live log."""
