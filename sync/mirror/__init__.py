"""The mirror: a shop's changed orders into claims (mirror.py), one page per transaction (pagewriter.py) with the cursor
that says how far it has read (cursors.py); the pure order-to-claim mapping is claimdata.py."""
