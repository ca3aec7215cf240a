"""The policy's reasons as a German bookkeeper reads them in the console: for every claim the engine's property
tests generate (holds, payments, payment plans, go-live, every day of 200), the German text keeps no English phrase
of the policy; only figures, ISO-free German dates and the merchant's own words remain."""

from __future__ import annotations

import re

from hypothesis import given

from mahnwerk.sync.casework.reasons import reason_text
from tests.policy.test_engine_properties import FAST, Scenario, scenarios

# The words policy/engine.py builds its reasons from; none may be left in the German text.
ENGLISH = re.compile(r"\b(due|sent|done|skipped|deadline|passed|hold|ended|fresh|payment plan|paid|remainder|"
                     r"open from|go-live|until|released|without|blocked|handed|instalment|minimum|further|stage|"
                     r"policy|last|received|payable|since|agency|no base rate|interest rate|missed)\b")


@FAST
@given(scenarios())
def test_every_reason_of_the_ladder_reads_german(s: Scenario) -> None:
    run = s.run()
    for day, assessment in run.assessments.items():
        german = reason_text(assessment.reason, "de")
        left = ENGLISH.findall(german)
        assert not left, (day, assessment.reason, german, left)
        assert not re.search(r"\d{4}-\d{2}-\d{2}", german), (assessment.reason, german)
