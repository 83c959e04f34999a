"""The empirical reconciliation formula Microsoft does not publish: per meter, billed tokens as a
non-negative linear combination of the day's usage features, fitted over every day and resource
with non-negative least squares (scipy). One row per meter x usage date x resource: the fitted
formula and its R^2 (repeated on each row of the meter), what it predicts for that day, and the
residual.

Features per meter (by the usage field it bills): its own documented field, the cached tokens of
its modality (cached billed at the uncached meter), and for input meters what could hide behind
them - audio input: transcription seconds and tokens, user speech seconds; text input: responses
(hidden per-response instructions); text output: transcription output tokens.

Limits, stated: a fit needs clearly more days than features to mean anything (observations and
features_fitted are given); features that move together (cached and uncached audio, speech
seconds and audio tokens) cannot be told apart, and NNLS then credits one of them; a good R^2
describes past bills, not Microsoft's rules. The fit works in floating point: it is a
statistical description, never a money amount.
"""

import json

import numpy as np
import pandas as pd
from scipy.optimize import nnls

FEATURES = {
    "uncached_audio_tokens": [
        "uncached_audio_tokens",
        "cached_audio_tokens",
        "transcription_seconds",
        "transcription_audio_tokens",
        "user_speech_seconds",
    ],
    "uncached_text_tokens": ["uncached_text_tokens", "cached_text_tokens", "responses"],
    "output_text_tokens": ["output_text_tokens", "transcription_output_tokens"],
    "output_audio_tokens": ["output_audio_tokens"],
    "cached_text_tokens": ["cached_text_tokens"],
    "cached_audio_tokens": ["cached_audio_tokens"],
}
COLUMNS = [
    "meter_name",
    "usage_field",
    "usage_date",
    "resource_name",
    "billed_tokens",
    "predicted_billed_tokens",
    "residual_tokens",
    "formula",
    "coefficients_json",
    "r_squared",
    "rmse_tokens",
    "observations",
    "features_fitted",
]


def fit(rows: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Fit one meter; returns its rows with prediction, residual and the formula's facts."""
    x = rows[features].to_numpy(dtype=float)
    y = rows["billed_tokens"].to_numpy(dtype=float)
    coefficients, _ = nnls(x, y)
    predicted = x @ coefficients
    residual = y - predicted
    total = float(((y - y.mean()) ** 2).sum())
    terms = [f"{c:.4g} x {f}" for f, c in zip(features, coefficients, strict=True) if c > 0]
    out = rows[["meter_name", "usage_field", "usage_date", "resource_name", "billed_tokens"]].copy()
    out["predicted_billed_tokens"] = predicted
    out["residual_tokens"] = residual
    out["formula"] = "billed = " + (" + ".join(terms) if terms else "0")
    out["coefficients_json"] = json.dumps(
        {f: round(float(c), 6) for f, c in zip(features, coefficients, strict=True)}
    )
    out["r_squared"] = 1.0 - float((residual**2).sum()) / total if total > 0 else np.nan
    out["rmse_tokens"] = float(np.sqrt((residual**2).mean()))
    out["observations"] = len(rows)
    out["features_fitted"] = len(features)
    return out


def model(dbt, session):
    dbt.config(materialized="table")
    # rows in a fixed order: a fit's last floating-point bits depend on it, and a rebuild of
    # the same data (incremental or full) must give the same table
    observations = (
        dbt.ref("int_reconciliation_observations")
        .df()
        .sort_values(["meter_name", "usage_field", "usage_date", "resource_name"], kind="stable")
    )
    fitted = [
        fit(group, FEATURES[field])
        for (_, field), group in observations.groupby(["meter_name", "usage_field"], sort=True)
        if field in FEATURES
    ]
    if not fitted:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    return pd.concat(fitted, ignore_index=True)[COLUMNS]
