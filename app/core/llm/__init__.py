"""The model-source contract and what every source shares: targets, token counts and
estimates, context fitting, image support and the registry of sources by name."""
