"""The child process of a matching run (sync/payments/matchrun.py): `python -m mahnwerk.sync.payments.matchchild`,
its task pickled on stdin, its messages pickled on stdout. Its own module, so that the classes it sends are
matchrun's and the child imports no more than reading and matching need."""

import os
import sys

from mahnwerk.sync.payments.matchrun import child_main

if __name__ == "__main__":
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the channel
    sys.stdout = sys.stderr
    child_main(sys.stdin.buffer, channel)
