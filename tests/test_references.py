from datetime import datetime

from bot.db import session_scope
from bot.handoffs.references import next_reference


def test_numbers_count_up_per_prefix_and_restart_each_year(engine):
    with session_scope(engine) as s:
        assert next_reference(s, "LKT", datetime(2026, 5, 1)) == "LKT-2026-000001"
        assert next_reference(s, "LKT", datetime(2026, 5, 2)) == "LKT-2026-000002"
        assert next_reference(s, "KNP", datetime(2026, 5, 2)) == "KNP-2026-000001"
        assert next_reference(s, "LKT", datetime(2027, 1, 1)) == "LKT-2027-000001"


def test_a_rolled_back_transaction_does_not_use_up_a_number(engine):
    try:
        with session_scope(engine) as s:
            next_reference(s, "LKT", datetime(2026, 5, 1))
            raise RuntimeError
    except RuntimeError:
        pass
    with session_scope(engine) as s:
        assert next_reference(s, "LKT", datetime(2026, 5, 1)) == "LKT-2026-000001"
