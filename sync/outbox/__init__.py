"""The outbox: what is decided today becomes rows first (decide.py, rows.py), then each row is carried out exactly once.

    executor.py   notices through a channel (channels.py): the shop, e-mail or a letter, rendered by templates.py
                  (formats.py: money and dates per locale; letters.py: the letter's strings)
    handover.py   hand-over to a collection agency and its updates
    writeback.py  the paid state back to the shop
    work.py       what the three share: the connection, the clock, the tally, attempts and outcomes
"""
