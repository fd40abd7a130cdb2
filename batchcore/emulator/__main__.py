"""``python -m batchcore.emulator --port 8787 [--profile head|brief] [--videos planned|501] [--strict] ...``

``--ssl-certfile``/``--ssl-keyfile`` serve it over https (like the real server): its own
upload URLs are then ``https://`` too, which a ``--strict`` emulator accepts as references.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from .asgi import serve
from .config import EmulatorConfig
from .core import Emulator

KEYS_ENV = "BATCH_STUDIO_EMULATOR_KEYS"


def parse_config(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ) -> tuple[EmulatorConfig, argparse.Namespace]:
    """The emulator's configuration from command-line flags (and ``$BATCH_STUDIO_EMULATOR_KEYS``)."""
    parser = argparse.ArgumentParser(prog="python -m batchcore.emulator", description="Serve the orchestrator emulator over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--profile", choices=["head", "brief"], default="head")
    parser.add_argument("--videos", choices=["planned", "501"], default="planned")
    parser.add_argument("--error-style", choices=["problem", "legacy"], default="problem")
    parser.add_argument("--strict", action="store_true",
                        help="only the real server's rules: reference URLs must be https://, even the emulator's own uploads")
    parser.add_argument("--latency-ms", type=int, default=150, help="emulated time per image")
    parser.add_argument("--seconds-per-step", type=float, default=1.0)
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per minute per key (0: off)")
    parser.add_argument("--api-key", action="append", default=[], help=f"accept only these keys (also ${KEYS_ENV}, comma-separated)")
    parser.add_argument("--fail-scene", action="append", default=[], help="a scene id whose generation always fails")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ssl-certfile", default=None, help="serve https with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", default=None, help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        parser.error("--ssl-certfile and --ssl-keyfile go together")
    keys = set(args.api_key) | {k.strip() for k in environ.get(KEYS_ENV, "").split(",") if k.strip()}
    config = EmulatorConfig(
        profile=args.profile, videos=args.videos, error_style=args.error_style, strict=args.strict,
        latency_ms=args.latency_ms, seconds_per_step=args.seconds_per_step,
        rate_limit_per_minute=args.rate_limit, api_keys=frozenset(keys),
        fail_scenes=frozenset(args.fail_scene), failure_rate=args.failure_rate, seed=args.seed,
        progress_interval=0.5,
    )
    return config, args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_config(argv)
    strict = ", strict" if args.strict else ""
    scheme = "https" if args.ssl_certfile else "http"
    print(f"Orchestrator emulator ({args.profile}, videos {args.videos}{strict}) on {scheme}://{args.host}:{args.port}", file=sys.stderr)
    serve(Emulator(config), host=args.host, port=args.port, ssl_certfile=args.ssl_certfile,
          ssl_keyfile=args.ssl_keyfile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
