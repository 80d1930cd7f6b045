"""``python -m signerd.cli``: the same as the ``signerd`` script."""

from signerd.cli import main

main()
