"""Who saw which patient's data, when and from where: the access log (README "Security: audit log").

A small app of its own (label `audit`) so its table and migrations stand apart
from the case models. `access_log_record` is the one writer.
"""
