"""The Postfix knowledge of aliasdesk, in plain Python: no Django, no database.

Two libraries that never import each other:

- :mod:`aliasdesk.postfix.maps`: virtual(5) alias maps -- parsing and rendering
  (``virtual``), the checks (``validate``, ``expansion``, ``keys``), the lookup
  resolver (``resolve``) and the runner of the Postfix programs (``postmap``).
- :mod:`aliasdesk.postfix.maillog`: Postfix mail logs -- reading lines (``lines``),
  scanning them into events (``scan``, ``detail``, ``tally``, ``queue``), the
  pflogsumm-compatible summary and its presentation (``summary``, ``report``,
  ``parallel``, ``stats`` -- the ``aliasdesk logstats`` command), per-alias
  traffic counts (``count``) and following a growing, rotated log (``follow``).

Both mark their messages for people with :mod:`aliasdesk.postfix.text`, which translates
them once the web application has installed its translator (English until then).
"""
