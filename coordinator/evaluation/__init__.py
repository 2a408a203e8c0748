"""``council eval``: measure review quality on a labelled dataset.

Runs the selected roster over every case of a dataset through the same runner as
``council review`` and scores what it found against the case's golden issues:
precision, recall and F1 per reviewer, for the merged review and (when the verify
stage ran) for the verified review, plus cost, tokens and time.

Modules, dependencies pointing down:

- ``dataset``   the JSONL format (documented there) and its loader           (pure + file reads)
- ``matching``  findings <-> golden issues: path, line window, one-to-one     (pure)
- ``metrics``   counts, precision/recall/F1, micro-averaged totals            (pure)
- ``scoring``   a finished Review -> scored rows for one case                 (pure)
- ``results``   the report document (``--format json``)                       (pure)
- ``render``    the text table                                                (pure)
- ``workspace`` turn a case into a git checkout to review                     (git, files)
- ``judge``     optional judge model deciding "same issue?" for nearby pairs  (runtime)
- ``runner``    run every case through ``coordinator.runner``                 (async)
- ``command``   the ``council eval`` arguments and entry point                (edge)
"""
