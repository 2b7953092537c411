"""Warm `cdk synth` of this app vs a bare CDK app with the same number of stages.

Both run through the real CDK CLI, interleaved, after one warm-up each (so the render
cache and the OS file cache are warm, as on a developer's second synth). Prints the
median of each, the ratio to bare, and the marginal cost of one more stage.
Targets: ratio <= 1.3x, marginal stage <= 0.25 s. Never asserts; prints numbers.

    python benchmarks/bench_synth.py [--runs 5] [--stages 2] [--extra-stages 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

BARE_APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
for index in range(int(sys.argv[1])):
    stack = cdk.Stack(app, f"Bare-{index}", env=cdk.Environment(region="us-east-1"))
    s3.Bucket(stack, "Bucket")
app.synth()
"""

OUR_APP = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from app import create_app

source = json.loads(Path({root!r}, "cdk.json").read_text())
stages = source["context"]["stages"]
template = stages["dev"]
source["context"]["stages"] = {{f"dev{{i}}" if i else "dev": template for i in range(int(sys.argv[1]))}}
config = Path(sys.argv[2])
config.write_text(json.dumps(source))
create_app(cdk_json=config).synth()
"""


def cdk_synth(app_command: str, outdir: Path) -> float:
    """Seconds for one `cdk synth --app ...` into ``outdir``."""
    env = dict(os.environ)
    env["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}:{env['PATH']}"
    start = time.perf_counter()
    subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "--app", app_command, "--output", str(outdir)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--extra-stages", type=int, default=2)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "bare_app.py").write_text(BARE_APP)
        (work / "our_app.py").write_text(OUR_APP.format(root=str(PROJECT_ROOT)))
        counts = (args.stages, args.stages + args.extra_stages)
        commands = {
            (kind, n): f"{python} {work / f'{kind}_app.py'} {n} {work / f'cdk-{n}.json'}"
            for kind in ("bare", "our")
            for n in counts
        }
        samples: dict[tuple[str, int], list[float]] = {key: [] for key in commands}
        for command in commands.values():  # warm-up: fills the render cache
            cdk_synth(command, work / "warmup")
        for _ in range(args.runs):
            for key, command in commands.items():
                samples[key].append(cdk_synth(command, work / f"out-{key[0]}-{key[1]}"))
    median = {key: statistics.median(values) for key, values in samples.items()}
    base, more = counts
    ratio = median[("our", base)] / median[("bare", base)]
    marginal = (median[("our", more)] - median[("our", base)]) / (more - base)
    bare_marginal = (median[("bare", more)] - median[("bare", base)]) / (more - base)
    print(json.dumps({f"{kind}_{n}_stages_s": round(value, 3) for (kind, n), value in median.items()}, indent=2))
    print(f"warm synth, {base} stages: ours {median[('our', base)]:.2f} s, bare {median[('bare', base)]:.2f} s")
    print(f"ratio ours/bare: {ratio:.2f}x (target <= 1.3x)")
    print(f"marginal cost of one more stage: {marginal:.3f} s (target <= 0.25 s; bare app: {bare_marginal:.3f} s)")


if __name__ == "__main__":
    main()
