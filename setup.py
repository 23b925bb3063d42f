"""The wpdiff.* mapping: the repository keeps its layers at the top level
(spec/, impl/, oracle/, diff/, litmus/); installed, they live under one
namespace.  Every package under them is found by discovery, and every data
file the tool reads at run time (the explanation, the litmus catalogue, the
kernel-C harness's headers) ships with its package, including those in a
data folder that is no package of its own (oracle/ktree/shim/)."""

import os

from setuptools import find_packages, setup

LAYERS = ("spec", "impl", "oracle", "diff", "litmus")
DATA = (".md", ".litmus", ".c", ".h", ".json")

packages = [p for p in find_packages(include=[f"{top}*" for top in LAYERS]) if p.split(".")[0] in LAYERS]


def data_files(package: str) -> list:
    """The data files of `package`, relative to it, down through the folders
    that are not packages themselves."""
    root = package.replace(".", os.sep)
    found = []
    for folder, subfolders, files in os.walk(root):
        # a subfolder that is a package ships its own data
        subfolders[:] = [d for d in subfolders if not os.path.exists(os.path.join(folder, d, "__init__.py"))]
        found += [os.path.relpath(os.path.join(folder, f), root) for f in files if f.endswith(DATA)]
    return sorted(found)


setup(
    packages=[f"wpdiff.{p}" for p in packages],
    package_dir={f"wpdiff.{top}": top for top in LAYERS if top in packages},
    package_data={f"wpdiff.{p}": data_files(p) for p in packages},
)
