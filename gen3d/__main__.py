"""``python -m gen3d`` is the same as the ``gen3d`` command."""

from gen3d.cli import main

if __name__ == "__main__":
    main()
