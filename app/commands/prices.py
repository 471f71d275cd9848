"""`parley prices list|set|rate|rates|display|hourly|local|refresh-hf`: what things cost.

Per-token prices (shipped, the router's and the user's own; `genai-prices`
covers the rest), exchange rates and the display currency, hourly rates for
rented or self-hosted servers, and local electricity.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.core.billing.costs import load_local_settings, reprice_unpriced, save_local_settings
from app.core.billing.currency import load_rates, set_display_currency, set_rate
from app.core.billing.errors import PriceError
from app.core.billing.hf_prices import HF_ROUTER, refresh_hf_prices
from app.core.billing.hourly import remove_hourly, set_hourly
from app.core.context import AppContext

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prices", help="token prices (per million tokens)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="every known price; yours override the shipped ones")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_prices)
    st = verbs.add_parser("set", help="set your own price for a provider's model")
    st.add_argument("provider", metavar="PROVIDER")
    st.add_argument("model", metavar="MODEL")
    st.add_argument("--input", required=True, type=float, metavar="X",
                    help="price per million prompt tokens")  # fmt: skip
    st.add_argument("--output", required=True, type=float, metavar="Y",
                    help="price per million completion tokens")  # fmt: skip
    st.add_argument("--cached-input", type=float, default=None, metavar="Z")
    st.add_argument("--currency", default="USD")
    st.set_defaults(handler=set_price)
    hf = verbs.add_parser(
        "refresh-hf", help="read Hugging Face-routed providers' prices from the router"
    )
    hf.add_argument("--endpoint", default=HF_ROUTER, metavar="URL",
                    help=f"router base URL (default {HF_ROUTER})")  # fmt: skip
    hf.set_defaults(handler=refresh_hf)
    rate = verbs.add_parser("rate", help="set an exchange rate: how many USD one unit is worth")
    rate.add_argument("currency", metavar="CODE")
    rate.add_argument("usd_per_unit", type=float, metavar="USD_PER_UNIT")
    rate.set_defaults(handler=set_exchange_rate)
    rates = verbs.add_parser("rates", help="exchange rates in force (shipped or yours, dated)")
    rates.add_argument("--json", action="store_true")
    rates.set_defaults(handler=list_rates)
    disp = verbs.add_parser("display", help="the currency totals, charts and budgets show")
    disp.add_argument("currency", metavar="CODE")
    disp.set_defaults(handler=set_display)
    hourly = verbs.add_parser(
        "hourly", help="bill a provider by the hour (a rented or self-hosted server)"
    )
    hourly.add_argument("provider", metavar="NAME", help="the provider's configured name")
    hourly.add_argument("--per-hour", type=float, metavar="X", help="the server's hourly rate")
    hourly.add_argument("--currency", default="USD", metavar="CODE")
    hourly.add_argument("--off", action="store_true", help="back to per-token prices")
    hourly.set_defaults(handler=set_hourly_rate)
    loc = verbs.add_parser(
        "local", help="what local answers cost: electricity, wattage, hardware, comparison"
    )
    loc.add_argument("--per-kwh", type=float, metavar="X", help="electricity price per kWh")
    loc.add_argument("--watts", type=float, metavar="W", help="device draw when no meter reads")
    loc.add_argument("--hardware-price", type=float, metavar="P", help="0 turns amortisation off")
    loc.add_argument("--hardware-hours", type=float, metavar="H", help="expected hours of use")
    loc.add_argument("--currency", metavar="CODE", help="currency of local costs")
    loc.add_argument("--compare", nargs=2, metavar=("PROVIDER", "MODEL"),
                     help="the cloud model local answers are compared with")  # fmt: skip
    loc.add_argument("--json", action="store_true")
    loc.set_defaults(handler=local_costs)


def list_prices(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    prices = ctx.ledger.prices.all()
    if args.json:
        print_json([p.to_dict() for p in prices])
        return 0
    print_table(
        ("PROVIDER", "MODEL", "INPUT", "OUTPUT", "CACHED", "CURRENCY", "DATE", "SOURCE"),
        [(p.provider, p.model, f"{p.input:g}", f"{p.output:g}",
          "" if p.cached_input is None else f"{p.cached_input:g}", p.currency, p.date,
          "yours" if p.user_override else p.source) for p in prices],
    )  # fmt: skip
    return 0


def set_price(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    price = ctx.ledger.prices.set(
        args.provider, args.model, args.input, args.output, args.currency, args.cached_input
    )
    priced = reprice_unpriced(ctx.db, ctx.ledger.prices)
    print(
        f"{price.provider} {price.model}: {price.currency} {price.input:g} in / "
        f"{price.output:g} out per million tokens.",
        file=sys.stderr,
    )
    if priced:
        print(f"Priced {priced:,} earlier requests that had no price.", file=sys.stderr)
    return 0


def set_exchange_rate(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    rate = set_rate(ctx.settings, args.currency, args.usd_per_unit)
    print(f"1 {rate.currency} = {rate.usd_per_unit:g} USD (yours, {rate.date}).", file=sys.stderr)
    return 0


def list_rates(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    rates = load_rates(ctx.settings)
    if args.json:
        print_json({"display": rates.display,
                    "rates": [r.to_dict() for r in rates.rates.values()]})  # fmt: skip
        return 0
    print(f"Totals, charts and budgets are shown in {rates.display}.", file=sys.stderr)
    print_table(("CURRENCY", "USD PER UNIT", "SOURCE", "DATE"),
                [(r.currency, f"{r.usd_per_unit:g}", r.source, r.date)
                 for r in sorted(rates.rates.values(), key=lambda r: r.currency)])  # fmt: skip
    return 0


def set_display(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    code = set_display_currency(ctx.settings, args.currency)
    print(f"Totals, charts and budgets are now shown in {code}.", file=sys.stderr)
    return 0


def set_hourly_rate(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    if args.off:
        removed = remove_hourly(ctx.settings, args.provider)
        what = "is billed per token again" if removed else "had no hourly rate"
        print(f"{args.provider} {what}.", file=sys.stderr)
        return 0
    if args.per_hour is None:
        raise PriceError("Give the hourly rate.", "e.g. --per-hour 2.40 --currency EUR")
    rate = set_hourly(ctx.settings, args.provider, args.per_hour, args.currency)
    print(f"{rate.backend}: {rate.currency} {rate.per_hour:g} per hour, shared among the "
          f"requests running at the same time.", file=sys.stderr)  # fmt: skip
    return 0


def local_costs(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    conf = load_local_settings(ctx.settings)
    changes = {
        "electricity_per_kwh": args.per_kwh, "device_watts": args.watts,
        "hardware_price": args.hardware_price, "hardware_hours": args.hardware_hours,
        "currency": args.currency.upper() if args.currency else None,
        "compare_provider": args.compare[0] if args.compare else None,
        "compare_model": args.compare[1] if args.compare else None,
    }  # fmt: skip
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        conf = replace(conf, **changes)
        save_local_settings(ctx.settings, conf)
    if args.json:
        print_json(asdict(conf))
        return 0
    amortised = (f"{conf.hardware_price:g} over {conf.hardware_hours:g} h"
                 if conf.hardware_price > 0 else "off")  # fmt: skip
    print_table(
        ("SETTING", "VALUE"),
        [("electricity", f"{conf.currency} {conf.electricity_per_kwh:g} per kWh"),
         ("device watts (when not measured)", f"{conf.device_watts:g} W"),
         ("hardware amortisation", amortised),
         ("compared with", f"{conf.compare_provider} {conf.compare_model}")],
    )  # fmt: skip
    return 0


def refresh_hf(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    result = refresh_hf_prices(ctx.ledger.prices, args.endpoint)
    priced = reprice_unpriced(ctx.db, ctx.ledger.prices)
    print(f"Updated {result.updated:,} prices from Hugging Face; kept {result.kept_yours:,} of "
          f"yours; {result.skipped:,} entries had no usable price.", file=sys.stderr)  # fmt: skip
    if priced:
        print(f"Priced {priced:,} earlier requests that had no price.", file=sys.stderr)
    return 0
