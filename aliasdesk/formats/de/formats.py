# German pages write dates as German mail administrators do: 03.12.2026 18:51:07.
DATETIME_FORMAT = "d.m.Y H:i:s"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATE_FORMAT = "d.m.Y"
# Typed dates (the audit log's filter): 03.12.2026 or 03.12.26; ISO dates are read too.
DATE_INPUT_FORMATS = ["%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d"]
