"""The wpdiff.* mapping: the repository keeps its layers at the top level
(spec/, impl/, oracle/, diff/, litmus/); installed, they live under one
namespace.  Every package under them is found by discovery, and every data
file the tool reads at run time (the explanation, the litmus catalogue, the
kernel-C harness's headers) ships with it."""

from setuptools import find_packages, setup

LAYERS = ("spec", "impl", "oracle", "diff", "litmus")
DATA = ["*.md", "*.litmus", "*.c", "*.h", "*.json"]

packages = [p for p in find_packages(include=[f"{top}*" for top in LAYERS]) if p.split(".")[0] in LAYERS]

setup(
    packages=[f"wpdiff.{p}" for p in packages],
    package_dir={f"wpdiff.{top}": top for top in LAYERS if top in packages},
    package_data={f"wpdiff.{p}": DATA for p in packages},
)
