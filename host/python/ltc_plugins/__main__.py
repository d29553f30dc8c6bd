"""python -m ltc_plugins list: the backend plugins this Python sees, with
those installed as Python distributions (entry points), which the
ltc-plugins command does not look for."""
import sys

import ltc_plugins

USAGE = "usage: python -m ltc_plugins list"


def main(argv):
    if argv != ["list"]:
        print(USAGE, file=sys.stderr)
        return 2
    rows = [("NAME", "VERSION", "ABI", "LIBTORCH", "GRAPH FORMATS", "PATH", "STATUS")]
    for plugin in ltc_plugins.plugins():
        rows.append((plugin["name"], plugin["version"] or "-", plugin["abi"] or "-",
                     plugin["libtorch"] or "-", ",".join(plugin["graph_formats"]) or "-",
                     plugin["path"] or "-",
                     "available" if plugin["available"] else "unavailable: " + plugin["reason"]))
    if len(rows) == 1:
        print("no backend plugin is installed")
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
