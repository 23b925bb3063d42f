"""``wpdiff kernel SOURCE``: check a kernel tree's own do_wp_page() (see ``diff/kernel.py``)."""

import argparse
import os
import sys

from .options import SPACES, jobs
from .output import destination, infer_format
from .render import FORMATS, render

EXIT_CODES = """\
exit codes:
  0  the tree's C agrees with its era's model on every admitted state and
     breaks nothing history does not record
  1  a divergence: the C decides otherwise than the model, breaks an
     invariant, or trips its own VM_BUG_ON / WARN_ON
  2  bad input: not a kernel tree, no do_wp_page(), a release no era covers
     (without --era), a call to an API the shim does not model, no compiler
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "kernel", help="check a kernel tree's own do_wp_page(), compiled against the spec",
        description="Extract do_wp_page() and its helpers from a kernel tree, a source tarball or a lone memory.c, "
        "compile them against wpdiff's model of the kernel API, and compare with the era's model.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE", help="a kernel tree, a .tar.xz source tarball, or a memory.c (with --era)")
    p.add_argument("--era", metavar="ERA", help="the era to hold the tree to (default: the one its Makefile's release is in)")
    p.add_argument("--base", metavar="ERA", help="the era a patched tree changes: only its guarantees are held")
    p.add_argument("--engine", choices=("exhaustive", "hypothesis", "all"), default="exhaustive")
    p.add_argument("--space", choices=SPACES, default="small")
    p.add_argument("--profile", default="dev", choices=("dev", "ci", "thorough"))
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--jobs", type=jobs, default=os.cpu_count() or 1)
    p.add_argument("--format", choices=FORMATS, default=None, help="default: from -o's suffix, else text")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .kernel import check_tree

    fmt = infer_format(args.output, args.format)
    out = destination(args.output)  # refused now, not after the run
    engines = ("exhaustive", "hypothesis") if args.engine == "all" else (args.engine,)
    report, tree = check_tree(args.source, args.era, args.base, engines, args.space, args.jobs, args.profile,
                              args.seed, command="kernel " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["kernel"]
                              else f"kernel {args.source}")
    head = (f"{tree.source.origin}: release {tree.source.release or 'unknown'}, held to {tree.era}"
            + (" (--base: its guarantees only)" if tree.base else "") + "\n")
    text = render(report, fmt, [])
    if fmt == "text":
        text = head + text
    out.write(text)
    return 1 if report.unexpected() else 0
