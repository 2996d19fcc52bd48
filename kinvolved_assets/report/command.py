"""``kinvolved report CUSTOMER [--as-of DATE] [--open]``: write the district attendance report from
the customer's published marts (no Dagster run needed) and print where it is."""

from __future__ import annotations

import argparse
import datetime as dt
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("report",
                              help="write the district attendance report (HTML + PNG charts) of a customer")
    p.add_argument("customer")
    p.add_argument("--as-of", dest="as_of", default=None,
                   help="YYYY-MM-DD (default: the marts' as-of date); days after it are left out")
    p.add_argument("--open", action="store_true", help="open the report in the default browser")
    p.set_defaults(func=cmd_report)
    p = subparsers.add_parser("serve-reports", help="serve the validation and district reports on 127.0.0.1 "
                              "(the Dagster UI links to them; started by make ui)")
    p.add_argument("--port", type=int, default=None,
                   help="default: the port of KINVOLVED_REPORTS_URL, else 3001")
    p.set_defaults(func=cmd_serve_reports)


def cmd_report(args: argparse.Namespace) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.paths import UnsafePathError, check_date, kinvolved_home
    from kinvolved_assets.report import report_root, write_attendance_report

    customer = load_customer_configs().customers.get(args.customer)
    if customer is None:
        print(f"customer {args.customer!r} has no valid config in customer_configs/", file=sys.stderr)
        return 2
    if args.as_of:
        try:
            check_date(args.as_of)
            dt.date.fromisoformat(args.as_of)
        except (UnsafePathError, ValueError) as exc:
            print(f"kinvolved report: {exc}", file=sys.stderr)
            return 2
    paths = customer.paths(kinvolved_home())
    if not paths.marts_db.exists():
        print(f"{customer.customer_id} has no published marts yet ({paths.marts_db}): run `kinvolved ingest "
              f"{customer.customer_id}` first", file=sys.stderr)
        return 1
    rules = customer.attendance
    result = write_attendance_report(paths.marts_db, report_root(paths), customer.customer_id, args.as_of,
                                     rules.chronic_threshold, rules.min_enrolled_days)
    data = result.data
    rate = "-" if data.attendance_rate is None else f"{data.attendance_rate:.2%}"
    print(f"attendance report of {customer.customer_id} as of {data.as_of_date}: attendance rate {rate}, "
          f"{data.chronically_absent} of {data.students} students chronically absent")
    print(f"report: {result.html_path}")
    print(f"charts: {', '.join(p.name for p in result.pngs)} (same folder)")
    from kinvolved_assets.report.serve import report_url

    print(f"served: {report_url(result.html_path)} (while make ui or kinvolved serve-reports runs)")
    if args.open:
        import webbrowser

        webbrowser.open(result.html_path.as_uri())
    return 0


def cmd_serve_reports(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from kinvolved_assets.paths import kinvolved_home
    from kinvolved_assets.report.serve import DEFAULT_PORT, report_server, reports_base_url

    port = args.port or urlsplit(reports_base_url()).port or DEFAULT_PORT
    warehouse = kinvolved_home() / "warehouse"
    try:
        server = report_server(warehouse, port)
    except OSError as exc:
        print(f"kinvolved serve-reports: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
              "pick another with --port and set KINVOLVED_REPORTS_URL to match", file=sys.stderr)
        return 2
    print(f"reports of {warehouse} on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
