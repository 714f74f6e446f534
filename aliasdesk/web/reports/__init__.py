"""Reports and exports: each report is one function that yields rows (rows_*.py); the
formats (spreadsheet CSV, XLSX, ODS, a printable page) are thin writers over any of them
(formats.py, ods.py); views.py serves them, streamed, to those who may see the rows.
"""
