"""Stand-in for `tfx_bsl.arrow.sql_util`, installed by `make install` (and the Dockerfile)
as that module.

tfx-bsl 1.21 dropped its ZetaSQL-based `sql_util`. tensorflow-data-validation 1.16.1, the
newest TFDV whose wheels load on GLIBC 2.36 (Debian 12), still imports it at module level, so
without this file `import tensorflow_data_validation` fails in a fresh process. TFX 1.21 puts
a MagicMock in its place when `tfx` is imported first; this module replaces that accident
with a definite answer. Nothing in this project slices by SQL (the only use of the module);
asking for it fails with this message instead of silently doing nothing.
"""

_MESSAGE = (
    "SQL slicing needs tfx_bsl.arrow.sql_util (ZetaSQL), which tfx-bsl 1.21 no longer ships; "
    "this installation has only a stand-in for it"
)


class RecordBatchSQLSliceQuery:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(_MESSAGE)
