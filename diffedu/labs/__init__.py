"""The Build-it labs: one grader module per chapter (``from diffedu.labs.<topic> import check_…, hint``), the grading
machinery (``grading``) and ``python -m diffedu grade`` (``grade``)."""
