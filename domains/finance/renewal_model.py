"""The renewal model, pure: a logistic regression of "the customer renewed" on its health score, health
trend, adoption and payment history, fitted by iteratively reweighted least squares (Newton's method on
the ridge-penalised log-likelihood), with the Brier score that says how well calibrated it is.

    p(renewal) = 1 / (1 + exp(-(b0 + b1·health/100 + b2·trend + b3·adoption + b4·late_share)))

``trend`` is 1 improving, 0 stable, -1 declining; ``adoption`` is the adoption rate (0..1, 0.5 when
unknown); ``late_share`` is the share of the payments due in the look-back that were paid late or not
at all (0 when there were none). No I/O here: the selectors load the rows, the service stores the fit.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

COEFFICIENT_NAMES = ("intercept", "health_score", "health_trend", "adoption_rate", "late_payment_share")
TREND_VALUES = {"improving": 1.0, "stable": 0.0, "declining": -1.0}
#: the adoption used for a customer whose adoption is unknown (the midpoint: no evidence either way)
NEUTRAL_ADOPTION = 0.5
#: fewest outcomes of each kind (renewed, churned) in the training set for a fit to be meaningful
MIN_OUTCOMES_PER_CLASS = 10


@dataclass(frozen=True)
class RenewalFeatures:
    health_score: float
    health_trend: str
    adoption_rate: float | None
    late_payment_share: float

    def vector(self) -> tuple[float, ...]:
        adoption = NEUTRAL_ADOPTION if self.adoption_rate is None else float(self.adoption_rate)
        return (
            1.0,
            float(self.health_score) / 100.0,
            TREND_VALUES.get(self.health_trend, 0.0),
            adoption,
            float(self.late_payment_share),
        )


def logistic(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def predict(coefficients: Sequence[float], features: RenewalFeatures) -> float:
    return logistic(sum(b * x for b, x in zip(coefficients, features.vector(), strict=True)))


def late_payment_share(
    payments: Sequence[tuple[date, date | None]], *, as_of: date, history_days: int, grace_days: int
) -> float:
    """Among the (due_date, paid_date) payments due within ``history_days`` before ``as_of`` whose grace
    had run out by then, the share not paid within ``grace_days`` of their due date (or not at all)."""
    earliest, grace = as_of - timedelta(days=history_days), timedelta(days=grace_days)
    considered = late = 0
    for due_date, paid_date in payments:
        if due_date < earliest or due_date + grace >= as_of:
            continue
        considered += 1
        if paid_date is None or paid_date > due_date + grace:
            late += 1
    return late / considered if considered else 0.0


def brier_score(probabilities: Sequence[float], outcomes: Sequence[int]) -> float | None:
    """Mean of (p - outcome)²: 0 is perfect, 0.25 is a coin toss at p = 0.5."""
    if not outcomes:
        return None
    return sum((p - y) ** 2 for p, y in zip(probabilities, outcomes, strict=True)) / len(outcomes)


def is_holdout(key: str, percent: int) -> bool:
    """A deterministic split: the same key is always on the same side, whatever the order of rows."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    return bucket < percent


class SingularSystem(ArithmeticError):
    """The Newton step has no unique solution (e.g. a constant feature with no ridge)."""


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve ``matrix · x = vector`` by Gaussian elimination with partial pivoting (k is tiny)."""
    size = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(size)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda row: abs(rows[row][column]))
        if abs(rows[pivot][column]) < 1e-12:
            raise SingularSystem("singular system")
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for row in range(column + 1, size):
            factor = rows[row][column] / rows[column][column]
            if factor:
                for index in range(column, size + 1):
                    rows[row][index] -= factor * rows[column][index]
    solution = [0.0] * size
    for row in range(size - 1, -1, -1):
        tail = sum(rows[row][index] * solution[index] for index in range(row + 1, size))
        solution[row] = (rows[row][size] - tail) / rows[row][row]
    return solution


@dataclass(frozen=True)
class FitResult:
    coefficients: tuple[float, ...]
    iterations: int
    converged: bool


def fit_logistic(
    rows: Sequence[Sequence[float]],
    outcomes: Sequence[int],
    *,
    ridge: float,
    max_iterations: int = 50,
    tolerance: float = 1e-8,
) -> FitResult:
    """Maximise Σ log-likelihood - ridge/2 · Σ b_i² (i ≥ 1: the intercept is not penalised) by Newton
    steps: b += (XᵀWX + ridge·I')⁻¹ (Xᵀ(y - p) - ridge·b'), W = diag(p(1 - p))."""
    if not rows:
        raise ValueError("No rows to fit.")
    size = len(rows[0])
    beta = [0.0] * size
    for iteration in range(1, max_iterations + 1):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]
        for x, y in zip(rows, outcomes, strict=True):
            p = logistic(sum(b * v for b, v in zip(beta, x, strict=True)))
            weight, residual = p * (1.0 - p), y - p
            for i in range(size):
                gradient[i] += x[i] * residual
                wx = weight * x[i]
                row = hessian[i]
                for j in range(i + 1):
                    row[j] += wx * x[j]
        for i in range(size):
            for j in range(i):
                hessian[j][i] = hessian[i][j]
        for i in range(1, size):
            gradient[i] -= ridge * beta[i]
            hessian[i][i] += ridge
        step = solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < tolerance:
            return FitResult(tuple(beta), iteration, True)
    return FitResult(tuple(beta), max_iterations, False)
