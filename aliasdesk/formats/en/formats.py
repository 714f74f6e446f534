# English pages write dates as ISO dates, as everywhere else in aliasdesk, and times on the
# 24-hour clock (Django's English default is "m/d/Y P"). Templates name these formats
# (date:'DATETIME_FORMAT'), so each language writes dates its own way.
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
# Typed dates (the audit log's filter) are read as written: ISO only, never m/d/Y.
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
