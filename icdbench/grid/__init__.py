"""The benchmark grid: models × splits × profiles × seeds (× folds) declared once in
``icdbench/settings/grids/<name>.yaml`` and run by ``icdbench grid`` on a local process pool, a Ray cluster or SLURM
(submitit).

- :mod:`icdbench.grid.spec`: the grid file and its expansion into runs;
- :mod:`icdbench.grid.state`: which runs already have a record, which can resume, and the last invocation's failures;
- :mod:`icdbench.grid.worker`: one run in a fresh process (the same ``train`` the CLI calls);
  :mod:`icdbench.grid.process`: starting that process, waiting for it, its outcome;
- :mod:`icdbench.grid.launchers` and :mod:`icdbench.grid.slurm`: the engines; :mod:`icdbench.grid.progress`: the
  progress line and the summary table.

Ray and submitit are optional (``icdbench[ray]``, ``icdbench[slurm]``); nothing here imports them at module level.
"""
