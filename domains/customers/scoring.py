"""Pure health computation (no ORM, no I/O)."""

# Lower bound of each risk band, from the healthiest down: a score of 75 or more is low risk.
DEFAULT_RISK_BANDS: tuple[tuple[int, str], ...] = ((75, "low"), (50, "medium"), (25, "high"), (0, "critical"))


def risk_level_for_score(score: int, bands: tuple[tuple[int, str], ...] = DEFAULT_RISK_BANDS) -> str:
    for lower_bound, level in bands:
        if score >= lower_bound:
            return level
    return bands[-1][1]
