"""A simulated practice: the product's own services driven through weeks of synthetic work on a frozen,
stepped clock, once with the automation on and once by hand, so the two can be compared like for like.

`profiles` holds the practice's shape (order mix, payer behaviour, touch costs), `payer` the in-process
sandbox payer that answers on the `sim` channels, `engine` the clock and the scripted staff, `report`
the figures, charts and the stored runs. docs/outcomes.md says what is simulated and what is real.
"""
