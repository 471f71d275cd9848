from __future__ import annotations

import app.core.billing as billing


def test_billing_package_exports_exactly_its_curated_names() -> None:
    public = {name for name in dir(billing) if not name.startswith("_")}
    modules = {"aggregates", "budgets", "costs", "energy", "errors", "export", "hf_prices",
               "prices", "readonly", "snapshot"}  # fmt: skip
    assert public - modules == set(billing.__all__)
    assert all(getattr(billing, name) is not None for name in billing.__all__)
