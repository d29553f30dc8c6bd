"""Imported at the start of every Python process of make test-sanitize (run.sh
puts this folder on PYTHONPATH). The sanitizer runtimes are preloaded into
the interpreter; dropping LD_PRELOAD here keeps them out of the tools the
tests spawn (cmake --install deadlocks at exit with ASan preloaded), while
child interpreters get them again from sys.executable, run.sh's wrapper."""
import os

os.environ.pop("LD_PRELOAD", None)
