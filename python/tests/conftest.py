"""Test set-up: the package from the build tree (build/python, or $COORDEXP_BUILD/python), the numpy
reference evaluator of tests/eval/ref, and the coordexp program for comparisons with the command line."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("COORDEXP_BUILD", os.path.join(ROOT, "build"))
if os.environ.get("COORDEXP_INSTALLED") != "1":  # test the installed package instead when set
    sys.path.insert(0, os.path.join(BUILD, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "eval", "ref"))
CLI = os.path.join(BUILD, "tools", "coordexp")
