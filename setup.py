"""Build script for the one thing pyproject.toml cannot declare: the optional accelerator.

Metadata, packages and dependencies live in pyproject.toml. This adds `phq._accel`, a
small CPython extension that binds the C reader (creader/phq.c, compiled in) for fast
lookups. It is optional: without a C compiler (or Python headers) the build prints a
warning and phq installs as pure Python, which gives the same answers (PHQ_PURE=1 also
disables the accelerator at run time).
"""

from glob import glob

from setuptools import Extension, setup

# the C NLU runtime's sources (creader/phq_nlu*.c), without its command-line tools
NLU_SOURCES = sorted(f for f in glob("creader/phq_nlu*.c") if not f.endswith(("_cli.c", "_conform.c")))

setup(
    ext_modules=[
        Extension(
            "phq._accel",
            # _accel.c #includes creader/phq.c: one translation unit, so that the C reader's
            # small primitives inline into the accelerator's loops
            sources=["pyreader/_accel.c"],
            include_dirs=["creader"],
            depends=["creader/phq.c", "creader/phq.h"],
            optional=True,
        ),
        # the C NLU runtime (creader/phq_nlu.c) for phq.nlu, in the same manner
        Extension(
            "phq._accel_nlu",
            sources=["pyreader/_accel_nlu.c", "creader/phq.c", *NLU_SOURCES],
            include_dirs=["creader"],
            depends=["creader/phq.h", "creader/phq_nlu.h", "creader/phq_nlu_internal.h", "creader/phq_unicode_data.h"],
            extra_compile_args=["-std=c99", "-ffp-contract=off", "-fvisibility=hidden"],
            optional=True,
        ),
    ]
)
