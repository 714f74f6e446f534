# English pages write dates as ISO dates, as everywhere else in aliasdesk, and times on the
# 24-hour clock (Django's English default is "m/d/Y P"). German keeps Django's "d.m.Y H:i".
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
