"""The morning sweep: its stored runs (models), bucket rules, writes, page, digest and admin.

Kept empty on purpose: `cases.models` imports `cases.sweep.models` to register
the sweep's tables with the `cases` app, and importing a package runs its
`__init__` first, so anything here that imported `cases.models` would close a
circle.
"""
